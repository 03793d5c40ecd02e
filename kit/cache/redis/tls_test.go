package redis_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stackkit/stackkit/internal/testenv"
)

// TestTLS connects over rediss:// to a private TLS-only Redis whose certificate comes from a
// private CA: refused without tls_ca_file, working with it.
func TestTLS(t *testing.T) {
	bin := testenv.Get(t, "KIT_TEST_REDIS_SERVER_BIN")
	dir := t.TempDir()
	caFile, certFile, keyFile := writeCerts(t, dir)
	caPEM, err := os.ReadFile(caFile)
	must(t, err)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	port := freePort(t)
	srv := startProcess(t, bin, port, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"},
		"--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-ca-cert-file", caFile,
		"--tls-auth-clients", "no")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	untrusted := openCache(t, withQuery(t, "rediss://"+srv.Addr+"/0", "prefix", "tls", "max_retries", "0"))
	if err := untrusted.Set(ctx, "k", []byte("v"), time.Minute); err == nil {
		t.Fatal("rediss:// accepted a certificate from an unknown CA")
	}
	c := openCache(t, withQuery(t, "rediss://"+srv.Addr+"/0", "prefix", "tls", "tls_ca_file", caFile))
	must(t, c.Set(ctx, "k", []byte("v"), time.Minute))
	if v, err := c.Get(ctx, "k"); err != nil || string(v) != "v" {
		t.Fatalf("Get over TLS = %q, %v", v, err)
	}
}

// writeCerts writes a CA certificate and a server certificate for 127.0.0.1 signed by it.
func writeCerts(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(t, err)
		return k
	}
	caKey, srvKey := newKey(), newKey()
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kit test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	must(t, err)
	srv := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, ca, &srvKey.PublicKey, caKey)
	must(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	must(t, err)
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		must(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return path
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER),
		write("server.key", "PRIVATE KEY", keyDER)
}
