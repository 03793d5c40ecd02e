package http_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	kithttp "github.com/stackkit/stackkit/kit/http"
	"github.com/stackkit/stackkit/kit/http/health"
)

var quietLogger = slog.New(slog.DiscardHandler)

// TestMain lets the test binary act as a server process for the signal tests.
func TestMain(m *testing.M) {
	if os.Getenv("KIT_HTTP_TEST_SERVER") == "1" {
		os.Exit(serveForTest())
	}
	os.Exit(m.Run())
}

const loadBody = 4096

// serveForTest runs a server whose handler takes 150ms and sends a 4 KiB body, and prints its
// address; the test then signals it.
func serveForTest() int {
	h := health.New(health.WithLogger(quietLogger))
	mux := http.NewServeMux()
	h.Register(mux)
	body := []byte(strings.Repeat("x", loadBody))
	mux.HandleFunc("GET /work", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(150 * time.Millisecond) // simulated work, so requests are in flight at SIGTERM
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = w.Write(body)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := kithttp.NewServer(mux, kithttp.WithListener(l), kithttp.WithHealth(h),
		kithttp.WithDrainDelay(400*time.Millisecond), kithttp.WithShutdownTimeout(10*time.Second),
		kithttp.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	fmt.Println("LISTENING", l.Addr())
	if err := srv.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestSIGTERMLosesNoRequest: under load, SIGTERM must not cost any request a response: every
// request either gets its complete response or, once the listener is closed, a refused
// connection — never a reset or a truncated body. Readiness turns 503 while draining.
func TestSIGTERMLosesNoRequest(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KIT_HTTP_TEST_SERVER=1")
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "LISTENING ") {
		t.Fatalf("server did not start: %q %v\n%s", line, err, stderr.String())
	}
	base := "http://" + strings.TrimSpace(strings.TrimPrefix(line, "LISTENING "))

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 20 * time.Second}
	var completed, refused atomic.Int64
	var failures sync.Map
	var signalled atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(base + "/work")
				if err != nil {
					if errors.Is(err, syscall.ECONNREFUSED) && signalled.Load() {
						refused.Add(1)
						return // the listener is closed: this client is done
					}
					failures.Store(fmt.Sprintf("client %d: %v", i, err), true)
					return
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || n != loadBody || resp.StatusCode != 200 {
					failures.Store(fmt.Sprintf("client %d: status %d, %d of %d bytes, %v", i, resp.StatusCode, n, loadBody, err), true)
					return
				}
				completed.Add(1)
			}
		})
	}
	// Let the load build up, then SIGTERM with requests in flight.
	for completed.Load() < 64 {
		time.Sleep(10 * time.Millisecond)
	}
	signalled.Store(true)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Readiness must turn 503 while the server still serves (drain delay).
	sawUnready := false
	for range 50 {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			break
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			sawUnready = true
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Errorf("server exited with %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not exit after SIGTERM")
	}
	close(stop)
	wg.Wait()
	failures.Range(func(k, _ any) bool { t.Errorf("lost request: %s", k); return true })
	if !sawUnready {
		t.Error("/readyz never reported 503 during the drain")
	}
	if !strings.Contains(stderr.String(), "http: stopped") {
		t.Errorf("server log does not show a clean stop:\n%s", stderr.String())
	}
	t.Logf("%d requests completed, %d clients refused after the listener closed", completed.Load(), refused.Load())
}

func startServer(t *testing.T, handler http.Handler, opts ...kithttp.Option) (*kithttp.Server, chan error) {
	t.Helper()
	opts = append([]kithttp.Option{kithttp.WithAddr("127.0.0.1:0"), kithttp.WithSignals(false), kithttp.WithLogger(quietLogger), kithttp.WithDrainDelay(0)}, opts...)
	srv := kithttp.NewServer(handler, opts...)
	done := make(chan error, 1)
	go func() { done <- srv.Run(context.Background()) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	}
	t.Cleanup(func() {
		srv.Shutdown()
		<-done
	})
	return srv, done
}

func hello(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "hello over %s", r.Proto)
}

func TestSlowHeaderClientCutOff(t *testing.T) {
	const timeout = 300 * time.Millisecond
	srv, _ := startServer(t, http.HandlerFunc(hello), kithttp.WithTimeouts(timeout, 0, 0, 0))
	conn, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	// A slowloris: the request line and one header, then nothing.
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: example.com\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(conn) // returns when the server closes the connection
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("connection not closed by the server: %v", err)
	}
	if elapsed < timeout-50*time.Millisecond || elapsed > timeout+3*time.Second {
		t.Errorf("cut off after %s, want about %s", elapsed, timeout)
	}
	if strings.Contains(string(rest), "hello") {
		t.Errorf("handler ran for an incomplete request: %q", rest)
	}
}

func TestOversizedHeaders431(t *testing.T) {
	srv, _ := startServer(t, http.HandlerFunc(hello), kithttp.WithMaxHeaderBytes(8<<10))
	req, _ := http.NewRequest("GET", "http://"+srv.Addr().String()+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d, want 431", resp.StatusCode)
	}
	// A normal request still works.
	resp, err = http.Get("http://" + srv.Addr().String() + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("normal request after a 431: %v", err)
	}
	resp.Body.Close()
}

func TestWorkersStopAfterInFlightRequests(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var order []string
	var mu sync.Mutex
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	mux := http.NewServeMux()
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		note("request done")
	})
	worker := func(ctx context.Context) error { <-ctx.Done(); note("worker stopped"); return ctx.Err() }
	srv := kithttp.NewServer(mux, kithttp.WithAddr("127.0.0.1:0"), kithttp.WithSignals(false), kithttp.WithLogger(quietLogger),
		kithttp.WithDrainDelay(0), kithttp.WithWorker("consumer", worker))
	done := make(chan error, 1)
	go func() { done <- srv.Run(context.Background()) }()
	<-srv.Ready()
	respErr := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + srv.Addr().String() + "/slow")
		if err == nil {
			resp.Body.Close()
		}
		respErr <- err
	}()
	<-entered
	srv.Shutdown()
	close(release)
	if err := <-respErr; err != nil {
		t.Errorf("in-flight request failed during shutdown: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if strings.Join(order, ",") != "request done,worker stopped" {
		t.Errorf("order %v: workers must stop after in-flight requests finish", order)
	}
}

func TestFailingWorkerStopsServer(t *testing.T) {
	boom := errors.New("queue connection lost")
	srv := kithttp.NewServer(http.HandlerFunc(hello), kithttp.WithAddr("127.0.0.1:0"), kithttp.WithSignals(false),
		kithttp.WithLogger(quietLogger), kithttp.WithWorker("consumer", func(context.Context) error { return boom }))
	if err := srv.Run(context.Background()); !errors.Is(err, boom) || !strings.Contains(err.Error(), "worker consumer") {
		t.Fatalf("Run = %v, want the worker's error", err)
	}
}

func TestUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "app.sock")
	startServer(t, http.HandlerFunc(hello), kithttp.WithAddr("unix:"+sock))
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := client.Get("http://unix/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello over HTTP/1.1" {
		t.Errorf("body %q", body)
	}
}

func TestH2C(t *testing.T) {
	srv, _ := startServer(t, http.HandlerFunc(hello), kithttp.WithH2C(true))
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: &http.Transport{Protocols: protocols}}
	resp, err := client.Get("http://" + srv.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello over HTTP/2.0" {
		t.Errorf("body %q, want HTTP/2 over cleartext", body)
	}
}

func TestTLSWithHTTP2(t *testing.T) {
	cert, pool := selfSigned(t)
	srv, _ := startServer(t, http.HandlerFunc(hello), kithttp.WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}}))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	resp, err := client.Get("https://" + srv.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello over HTTP/2.0" {
		t.Errorf("body %q, want HTTP/2 over TLS", body)
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
