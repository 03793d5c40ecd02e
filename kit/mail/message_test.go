package mail_test

import (
	"bytes"
	"context"
	"errors"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"

	kitmail "github.com/stackkit/stackkit/kit/mail"
	"github.com/stackkit/stackkit/kit/mail/mailtest"
)

func TestParseAddress(t *testing.T) {
	ok := map[string]kitmail.Address{
		"user@example.com":                      {Addr: "user@example.com"},
		"Jörg Müller <joerg@bücher.example>":    {Name: "Jörg Müller", Addr: "joerg@xn--bcher-kva.example"},
		"=?utf-8?q?J=C3=B6rg?= <j@example.com>": {Name: "Jörg", Addr: "j@example.com"},
		"\"Doe, John\" <john@EXAMPLE.com>":      {Name: "Doe, John", Addr: "john@example.com"},
		"info@ÉCOLE.fr":                         {Addr: "info@xn--cole-9oa.fr"},
		"a@例え.jp":                               {Addr: "a@xn--r8jz45g.jp"},
		"root@localhost":                        {Addr: "root@localhost"},
	}
	for in, want := range ok {
		got, err := kitmail.ParseAddress(in)
		if err != nil || got != want {
			t.Errorf("ParseAddress(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := map[string]error{
		"":                             kitmail.ErrInvalidAddress,
		"no-at-sign":                   kitmail.ErrInvalidAddress,
		"user@":                        kitmail.ErrInvalidAddress,
		"user@nodot":                   kitmail.ErrInvalidAddress,
		"jörg@example.com":             kitmail.ErrInvalidAddress, // non-ASCII local part
		"a@b.com, c@d.com":             kitmail.ErrInvalidAddress,
		"user@exa mple.com":            kitmail.ErrInvalidAddress,
		"user@example.com\r\nBcc: x@y": kitmail.ErrInvalidHeader,
		"Name\n <user@example.com>":    kitmail.ErrInvalidHeader,
	}
	for in, want := range bad {
		if _, err := kitmail.ParseAddress(in); !errors.Is(err, want) {
			t.Errorf("ParseAddress(%q) = %v, want %v", in, err, want)
		}
	}
}

func TestRenderValidation(t *testing.T) {
	m := kitmail.New(kitmail.NewMemory())
	valid := func() *kitmail.Message {
		return &kitmail.Message{From: "a@example.com", To: []string{"b@example.com"}, Subject: "s", Text: "t"}
	}
	cases := map[string]struct {
		mutate func(*kitmail.Message)
		want   error
	}{
		"no from":            {func(m *kitmail.Message) { m.From = "" }, kitmail.ErrInvalidMessage},
		"no recipient":       {func(m *kitmail.Message) { m.To = nil }, kitmail.ErrInvalidMessage},
		"bad cc":             {func(m *kitmail.Message) { m.Cc = []string{"nope"} }, kitmail.ErrInvalidAddress},
		"reserved header":    {func(m *kitmail.Message) { m.Headers = map[string]string{"bcc": "x@example.com"} }, kitmail.ErrInvalidHeader},
		"reserved subject":   {func(m *kitmail.Message) { m.Headers = map[string]string{"Subject": "x"} }, kitmail.ErrInvalidHeader},
		"header space":       {func(m *kitmail.Message) { m.Headers = map[string]string{"X Bad": "x"} }, kitmail.ErrInvalidHeader},
		"control char":       {func(m *kitmail.Message) { m.Subject = "a\x00b" }, kitmail.ErrInvalidHeader},
		"invalid utf-8":      {func(m *kitmail.Message) { m.Subject = "a\xffb" }, kitmail.ErrInvalidHeader},
		"unfoldable word":    {func(m *kitmail.Message) { m.Headers = map[string]string{"X-Long": strings.Repeat("x", 1000)} }, kitmail.ErrInvalidHeader},
		"message id":         {func(m *kitmail.Message) { m.MessageID = "no-at-sign" }, kitmail.ErrInvalidMessage},
		"message id space":   {func(m *kitmail.Message) { m.MessageID = "<a b@c>" }, kitmail.ErrInvalidMessage},
		"attachment no name": {func(m *kitmail.Message) { m.Attachments = []kitmail.Attachment{{Data: []byte("x")}} }, kitmail.ErrInvalidMessage},
		"attachment path": {func(m *kitmail.Message) {
			m.Attachments = []kitmail.Attachment{{Filename: "../etc/passwd", Data: []byte("x")}}
		}, kitmail.ErrInvalidMessage},
		"attachment type": {func(m *kitmail.Message) {
			m.Attachments = []kitmail.Attachment{{Filename: "a", ContentType: "not a type", Data: []byte("x")}}
		}, kitmail.ErrInvalidMessage},
		"content id brackets": {func(m *kitmail.Message) {
			m.Attachments = []kitmail.Attachment{{Filename: "a.png", ContentID: "<logo>", Data: []byte("x")}}
		}, kitmail.ErrInvalidMessage},
	}
	for name, c := range cases {
		msg := valid()
		c.mutate(msg)
		if _, err := m.Render(msg); !errors.Is(err, c.want) {
			t.Errorf("%s: Render = %v, want %v", name, err, c.want)
		}
	}
	if _, err := m.Render(nil); !errors.Is(err, kitmail.ErrInvalidMessage) {
		t.Errorf("Render(nil) = %v", err)
	}
}

func TestRenderEnvelope(t *testing.T) {
	m := kitmail.New(kitmail.NewMemory(), kitmail.WithDefaultFrom("Shop <shop@bücher.example>"))
	msg := &kitmail.Message{
		To: []string{"A <a@example.com>", "b@Example.COM"}, Cc: []string{"a@EXAMPLE.com"}, Bcc: []string{"b@example.com", "c@example.com"},
		Subject: "s", Text: "t",
	}
	env, err := m.Render(msg)
	if err != nil {
		t.Fatal(err)
	}
	if env.From != "shop@xn--bcher-kva.example" {
		t.Errorf("envelope From = %q", env.From)
	}
	if want := []string{"a@example.com", "b@example.com", "c@example.com"}; strings.Join(env.To, ",") != strings.Join(want, ",") {
		t.Errorf("envelope To = %v, want each address once: %v", env.To, want)
	}
	if !strings.HasSuffix(env.MessageID, "@xn--bcher-kva.example") {
		t.Errorf("generated Message-ID %q should use the From domain", env.MessageID)
	}
	env2, _ := m.Render(msg)
	if env2.MessageID == env.MessageID {
		t.Error("two renders of a message without MessageID got the same one")
	}
	if msg.MessageID != "" {
		t.Error("Render changed the Message")
	}
	mailtest.CheckLines(t, env.Data)
	h, err := env.Header()
	if err != nil || h.Get("Bcc") != "" {
		t.Errorf("header %v (%v): no Bcc expected", h, err)
	}

	withDomain := kitmail.New(kitmail.NewMemory(), kitmail.WithMessageIDDomain("mail.example.net"))
	env3, err := withDomain.Render(&kitmail.Message{From: "a@example.com", To: []string{"b@example.com"}})
	if err != nil || !strings.HasSuffix(env3.MessageID, "@mail.example.net") {
		t.Errorf("Message-ID %q (%v), want the configured domain", env3.MessageID, err)
	}
}

func TestStableMessageID(t *testing.T) {
	a := kitmail.StableMessageID("receipt/order/42", "shop.example.com")
	if a != kitmail.StableMessageID("receipt/order/42", "shop.example.com") || a == kitmail.StableMessageID("receipt/order/43", "shop.example.com") {
		t.Fatalf("StableMessageID is not a function of its key: %q", a)
	}
	m := kitmail.New(kitmail.NewMemory())
	env, err := m.Render(&kitmail.Message{From: "a@example.com", To: []string{"b@example.com"}, MessageID: a})
	if err != nil || "<"+env.MessageID+">" != a {
		t.Fatalf("Render kept Message-ID %q (%v), want %q", env.MessageID, err, a)
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(env.Data))
	if err != nil || parsed.Header.Get("Message-Id") != a {
		t.Fatalf("written Message-ID %q, want %q", parsed.Header.Get("Message-Id"), a)
	}
}

func TestHTMLOnlyAndEmptyBody(t *testing.T) {
	m := kitmail.New(kitmail.NewMemory())
	env, err := m.Render(&kitmail.Message{From: "a@example.com", To: []string{"b@example.com"}, HTML: "<b>hi</b>"})
	if err != nil {
		t.Fatal(err)
	}
	pm, _ := mail.ReadMessage(bytes.NewReader(env.Data))
	parts := mailtest.Parts(t, pm)
	if len(parts) != 1 || parts[0].ContentType != "text/html" || strings.TrimRight(string(parts[0].Body), "\r\n") != "<b>hi</b>" {
		t.Errorf("HTML-only message parts: %+v", parts)
	}
	env, err = m.Render(&kitmail.Message{From: "a@example.com", To: []string{"b@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	pm, _ = mail.ReadMessage(bytes.NewReader(env.Data))
	if parts := mailtest.Parts(t, pm); len(parts) != 1 || parts[0].ContentType != "text/plain" || strings.TrimSpace(string(parts[0].Body)) != "" {
		t.Errorf("empty message parts: %+v", parts)
	}
}

func TestConsole(t *testing.T) {
	var out bytes.Buffer
	m := kitmail.New(kitmail.NewConsole(&out))
	msg := &kitmail.Message{From: "a@example.com", To: []string{"b@example.com"}, Bcc: []string{"hidden@example.com"}, Subject: "Grüße", Text: "hello\n"}
	if err := m.Send(context.Background(), msg, msg); err != nil {
		t.Fatal(err)
	}
	chunks := strings.Split(out.String(), kitmail.ConsoleSeparator)
	if len(chunks) != 3 || chunks[2] != "" {
		t.Fatalf("console output has %d separated chunks, want 2 messages:\n%s", len(chunks)-1, out.String())
	}
	pm, err := mail.ReadMessage(strings.NewReader(chunks[0]))
	if err != nil || pm.Header.Get("To") != "<b@example.com>" {
		t.Fatalf("console message does not parse: %v", err)
	}
	if strings.Contains(out.String(), "hidden@example.com") || strings.Contains(out.String(), "\r") {
		t.Errorf("console output shows the Bcc recipient or CRs:\n%s", out.String())
	}
	if kitmail.DefaultURL != "console://" {
		t.Errorf("DefaultURL = %q", kitmail.DefaultURL)
	}
}

func TestFileBackend(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "mail")
	m := openURL(t, "file://"+dir)
	id := kitmail.StableMessageID("file-test", "example.com")
	if err := m.Send(context.Background(), &kitmail.Message{From: "a@example.com", To: []string{"b@example.com"}, Subject: "s", Text: "t", MessageID: id}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || !strings.HasSuffix(entries[0].Name(), ".eml") || !strings.Contains(entries[0].Name(), strings.Trim(id, "<>")) {
		t.Fatalf("directory holds %v, want one .eml named after the Message-ID (no temporary files left)", entries)
	}
	info, _ := entries[0].Info()
	if info.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", info.Mode().Perm())
	}
	if _, err := kitmail.Open(context.Background(), "file://"); err == nil {
		t.Error("file:// without a directory opened")
	}
	ro := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		if _, err := kitmail.Open(context.Background(), "file://"+ro); err == nil {
			t.Error("a read-only directory opened")
		}
	}
}

func TestMemoryOutbox(t *testing.T) {
	m := openURL(t, "memory://")
	out := m.Driver().(*kitmail.Memory)
	if err := m.Send(context.Background(), testMsg(""), testMsg("")); err != nil {
		t.Fatal(err)
	}
	if got := out.Messages(); len(got) != 2 || got[0].To[0] != "user@example.com" {
		t.Fatalf("outbox = %v", got)
	}
	out.Clear()
	if len(out.Messages()) != 0 {
		t.Error("Clear left messages")
	}
	if _, err := kitmail.Open(context.Background(), "memory://host"); err == nil {
		t.Error("memory://host opened")
	}
}
