package mail_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stackkit/stackkit/kit/mail/mailtest"
)

// testServer is an in-process SMTP server (emersion/go-smtp) for fault injection: it records
// what it receives and counts sessions, and hooks let a test refuse, stall or drop.
type testServer struct {
	t    testing.TB
	srv  *smtp.Server
	Addr string
	// CAFile is the PEM file of the certificate the server presents for STARTTLS or implicit TLS.
	CAFile string

	// Hooks, set before the first connection. Each may be nil.
	Users  map[string]string // AUTH users: name -> password (token for XOAUTH2)
	Mechs  []string          // AUTH mechanisms offered (default PLAIN, LOGIN, CRAM-MD5, XOAUTH2 when Users is set)
	OnMail func(from string) error
	OnRcpt func(to string) error
	// OnData runs instead of storing the message when it returns handled=true.
	OnData func(c *smtp.Conn, data []byte) (handled bool, err error)
	// OnDataStart runs before the message is read, with the reader: a hook that drops the
	// connection mid-transfer. When it returns handled=true, the rest is not read.
	OnDataStart func(c *smtp.Conn, r io.Reader) (handled bool, err error)

	mu        sync.Mutex
	sessions  int
	active    int
	maxActive int
	logouts   int
	authed    []string // mechanisms that succeeded
	authTries int
	conns     []*smtp.Conn
	received  []mailtest.Received
	changed   chan struct{}
}

type serverMode int

const (
	plainServer    serverMode = iota // no TLS at all
	startTLSServer                   // offers STARTTLS
	implicitTLS                      // TLS from the first byte (smtps)
)

func newTestServer(t testing.TB, mode serverMode, setup func(*testServer)) *testServer {
	t.Helper()
	s := &testServer{t: t, changed: make(chan struct{})}
	if setup != nil {
		setup(s)
	}
	s.srv = smtp.NewServer(smtp.BackendFunc(s.newSession))
	s.srv.Domain = "test.local"
	s.srv.AllowInsecureAuth = true
	s.srv.MaxMessageBytes = 64 << 20
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.ErrorLog = nopLogger{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if mode != plainServer {
		cert, caFile := selfSigned(t)
		s.CAFile = caFile
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		if mode == implicitTLS {
			ln = tls.NewListener(ln, s.srv.TLSConfig)
		}
	}
	s.Addr = ln.Addr().String()
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

func (s *testServer) newSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	s.sessions++
	s.active++
	s.maxActive = max(s.maxActive, s.active)
	s.conns = append(s.conns, c)
	s.mu.Unlock()
	return &session{s: s, c: c}, nil
}

// Stats returns sessions opened, the most open at once, and sessions ended with QUIT or close.
func (s *testServer) Stats() (sessions, maxActive, logouts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions, s.maxActive, s.logouts
}

func (s *testServer) Received() []mailtest.Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]mailtest.Received(nil), s.received...)
}

// DropAll closes every connection the server has, as a server restart would.
func (s *testServer) DropAll() {
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Conn().Close()
	}
}

// WaitReceived waits until n messages arrived.
func (s *testServer) WaitReceived(t testing.TB, n int) []mailtest.Received {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		s.mu.Lock()
		got, ch := append([]mailtest.Received(nil), s.received...), s.changed
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("server received %d messages, want %d", len(got), n)
		}
	}
}

// Inbox returns the server as a mailtest.Inbox.
func (s *testServer) Inbox() mailtest.Inbox {
	return mailtest.InboxFunc(func(ctx context.Context, messageID string) ([]mailtest.Received, error) {
		for {
			s.mu.Lock()
			var out []mailtest.Received
			for _, r := range s.received {
				if r.MessageID() == messageID {
					out = append(out, r)
				}
			}
			ch := s.changed
			s.mu.Unlock()
			if len(out) > 0 {
				return out, nil
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	})
}

type session struct {
	s    *testServer
	c    *smtp.Conn
	from string
	to   []string
}

func (x *session) AuthMechanisms() []string {
	if x.s.Users == nil {
		return nil
	}
	if x.s.Mechs != nil {
		return x.s.Mechs
	}
	return []string{sasl.Plain, sasl.Login, "CRAM-MD5", "XOAUTH2"}
}

func (x *session) Auth(mech string) (sasl.Server, error) {
	s := x.s
	s.mu.Lock()
	s.authTries++
	s.mu.Unlock()
	ok := func(user, pass string) error {
		if want, found := s.Users[user]; !found || want != pass {
			return smtp.ErrAuthFailed
		}
		s.mu.Lock()
		s.authed = append(s.authed, mech)
		s.mu.Unlock()
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return ok(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: ok}, nil
	case "CRAM-MD5":
		return &cramServer{users: s.Users, ok: ok}, nil
	case "XOAUTH2":
		return &xoauth2Server{check: ok}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.OnMail != nil {
		if err := x.s.OnMail(from); err != nil {
			return err
		}
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if x.s.OnRcpt != nil {
		if err := x.s.OnRcpt(to); err != nil {
			return err
		}
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	if x.s.OnDataStart != nil {
		if handled, err := x.s.OnDataStart(x.c, r); handled {
			return err
		}
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if x.s.OnData != nil {
		if handled, err := x.s.OnData(x.c, data); handled {
			return err
		}
	}
	s := x.s
	s.mu.Lock()
	s.received = append(s.received, mailtest.Received{From: x.from, Recipients: append([]string(nil), x.to...), Data: data})
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	return nil
}

func (x *session) Reset() { x.from, x.to = "", nil }

func (x *session) Logout() error {
	x.s.mu.Lock()
	x.s.active--
	x.s.logouts++
	x.s.mu.Unlock()
	return nil
}

// loginServer is SASL LOGIN: "Username:", "Password:" challenges.
type loginServer struct {
	check func(user, pass string) error
	user  string
	state int
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.state {
	case 0:
		l.state = 1
		if resp != nil {
			l.user, l.state = string(resp), 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user, l.state = string(resp), 2
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

// cramServer is SASL CRAM-MD5 (RFC 2195).
type cramServer struct {
	users     map[string]string
	ok        func(user, pass string) error
	challenge []byte
}

func (c *cramServer) Next(resp []byte) ([]byte, bool, error) {
	if c.challenge == nil {
		c.challenge = []byte(fmt.Sprintf("<%d.%d@test.local>", time.Now().UnixNano(), os.Getpid()))
		return c.challenge, false, nil
	}
	user, digest, found := strings.Cut(string(resp), " ")
	pass, known := c.users[user]
	if !found || !known {
		return nil, true, smtp.ErrAuthFailed
	}
	mac := hmac.New(md5.New, []byte(pass))
	mac.Write(c.challenge)
	if hex.EncodeToString(mac.Sum(nil)) != digest {
		return nil, true, smtp.ErrAuthFailed
	}
	return nil, true, c.ok(user, pass)
}

// xoauth2Server is Google's XOAUTH2: "user=U\x01auth=Bearer T\x01\x01".
type xoauth2Server struct {
	check func(user, token string) error
}

func (x *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if resp == nil {
		return []byte{}, false, nil
	}
	var user, token string
	for _, f := range strings.Split(string(resp), "\x01") {
		if v, ok := strings.CutPrefix(f, "user="); ok {
			user = v
		}
		if v, ok := strings.CutPrefix(f, "auth=Bearer "); ok {
			token = v
		}
	}
	return nil, true, x.check(user, token)
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, and writes it to a PEM file.
func selfSigned(t testing.TB) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "kit/mail test server"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, file
}

// errDrop is returned by hooks that dropped the connection.
var errDrop = errors.New("dropped")

// bigBody returns n bytes of text with short lines.
func bigBody(n int) string {
	var b bytes.Buffer
	line := strings.Repeat("0123456789", 7) + "\n"
	for b.Len() < n {
		b.WriteString(line)
	}
	return b.String()
}
