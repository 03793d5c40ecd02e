package mail

import (
	"bytes"
	"fmt"
	"net/mail"
	"slices"
	"strings"
)

// Envelope is a rendered message as backends send it: the SMTP envelope and the RFC 5322
// bytes. [Mailer.Render] makes one from a Message; [Mailer.SendEnvelope] sends one as it is (the
// Worker does, with what the queue carried).
type Envelope struct {
	// MessageID is the Message-ID, without angle brackets.
	MessageID string
	// From is the envelope sender (SMTP MAIL FROM), an ASCII address without a name.
	From string
	// To are the envelope recipients (SMTP RCPT TO): To, Cc and Bcc, each once.
	To []string
	// Data is the message: headers and body, CRLF line endings, no line longer than 998
	// octets, 7-bit, and no Bcc header.
	Data []byte
}

// Header parses the message's header.
func (e *Envelope) Header() (mail.Header, error) {
	m, err := mail.ReadMessage(bytes.NewReader(e.Data))
	if err != nil {
		return nil, err
	}
	return m.Header, nil
}

// validate checks an envelope that did not come from Render (a queued one, a caller's).
func (e *Envelope) validate() error {
	if e == nil {
		return fmt.Errorf("%w: nil envelope", ErrInvalidMessage)
	}
	if _, err := normalizeMessageID(e.MessageID); err != nil {
		return err
	}
	if err := checkEnvelopeAddr("envelope From", e.From); err != nil {
		return err
	}
	if len(e.To) == 0 {
		return fmt.Errorf("%w: no envelope recipient", ErrInvalidMessage)
	}
	for _, to := range e.To {
		if err := checkEnvelopeAddr("envelope recipient", to); err != nil {
			return err
		}
	}
	if len(e.Data) == 0 {
		return fmt.Errorf("%w: empty message data", ErrInvalidMessage)
	}
	return nil
}

// checkEnvelopeAddr is the one rule for an address that goes into the SMTP envelope (MAIL FROM,
// RCPT TO), applied when a Message is rendered and when an Envelope from elsewhere (the queue, a
// caller) is sent: a bare ASCII address whose local part is a dot-atom, so it needs no quoting.
// SMTP carries the address between angle brackets as it is: a quoted local part holding a space
// or '>' ("a> NOTIFY=SUCCESS"@example.com, which net/mail accepts) would end the address early
// and add ESMTP parameters of its own.
func checkEnvelopeAddr(what, a string) error {
	at := strings.LastIndexByte(a, '@')
	if a == "" || !isASCII(a) || strings.ContainsAny(a, "<>\r\n \t") || at < 0 {
		return fmt.Errorf("%w: %s %q (want a bare ASCII address)", ErrInvalidAddress, what, a)
	}
	if !isDotAtom(a[:at]) {
		return fmt.Errorf("%w: %s %q: the local part %q would need quoting in the SMTP envelope (letters, digits, dots and !#$%%&'*+-/=?^_`{|}~ only)",
			ErrInvalidAddress, what, a, a[:at])
	}
	return nil
}

// isDotAtom reports whether s is an RFC 5321 Dot-string: atoms of atext joined by single dots.
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '.' && !isAtext(c) {
			return false
		}
	}
	return true
}

func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// recipients returns the envelope recipients, each address once (domains compared without case).
func recipients(lists ...[]Address) []string {
	var out []string
	seen := make(map[string]bool)
	for _, l := range lists {
		for _, a := range l {
			key := a.Addr
			if at := strings.LastIndexByte(key, '@'); at >= 0 {
				key = key[:at] + strings.ToLower(key[at:])
			}
			if !seen[key] {
				seen[key] = true
				out = append(out, a.Addr)
			}
		}
	}
	return slices.Clip(out)
}
