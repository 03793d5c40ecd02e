package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stackkit/stackkit/kit/mail"
	gomail "github.com/wneessen/go-mail"
)

// The mail benchmarks send the same message to an in-process SMTP server (emersion/go-smtp on
// loopback, discarding what it receives), through:
//
//   - kit-pooled: kit/mail's smtp:// with its connection pool (max_conns=8, all kept idle for
//     reuse, RSET before each reuse);
//   - kit-conn-per-message: kit/mail with max_idle=0, a new connection (EHLO ... QUIT) per
//     message, which is what Django's SMTP backend does for each send_mail call;
//   - go-mail-conn-per-message: wneessen/go-mail's Client.DialAndSendWithContext per message,
//     the peer library, building its Msg each time as kit/mail renders each time.
//
// Sequential runs send from one goroutine; Parallel runs from GOMAXPROCS*4 goroutines (kit's
// pool then opens up to max_conns=8). conns/op counts the server's sessions per message.

const mailBodyText = "Hello,\n\nThank you for your order #12345. It will ship tomorrow.\n\nRegards,\nThe Shop\n"

func mailMessage() *mail.Message {
	return &mail.Message{
		From: "Shop <shop@example.com>", To: []string{"Customer <customer@example.com>"},
		Subject: "Your order #12345", Text: mailBodyText,
		HTML: "<p>Hello,</p><p>Thank you for your order <b>#12345</b>. It will ship tomorrow.</p>",
	}
}

func goMailMessage(b *testing.B) *gomail.Msg {
	m := gomail.NewMsg()
	if err := m.From("Shop <shop@example.com>"); err != nil {
		b.Fatal(err)
	}
	if err := m.To("Customer <customer@example.com>"); err != nil {
		b.Fatal(err)
	}
	m.Subject("Your order #12345")
	m.SetBodyString(gomail.TypeTextPlain, mailBodyText)
	m.AddAlternativeString(gomail.TypeTextHTML, "<p>Hello,</p><p>Thank you for your order <b>#12345</b>. It will ship tomorrow.</p>")
	return m
}

// benchSMTPServer accepts everything and counts sessions and messages.
type benchSMTPServer struct {
	addr     string
	sessions atomic.Int64
	messages atomic.Int64
}

func startBenchSMTP(b *testing.B) *benchSMTPServer {
	b.Helper()
	s := &benchSMTPServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		s.sessions.Add(1)
		return benchSession{s}, nil
	}))
	srv.Domain = "bench.local"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.MaxMessageBytes = 1 << 20
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return s
}

type benchSession struct{ s *benchSMTPServer }

func (benchSession) Mail(string, *smtp.MailOptions) error { return nil }
func (benchSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (x benchSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	x.s.messages.Add(1)
	return err
}
func (benchSession) Reset()        {}
func (benchSession) Logout() error { return nil }

func BenchmarkSMTPSend(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		mode := "Sequential"
		if parallel {
			mode = "Parallel"
		}
		b.Run(mode, func(b *testing.B) {
			b.Run("kit-pooled", func(b *testing.B) { benchKitMail(b, parallel, "&max_conns=8") })
			b.Run("kit-conn-per-message", func(b *testing.B) { benchKitMail(b, parallel, "&max_conns=8&max_idle=0") })
			b.Run("go-mail-conn-per-message", func(b *testing.B) { benchGoMail(b, parallel) })
		})
	}
}

func benchKitMail(b *testing.B, parallel bool, opts string) {
	s := startBenchSMTP(b)
	m, err := mail.Open(context.Background(), "smtp://"+s.addr+"?starttls=off"+opts)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	send := func() {
		if err := m.Send(ctx, mailMessage()); err != nil {
			b.Error(err)
		}
	}
	run(b, parallel, send)
	report(b, s)
}

func benchGoMail(b *testing.B, parallel bool) {
	s := startBenchSMTP(b)
	host, port, _ := net.SplitHostPort(s.addr)
	var portNum int
	_, _ = fmt.Sscan(port, &portNum)
	newClient := func() *gomail.Client {
		c, err := gomail.NewClient(host, gomail.WithPort(portNum), gomail.WithTLSPolicy(gomail.NoTLS), gomail.WithHELO("bench.local"))
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	ctx := context.Background()
	var pool sync.Pool // one Client per goroutine: a go-mail Client holds one connection
	pool.New = func() any { return newClient() }
	send := func() {
		c := pool.Get().(*gomail.Client)
		if err := c.DialAndSendWithContext(ctx, goMailMessage(b)); err != nil {
			b.Error(err)
		}
		pool.Put(c)
	}
	run(b, parallel, send)
	report(b, s)
}

func run(b *testing.B, parallel bool, send func()) {
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				send()
			}
		})
	} else {
		for b.Loop() {
			send()
		}
	}
	b.StopTimer()
}

func report(b *testing.B, s *benchSMTPServer) {
	if got := s.messages.Load(); got < int64(b.N) {
		b.Fatalf("server received %d messages, want at least %d", got, b.N)
	}
	b.ReportMetric(float64(s.sessions.Load())/float64(b.N), "conns/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// TestMailBenchSendsSameMessage checks that the compared libraries deliver equivalent messages.
func TestMailBenchSendsSameMessage(t *testing.T) {
	env, err := mail.New(mail.NewMemory()).Render(mailMessage())
	if err != nil {
		t.Fatal(err)
	}
	var gm strings.Builder
	m := gomail.NewMsg()
	_ = m.From("Shop <shop@example.com>")
	_ = m.To("Customer <customer@example.com>")
	m.Subject("Your order #12345")
	m.SetBodyString(gomail.TypeTextPlain, mailBodyText)
	m.AddAlternativeString(gomail.TypeTextHTML, "<p>x</p>")
	if _, err := m.WriteTo(&gm); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"multipart/alternative", "Subject: Your order #12345", "To: \"Customer\" <customer@example.com>"} {
		if !strings.Contains(string(env.Data), want) && !strings.Contains(string(env.Data), strings.ReplaceAll(want, `"Customer"`, "Customer")) {
			t.Errorf("kit/mail message lacks %q", want)
		}
		if !strings.Contains(gm.String(), want) && !strings.Contains(gm.String(), strings.ReplaceAll(want, `"Customer"`, "Customer")) {
			t.Errorf("go-mail message lacks %q", want)
		}
	}
}
