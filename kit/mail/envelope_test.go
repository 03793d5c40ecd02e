package mail_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stackkit/stackkit/kit/mail"
)

// A quoted local part may hold a space or '>', which net/mail (and ParseAddress) accept, but an
// SMTP envelope carries addresses bare: `"a> NOTIFY=SUCCESS"@example.com` would become
// `RCPT TO:<a> NOTIFY=SUCCESS@example.com>`, an ESMTP parameter the caller never wrote. Send
// refuses such an address before anything is sent or enqueued, on the direct and the queued path
// alike (the Worker's check of the queued envelope is the same rule).
func TestEnvelopeAddressInjection(t *testing.T) {
	evil := []string{
		`"a> NOTIFY=SUCCESS"@example.com`,
		`"john doe"@example.com`,
		`"a<b"@example.com`,
		`"a\"b"@example.com`,
		`"x>\tSIZE=1"@example.com`,
	}
	var mu sync.Mutex
	var cmds []string
	s := newTestServer(t, plainServer, func(s *testServer) {
		s.OnMail = func(from string) error { mu.Lock(); cmds = append(cmds, "MAIL "+from); mu.Unlock(); return nil }
		s.OnRcpt = func(to string) error { mu.Lock(); cmds = append(cmds, "RCPT "+to); mu.Unlock(); return nil }
	})
	direct := openURL(t, "smtp://"+s.Addr+"?starttls=off")
	q := openQueue(t)
	queued, err := mail.NewQueued(q, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range evil {
		for field, set := range map[string]func(*mail.Message){
			"From": func(m *mail.Message) { m.From = "Name <" + addr + ">" },
			"To":   func(m *mail.Message) { m.To = append(m.To, addr) },
			"Cc":   func(m *mail.Message) { m.Cc = []string{addr} },
			"Bcc":  func(m *mail.Message) { m.Bcc = []string{addr} },
		} {
			for name, m := range map[string]*mail.Mailer{"smtp": direct, "queued": queued} {
				msg := testMsg("")
				set(msg)
				err := m.Send(ctx10(t), msg)
				if !errors.Is(err, mail.ErrInvalidAddress) || !mail.IsPermanent(err) || !strings.Contains(err.Error(), field) {
					t.Errorf("%s: Send with %s %s = %v; want ErrInvalidAddress naming the %s address", name, field, addr, err, field)
				}
			}
		}
	}
	mu.Lock()
	if len(cmds) != 0 {
		t.Errorf("the server saw %q; want nothing sent", cmds)
	}
	mu.Unlock()
	if n, err := q.Purge(ctx10(t), mail.DefaultSubject); err != nil || n != 0 {
		t.Errorf("%d messages enqueued (%v); want none", n, err)
	}
	if _, err := mail.Open(ctx10(t), "memory://?default_from="+`%22a%3E+NOTIFY%3DSUCCESS%22@example.com`); !errors.Is(err, mail.ErrInvalidAddress) {
		t.Errorf("Open with such a default_from = %v, want ErrInvalidAddress", err)
	}

	// Addresses that need no quoting still go, address literals included.
	ok := testMsg("")
	ok.To = []string{"o'brien+tag@example.com", "x.y_z!#$%&*=?^`{|}~-@example.com", "root@[192.0.2.1]", `"plain"@example.com`}
	if err := direct.Send(ctx10(t), ok); err != nil {
		t.Fatal(err)
	}
	if got := s.Received(); len(got) != 1 || !sameAddrs(got[0].Recipients, "o'brien+tag@example.com", "x.y_z!#$%&*=?^`{|}~-@example.com", "root@[192.0.2.1]", "plain@example.com") {
		t.Fatalf("received %+v", got)
	}
}
