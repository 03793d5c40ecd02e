package mail_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/mail"
	"github.com/stackkit/stackkit/kit/mail/mailtest"
)

func testMsg(id string) *mail.Message {
	return &mail.Message{From: "app@example.com", To: []string{"user@example.com"}, Subject: "test", Text: "hello", MessageID: id}
}

func ctx10(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func smtpStats(m *mail.Mailer) mail.SMTPStats { return m.Driver().(*mail.SMTP).Stats() }

func TestStartTLS(t *testing.T) {
	s := newTestServer(t, startTLSServer, nil)
	t.Run("trusted through tls_ca", func(t *testing.T) {
		m := openURL(t, "smtp://"+s.Addr+"?tls_ca="+url.QueryEscape(s.CAFile))
		if err := m.Send(ctx10(t), testMsg("")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		m := openURL(t, "smtp://"+s.Addr)
		err := m.Send(ctx10(t), testMsg(""))
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("Send = %v, want a certificate error", err)
		}
		if mail.IsTemporary(err) {
			t.Errorf("an untrusted certificate is not temporary: %v", err)
		}
	})
	t.Run("insecure_skip_verify", func(t *testing.T) {
		m := openURL(t, "smtp://"+s.Addr+"?insecure_skip_verify=true")
		if err := m.Send(ctx10(t), testMsg("")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong server name", func(t *testing.T) {
		m := openURL(t, "smtp://"+s.Addr+"?tls_ca="+url.QueryEscape(s.CAFile)+"&tls_server_name=mail.example.com")
		if err := m.Send(ctx10(t), testMsg("")); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("Send = %v, want a certificate name error", err)
		}
	})
}

func TestStartTLSPolicy(t *testing.T) {
	s := newTestServer(t, plainServer, nil)
	m := openURL(t, "smtp://"+s.Addr) // starttls=required is the default
	if err := m.Send(ctx10(t), testMsg("")); !errors.Is(err, mail.ErrTLSRequired) || !mail.IsPermanent(err) {
		t.Fatalf("Send to a server without STARTTLS = %v, want ErrTLSRequired (permanent)", err)
	}
	for _, policy := range []string{"opportunistic", "off"} {
		m := openURL(t, "smtp://"+s.Addr+"?starttls="+policy)
		if err := m.Send(ctx10(t), testMsg("")); err != nil {
			t.Errorf("starttls=%s: %v", policy, err)
		}
	}
	if got := len(s.Received()); got != 2 {
		t.Errorf("server received %d messages, want 2", got)
	}
	if _, err := mail.Open(context.Background(), "smtp://"+s.Addr+"?starttls=maybe"); !errors.Is(err, mail.ErrInvalidOption) {
		t.Errorf("starttls=maybe: %v, want ErrInvalidOption", err)
	}
}

func TestAuth(t *testing.T) {
	users := map[string]string{"app": "pa55:word/ü"}
	pass := url.QueryEscape(users["app"])
	s := newTestServer(t, startTLSServer, func(s *testServer) { s.Users = users })
	base := "smtp://app:" + pass + "@" + s.Addr + "?tls_ca=" + url.QueryEscape(s.CAFile)
	for _, mech := range []string{"auto", "plain", "login", "cram-md5", "xoauth2"} {
		t.Run(mech, func(t *testing.T) {
			m := openURL(t, base+"&auth="+mech)
			if err := m.Send(ctx10(t), testMsg("")); err != nil {
				t.Fatal(err)
			}
		})
	}
	s.mu.Lock()
	authed := append([]string(nil), s.authed...)
	s.mu.Unlock()
	if want := []string{"PLAIN", "PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"}; strings.Join(authed, ",") != strings.Join(want, ",") {
		t.Errorf("mechanisms used = %v, want %v", authed, want)
	}

	t.Run("wrong password", func(t *testing.T) {
		m := openURL(t, "smtp://app:wrong@"+s.Addr+"?tls_ca="+url.QueryEscape(s.CAFile))
		err := m.Send(ctx10(t), testMsg(""))
		var se *mail.SMTPError
		if !errors.As(err, &se) || se.Code != 535 || se.Command != "AUTH" || mail.IsTemporary(err) || !mail.IsPermanent(err) {
			t.Fatalf("Send with a wrong password = %v, want a permanent 535 SMTPError on AUTH", err)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("the error shows the password: %v", err)
		}
	})
	t.Run("mechanism not offered", func(t *testing.T) {
		m := openURL(t, base+"&auth=scram-sha-256")
		if err := m.Send(ctx10(t), testMsg("")); !errors.Is(err, mail.ErrAuth) {
			t.Fatalf("Send = %v, want ErrAuth", err)
		}
	})
}

func TestAuthRefusedWithoutTLS(t *testing.T) {
	s := newTestServer(t, plainServer, func(s *testServer) { s.Users = map[string]string{"app": "secret"} })
	m := openURL(t, "smtp://app:secret@"+s.Addr+"?starttls=opportunistic")
	err := m.Send(ctx10(t), testMsg(""))
	if !errors.Is(err, mail.ErrInsecureAuth) || !mail.IsPermanent(err) {
		t.Fatalf("AUTH over plaintext = %v, want ErrInsecureAuth", err)
	}
	s.mu.Lock()
	tries := s.authTries
	s.mu.Unlock()
	if tries != 0 {
		t.Fatalf("the client started AUTH %d times over plaintext", tries)
	}
	m = openURL(t, "smtp://app:secret@"+s.Addr+"?starttls=off&insecure_auth=true")
	if err := m.Send(ctx10(t), testMsg("")); err != nil {
		t.Fatalf("insecure_auth=true: %v", err)
	}
}

// Mailpit accepts any credentials over plaintext, as it is configured for tests.
func TestAuthMailpit(t *testing.T) {
	addr := testenv.Get(t, "KIT_TEST_SMTP_ADDR")
	api := testenv.Get(t, "KIT_TEST_MAILPIT_API")
	m := openURL(t, "smtp://someone:any@"+addr+"?starttls=off&insecure_auth=true")
	id := mailtest.UniqueID()
	if err := m.Send(ctx10(t), testMsg(id)); err != nil {
		t.Fatal(err)
	}
	if got, err := mailtest.MailpitInbox(api).Received(ctx10(t), id); err != nil || len(got) != 1 {
		t.Fatalf("Mailpit has %d messages with the ID (%v)", len(got), err)
	}
}

func TestTemporaryAndPermanentReplies(t *testing.T) {
	s := newTestServer(t, plainServer, func(s *testServer) {
		s.OnRcpt = func(to string) error {
			switch {
			case strings.HasPrefix(to, "greylist"):
				return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "Greylisted, try again later"}
			case strings.HasPrefix(to, "nobody"):
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
			}
			return nil
		}
		s.OnData = func(_ *smtp.Conn, data []byte) (bool, error) {
			if strings.Contains(string(data), "SPAM") {
				return true, &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Message rejected as spam"}
			}
			return false, nil
		}
	})
	m := openURL(t, "smtp://"+s.Addr+"?starttls=off")
	ctx := ctx10(t)

	msg := testMsg("")
	msg.To = []string{"ok@example.com", "greylist@example.com"}
	err := m.Send(ctx, msg)
	var se *mail.SMTPError
	if !errors.As(err, &se) || se.Code != 450 || se.EnhancedCode != "4.2.0" || se.Command != "RCPT" ||
		se.Recipient != "greylist@example.com" || se.Message != "Greylisted, try again later" || !mail.IsTemporary(err) || mail.IsPermanent(err) {
		t.Fatalf("greylisted RCPT: %v (%+v), want a temporary 450 SMTPError naming the recipient", err, se)
	}

	msg.To = []string{"nobody@example.com"}
	err = m.Send(ctx, msg)
	if !errors.As(err, &se) || se.Code != 550 || se.Reply() != "550 5.1.1 No such user" || mail.IsTemporary(err) || !mail.IsPermanent(err) {
		t.Fatalf("unknown user: %v, want a permanent 550", err)
	}

	spam := testMsg("")
	spam.Text = "SPAM SPAM SPAM"
	err = m.Send(ctx, spam)
	if !errors.As(err, &se) || se.Code != 554 || se.Command != "DATA" || !mail.IsPermanent(err) {
		t.Fatalf("rejected DATA: %v, want a permanent 554 on DATA", err)
	}

	// None of those reached the mailbox (all or nothing: the accepted ok@ recipient got nothing
	// either), and the connection survived the refusals.
	if err := m.Send(ctx, testMsg("")); err != nil {
		t.Fatal(err)
	}
	if got := s.Received(); len(got) != 1 {
		t.Fatalf("server stored %d messages, want 1 (refused transactions store nothing)", len(got))
	}
	if sessions, _, _ := s.Stats(); sessions != 1 {
		t.Errorf("%d sessions, want 1: a refused command must not cost the connection", sessions)
	}
}

func TestPoolReusesConnections(t *testing.T) {
	s := newTestServer(t, plainServer, nil)
	m := openURL(t, "smtp://"+s.Addr+"?starttls=off")
	for range 20 {
		if err := m.Send(ctx10(t), testMsg("")); err != nil {
			t.Fatal(err)
		}
	}
	if sessions, _, _ := s.Stats(); sessions != 1 {
		t.Fatalf("20 sequential sends used %d connections, want 1", sessions)
	}
	if st := smtpStats(m); st.Dials != 1 || st.Reuses != 19 || st.Idle != 1 {
		t.Errorf("stats = %+v, want 1 dial, 19 reuses, 1 idle", st)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// Close sends QUIT on the idle connection.
	waitFor(t, func() bool { _, _, logouts := s.Stats(); return logouts == 1 })
}

func TestPoolNoReuse(t *testing.T) {
	s := newTestServer(t, plainServer, nil)
	m := openURL(t, "smtp://"+s.Addr+"?starttls=off&max_idle=0")
	for range 5 {
		if err := m.Send(ctx10(t), testMsg("")); err != nil {
			t.Fatal(err)
		}
	}
	if sessions, _, _ := s.Stats(); sessions != 5 {
		t.Fatalf("max_idle=0: %d connections for 5 sends, want 5", sessions)
	}
	waitFor(t, func() bool { _, _, logouts := s.Stats(); return logouts == 5 })
}

func TestPoolMaxConns(t *testing.T) {
	release := make(chan struct{})
	var entered sync.WaitGroup
	entered.Add(2)
	s := newTestServer(t, plainServer, func(s *testServer) {
		s.OnData = func(*smtp.Conn, []byte) (bool, error) {
			entered.Done()
			<-release
			return false, nil
		}
	})
	m := openURL(t, "smtp://"+s.Addr+"?starttls=off&max_conns=2&max_idle=2")
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() { errs <- m.Send(ctx10(t), testMsg("")) })
	}
	entered.Wait() // two sends are in DATA; the others wait for a connection
	entered.Add(4)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	sessions, maxActive, _ := s.Stats()
	if maxActive > 2 || sessions > 2 {
		t.Fatalf("max_conns=2: %d sessions, %d at once", sessions, maxActive)
	}
	if len(s.Received()) != 6 {
		t.Fatalf("received %d, want 6", len(s.Received()))
	}
}

func TestPoolWaitHonoursContext(t *testing.T) {
	release := make(chan struct{})
	inData := make(chan struct{}, 1)
	s := newTestServer(t, plainServer, func(s *testServer) {
		s.OnData = func(*smtp.Conn, []byte) (bool, error) {
			inData <- struct{}{}
			<-release
			return false, nil
		}
	})
	defer close(release)
	m := openURL(t, "smtp://"+s.Addr+"?starttls=off&max_conns=1")
	go func() { _ = m.Send(context.Background(), testMsg("")) }()
	<-inData
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := m.Send(ctx, testMsg("")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send waiting for a connection = %v, want DeadlineExceeded", err)
	}
}

// A pooled connection the server dropped fails its RSET health check and is replaced
// transparently.
func TestPoolHealthCheck(t *testing.T) {
	s := newTestServer(t, plainServer, nil)
	m := openURL(t, "smtp://"+s.Addr+"?starttls=off")
	if err := m.Send(ctx10(t), testMsg("")); err != nil {
		t.Fatal(err)
	}
	s.DropAll()
	if err := m.Send(ctx10(t), testMsg("")); err != nil {
		t.Fatalf("send after the server dropped the pooled connection: %v", err)
	}
	st := smtpStats(m)
	if st.Dials != 2 || st.Discards != 1 || st.Retries != 0 {
		t.Errorf("stats = %+v, want 2 dials, 1 discard (the health check), no retry", st)
	}
	if got := len(s.Received()); got != 2 {
		t.Errorf("received %d, want 2", got)
	}
}

func TestPoolLifetime(t *testing.T) {
	s := newTestServer(t, plainServer, nil)
	m := openURL(t, "smtp://"+s.Addr+"?starttls=off&max_lifetime=1ns")
	for range 3 {
		if err := m.Send(ctx10(t), testMsg("")); err != nil {
			t.Fatal(err)
		}
	}
	if sessions, _, _ := s.Stats(); sessions != 3 {
		t.Errorf("max_lifetime=1ns: %d sessions, want 3", sessions)
	}
}

// The connection breaks mid-DATA before the server has the whole message: nothing can have been
// accepted, so the send is retried once on a new connection and the message arrives once.
func TestDropMidDataRetriesOnce(t *testing.T) {
	var drops sync.Once
	s := newTestServer(t, plainServer, func(s *testServer) {
		s.OnDataStart = func(c *smtp.Conn, r io.Reader) (bool, error) {
			dropped := false
			drops.Do(func() {
				_, _ = io.CopyN(io.Discard, r, 1024)
				_ = c.Conn().Close()
				dropped = true
			})
			return dropped, errDrop
		}
	})
	// A small send buffer and a message larger than what the kernel can hold in flight (the
	// server's receive buffer tops out at a few MiB), so the client is still writing when the
	// server closes, and knows its final "." never went out.
	d, err := mail.NewSMTP(mail.SMTPConfig{Addr: s.Addr, StartTLS: mail.StartTLSOff,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				_ = c.(*net.TCPConn).SetWriteBuffer(32 << 10)
			}
			return c, err
		}})
	if err != nil {
		t.Fatal(err)
	}
	m := mail.New(d)
	t.Cleanup(func() { _ = m.Close() })
	msg := testMsg("")
	msg.Text = bigBody(4 << 20)
	if err := m.Send(ctx10(t), msg); err != nil {
		t.Fatalf("Send = %v, want the retry on a new connection to succeed", err)
	}
	if st := smtpStats(m); st.Retries != 1 || st.Dials != 2 {
		t.Errorf("stats = %+v, want 1 retry on a second connection", st)
	}
	if got := len(s.Received()); got != 1 {
		t.Fatalf("received %d, want exactly 1", got)
	}
}

// The server reads the whole message, then the connection drops before its reply: the server
// may have accepted it, so there is no retry; the error is temporary, for a queue to retry
// later (at least once, with the same Message-ID).
func TestDropAfterDataIsNotRetried(t *testing.T) {
	s := newTestServer(t, plainServer, func(s *testServer) {
		s.OnData = func(c *smtp.Conn, _ []byte) (bool, error) {
			_ = c.Conn().Close()
			return true, errDrop
		}
	})
	m := openURL(t, "smtp://"+s.Addr+"?starttls=off")
	err := m.Send(ctx10(t), testMsg(""))
	if err == nil || !mail.IsTemporary(err) || !errors.Is(err, mail.ErrConnection) {
		t.Fatalf("Send = %v, want a temporary connection error", err)
	}
	if st := smtpStats(m); st.Retries != 0 {
		t.Errorf("stats = %+v: a message the server may have accepted must not be retried at once", st)
	}
	if sessions, _, _ := s.Stats(); sessions != 1 {
		t.Errorf("%d sessions, want 1", sessions)
	}
}

func TestCommandTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s := newTestServer(t, plainServer, func(s *testServer) {
		s.OnData = func(*smtp.Conn, []byte) (bool, error) { <-release; return false, nil }
	})
	m := openURL(t, "smtp://"+s.Addr+"?starttls=off&timeout=200ms")
	start := time.Now()
	err := m.Send(ctx10(t), testMsg(""))
	if !errors.Is(err, mail.ErrConnection) || !mail.IsTemporary(err) {
		t.Fatalf("Send to a stalled server = %v, want a temporary connection error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the timeout took %s", d)
	}
}

func TestSendHonoursContext(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s := newTestServer(t, plainServer, func(s *testServer) {
		s.OnData = func(*smtp.Conn, []byte) (bool, error) { <-release; return false, nil }
	})
	m := openURL(t, "smtp://"+s.Addr+"?starttls=off")
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	err := m.Send(ctx, testMsg(""))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %v, want DeadlineExceeded", err)
	}
	if st := smtpStats(m); st.Idle != 0 || st.Discards != 1 {
		t.Errorf("stats = %+v: the aborted connection must be discarded", st)
	}
}

func TestPing(t *testing.T) {
	s := newTestServer(t, plainServer, nil)
	m := openURL(t, "smtp://"+s.Addr+"?starttls=off")
	if err := m.Ping(ctx10(t)); err != nil {
		t.Fatal(err)
	}
	if err := m.Ping(ctx10(t)); err != nil {
		t.Fatal(err)
	}
	if sessions, _, _ := s.Stats(); sessions != 1 {
		t.Errorf("two pings used %d connections", sessions)
	}
	dead := openURL(t, "smtp://127.0.0.1:1?starttls=off&dial_timeout=2s")
	if err := dead.Ping(ctx10(t)); !errors.Is(err, mail.ErrConnection) || !mail.IsTemporary(err) {
		t.Errorf("Ping of a closed port = %v, want a temporary connection error", err)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
