package mail

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"mime"
	"net/textproto"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is one email. Addresses are written as in a mail client: "user@example.com" or
// "Name <user@example.com>", Unicode names and domains included (see [ParseAddress]).
//
// A Message is only read by the Mailer: the same value can be sent again, or concurrently.
type Message struct {
	// From is the author and the envelope sender. Empty: the Mailer's default From
	// ([WithDefaultFrom], default_from=), or ErrInvalidMessage.
	From string
	To   []string
	Cc   []string
	// Bcc recipients get the message; their addresses appear in no header.
	Bcc     []string
	ReplyTo []string
	Subject string
	// Text is the text/plain body. HTML, when set, is its text/html alternative (or the only
	// body when Text is empty). Line endings may be \n or \r\n; long lines are fine (the body
	// is quoted-printable encoded).
	Text string
	HTML string
	// Attachments are files attached to the message, and inline parts (images the HTML
	// references as "cid:<ContentID>") when their ContentID is set.
	Attachments []Attachment
	// Headers are extra header fields ("List-Unsubscribe", "X-Campaign"). Values may be
	// Unicode (RFC 2047-encoded when written). The fields the Message sets itself (From, To,
	// Subject, Message-ID, Date, Content-*, MIME-Version, ...) cannot be set here.
	Headers map[string]string
	// MessageID is the Message-ID, with or without angle brackets. Empty: a random one is made
	// for each send. Set it (see [StableMessageID]) to make a message recognisable when it is
	// sent twice: the queue de-duplicates by it, and a redelivered message keeps it.
	MessageID string
	// Date is the Date header; zero means the time of the send.
	Date time.Time
}

// Attachment is a file attached to a message, or an inline part when ContentID is set.
type Attachment struct {
	// Filename is the file's name as the recipient sees it (Unicode allowed; RFC 2231-encoded).
	Filename string
	// ContentType is the MIME type; empty: guessed from Filename's extension, else
	// application/octet-stream.
	ContentType string
	Data        []byte
	// ContentID makes the attachment an inline part that the HTML body references as
	// "cid:" + ContentID (without angle brackets), as in <img src="cid:logo">.
	ContentID string
}

// StableMessageID returns a Message-ID derived from key, the same for the same key and domain:
// "<sha256(key)[:32 hex]@domain>". Use a key that names the mail's purpose and its object
// ("receipt/order/42") so a retry or a duplicate enqueue is recognisable as the same message.
func StableMessageID(key, domain string) string {
	sum := sha256.Sum256([]byte(key))
	return "<" + hex.EncodeToString(sum[:16]) + "@" + domain + ">"
}

// randomMessageID makes a Message-ID with 130 bits of randomness.
func randomMessageID(domain string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	return id + "@" + domain
}

// reservedHeaders are written from the Message's fields; setting them in Headers is an error.
var reservedHeaders = map[string]bool{
	"From": true, "To": true, "Cc": true, "Bcc": true, "Reply-To": true, "Subject": true,
	"Message-Id": true, "Date": true, "Mime-Version": true, "Content-Type": true,
	"Content-Transfer-Encoding": true, "Content-Disposition": true, "Content-Id": true,
	"Sender": true, "Return-Path": true,
}

// checkHeaderName accepts RFC 5322 field names: printable ASCII without ':' or space.
func checkHeaderName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty header name", ErrInvalidHeader)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 33 || c > 126 || c == ':' {
			return fmt.Errorf("%w: header name %q has %q (want printable ASCII without ':')", ErrInvalidHeader, name, c)
		}
	}
	return nil
}

// checkHeaderValue rejects what would break out of a header field: CR, LF (header injection)
// and other control characters, invalid UTF-8, and ASCII words too long to fold under 998 octets.
func checkHeaderValue(field, v string) error {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\r' || c == '\n':
			return fmt.Errorf("%w: %s has a line break (CR or LF) at byte %d", ErrInvalidHeader, field, i)
		case c < 0x20 && c != '\t' || c == 0x7f:
			return fmt.Errorf("%w: %s has control character %q at byte %d", ErrInvalidHeader, field, c, i)
		}
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidHeader, field)
	}
	if isASCII(v) {
		for w := range strings.FieldsSeq(v) {
			if len(w) > 900 {
				return fmt.Errorf("%w: %s has a %d-byte word, too long to fold into 998-octet lines", ErrInvalidHeader, field, len(w))
			}
		}
	}
	return nil
}

// normalizeMessageID checks a Message-ID and returns it without angle brackets.
func normalizeMessageID(id string) (string, error) {
	if err := checkHeaderValue("Message-ID", id); err != nil {
		return "", err
	}
	s := strings.TrimSpace(id)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
	left, right, ok := strings.Cut(s, "@")
	if !ok || left == "" || right == "" || strings.ContainsAny(s, "<> \t\"\\()[],;:") || !isASCII(s) || len(s) > 250 {
		return "", fmt.Errorf("%w: Message-ID %q (want <left@right>, ASCII, no spaces)", ErrInvalidMessage, id)
	}
	return s, nil
}

const maxFilename = 255

func checkAttachment(i int, a *Attachment) error {
	what := fmt.Sprintf("attachment %d", i)
	if a.Filename == "" && a.ContentID == "" {
		return fmt.Errorf("%w: %s has no Filename", ErrInvalidMessage, what)
	}
	if err := checkHeaderValue(what+" Filename", a.Filename); err != nil {
		return err
	}
	if len(a.Filename) > maxFilename || strings.ContainsAny(a.Filename, "/\\") {
		return fmt.Errorf("%w: %s Filename %q (want a base name of at most %d bytes)", ErrInvalidMessage, what, a.Filename, maxFilename)
	}
	if a.ContentType != "" {
		if err := checkHeaderValue(what+" ContentType", a.ContentType); err != nil {
			return err
		}
		if _, _, err := mime.ParseMediaType(a.ContentType); err != nil {
			return fmt.Errorf("%w: %s ContentType %q: %v", ErrInvalidMessage, what, a.ContentType, err)
		}
	}
	if a.ContentID != "" {
		if err := checkHeaderValue(what+" ContentID", a.ContentID); err != nil {
			return err
		}
		if strings.ContainsAny(a.ContentID, "<> \t\"\\") || !isASCII(a.ContentID) || len(a.ContentID) > 250 {
			return fmt.Errorf("%w: %s ContentID %q (want ASCII without spaces or angle brackets)", ErrInvalidMessage, what, a.ContentID)
		}
	}
	return nil
}

// contentType returns the attachment's MIME type without parameters.
func (a *Attachment) contentType() string {
	if a.ContentType != "" {
		return a.ContentType
	}
	if t := mime.TypeByExtension(path.Ext(a.Filename)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// canonicalHeader returns the canonical form of an extra header's name.
func canonicalHeader(name string) string { return textproto.CanonicalMIMEHeaderKey(name) }
