package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stackkit/stackkit/kit/mail"
	"github.com/stackkit/stackkit/kit/queue"
	knats "github.com/stackkit/stackkit/kit/queue/nats"
)

// TestClusterLeaderKilled runs three nats-server processes as a JetStream cluster on loopback, a
// stream with three replicas holding 1,000 queued mails, and a mail.Worker in this process sending
// them to an in-process SMTP sink. When about 30% are delivered, the server that leads the stream
// and its consumer — and that the worker is connected to — is killed with SIGKILL. The worker
// must reconnect to another server on its own and every mail must be delivered (at least once),
// with no dead letter.
//
// The servers are nats-server binaries built from the module graph's
// github.com/nats-io/nats-server/v2 (the version kit/queue/nats pins), so the cluster runs the
// same server code as the embedded driver, whatever nats-server the machine has installed
// (KIT_TEST_NATS_SERVER_BIN may be older than 2.11, whose leader placement the test uses). It
// needs only the go command and loopback, so it always runs (not with -short).
func TestClusterLeaderKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds nats-server and runs a three-server cluster")
	}
	const (
		total     = 1000
		late      = 100 // published during the election
		killAfter = total * 3 / 10
	)
	bin := buildNATSServer(t)

	servers := startCluster(t, bin, 3)
	var hosts []string
	for _, s := range servers {
		hosts = append(hosts, s.addr())
	}
	space := randomSpace()
	stream := strings.ToUpper(space)
	subject := space + ".mail"
	qv := url.Values{
		"stream": {stream}, "subjects": {space + ".>"}, "replicas": {"3"},
		"reconnect_wait": {"100ms"}, "timeout": {"2s"}, "fetch_wait": {"1s"},
	}
	// Several servers in the URL's host, comma-separated: the client knows them all from the start.
	queueURL := "nats://" + strings.Join(hosts, ",") + "?" + qv.Encode()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	admin := adminConn(t, hosts)

	logs := &recordingHandler{}
	logger := slog.New(logs)
	t.Cleanup(func() {
		if t.Failed() {
			logs.dump(t)
		}
	})

	// Open retries until the cluster has elected its meta leader and knows its three peers: a
	// stream with three replicas cannot be placed before.
	var wq *queue.Queue
	deadline := time.Now().Add(30 * time.Second)
	for {
		octx, ocancel := context.WithTimeout(ctx, 5*time.Second)
		q, err := queue.Open(octx, queueURL, queue.WithLogger(logger))
		ocancel()
		if err == nil {
			wq = q
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("open a replicated stream on the cluster: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	defer wq.Close()
	drv := wq.Driver().(*knats.Driver)
	workerConn := drv.Conn()
	target := workerConn.ConnectedServerName()

	// Create the worker's consumer now (the same configuration mail.Worker's Consume asks for,
	// so Run finds it as it is), to place its leader before any mail is sent.
	concurrency := 8
	workerOpts := []queue.ConsumeOption{queue.Concurrency(concurrency), queue.AckWait(2 * time.Second), queue.Backoff(100 * time.Millisecond)}
	sub, err := drv.Subscribe(ctx, queue.ConsumerConfig{
		Name: mail.DefaultConsumer, Subject: subject, DeadLetter: drv.DefaultDeadLetter(mail.DefaultConsumer),
		AckWait: 2 * time.Second, MaxAckPending: max(concurrency*2, 1000),
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = sub.Close()

	// The worst case: the server that dies leads the stream and the consumer and carries the
	// worker's connection. Move both leaders to the worker's server.
	placeLeader(ctx, t, admin, "$JS.API.STREAM.LEADER.STEPDOWN."+stream, target,
		func() (string, error) { return streamLeader(ctx, admin, stream) })
	placeLeader(ctx, t, admin, "$JS.API.CONSUMER.LEADER.STEPDOWN."+stream+"."+mail.DefaultConsumer, target,
		func() (string, error) { return consumerLeader(ctx, admin, stream, mail.DefaultConsumer) })

	// Queue the mails through a queued Mailer on a connection of its own: most before the worker
	// starts, the rest from the moment of the kill, during the election.
	pq, err := queue.Open(ctx, queueURL, queue.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	defer pq.Close()
	queued, err := mail.NewQueued(pq, subject, mail.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, total)
	for i := range ids {
		ids[i] = strings.Trim(mail.StableMessageID(fmt.Sprintf("cluster/%s/%d", space, i), "example.com"), "<>")
	}
	// send queues mail i, retrying a failed publish with the same Message-ID (the stream's
	// duplicate window stores it once): each attempt has its own 2s deadline, as a publish lost in
	// an election is never answered.
	var pubFailures int
	send := func(i int) error {
		msg := &mail.Message{From: "app@example.com", To: []string{"user@example.com"}, Subject: fmt.Sprint("mail ", i), Text: "hello", MessageID: "<" + ids[i] + ">"}
		for {
			sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
			err := queued.Send(sctx, msg)
			scancel()
			if err == nil || ctx.Err() != nil {
				return err
			}
			pubFailures++
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
				return err
			}
		}
	}
	start := time.Now()
	for i := range total - late {
		if err := send(i); err != nil {
			t.Fatalf("queue mail %d: %v", i, err)
		}
	}
	t.Logf("queued %d mails on a 3-replica stream in %s", total-late, time.Since(start).Round(time.Millisecond))

	sink := startCountingSink(t)
	out, err := mail.Open(ctx, "smtp://"+sink.addr+"?starttls=off")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := &mail.Worker{Queue: wq, Mailer: out, Subject: subject, Options: workerOpts, Logger: logger}
	wctx, stopWorker := context.WithCancel(ctx)
	done := make(chan error, 1)
	started := time.Now()
	go func() { done <- w.Run(wctx) }()
	workerStopped := false
	stop := func() {
		if !workerStopped {
			workerStopped = true
			stopWorker()
			if err := <-done; err != nil {
				t.Errorf("Worker.Run: %v", err)
			}
		}
	}
	defer stop()

	if !sink.waitUnique(ctx, killAfter) {
		t.Fatalf("only %d of %d mails delivered before the kill deadline", sink.unique(), killAfter)
	}
	leader, err := streamLeader(ctx, admin, stream)
	if err != nil {
		t.Fatal(err)
	}
	vi := slices.IndexFunc(servers, func(s *clusterServer) bool { return s.name == leader })
	if vi < 0 {
		t.Fatalf("stream leader %q is none of the servers", leader)
	}
	victim := servers[vi]
	consLeader, _ := consumerLeader(ctx, admin, stream, mail.DefaultConsumer)
	victim.kill()
	killedAt := time.Now()
	atKill := sink.unique()
	t.Logf("killed %s (stream leader; consumer leader %s; worker connected to %s) %s after the worker started, %d of %d delivered",
		victim.name, consLeader, target, killedAt.Sub(started).Round(time.Millisecond), atKill, total)

	// The late mails, published while the cluster elects new leaders.
	published := make(chan error, 1)
	var firstLateAfter time.Duration
	go func() {
		for i := total - late; i < total; i++ {
			if err := send(i); err != nil {
				published <- fmt.Errorf("queue mail %d: %w", i, err)
				return
			}
			if i == total-late {
				firstLateAfter = time.Since(killedAt)
			}
		}
		published <- nil
	}()

	// A new stream leader, as the survivors see it.
	var newLeader string
	var electedAfter time.Duration
	for {
		l, err := streamLeader(ctx, admin, stream)
		if err == nil && l != "" && l != victim.name {
			newLeader, electedAfter = l, time.Since(killedAt)
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no new stream leader after the kill: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Every mail delivered, within 30s of the kill.
	dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
	allIn := sink.waitUnique(dctx, total)
	dcancel()
	if !allIn {
		logStuck(t, admin, stream)
	}
	// Then until the stream is empty: every delivery acknowledged, so no redelivery is still to
	// come and the duplicate count is final.
	for allIn {
		info, err := streamInfo(ctx, admin, stream)
		if err == nil && info.State.Msgs == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Errorf("stream not empty after every mail was delivered: %v", err)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	elapsed := time.Since(started)
	stop()
	var pubErr error
	select {
	case pubErr = <-published:
	case <-ctx.Done():
		pubErr = ctx.Err()
	}

	delivered, datas, dupIDs, missing := sink.tally(ids)
	stall, stallStart := sink.longestGap(killedAt)
	var dead int
	for _, err := range wq.DeadLetters(context.Background(), mail.DefaultConsumer) {
		if err != nil {
			t.Errorf("dead letters: %v", err)
			break
		}
		dead++
	}
	reconnects := workerConn.Stats().Reconnects
	now := workerConn.ConnectedServerName()

	t.Logf("3 nats-servers, stream R3, %d mails (%d queued before, %d published from the kill on; %d publish attempts failed and were retried, the first late one stored %s after the kill), mail.Worker concurrency %d: "+
		"SIGKILL of %s (stream and consumer leader, the worker's server) at %d delivered, %s after the worker started; new stream leader %s %s later; "+
		"delivered %d of %d (%d SMTP transactions: %d duplicates, of %d mails), %d lost, %d dead-lettered; "+
		"delivery stalled %s (longest gap, from %s after the kill); worker reconnected %d time(s), now on %s; all delivered and acked %s after the worker started",
		total, total-late, late, pubFailures, firstLateAfter.Round(time.Millisecond), concurrency,
		victim.name, atKill, killedAt.Sub(started).Round(time.Millisecond), newLeader, electedAfter.Round(time.Millisecond),
		delivered, total, datas, datas-delivered, dupIDs, len(missing), dead,
		stall.Round(time.Millisecond), stallStart.Round(time.Millisecond), reconnects, now, elapsed.Round(time.Millisecond))
	t.Logf("worker and queue log lines: %s", logs.summary())

	if pubErr != nil {
		t.Errorf("publishing during the election: %v", pubErr)
	}
	if len(missing) > 0 {
		t.Errorf("%d mails never delivered, e.g. %v", len(missing), missing[:min(5, len(missing))])
	}
	if dead != 0 {
		t.Errorf("%d dead letters; want 0", dead)
	}
	if reconnects < 1 || now == victim.name || !workerConn.IsConnected() {
		t.Errorf("worker connection: %d reconnects, connected to %q (killed %s); want it reconnected to a survivor", reconnects, now, victim.name)
	}
}

// logStuck logs the consumer's state and this process's goroutines, for a worker that stopped
// delivering.
func logStuck(t *testing.T, js jetstream.JetStream, stream string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := js.Consumer(ctx, stream, mail.DefaultConsumer); err != nil {
		t.Logf("consumer: %v", err)
	} else if info, err := c.Info(ctx); err != nil {
		t.Logf("consumer info: %v", err)
	} else {
		b, _ := json.Marshal(info)
		t.Logf("consumer info: %s", b)
	}
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
	t.Logf("goroutines:\n%s", b.String())
}

// buildNATSServer builds nats-server from the module graph's github.com/nats-io/nats-server/v2
// into the test's temporary directory (the Go build cache makes later runs quick).
func buildNATSServer(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build nats-server: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "nats-server")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build nats-server: %v\n%s", err, out)
	}
	version, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", bin, err)
	}
	t.Logf("built %s in %s", strings.TrimSpace(string(version)), time.Since(start).Round(time.Millisecond))
	return bin
}

// clusterServer is one nats-server process of the test's cluster.
type clusterServer struct {
	name string
	port int
	dir  string
	cmd  *exec.Cmd
	log  string
}

func (s *clusterServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// kill stops the server with SIGKILL and waits for it to exit; a second call does nothing.
func (s *clusterServer) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// startCluster starts n nats-servers with JetStream, each with its store in a temporary
// directory, routed to each other as one cluster, on free loopback ports; it waits until each
// accepts clients. Cleanup kills them.
func startCluster(t *testing.T, bin string, n int) []*clusterServer {
	t.Helper()
	servers := make([]*clusterServer, n)
	routePorts := make([]int, n)
	ports := freePorts(t, 2*n)
	for i := range servers {
		servers[i] = &clusterServer{name: fmt.Sprintf("n%d", i+1), port: ports[i], dir: t.TempDir()}
		routePorts[i] = ports[n+i]
	}
	t.Cleanup(func() {
		for _, s := range servers {
			s.kill()
		}
		if t.Failed() {
			for _, s := range servers {
				if b, err := os.ReadFile(s.log); err == nil {
					t.Logf("--- %s log (last 4KiB)\n%s", s.name, b[max(0, len(b)-4096):])
				}
			}
		}
	})
	for i, s := range servers {
		var routes []string
		for j, p := range routePorts {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
			}
		}
		s.log = filepath.Join(s.dir, "server.log")
		s.cmd = exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(s.port), "-n", s.name,
			"-js", "-sd", filepath.Join(s.dir, "store"), "-l", s.log,
			"--cluster_name", "kitcluster", "--cluster", fmt.Sprintf("nats://127.0.0.1:%d", routePorts[i]),
			"--routes", strings.Join(routes, ","))
		setDeathSignal(s.cmd)
		if err := s.cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", s.name, err)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, s := range servers {
		for {
			c, err := net.DialTimeout("tcp", s.addr(), 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("nats-server %s on %s not up: %v", s.name, s.addr(), err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return servers
}

// freePorts returns n distinct free loopback ports, all held open until chosen so none repeats.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// adminConn is the test's own connection to the cluster, for stream information and leader
// placement.
func adminConn(t *testing.T, hosts []string) jetstream.JetStream {
	t.Helper()
	nc, err := natsgo.Connect(strings.Join(hosts, ","), natsgo.MaxReconnects(-1), natsgo.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func streamInfo(ctx context.Context, js jetstream.JetStream, stream string) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	return s.Info(ctx)
}

func streamLeader(ctx context.Context, js jetstream.JetStream, stream string) (string, error) {
	info, err := streamInfo(ctx, js, stream)
	if err != nil {
		return "", err
	}
	if info.Cluster == nil {
		return "", fmt.Errorf("stream %s has no cluster information", stream)
	}
	return info.Cluster.Leader, nil
}

func consumerLeader(ctx context.Context, js jetstream.JetStream, stream, consumer string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, stream, consumer)
	if err != nil {
		return "", err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return "", err
	}
	if info.Cluster == nil {
		return "", fmt.Errorf("consumer %s has no cluster information", consumer)
	}
	return info.Cluster.Leader, nil
}

// placeLeader asks the raft group's leader to step down in favour of server target (the step-down
// request's preferred placement, nats-server 2.11 and later), until leader reports target.
func placeLeader(ctx context.Context, t *testing.T, js jetstream.JetStream, api, target string, leader func() (string, error)) {
	t.Helper()
	nc := js.Conn()
	req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": target}})
	deadline := time.Now().Add(20 * time.Second)
	for {
		l, err := leader()
		if err == nil && l == target {
			return
		}
		if err == nil && l != "" {
			if resp, rerr := nc.RequestWithContext(ctx, api, req); rerr != nil {
				err = rerr
			} else if bytes.Contains(resp.Data, []byte(`"error"`)) {
				err = fmt.Errorf("%s", resp.Data)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("could not move the leader to %s with %s (leader %q): %v", target, api, l, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// countingSink is an SMTP server that records, for each Message-ID, when it was delivered.
type countingSink struct {
	addr   string
	mu     sync.Mutex
	byID   map[string]int
	times  []time.Time // completion of every DATA, in order
	change chan struct{}
}

func startCountingSink(t *testing.T) *countingSink {
	s := &countingSink{byID: map[string]int{}, change: make(chan struct{}, 1)}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &countingSession{s}, nil }))
	srv.Domain = "sink.local"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

func (s *countingSink) record(id string) {
	s.mu.Lock()
	s.byID[id]++
	s.times = append(s.times, time.Now())
	s.mu.Unlock()
	select {
	case s.change <- struct{}{}:
	default:
	}
}

func (s *countingSink) unique() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

// waitUnique waits until n distinct Message-IDs have been delivered, or ctx ends.
func (s *countingSink) waitUnique(ctx context.Context, n int) bool {
	for s.unique() < n {
		select {
		case <-s.change:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// tally counts distinct mails delivered, SMTP transactions, mails delivered more than once, and
// the expected IDs never delivered.
func (s *countingSink) tally(ids []string) (delivered, datas, dups int, missing []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		switch n := s.byID[id]; {
		case n == 0:
			missing = append(missing, id)
		case n > 1:
			dups++
		}
	}
	return len(s.byID), len(s.times), dups, missing
}

// longestGap returns the longest time between two deliveries (or from the kill to the first
// delivery after it) from the kill on, and when it began relative to the kill.
func (s *countingSink) longestGap(kill time.Time) (gap, from time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := kill
	for _, at := range s.times {
		if at.Before(kill) {
			continue
		}
		if d := at.Sub(prev); d > gap {
			gap, from = d, prev.Sub(kill)
		}
		prev = at
	}
	return gap, from
}

type countingSession struct{ s *countingSink }

func (*countingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (*countingSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (*countingSession) Reset()                               {}
func (*countingSession) Logout() error                        { return nil }
func (x *countingSession) Data(r io.Reader) error {
	msg, err := netmail.ReadMessage(r)
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, msg.Body); err != nil {
		return err
	}
	id := strings.Trim(msg.Header.Get("Message-ID"), "<>")
	if id == "" {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "no Message-ID"}
	}
	x.s.record(id)
	return nil
}

// recordingHandler keeps the queue's and the worker's log lines, to count them and to show
// them when the test fails.
type recordingHandler struct {
	mu    sync.Mutex
	lines []string
	count map[string]int
}

func (h *recordingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h *recordingHandler) WithGroup(string) slog.Handler                { return h }
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler           { return h } // kit/queue logs without With

func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", r.Time.Format("15:04:05.000"), r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s", a); return true })
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.count == nil {
		h.count = map[string]int{}
	}
	h.count[r.Level.String()+" "+r.Message]++
	h.lines = append(h.lines, b.String())
	return nil
}

func (h *recordingHandler) summary() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	keys := make([]string, 0, len(h.count))
	for k := range h.count {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%q×%d", k, h.count[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func (h *recordingHandler) dump(t *testing.T) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.lines[max(0, len(h.lines)-200):] {
		t.Log(l)
	}
}
