package nats_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/queue/queuetest"
)

func TestBadURLOptions(t *testing.T) {
	ctx := context.Background()
	cases := map[string]string{ // URL -> the option the error must name
		"nats://127.0.0.1:1?strem=X":                "strem",
		"nats://127.0.0.1:1?retention=forever":      "retention",
		"nats://127.0.0.1:1?dedup_window=5":         "dedup_window",
		"nats://127.0.0.1:1?dedup_window=1ms":       "dedup_window",
		"nats://127.0.0.1:1?stream=a.b":             "stream",
		"nats://127.0.0.1:1?subjects=a..b":          "subjects",
		"nats://127.0.0.1:1?replicas=9":             "replicas",
		"nats://127.0.0.1:1?dead_prefix=dead.*":     "dead_prefix",
		"nats://127.0.0.1:1?dead_stream=KIT":        "dead_stream",
		"nats://127.0.0.1:1?storage=tape":           "storage",
		"nats://127.0.0.1:1?creds=/nonexistent.cr":  "creds",
		"nats://127.0.0.1:1?tls_ca=/nonexistent.pm": "tls_ca",
		"nats://127.0.0.1:1?tls_cert=/x.pem":        "tls_cert",
		"nats://127.0.0.1:1?fetch_wait=1h":          "fetch_wait",
		"nats://127.0.0.1:1/ORDERS":                 "path",
		"nats+embedded://x?listen=nowhere":          "listen",
		"nats+embedded://x?max_store=lots":          "max_store",
	}
	for url, option := range cases {
		_, err := queue.Open(ctx, url)
		if !errors.Is(err, queue.ErrInvalidOption) || !strings.Contains(err.Error(), `"`+option+`"`) {
			t.Errorf("Open(%s) = %v; want ErrInvalidOption naming %q", url, err, option)
		}
	}
}

func TestSecretsRedacted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	port := freePort(t) // nothing listens there
	for _, url := range []string{
		"nats://app:hunter2pass@127.0.0.1:" + itoa(port) + "?connect_timeout=200ms",
		"nats://hunter2token@127.0.0.1:" + itoa(port) + "?connect_timeout=200ms",
		"nats://127.0.0.1:" + itoa(port) + "?token=hunter2token&connect_timeout=200ms",
		"nats://127.0.0.1:" + itoa(port) + "?token=hunter2token&strem=x",
	} {
		_, err := queue.Open(ctx, url)
		if err == nil {
			t.Fatalf("Open(%s) succeeded with no server", url)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error leaks a secret: %v", err)
		}
	}
}

func TestUserPassword(t *testing.T) {
	s := startServer(t, "--user", "app", "--pass", "s3cret-pw")
	space := queuetest.Space()
	ctx := context.Background()
	q := openURL(t, spaceURL("nats://app:s3cret-pw@"+s.addr(), space))
	roundTrip(t, q, space)

	_, err := queue.Open(ctx, spaceURL("nats://app:wrong-pw@"+s.addr(), space))
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Errorf("wrong password: %v, want an authorization error", err)
	}
	if err != nil && strings.Contains(err.Error(), "wrong-pw") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestToken(t *testing.T) {
	s := startServer(t, "--auth", "tok-123")
	for _, url := range []string{"nats://tok-123@" + s.addr(), "nats://" + s.addr() + "?token=tok-123"} {
		space := queuetest.Space()
		roundTrip(t, openURL(t, spaceURL(url, space)), space)
	}
	if _, err := queue.Open(context.Background(), "nats://"+s.addr()+"?token=nope"); err == nil {
		t.Errorf("a wrong token was accepted")
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := writeCerts(t, dir)
	s := startServer(t, "--tls", "--tlscert", cert, "--tlskey", key)
	space := queuetest.Space()
	roundTrip(t, openURL(t, spaceURL("nats://"+s.addr()+"?tls=true&tls_ca="+ca, space)), space)

	// Without the CA the server's certificate is not trusted.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := queue.Open(ctx, "nats://"+s.addr()+"?tls=true&connect_timeout=1s"); err == nil {
		t.Errorf("a certificate from an unknown CA was accepted")
	}
}

// roundTrip publishes one message and consumes it.
func roundTrip(t *testing.T, q *queue.Queue, space string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := q.Publish(ctx, &queue.Message{Subject: space + ".rt", Data: []byte("hi")}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	got := make(chan string, 1)
	err := q.Consume(ctx, "rt", space+".rt", func(_ context.Context, m *queue.Message) error {
		got <- string(m.Data)
		cancel()
		return nil
	})
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	if v := <-got; v != "hi" {
		t.Fatalf("got %q", v)
	}
}

// writeCerts writes a CA and a server certificate for 127.0.0.1 signed by it.
func writeCerts(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kit test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", der), write("server-key.pem", "EC PRIVATE KEY", keyDER)
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestStreamSettings checks stream creation from URL options, idempotent reopening, and a
// setting JetStream cannot change.
func TestStreamSettings(t *testing.T) {
	base := serverURL(t)
	space := queuetest.Space()
	deleteStreams(t, func() (*natsgo.Conn, error) { return natsgo.Connect(base) }, space)
	url := spaceURL(base, space, "max_age", "1h", "dedup_window", "30s", "max_msgs", "1000", "dead_max_age", "720h")
	q := openURL(t, url)
	d := driverOf(t, q)
	ctx := context.Background()
	s, err := d.JetStream().Stream(ctx, strings.ToUpper(space))
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if cfg.MaxAge != time.Hour || cfg.Duplicates != 30*time.Second || cfg.MaxMsgs != 1000 || cfg.Retention.String() != "WorkQueue" {
		t.Errorf("work stream: max_age %s dup %s max_msgs %d retention %s", cfg.MaxAge, cfg.Duplicates, cfg.MaxMsgs, cfg.Retention)
	}
	dead, err := d.JetStream().Stream(ctx, strings.ToUpper(space)+"_DEAD")
	if err != nil {
		t.Fatal(err)
	}
	if dc := dead.CachedInfo().Config; dc.MaxAge != 720*time.Hour || dc.Subjects[0] != "dead."+strings.ToUpper(space)+".>" {
		t.Errorf("dead stream: max_age %s subjects %v", dc.MaxAge, dc.Subjects)
	}
	// Reopening with the same options changes nothing; with a new max_age updates it.
	openURL(t, url)
	openURL(t, spaceURL(base, space, "max_age", "2h"))
	s, _ = d.JetStream().Stream(ctx, strings.ToUpper(space))
	if got := s.CachedInfo().Config.MaxAge; got != 2*time.Hour {
		t.Errorf("max_age after reopening with 2h = %s", got)
	}
	// Retention cannot change.
	_, err = queue.Open(ctx, spaceURL(base, space, "retention", "limits"))
	if !errors.Is(err, queue.ErrConflict) || !strings.Contains(err.Error(), "retention") {
		t.Errorf("changing retention: %v; want ErrConflict naming retention", err)
	}
	// create=false needs the streams to exist.
	if _, err := queue.Open(ctx, spaceURL(base, queuetest.Space(), "create", "false")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("create=false without streams: %v", err)
	}
	// A subject outside the stream: Publish and Consume say so.
	err = q.Publish(ctx, &queue.Message{Subject: "elsewhere." + space})
	if err == nil || !strings.Contains(err.Error(), "no stream stores subject") {
		t.Errorf("Publish outside the stream: %v", err)
	}
	err = q.Consume(ctx, "x", "elsewhere.>", func(context.Context, *queue.Message) error { return nil })
	if !errors.Is(err, queue.ErrInvalidOption) || !strings.Contains(err.Error(), "subject") {
		t.Errorf("Consume outside the stream: %v", err)
	}
}

// TestOpenHonoursDeadline: natsgo.Connect takes no context, so Open caps connect_timeout (5s
// by default) by the context's deadline: a server that accepts and never answers fails Open
// at the deadline.
func TestOpenHonoursDeadline(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0") // never accepted: the handshake completes, then silence
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	q, err := queue.Open(ctx, "nats://"+l.Addr().String())
	if err == nil {
		q.Close()
		t.Fatal("Open of a silent server succeeded")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Open took %s with a 300ms deadline (connect_timeout is 5s)", took)
	}
}
