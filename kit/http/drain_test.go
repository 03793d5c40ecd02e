package http_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	kithttp "github.com/stackkit/stackkit/kit/http"
	"github.com/stackkit/stackkit/kit/http/health"
)

// ordersBinary builds examples/orders into a temporary directory: the drain is tested on the
// program an operator runs, signalled as Kubernetes signals it.
func ordersBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "orders")
	if out, err := exec.Command("go", "build", "-o", bin, "./examples/orders").CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/orders: %v\n%s", err, out)
	}
	return bin
}

// ordersProc is a running orders process and what it logged.
type ordersProc struct {
	cmd    *exec.Cmd
	addr   chan string    // the "http: serving" address, once
	drain  chan time.Time // when the test read the "http: draining" line, once
	closes chan time.Time // the time of the "http: closing the listener" record, once
	exited chan error
	mu     sync.Mutex
	log    strings.Builder
}

func startOrders(t *testing.T, env ...string) *ordersProc {
	t.Helper()
	p := &ordersProc{addr: make(chan string, 1), drain: make(chan time.Time, 1), closes: make(chan time.Time, 1), exited: make(chan error, 1)}
	p.cmd = exec.Command(ordersBinary(t))
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "KIT_HTTP_ADDR=127.0.0.1:0"}, env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			var rec struct {
				Time time.Time `json:"time"`
				Msg  string    `json:"msg"`
				Addr string    `json:"addr"`
			}
			_ = json.Unmarshal(sc.Bytes(), &rec)
			switch rec.Msg {
			case "http: serving":
				p.addr <- rec.Addr
			case "http: draining":
				p.drain <- time.Now()
			case "http: closing the listener, finishing requests in flight":
				p.closes <- rec.Time
			}
		}
		p.exited <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("orders log:\n%s", p.logText())
		}
	})
	return p
}

func (p *ordersProc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// rawClient is an HTTP/1.1 client written for the test: hand-written requests on a net.Conn, no
// retries, so every closed or reset connection is seen as the failed request it is.
type rawClient struct {
	addr      string
	post      bool
	keepAlive bool // reuse the connection until the server says Connection: close
}

// exchange is one request's outcome.
type exchange struct {
	sent     time.Time // when the request was written
	reused   bool      // on a connection that had carried a request before
	err      error     // nil: a complete, correct response
	connDone bool      // the response said Connection: close
	refused  bool      // the dial was refused: the listener is closed
}

func (c rawClient) request() string {
	if c.post {
		body := `{"item":"tea","count":2}`
		return "POST /orders HTTP/1.1\r\nHost: orders.test\r\nContent-Type: application/json\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
	}
	return "GET /orders/42 HTTP/1.1\r\nHost: orders.test\r\n\r\n"
}

// run sends requests until stop is closed or the listener refuses it, reporting each.
func (c rawClient) run(stop <-chan struct{}, report func(exchange)) {
	var conn net.Conn
	var br *bufio.Reader
	used := false
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		select {
		case <-stop:
			return
		default:
		}
		if conn == nil {
			var err error
			conn, err = net.DialTimeout("tcp", c.addr, 5*time.Second)
			if err != nil {
				report(exchange{sent: time.Now(), err: err, refused: errors.Is(err, syscall.ECONNREFUSED)})
				if errors.Is(err, syscall.ECONNREFUSED) {
					return
				}
				continue
			}
			br, used = bufio.NewReader(conn), false
		}
		ex := exchange{sent: time.Now(), reused: used}
		used = true
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		ex.err = c.roundTrip(conn, br, &ex)
		report(ex)
		if ex.err != nil || ex.connDone || !c.keepAlive {
			conn.Close()
			conn = nil
		}
		// Think time: kept-alive connections sit idle between requests, as a browser's or a
		// connection pool's do; that is when a server that closes idle connections hurts them.
		select {
		case <-stop:
			return
		case <-time.After(3 * time.Millisecond):
		}
	}
}

func (c rawClient) roundTrip(conn net.Conn, br *bufio.Reader, ex *exchange) error {
	if _, err := io.WriteString(conn, c.request()); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	ex.connDone = resp.Close
	want := http.StatusOK
	if c.post {
		want = http.StatusCreated
	}
	if resp.StatusCode != want || !strings.Contains(string(body), `"item":"tea"`) {
		return fmt.Errorf("status %d, body %q", resp.StatusCode, body)
	}
	return nil
}

// TestDrainServesKeptAliveConnections: raw HTTP/1.1 clients (kept-alive and fresh connections,
// GET and POST, no retries) run across SIGTERM against the built examples/orders with a 2s
// drain delay. Until the listener closes, no request may fail: kept-alive connections keep being
// served, each response during the drain says Connection: close, and new connections are still
// accepted.
func TestDrainServesKeptAliveConnections(t *testing.T) {
	const drainDelay = 2 * time.Second
	p := startOrders(t, "KIT_HTTP_DRAIN_DELAY="+drainDelay.String(), "KIT_HTTP_SHUTDOWN_TIMEOUT=5s")
	var addr string
	select {
	case addr = <-p.addr:
	case err := <-p.exited:
		t.Fatalf("orders exited before serving: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("orders did not serve within 30s")
	}

	clients := []rawClient{
		{post: false, keepAlive: true}, {post: false, keepAlive: true}, {post: false, keepAlive: true},
		{post: false, keepAlive: true}, {post: false, keepAlive: true}, {post: false, keepAlive: true},
		{post: true, keepAlive: true}, {post: true, keepAlive: true},
		{post: false, keepAlive: false}, {post: true, keepAlive: false},
	}
	var (
		mu        sync.Mutex
		exchanges []exchange
		warm      atomic.Int64
		warmed    = make(chan struct{})
		warmOnce  sync.Once
		stop      = make(chan struct{})
		wg        sync.WaitGroup
	)
	for i := range clients {
		clients[i].addr = addr
		wg.Go(func() {
			clients[i].run(stop, func(ex exchange) {
				mu.Lock()
				exchanges = append(exchanges, ex)
				mu.Unlock()
				if ex.err == nil && warm.Add(1) == 200 {
					warmOnce.Do(func() { close(warmed) })
				}
			})
		})
	}
	select {
	case <-warmed:
	case <-time.After(30 * time.Second):
		close(stop)
		wg.Wait()
		t.Fatalf("the clients did not complete 200 requests before SIGTERM; %d did", warm.Load())
	}

	sigterm := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var drainSeen time.Time
	select {
	case drainSeen = <-p.drain:
	case <-time.After(10 * time.Second):
		t.Error("orders did not log http: draining")
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("orders exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("orders did not exit within 30s of SIGTERM")
	}
	close(stop)
	wg.Wait()
	if !strings.Contains(p.logText(), `"http: stopped"`) {
		t.Errorf("orders did not log a clean stop")
	}

	// Until the listener closes nothing may fail, except on a connection the kernel accepted in the
	// last moments before it closed, which the server never took from the accept queue: here within
	// 2ms of the close, and backlogWindow leaves room for a loaded machine that accepts late.
	const backlogWindow = 250 * time.Millisecond
	var listenerCloses time.Time
	select {
	case listenerCloses = <-p.closes:
	default:
		t.Fatal(`orders did not log "http: closing the listener"`)
	}
	if d := listenerCloses.Sub(sigterm); d < drainDelay {
		t.Errorf("the listener closed %s after SIGTERM, before the drain delay of %s", d, drainDelay)
	}
	var before, after, keptAlive, fresh, refused, failedBefore, failedBacklog, failedAfter, withoutClose, newDuring int
	var failTimes []string
	for _, ex := range exchanges {
		switch {
		case ex.refused && listenerCloses.Sub(ex.sent) >= backlogWindow:
			failTimes = append(failTimes, fmt.Sprintf("+%dms (refused: %v)", ex.sent.Sub(sigterm).Milliseconds(), ex.err))
			failedBefore++
			continue
		case ex.refused:
			refused++
			continue
		case ex.sent.Before(sigterm):
			if ex.err != nil {
				t.Errorf("request before SIGTERM failed: %v", ex.err)
			}
			continue
		}
		if ex.sent.Before(listenerCloses) {
			before++
		} else {
			after++
		}
		if ex.err != nil {
			failTimes = append(failTimes, fmt.Sprintf("+%dms (kept-alive %v: %v)", ex.sent.Sub(sigterm).Milliseconds(), ex.reused, ex.err))
			switch {
			case !ex.sent.Before(listenerCloses):
				failedAfter++
			case !ex.reused && listenerCloses.Sub(ex.sent) < backlogWindow:
				failedBacklog++
			default:
				failedBefore++
			}
			continue
		}
		if ex.reused {
			keptAlive++
		} else {
			fresh++
		}
		if !drainSeen.IsZero() && ex.sent.After(drainSeen) {
			if !ex.connDone {
				withoutClose++
			}
			if !ex.reused && ex.sent.Before(listenerCloses) {
				newDuring++
			}
		}
	}
	slices.Sort(failTimes)
	t.Logf("load: %d raw HTTP/1.1 clients (6 GET + 2 POST kept-alive, 1 GET + 1 POST fresh connection per request, no retries); fault: SIGTERM, drain delay %s", len(clients), drainDelay)
	t.Logf("after SIGTERM: %d requests sent before the listener closed at +%dms: %d failed, %d more failed on connections made in its last %s; %d sent after it closed (%d failed); %d completed on kept-alive and %d on new connections; %d dials refused once it closed; %d completed before SIGTERM",
		before, listenerCloses.Sub(sigterm).Milliseconds(), failedBefore, failedBacklog, backlogWindow, after, failedAfter, keptAlive, fresh, refused, warm.Load()-int64(keptAlive+fresh))
	if len(failTimes) > 0 {
		t.Logf("failures: %s", strings.Join(failTimes, "; "))
	}
	if failedBefore > 0 {
		t.Errorf("%d requests failed during the drain delay, before the listener closed", failedBefore)
	}
	if withoutClose > 0 {
		t.Errorf("%d responses during the drain lacked Connection: close", withoutClose)
	}
	if newDuring == 0 {
		t.Error("no new connection was served during the drain")
	}
	if before < 20 {
		t.Errorf("only %d requests during the drain: the test did not exercise it", before)
	}
}

// h2Conn is an HTTP/2 client written for the test on golang.org/x/net/http2's framer: it sends
// one request at a time and reports every frame, so a GOAWAY or a refused stream is seen, not
// retried away as net/http's Transport does.
type h2Conn struct {
	t      *testing.T
	conn   *tls.Conn
	wmu    sync.Mutex // the framer's writes: the test's requests, the reader's acknowledgements
	fr     *http2.Framer
	enc    *hpack.Encoder
	hbuf   bytes.Buffer
	next   uint32
	frames chan h2Event
}

// h2Event is a frame the server sent, summarised, or the connection's end (err set).
type h2Event struct {
	stream  uint32
	status  string // on HEADERS
	data    int    // bytes of DATA
	end     bool   // END_STREAM
	goAway  *http2.GoAwayFrame
	rst     http2.ErrCode
	isRST   bool
	err     error
	arrived time.Time
}

func dialH2(t *testing.T, addr string, pool *x509.CertPool) *h2Conn {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q, want h2", p)
	}
	c := &h2Conn{t: t, conn: conn, fr: http2.NewFramer(conn, conn), next: 1, frames: make(chan h2Event, 64)}
	c.enc = hpack.NewEncoder(&c.hbuf)
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteSettings(); err != nil { // before the reader starts: no lock needed yet
		t.Fatal(err)
	}
	dec := hpack.NewDecoder(4096, nil)
	go func() {
		defer close(c.frames)
		for {
			f, err := c.fr.ReadFrame()
			if err != nil {
				c.frames <- h2Event{err: err, arrived: time.Now()}
				return
			}
			ev := h2Event{stream: f.Header().StreamID, arrived: time.Now()}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					c.wmu.Lock()
					_ = c.fr.WriteSettingsAck()
					c.wmu.Unlock()
				}
				continue
			case *http2.PingFrame:
				if !f.IsAck() {
					c.wmu.Lock()
					_ = c.fr.WritePing(true, f.Data)
					c.wmu.Unlock()
				}
				continue
			case *http2.WindowUpdateFrame:
				continue
			case *http2.HeadersFrame:
				fields, err := dec.DecodeFull(f.HeaderBlockFragment())
				if err != nil {
					c.frames <- h2Event{err: err}
					return
				}
				for _, hf := range fields {
					if hf.Name == ":status" {
						ev.status = hf.Value
					}
				}
				ev.end = f.StreamEnded()
			case *http2.DataFrame:
				ev.data, ev.end = len(f.Data()), f.StreamEnded()
			case *http2.GoAwayFrame:
				g := *f
				ev.goAway = &g
			case *http2.RSTStreamFrame:
				ev.isRST, ev.rst = true, f.ErrCode
			default:
				continue
			}
			c.frames <- ev
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return c
}

// get sends GET / on a new stream and returns the stream's outcome: its status, its body size,
// and whether a GOAWAY arrived meanwhile (and its last stream ID).
func (c *h2Conn) get() (stream uint32, status string, body int, goAway *http2.GoAwayFrame, err error) {
	stream = c.next
	c.next += 2
	c.hbuf.Reset()
	for _, hf := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "orders.test"}, {":path", "/"}} {
		_ = c.enc.WriteField(hpack.HeaderField{Name: hf[0], Value: hf[1]})
	}
	c.wmu.Lock()
	err = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: c.hbuf.Bytes(), EndStream: true, EndHeaders: true})
	c.wmu.Unlock()
	if err != nil {
		return stream, "", 0, nil, fmt.Errorf("write headers: %w", err)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-c.frames:
			switch {
			case !ok || ev.err != nil:
				return stream, status, body, goAway, fmt.Errorf("connection ended before stream %d did: %v", stream, ev.err)
			case ev.goAway != nil:
				goAway = ev.goAway
				continue
			case ev.stream != stream:
				continue
			case ev.isRST:
				return stream, status, body, goAway, fmt.Errorf("stream %d reset: %v", stream, ev.rst)
			}
			if ev.status != "" {
				status = ev.status
			}
			body += ev.data
			if ev.end {
				return stream, status, body, goAway, nil
			}
		case <-timeout:
			return stream, status, body, goAway, fmt.Errorf("stream %d: no response within 10s", stream)
		}
	}
}

// closed waits for the server to close the connection, returning any GOAWAY seen meanwhile.
func (c *h2Conn) closed(within time.Duration) (goAway *http2.GoAwayFrame, err error) {
	timeout := time.After(within)
	for {
		select {
		case ev, ok := <-c.frames:
			if !ok || ev.err != nil {
				return goAway, nil
			}
			if ev.goAway != nil {
				goAway = ev.goAway
			}
		case <-timeout:
			return goAway, fmt.Errorf("connection still open after %s", within)
		}
	}
}

// TestDrainHTTP2GoAway: over TLS with HTTP/2, a request during the drain delay is answered in full
// and its connection gets a graceful GOAWAY (NO_ERROR, naming that stream as the last), then is
// closed by the server; a new connection during the drain is still accepted and served the same
// way. No stream is refused or reset.
func TestDrainHTTP2GoAway(t *testing.T) {
	const drainDelay = 3 * time.Second
	cert, pool := selfSigned(t)
	h := health.New(health.WithLogger(quietLogger))
	mux := http.NewServeMux()
	h.Register(mux)
	mux.HandleFunc("GET /", hello)
	srv, done := startServer(t, mux, kithttp.WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}}),
		kithttp.WithHealth(h), kithttp.WithDrainDelay(drainDelay))
	addr := srv.Addr().String()

	kept := dialH2(t, addr, pool)
	var completed, failed int
	for range 3 {
		_, status, n, goAway, err := kept.get()
		if err != nil || status != "200" || n == 0 || goAway != nil {
			t.Fatalf("before the drain: status %q, %d bytes, GOAWAY %v, %v", status, n, goAway, err)
		}
		completed++
	}

	start := time.Now()
	srv.Shutdown()
	// The drain starts when readiness turns unready: wait for that condition, bounded.
	tick := time.NewTicker(time.Millisecond)
	for !h.Draining() {
		if time.Since(start) > 5*time.Second {
			t.Fatal("readiness did not turn unready within 5s of Shutdown")
		}
		<-tick.C
	}
	tick.Stop()

	// The kept-alive connection is still served; its response comes with GOAWAY.
	stream, status, n, goAway, err := kept.get()
	if err != nil || status != "200" || n == 0 {
		failed++
		t.Errorf("request on the kept-alive connection during the drain: status %q, %d bytes, %v", status, n, err)
	} else {
		completed++
	}
	if goAway == nil {
		goAway, _ = kept.closed(0)
	}
	switch {
	case goAway == nil:
		t.Error("no GOAWAY after a response during the drain")
	case goAway.ErrCode != http2.ErrCodeNo || goAway.LastStreamID < stream:
		t.Errorf("GOAWAY %v last stream %d, want NO_ERROR with last stream >= %d", goAway.ErrCode, goAway.LastStreamID, stream)
	}
	if _, err := kept.closed(drainDelay); err != nil {
		t.Errorf("the server did not close the kept-alive connection after GOAWAY: %v", err)
	}

	// A new connection during the drain is accepted, answered, and told to go away too.
	fresh := dialH2(t, addr, pool)
	stream, status, n, goAway, err = fresh.get()
	if err != nil || status != "200" || n == 0 {
		failed++
		t.Errorf("request on a new connection during the drain: status %q, %d bytes, %v", status, n, err)
	} else {
		completed++
	}
	if goAway == nil {
		goAway, _ = fresh.closed(drainDelay)
	}
	if goAway == nil || goAway.ErrCode != http2.ErrCodeNo || goAway.LastStreamID < stream {
		t.Errorf("new connection during the drain: GOAWAY %+v, want NO_ERROR covering stream %d", goAway, stream)
	}
	if elapsed := time.Since(start); elapsed >= drainDelay {
		t.Errorf("the checks took %s, past the drain delay: they did not run during the drain", elapsed)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		done <- err // for startServer's cleanup
	case <-time.After(drainDelay + 10*time.Second):
		t.Fatal("Run did not return after the drain")
	}
	t.Logf("load: one raw HTTP/2 client over TLS, sequential GETs on a kept-alive and a new connection; fault: Shutdown with a drain delay of %s; %d requests completed, %d failed; GOAWAY (NO_ERROR) after the first response of each connection during the drain", drainDelay, completed, failed)
}

// TestDrainBeforeShutdown: Drain alone keeps the server serving, with readiness unready and
// Connection: close on every response; the drain delay counts from Drain, so Run returns no
// sooner than the delay after it.
func TestDrainBeforeShutdown(t *testing.T) {
	const delay = 500 * time.Millisecond
	h := health.New(health.WithLogger(quietLogger))
	mux := http.NewServeMux()
	h.Register(mux)
	mux.HandleFunc("GET /", hello)
	srv, done := startServer(t, mux, kithttp.WithHealth(h), kithttp.WithDrainDelay(delay))
	client := &http.Client{Transport: &http.Transport{}}
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := client.Get("http://" + srv.Addr().String() + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := get("/"); resp.Close {
		t.Fatal("Connection: close before the drain")
	}
	drained := time.Now()
	srv.Drain()
	for range 3 {
		if resp := get("/"); resp.StatusCode != 200 || !resp.Close {
			t.Errorf("during the drain: %d, Connection: close %v", resp.StatusCode, resp.Close)
		}
	}
	if resp := get("/readyz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the drain: %d", resp.StatusCode)
	}
	srv.Shutdown()
	err := <-done
	done <- err // for startServer's cleanup
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(drained); elapsed < delay {
		t.Errorf("Run returned %s after Drain, before the drain delay of %s", elapsed, delay)
	}
}
