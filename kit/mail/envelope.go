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

// checkEnvelopeAddr accepts a bare ASCII address, as SMTP commands carry it.
func checkEnvelopeAddr(what, a string) error {
	if a == "" || !isASCII(a) || strings.ContainsAny(a, "<>\r\n \t") || !strings.Contains(a, "@") {
		return fmt.Errorf("%w: %s %q (want a bare ASCII address)", ErrInvalidAddress, what, a)
	}
	return nil
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
