package mail

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/stackkit/stackkit/kit/registry"
)

var (
	// ErrInvalidHeader means a header value holds a CR or LF (Django's BadHeaderError), or a
	// header name or value cannot be written safely. Nothing was sent.
	ErrInvalidHeader = errors.New("mail: invalid header")
	// ErrInvalidAddress means an address cannot be parsed or encoded. Nothing was sent.
	ErrInvalidAddress = errors.New("mail: invalid address")
	// ErrInvalidMessage means a message cannot be sent as it is: no From, no recipient, a bad
	// attachment or Message-ID. Nothing was sent.
	ErrInvalidMessage = errors.New("mail: invalid message")
	// ErrClosed means the Mailer was closed.
	ErrClosed = errors.New("mail: closed")
	// ErrConnection wraps failures to reach or talk to a mail server: dial, TLS handshake, a
	// connection dropped or timed out mid-command. They are temporary: see [IsTemporary].
	ErrConnection = errors.New("mail: connection failed")
	// ErrTLSRequired means the server does not offer STARTTLS and the URL requires it
	// (starttls=required, the default). Nothing was sent.
	ErrTLSRequired = errors.New("mail: server does not offer STARTTLS (starttls=required)")
	// ErrInsecureAuth means credentials would go over a connection without TLS; set
	// insecure_auth=true to allow it (a local relay, a test server). Nothing was sent.
	ErrInsecureAuth = errors.New("mail: refusing AUTH over a connection without TLS (insecure_auth=false)")
	// ErrAuth means the server and the configuration have no authentication mechanism in
	// common, or the server offers none while a username is configured. Nothing was sent.
	ErrAuth = errors.New("mail: no usable AUTH mechanism")
	// ErrRecipientsRefused is matched (errors.Is) by a [*RecipientsError]: the message was
	// delivered, but not to every recipient.
	ErrRecipientsRefused = errors.New("mail: recipients refused")
	// ErrInvalidOption is wrapped by errors about a bad URL or Go option; it is
	// registry.ErrInvalidOption, so either sentinel matches.
	ErrInvalidOption = registry.ErrInvalidOption
)

// SMTPError is a reply from an SMTP server that refused a command. Code is the three-digit
// reply code: 4xx is temporary (try again later), 5xx permanent.
type SMTPError struct {
	Code int
	// EnhancedCode is the RFC 3463 status ("5.1.1") when the server gave one.
	EnhancedCode string
	// Message is the server's reply text, without the codes.
	Message string
	// Command is the command the server refused: EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA (the
	// reply to the message itself), RSET, NOOP.
	Command string
	// Recipient is the address a RCPT reply refused.
	Recipient string
}

func (e *SMTPError) Error() string {
	s := "mail: smtp " + e.Command
	if e.Recipient != "" {
		s += " <" + e.Recipient + ">"
	}
	s += ": " + strconv.Itoa(e.Code)
	if e.EnhancedCode != "" {
		s += " " + e.EnhancedCode
	}
	return s + " " + e.Message
}

// Temporary reports whether the reply is a 4xx one: the same message may go through later.
func (e *SMTPError) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

// Reply returns the server's reply as it sent it: code, enhanced code and text.
func (e *SMTPError) Reply() string {
	s := strconv.Itoa(e.Code)
	if e.EnhancedCode != "" {
		s += " " + e.EnhancedCode
	}
	return s + " " + e.Message
}

var enhancedCode = regexp.MustCompile(`^([245]\.\d{1,3}\.\d{1,3})\s+`)

func newSMTPError(command, recipient string, code int, msg string) *SMTPError {
	e := &SMTPError{Code: code, Message: msg, Command: command, Recipient: recipient}
	if m := enhancedCode.FindStringSubmatch(msg); m != nil {
		e.EnhancedCode, e.Message = m[1], msg[len(m[0]):]
	}
	return e
}

// RecipientsError is a partial delivery: the server took the message for the recipients it
// accepted and refused the others for good (a 5xx reply to RCPT), as Django's backend and
// Python's smtplib deliver. errors.Is(err, ErrRecipientsRefused) matches it.
//
// It is neither temporary nor permanent ([IsTemporary] and [IsPermanent] are false): the
// message went, and sending it again would duplicate it to the accepted recipients, so the
// Worker acknowledges it. When every recipient is refused, or any is refused for now (4xx), the
// error is the [*SMTPError] instead and nothing was delivered.
type RecipientsError struct {
	// Refused holds the server's reply to each refused recipient (Recipient names it), in
	// envelope order.
	Refused []*SMTPError
	// Accepted is how many envelope recipients the message was delivered to.
	Accepted int
}

func (e *RecipientsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mail: smtp: delivered to %d of %d recipients; refused:", e.Accepted, e.Accepted+len(e.Refused))
	for i, se := range e.Refused {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(" <" + se.Recipient + "> " + se.Reply())
	}
	return b.String()
}

// Is matches ErrRecipientsRefused.
func (e *RecipientsError) Is(target error) bool { return target == ErrRecipientsRefused }

// Recipients returns the refused addresses.
func (e *RecipientsError) Recipients() []string {
	out := make([]string, len(e.Refused))
	for i, se := range e.Refused {
		out[i] = se.Recipient
	}
	return out
}

// refusedError is the error of a transaction in which no recipient got the message: first (the
// reply that decides whether it is temporary), naming the other refusals in its text.
func refusedError(first *SMTPError, refused []*SMTPError) error {
	var others []string
	for _, se := range refused {
		if se != first {
			others = append(others, "<"+se.Recipient+"> "+se.Reply())
		}
	}
	if len(others) == 0 {
		return first
	}
	return fmt.Errorf("%w; also refused: %s", first, strings.Join(others, ", "))
}

// IsTemporary reports whether err is worth retrying later: a 4xx SMTP reply or a connection
// failure (ErrConnection). Invalid messages, 5xx replies, configuration errors and a partial
// delivery ([*RecipientsError]) are not.
func IsTemporary(err error) bool {
	var se *SMTPError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	return errors.Is(err, ErrConnection)
}

// IsPermanent reports whether retrying err cannot help: a 5xx SMTP reply, an invalid message,
// header or address, or a server that cannot be used as configured (no STARTTLS, AUTH refused
// without TLS, no AUTH mechanism in common). Errors that are neither temporary nor permanent (a
// cancelled context, say) are left to the caller; a partial delivery ([*RecipientsError]) is
// neither, and should not be retried.
func IsPermanent(err error) bool {
	var se *SMTPError
	if errors.As(err, &se) {
		return se.Code >= 500
	}
	return errors.Is(err, ErrInvalidMessage) || errors.Is(err, ErrInvalidHeader) ||
		errors.Is(err, ErrInvalidAddress) || errors.Is(err, ErrTLSRequired) || errors.Is(err, ErrInsecureAuth) ||
		errors.Is(err, ErrAuth)
}

// MessageError is one message's failure in a [Mailer.Send] of several: Send joins them, so
// range over errors' Unwrap() []error, or errors.As for the first.
type MessageError struct {
	// Index is the message's position in the Send call.
	Index int
	// MessageID is the message's Message-ID, without angle brackets ("" when it was not valid).
	MessageID string
	Err       error
}

func (e *MessageError) Error() string {
	if e.MessageID == "" {
		return fmt.Sprintf("message %d: %v", e.Index, e.Err)
	}
	return fmt.Sprintf("message %d <%s>: %v", e.Index, e.MessageID, e.Err)
}

func (e *MessageError) Unwrap() error { return e.Err }
