package mail

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// renderConfig is what rendering takes from the Mailer.
type renderConfig struct {
	defaultFrom string
	idDomain    string
	now         func() time.Time
}

// render validates msg and writes it as RFC 5322 bytes with go-mail's MIME writer:
// multipart/mixed (attachments) around multipart/related (inline parts) around
// multipart/alternative (text, HTML), each level only when needed; text parts quoted-printable,
// attachments base64, so every line stays under 998 octets and the message is 7-bit.
func render(msg *Message, rc *renderConfig) (*Envelope, error) {
	if msg == nil {
		return nil, fmt.Errorf("%w: nil message", ErrInvalidMessage)
	}
	fromStr := msg.From
	if fromStr == "" {
		fromStr = rc.defaultFrom
	}
	if fromStr == "" {
		return nil, fmt.Errorf("%w: no From (set Message.From or the Mailer's default From)", ErrInvalidMessage)
	}
	from, err := ParseAddress(fromStr)
	if err != nil {
		return nil, fmt.Errorf("the From address: %w", err)
	}
	to, err := parseAddresses("To", msg.To)
	if err != nil {
		return nil, err
	}
	cc, err := parseAddresses("Cc", msg.Cc)
	if err != nil {
		return nil, err
	}
	bcc, err := parseAddresses("Bcc", msg.Bcc)
	if err != nil {
		return nil, err
	}
	replyTo, err := parseAddresses("Reply-To", msg.ReplyTo)
	if err != nil {
		return nil, err
	}
	// The envelope carries these addresses bare: one that would need quoting there is refused
	// here, by the same rule the queued path checks again (Envelope.validate).
	if err := checkEnvelopeAddr("the From address", from.Addr); err != nil {
		return nil, err
	}
	for _, l := range []struct {
		field string
		addrs []Address
	}{{"To", to}, {"Cc", cc}, {"Bcc", bcc}} {
		for _, a := range l.addrs {
			if err := checkEnvelopeAddr("a "+l.field+" address", a.Addr); err != nil {
				return nil, err
			}
		}
	}
	rcpts := recipients(to, cc, bcc)
	if len(rcpts) == 0 {
		return nil, fmt.Errorf("%w: no recipient (To, Cc or Bcc)", ErrInvalidMessage)
	}
	if err := checkHeaderValue("Subject", msg.Subject); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(msg.Headers))
	for name, v := range msg.Headers {
		if err := checkHeaderName(name); err != nil {
			return nil, err
		}
		if reservedHeaders[canonicalHeader(name)] {
			return nil, fmt.Errorf("%w: header %q is set from the Message's fields, not Headers", ErrInvalidHeader, name)
		}
		if err := checkHeaderValue("header "+name, v); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	slices.Sort(names)
	for i := range msg.Attachments {
		if err := checkAttachment(i, &msg.Attachments[i]); err != nil {
			return nil, err
		}
	}
	var id string
	if msg.MessageID != "" {
		if id, err = normalizeMessageID(msg.MessageID); err != nil {
			return nil, err
		}
	} else {
		domain := rc.idDomain
		if domain == "" {
			domain = from.Addr[strings.LastIndexByte(from.Addr, '@')+1:]
		}
		id = randomMessageID(domain)
	}
	date := msg.Date
	if date.IsZero() {
		date = rc.now()
	}

	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	m.FromMailAddress(mailAddr(from))
	if len(to) > 0 {
		m.ToMailAddress(mailAddrs(to)...)
	}
	if len(cc) > 0 {
		m.CcMailAddress(mailAddrs(cc)...)
	}
	// Bcc addresses go to the envelope only: go-mail writes no Bcc header either, but they never
	// even reach its Msg.
	if len(replyTo) > 0 {
		m.SetAddrHeaderFromMailAddress(gomail.HeaderReplyTo, mailAddrs(replyTo)...)
	}
	m.Subject(msg.Subject)
	m.SetMessageIDWithValue(id)
	m.SetDateWithValue(date)
	for _, name := range names {
		m.SetGenHeader(gomail.Header(name), msg.Headers[name])
	}
	switch {
	case msg.Text != "" && msg.HTML != "":
		m.SetBodyString(gomail.TypeTextPlain, msg.Text)
		m.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	case msg.HTML != "":
		m.SetBodyString(gomail.TypeTextHTML, msg.HTML)
	default:
		m.SetBodyString(gomail.TypeTextPlain, msg.Text)
	}
	var attached, inline []*gomail.File
	for i := range msg.Attachments {
		f := attachmentFile(&msg.Attachments[i])
		if msg.Attachments[i].ContentID != "" {
			inline = append(inline, f)
		} else {
			attached = append(attached, f)
		}
	}
	m.SetAttachments(attached)
	m.SetEmbeds(inline)
	var buf bytes.Buffer
	buf.Grow(estimateSize(msg))
	if _, err := m.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("mail: writing message: %w", err)
	}
	if !bytes.HasSuffix(buf.Bytes(), []byte("\r\n")) {
		buf.WriteString("\r\n") // a single-part body may end without a line break
	}
	return &Envelope{MessageID: id, From: from.Addr, To: rcpts, Data: buf.Bytes()}, nil
}

// attachmentFile makes go-mail's part for an attachment, with its headers set here so names
// are RFC 2231-encoded (filename*=utf-8”...), which MIME parsers decode, rather than RFC 2047
// words inside quotes. The data is written from the Message's slice, not copied.
func attachmentFile(a *Attachment) *gomail.File {
	h := make(textproto.MIMEHeader, 4)
	mediaType, params, _ := mime.ParseMediaType(a.contentType())
	if params == nil {
		params = make(map[string]string, 1)
	}
	if a.Filename != "" {
		params["name"] = a.Filename
	}
	h.Set("Content-Type", mime.FormatMediaType(mediaType, params))
	disposition := "attachment"
	if a.ContentID != "" {
		disposition = "inline"
		h.Set("Content-ID", "<"+a.ContentID+">")
	}
	if a.Filename != "" {
		disposition = mime.FormatMediaType(disposition, map[string]string{"filename": a.Filename})
	}
	h.Set("Content-Disposition", disposition)
	h.Set("Content-Transfer-Encoding", string(gomail.EncodingB64))
	data := a.Data
	return &gomail.File{
		Name: a.Filename, Header: h, Enc: gomail.EncodingB64,
		Writer: func(w io.Writer) (int64, error) {
			n, err := w.Write(data)
			return int64(n), err
		},
	}
}

func estimateSize(msg *Message) int {
	n := 1024 + len(msg.Subject) + 3*(len(msg.Text)+len(msg.HTML))/2
	for _, a := range msg.Attachments {
		n += len(a.Data)*4/3 + len(a.Data)/38 + 512
	}
	return n
}

func mailAddr(a Address) *mail.Address { return &mail.Address{Name: a.Name, Address: a.Addr} }

func mailAddrs(as []Address) []*mail.Address {
	out := make([]*mail.Address, len(as))
	for i, a := range as {
		out[i] = mailAddr(a)
	}
	return out
}
