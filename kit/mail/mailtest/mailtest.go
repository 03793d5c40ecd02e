// Package mailtest is kit/mail's conformance suite: every backend runs [Run] in its own tests,
// against a real server for SMTP (Mailpit, read back through its API), and a third-party
// backend can too.
//
//	func TestConformance(t *testing.T) {
//		mailtest.Run(t, func(t *testing.T) (*mail.Mailer, mailtest.Inbox) {
//			m := mail.New(mail.NewMemory())
//			t.Cleanup(func() { m.Close() })
//			return m, mailtest.MemoryInbox(m.Driver().(*mail.Memory))
//		})
//	}
//
// open returns a Mailer and the Inbox its messages arrive in; it is called once per subtest.
// Messages are found by Message-ID, so an Inbox may be shared with other tests (a Mailpit).
//
// What a backend must do to pass: deliver messages byte for byte as rendered (the suite parses
// what arrives with net/mail and mime/multipart, independently of the writer): Unicode subjects
// and names decode, IDN domains arrive as punycode, attachments and inline parts decode to their
// bytes, no line exceeds 998 octets; Bcc recipients get the message (when the Inbox knows
// recipients) and appear in no header; a message with CR or LF in a header value fails with
// ErrInvalidHeader and nothing of it arrives; a Send of several messages delivers the valid
// ones and reports the invalid one by index; a closed Mailer returns ErrClosed, a cancelled
// context sends nothing.
package mailtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	kitmail "github.com/stackkit/stackkit/kit/mail"
)

// Open is what Run calls for each subtest: a Mailer and the Inbox its messages arrive in.
type Open func(t *testing.T) (*kitmail.Mailer, Inbox)

// Run runs the conformance suite.
func Run(t *testing.T, open Open) {
	s := &suite{open: open}
	t.Run("RoundTrip", s.testRoundTrip)
	t.Run("Bcc", s.testBcc)
	t.Run("Attachments", s.testAttachments)
	t.Run("LongLines", s.testLongLines)
	t.Run("HeaderInjection", s.testHeaderInjection)
	t.Run("Batch", s.testBatch)
	t.Run("Cancelled", s.testCancelled)
	t.Run("Closed", s.testClosed)
}

type suite struct{ open Open }

// UniqueID returns a Message-ID no other test uses, without angle brackets.
func UniqueID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "mailtest." + hex.EncodeToString(b[:]) + "@kit.test"
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// receiveOne waits for the message with id and returns it parsed.
func receiveOne(t *testing.T, in Inbox, id string) (Received, *mail.Message) {
	t.Helper()
	got, err := in.Received(ctxFor(t), id)
	if err != nil {
		t.Fatalf("message <%s> did not arrive: %v", id, err)
	}
	if len(got) != 1 {
		t.Fatalf("message <%s> arrived %d times, want once", id, len(got))
	}
	m, err := mail.ReadMessage(bytes.NewReader(got[0].Data))
	if err != nil {
		t.Fatalf("received message does not parse (net/mail): %v\n%s", err, got[0].Data)
	}
	return got[0], m
}

// Part is a leaf of a parsed MIME tree.
type Part struct {
	// Path lists the multipart types from the root down ("mixed", "related", "alternative").
	Path        []string
	ContentType string // media type without parameters
	Params      map[string]string
	Header      map[string][]string
	Body        []byte // decoded (quoted-printable or base64)
}

// Parts walks a message's MIME tree with mime/multipart and returns its leaves in order.
func Parts(t testing.TB, m *mail.Message) []Part {
	t.Helper()
	var out []Part
	var walk func(header map[string][]string, body io.Reader, path []string)
	walk = func(header map[string][]string, body io.Reader, path []string) {
		ct := first(header["Content-Type"])
		if ct == "" {
			ct = "text/plain"
		}
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("Content-Type %q: %v", ct, err)
		}
		if sub, ok := strings.CutPrefix(mt, "multipart/"); ok {
			r := multipart.NewReader(body, params["boundary"])
			for {
				p, err := r.NextRawPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatalf("multipart/%s: %v", sub, err)
				}
				walk(p.Header, p, append(slices.Clone(path), sub))
			}
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		var dec []byte
		switch enc := strings.ToLower(first(header["Content-Transfer-Encoding"])); enc {
		case "quoted-printable":
			dec, err = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
		case "base64":
			dec, err = io.ReadAll(base64.NewDecoder(base64.StdEncoding, stripCRLF(raw)))
		case "", "7bit", "8bit", "binary":
			dec = raw
		default:
			t.Fatalf("unknown Content-Transfer-Encoding %q", enc)
		}
		if err != nil {
			t.Fatalf("decoding %s part: %v", mt, err)
		}
		out = append(out, Part{Path: path, ContentType: mt, Params: params, Header: header, Body: dec})
	}
	walk(m.Header, m.Body, nil)
	return out
}

func stripCRLF(b []byte) io.Reader {
	return strings.NewReader(strings.NewReplacer("\r", "", "\n", "").Replace(string(b)))
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// lf normalises line endings for comparing decoded text bodies.
func lf(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// CheckLines fails unless every line of data ends in CRLF and is at most 998 octets long (RFC
// 5322 2.1.1), and the data is 7-bit.
func CheckLines(t testing.TB, data []byte) {
	t.Helper()
	for i, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if !bytes.HasSuffix(line, []byte("\r\n")) {
			t.Fatalf("line %d does not end in CRLF: %q", i+1, truncate(line))
		}
		if n := len(line) - 2; n > 998 {
			t.Fatalf("line %d is %d octets long (max 998): %q", i+1, n, truncate(line))
		}
		for _, c := range line {
			if c >= 0x80 {
				t.Fatalf("line %d has 8-bit data: %q", i+1, truncate(line))
			}
		}
	}
}

func truncate(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "..."
	}
	return string(b)
}

func decodeHeader(t testing.TB, v string) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		t.Fatalf("header %q does not decode: %v", v, err)
	}
	return s
}

func (s *suite) testRoundTrip(t *testing.T) {
	m, in := s.open(t)
	id := UniqueID()
	date := time.Date(2024, 5, 17, 10, 30, 0, 0, time.UTC)
	msg := &kitmail.Message{
		From:      "Jörg Müller <joerg@bücher.example>",
		To:        []string{"Zoë Ünal <zoe@example.com>", "plain@example.org"},
		Cc:        []string{"\"Doe, John\" <john@example.net>"},
		ReplyTo:   []string{"Support <support@example.com>"},
		Subject:   "Ihre Bestellung — Größe XL, 東京 🎉 " + strings.Repeat("lange Betreffzeile ", 6),
		Text:      "Hallo Zoë,\n\nDanke für die Bestellung.\n.\nA line with only a dot above.\n",
		HTML:      "<p>Hallo Zoë,</p><p>Danke für die Bestellung.</p>",
		Headers:   map[string]string{"X-Campaign": "spring-sale", "List-Unsubscribe": "<https://example.com/u/1>", "X-Note": "Grüße"},
		MessageID: "<" + id + ">",
		Date:      date,
	}
	if err := m.Send(ctxFor(t), msg); err != nil {
		t.Fatal(err)
	}
	got, pm := receiveOne(t, in, id)
	CheckLines(t, got.Data)
	h := pm.Header
	if subj := decodeHeader(t, h.Get("Subject")); subj != msg.Subject {
		t.Errorf("Subject = %q, want %q", subj, msg.Subject)
	}
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Jörg Müller" || from[0].Address != "joerg@xn--bcher-kva.example" {
		t.Errorf("From = %v (%v), want Jörg Müller <joerg@xn--bcher-kva.example>", from, err)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 2 || to[0].Name != "Zoë Ünal" || to[0].Address != "zoe@example.com" || to[1].Address != "plain@example.org" {
		t.Errorf("To = %v (%v)", to, err)
	}
	cc, err := h.AddressList("Cc")
	if err != nil || len(cc) != 1 || cc[0].Name != "Doe, John" {
		t.Errorf("Cc = %v (%v)", cc, err)
	}
	rt, err := h.AddressList("Reply-To")
	if err != nil || len(rt) != 1 || rt[0].Address != "support@example.com" {
		t.Errorf("Reply-To = %v (%v)", rt, err)
	}
	if got := h.Get("Message-Id"); got != "<"+id+">" {
		t.Errorf("Message-ID = %q, want <%s>", got, id)
	}
	if d, err := h.Date(); err != nil || !d.Equal(date) {
		t.Errorf("Date = %v (%v), want %v", d, err, date)
	}
	if h.Get("X-Campaign") != "spring-sale" || h.Get("List-Unsubscribe") != "<https://example.com/u/1>" || decodeHeader(t, h.Get("X-Note")) != "Grüße" {
		t.Errorf("extra headers: X-Campaign %q, List-Unsubscribe %q, X-Note %q", h.Get("X-Campaign"), h.Get("List-Unsubscribe"), h.Get("X-Note"))
	}
	if h.Get("Mime-Version") != "1.0" {
		t.Errorf("MIME-Version = %q", h.Get("Mime-Version"))
	}
	parts := Parts(t, pm)
	if len(parts) != 2 || parts[0].ContentType != "text/plain" || parts[1].ContentType != "text/html" ||
		!slices.Equal(parts[0].Path, []string{"alternative"}) {
		t.Fatalf("parts = %+v, want text/plain and text/html in multipart/alternative", summary(parts))
	}
	if lf(string(parts[0].Body)) != msg.Text || lf(string(parts[1].Body)) != msg.HTML {
		t.Errorf("bodies = %q / %q, want %q / %q", parts[0].Body, parts[1].Body, msg.Text, msg.HTML)
	}
	if cs := parts[0].Params["charset"]; !strings.EqualFold(cs, "utf-8") {
		t.Errorf("text charset = %q, want UTF-8", cs)
	}
	if got.Recipients != nil {
		want := []string{"zoe@example.com", "plain@example.org", "john@example.net"}
		if !sameSet(got.Recipients, want) {
			t.Errorf("recipients = %v, want %v", got.Recipients, want)
		}
	}
}

func summary(parts []Part) []string {
	var out []string
	for _, p := range parts {
		out = append(out, strings.Join(p.Path, "/")+":"+p.ContentType)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	for i := range a {
		a[i] = strings.ToLower(a[i])
	}
	for i := range b {
		b[i] = strings.ToLower(b[i])
	}
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

func (s *suite) testBcc(t *testing.T) {
	m, in := s.open(t)
	id := UniqueID()
	msg := &kitmail.Message{
		From: "sender@example.com", To: []string{"to@example.com"}, Cc: []string{"cc@example.com"},
		Bcc:     []string{"Secret Person <hidden@example.com>", "hidden2@example.org"},
		Subject: "bcc test", Text: "hello", MessageID: id,
	}
	if err := m.Send(ctxFor(t), msg); err != nil {
		t.Fatal(err)
	}
	got, pm := receiveOne(t, in, id)
	if v, ok := pm.Header["Bcc"]; ok {
		t.Errorf("message has a Bcc header: %q", v)
	}
	for _, secret := range []string{"hidden@example.com", "hidden2@example.org", "Secret Person"} {
		if bytes.Contains(got.Data, []byte(secret)) {
			t.Errorf("the message contains %q: Bcc recipients must not appear in it", secret)
		}
	}
	if got.Recipients != nil && !sameSet(got.Recipients, []string{"to@example.com", "cc@example.com", "hidden@example.com", "hidden2@example.org"}) {
		t.Errorf("recipients = %v, want To, Cc and both Bcc", got.Recipients)
	}

	// Bcc alone is enough to send.
	id2 := UniqueID()
	if err := m.Send(ctxFor(t), &kitmail.Message{From: "sender@example.com", Bcc: []string{"only@example.com"}, Subject: "only bcc", Text: "x", MessageID: id2}); err != nil {
		t.Fatal(err)
	}
	got2, pm2 := receiveOne(t, in, id2)
	if _, ok := pm2.Header["Bcc"]; ok || bytes.Contains(got2.Data, []byte("only@example.com")) {
		t.Errorf("a Bcc-only message shows its recipient:\n%s", got2.Data)
	}
}

func (s *suite) testAttachments(t *testing.T) {
	m, in := s.open(t)
	id := UniqueID()
	pdf := make([]byte, 150_000)
	_, _ = rand.Read(pdf)
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR fake image bytes \x00\xff")
	csv := []byte("a,b\r\n1,2\n3,4\n")
	msg := &kitmail.Message{
		From: "shop@example.com", To: []string{"buyer@example.com"}, Subject: "Rechnung",
		Text: "See the attachment.", HTML: `<p>Logo: <img src="cid:logo@kit"></p>`,
		Attachments: []kitmail.Attachment{
			{Filename: "Rechnung März 2024 — Übersicht.pdf", Data: pdf},
			{Filename: "logo.png", ContentType: "image/png", Data: png, ContentID: "logo@kit"},
			{Filename: "data.csv", ContentType: "text/csv; charset=utf-8", Data: csv},
		},
		MessageID: id,
	}
	if err := m.Send(ctxFor(t), msg); err != nil {
		t.Fatal(err)
	}
	got, pm := receiveOne(t, in, id)
	CheckLines(t, got.Data)
	parts := Parts(t, pm)
	byName := map[string]Part{}
	for _, p := range parts {
		_, params, err := mime.ParseMediaType(first(p.Header["Content-Disposition"]))
		if err == nil && params["filename"] != "" {
			byName[params["filename"]] = p
		}
	}
	att, ok := byName["Rechnung März 2024 — Übersicht.pdf"]
	if !ok {
		t.Fatalf("no part with the Unicode file name (RFC 2231 decoded by mime.ParseMediaType); parts: %v", summary(parts))
	}
	if att.ContentType != "application/pdf" || !bytes.Equal(att.Body, pdf) || !strings.HasPrefix(first(att.Header["Content-Disposition"]), "attachment") {
		t.Errorf("pdf attachment: type %q, %d bytes (want %d), disposition %q", att.ContentType, len(att.Body), len(pdf), first(att.Header["Content-Disposition"]))
	}
	if att.Path[0] != "mixed" {
		t.Errorf("attachment is in %v, want multipart/mixed", att.Path)
	}
	logo, ok := byName["logo.png"]
	if !ok {
		t.Fatalf("no inline logo part; parts: %v", summary(parts))
	}
	if first(logo.Header["Content-Id"]) != "<logo@kit>" || !bytes.Equal(logo.Body, png) ||
		!strings.HasPrefix(first(logo.Header["Content-Disposition"]), "inline") || !slices.Contains(logo.Path, "related") {
		t.Errorf("inline part: Content-ID %q, %d bytes, disposition %q, in %v; want <logo@kit>, inline, in multipart/related",
			first(logo.Header["Content-Id"]), len(logo.Body), first(logo.Header["Content-Disposition"]), logo.Path)
	}
	if c, ok := byName["data.csv"]; !ok || !bytes.Equal(c.Body, csv) || c.ContentType != "text/csv" {
		t.Errorf("csv attachment: found %v, body %q, type %q", ok, c.Body, c.ContentType)
	}
	var html Part
	for _, p := range parts {
		if p.ContentType == "text/html" {
			html = p
		}
	}
	if !bytes.Contains(html.Body, []byte("cid:logo@kit")) || !slices.Contains(html.Path, "related") {
		t.Errorf("HTML part %q in %v, want it to reference cid:logo@kit inside multipart/related", html.Body, html.Path)
	}
}

func (s *suite) testLongLines(t *testing.T) {
	m, in := s.open(t)
	id := UniqueID()
	long := strings.Repeat("x", 5000)
	unicodeLong := strings.Repeat("ü", 1500) // 3000 octets, no spaces
	msg := &kitmail.Message{
		From: "a@example.com", To: []string{"b@example.com"}, Subject: "long lines",
		Text:      long + "\nshort line\n" + unicodeLong + "\n" + strings.Repeat("word ", 400) + "\n",
		HTML:      "<p>" + strings.Repeat("y", 3000) + "</p>",
		MessageID: id,
	}
	if err := m.Send(ctxFor(t), msg); err != nil {
		t.Fatal(err)
	}
	got, pm := receiveOne(t, in, id)
	CheckLines(t, got.Data)
	parts := Parts(t, pm)
	if len(parts) != 2 || lf(string(parts[0].Body)) != msg.Text || lf(string(parts[1].Body)) != msg.HTML {
		t.Errorf("long-line bodies do not decode to what was sent (parts %v)", summary(parts))
	}
}

func (s *suite) testHeaderInjection(t *testing.T) {
	m, in := s.open(t)
	ctx := ctxFor(t)
	var ids []string
	base := func() *kitmail.Message {
		id := UniqueID()
		ids = append(ids, id)
		return &kitmail.Message{From: "a@example.com", To: []string{"b@example.com"}, Subject: "s", Text: "t", MessageID: id}
	}
	cases := map[string]func(*kitmail.Message){
		"subject LF":        func(m *kitmail.Message) { m.Subject = "Hello\nBcc: victim@example.com" },
		"subject CRLF":      func(m *kitmail.Message) { m.Subject = "Hello\r\nBcc: victim@example.com" },
		"subject CR":        func(m *kitmail.Message) { m.Subject = "Hello\rX-Evil: 1" },
		"to name":           func(m *kitmail.Message) { m.To = []string{"\"Evil\r\nBcc: victim@example.com\" <b@example.com>"} },
		"from":              func(m *kitmail.Message) { m.From = "a@example.com\nBcc: victim@example.com" },
		"reply-to":          func(m *kitmail.Message) { m.ReplyTo = []string{"r@example.com\r\nX-Evil: 1"} },
		"header value":      func(m *kitmail.Message) { m.Headers = map[string]string{"X-Tag": "ok\r\nBcc: victim@example.com"} },
		"header name":       func(m *kitmail.Message) { m.Headers = map[string]string{"X-Evil\r\nBcc": "x"} },
		"header name colon": func(m *kitmail.Message) { m.Headers = map[string]string{"X-Evil: 1\r\nX": "x"} },
		"filename": func(m *kitmail.Message) {
			m.Attachments = []kitmail.Attachment{{Filename: "a.txt\r\nContent-Type: text/html", Data: []byte("x")}}
		},
		"content id": func(m *kitmail.Message) {
			m.Attachments = []kitmail.Attachment{{Filename: "a.png", ContentID: "x\r\nX-Evil: 1", Data: []byte("x")}}
		},
		"message id": func(m *kitmail.Message) { m.MessageID = "<a@b>\r\nBcc: victim@example.com" },
	}
	for name, mutate := range cases {
		msg := base()
		mutate(msg)
		err := m.Send(ctx, msg)
		if !errors.Is(err, kitmail.ErrInvalidHeader) {
			t.Errorf("%s: Send = %v, want ErrInvalidHeader", name, err)
		}
	}
	// A message sent after them arrives; none of them did.
	marker := base()
	if err := m.Send(ctx, marker); err != nil {
		t.Fatal(err)
	}
	receiveOne(t, in, marker.MessageID)
	done, cancel := context.WithCancel(ctx)
	cancel()
	for _, id := range ids[:len(ids)-1] {
		if got, _ := in.Received(done, id); len(got) > 0 {
			t.Errorf("rejected message <%s> arrived:\n%s", id, got[0].Data)
		}
	}
}

func (s *suite) testBatch(t *testing.T) {
	m, in := s.open(t)
	ids := []string{UniqueID(), UniqueID(), UniqueID()}
	msgs := []*kitmail.Message{
		{From: "a@example.com", To: []string{"b@example.com"}, Subject: "one", Text: "1", MessageID: ids[0]},
		{From: "a@example.com", To: []string{"not an address"}, Subject: "two", Text: "2", MessageID: ids[1]},
		{From: "a@example.com", To: []string{"c@example.com"}, Subject: "three", Text: "3", MessageID: ids[2]},
	}
	err := m.Send(ctxFor(t), msgs...)
	var me *kitmail.MessageError
	if !errors.As(err, &me) || me.Index != 1 || !errors.Is(err, kitmail.ErrInvalidAddress) {
		t.Fatalf("Send = %v, want a MessageError for index 1 wrapping ErrInvalidAddress", err)
	}
	if joined, ok := err.(interface{ Unwrap() []error }); !ok || len(joined.Unwrap()) != 1 {
		t.Errorf("Send error %v should join exactly one message error", err)
	}
	receiveOne(t, in, ids[0])
	receiveOne(t, in, ids[2])
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if got, _ := in.Received(done, ids[1]); len(got) > 0 {
		t.Errorf("the invalid message arrived")
	}
}

func (s *suite) testCancelled(t *testing.T) {
	m, in := s.open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	id := UniqueID()
	err := m.Send(ctx, &kitmail.Message{From: "a@example.com", To: []string{"b@example.com"}, Subject: "x", Text: "x", MessageID: id})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a cancelled context = %v, want context.Canceled", err)
	}
	marker := UniqueID()
	if err := m.Send(ctxFor(t), &kitmail.Message{From: "a@example.com", To: []string{"b@example.com"}, Subject: "x", Text: "x", MessageID: marker}); err != nil {
		t.Fatalf("Send after a cancelled one: %v", err)
	}
	receiveOne(t, in, marker)
	if got, _ := in.Received(ctx, id); len(got) > 0 {
		t.Errorf("a message sent with a cancelled context arrived")
	}
}

func (s *suite) testClosed(t *testing.T) {
	m, _ := s.open(t)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	err := m.Send(ctxFor(t), &kitmail.Message{From: "a@example.com", To: []string{"b@example.com"}, Subject: "x", Text: "x"})
	if !errors.Is(err, kitmail.ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
}
