package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/queue"
	_ "github.com/stackkit/stackkit/kit/queue/nats"
)

// The queue benchmarks run kit/queue on NATS JetStream beside nats.go's jetstream package used
// directly, on the same server, each on a stream of its own with the same settings (work-queue
// retention, file storage, 2-minute duplicate window) and the same 256-byte payloads. See
// docs/benchmarks.md for what each row holds.

const queuePayloadSize = 256

var queuePayload = []byte(strings.Repeat("x", queuePayloadSize))

// queueSpace returns a fresh stream name and subject prefix.
func queueSpace() (stream, prefix string) {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	p := "bq" + hex.EncodeToString(b)
	return strings.ToUpper(p), p
}

// natsBench is one stream on the NATS server under test, with a raw jetstream context and a
// kit/queue over the same stream.
type natsBench struct {
	stream, prefix string
	nc             *natsgo.Conn
	js             jetstream.JetStream
	cons           func(name, subject string) jetstream.Consumer
}

// newNATSBench creates a stream for one benchmark (deleted at the end) and returns the raw side;
// openQueue opens kit/queue on the same stream.
func newNATSBench(b *testing.B, url string) *natsBench {
	b.Helper()
	nc, err := natsgo.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	stream, prefix := queueSpace()
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: stream, Subjects: []string{prefix + ".>"}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute,
	}); err != nil {
		b.Fatal(err)
	}
	nb := &natsBench{stream: stream, prefix: prefix, nc: nc, js: js}
	nb.cons = func(name, subject string) jetstream.Consumer {
		c, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
			Durable: name, FilterSubject: subject, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: 30 * time.Second, MaxDeliver: -1,
		})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	b.Cleanup(func() {
		_ = js.DeleteStream(context.Background(), stream)
		_ = js.DeleteStream(context.Background(), stream+"_DEAD")
		nc.Close()
	})
	return nb
}

func (nb *natsBench) openQueue(b *testing.B, url string, opts ...string) *queue.Queue {
	b.Helper()
	u := url + "?stream=" + nb.stream + "&subjects=" + nb.prefix + ".>"
	for _, o := range opts {
		u += "&" + o
	}
	q, err := queue.Open(context.Background(), u, queue.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = q.Close() })
	return q
}

func BenchmarkQueuePublish(b *testing.B) {
	url := testenv.Get(b, "KIT_TEST_NATS_URL")
	ctx := context.Background()
	b.Run("kit-queue", func(b *testing.B) {
		nb := newNATSBench(b, url)
		q := nb.openQueue(b, url)
		subject := nb.prefix + ".pub"
		for b.Loop() {
			if err := q.Publish(ctx, &queue.Message{Subject: subject, Data: queuePayload}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jetstream", func(b *testing.B) {
		nb := newNATSBench(b, url)
		subject := nb.prefix + ".pub"
		for b.Loop() {
			if _, err := nb.js.Publish(ctx, subject, queuePayload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kit-queue-id", func(b *testing.B) {
		nb := newNATSBench(b, url)
		q := nb.openQueue(b, url)
		subject := nb.prefix + ".pub"
		i := 0
		for b.Loop() {
			i++
			if err := q.Publish(ctx, &queue.Message{Subject: subject, ID: fmt.Sprint("m-", i), Data: queuePayload}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jetstream-id", func(b *testing.B) {
		nb := newNATSBench(b, url)
		subject := nb.prefix + ".pub"
		i := 0
		for b.Loop() {
			i++
			if _, err := nb.js.Publish(ctx, subject, queuePayload, jetstream.WithMsgID(fmt.Sprint("m-", i))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kit-queue-embedded", func(b *testing.B) {
		q, err := queue.Open(ctx, "nats+embedded://"+b.TempDir()+"?stream=BENCH&subjects=bench.>")
		if err != nil {
			b.Fatal(err)
		}
		defer q.Close()
		for b.Loop() {
			if err := q.Publish(ctx, &queue.Message{Subject: "bench.pub", Data: queuePayload}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkQueueEndToEnd publishes b.N messages one after another (each waiting for its
// acknowledgement from the server) while a consumer handles them with an empty handler; the time
// is from the first publish until the last message is handled and acknowledged. It reports msgs/s.
func BenchmarkQueueEndToEnd(b *testing.B) {
	url := testenv.Get(b, "KIT_TEST_NATS_URL")
	for _, c := range []struct {
		name string
		opts []string
		n    int
	}{
		{"kit-queue-c1", nil, 1},
		{"kit-queue-c16", nil, 16},
		{"kit-queue-c16-asyncack", []string{"ack_sync=false"}, 16},
	} {
		b.Run(c.name, func(b *testing.B) {
			nb := newNATSBench(b, url)
			q := nb.openQueue(b, url, c.opts...)
			subject := nb.prefix + ".e2e"
			runEndToEnd(b, func(ctx context.Context, handled func()) error {
				return q.Consume(ctx, "bench", subject, func(context.Context, *queue.Message) error {
					handled()
					return nil
				}, queue.Concurrency(c.n), queue.Ready(handled))
			}, func(ctx context.Context) error {
				return q.Publish(ctx, &queue.Message{Subject: subject, Data: queuePayload})
			})
		})
	}
	for _, double := range []bool{false, true} {
		name := "jetstream-consume"
		if double {
			name += "-doubleack"
		}
		b.Run(name, func(b *testing.B) {
			nb := newNATSBench(b, url)
			subject := nb.prefix + ".e2e"
			cons := nb.cons("bench", subject)
			runEndToEnd(b, func(ctx context.Context, handled func()) error {
				cc, err := cons.Consume(func(m jetstream.Msg) {
					if double {
						_ = m.DoubleAck(ctx)
					} else {
						_ = m.Ack()
					}
					handled()
				})
				if err != nil {
					return err
				}
				handled() // ready
				<-ctx.Done()
				cc.Drain()
				<-cc.Closed()
				return nil
			}, func(ctx context.Context) error {
				_, err := nb.js.Publish(ctx, subject, queuePayload)
				return err
			})
		})
	}
}

// runEndToEnd times b.N publishes against a running consumer until all are handled. consume
// calls handled once when ready and once per message.
func runEndToEnd(b *testing.B, consume func(ctx context.Context, handled func()) error, publish func(ctx context.Context) error) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var count atomic.Int64
	ready := make(chan struct{})
	all := make(chan struct{})
	n := int64(b.N)
	handled := func() {
		v := count.Add(1)
		if v == 1 {
			close(ready)
		}
		if v == n+1 {
			close(all)
		}
	}
	done := make(chan error, 1)
	go func() { done <- consume(ctx, handled) }()
	<-ready
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if err := publish(ctx); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-all:
	case <-time.After(2 * time.Minute):
		b.Fatalf("handled %d of %d", count.Load()-1, b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkQueueBacklog handles a backlog: b.N messages are published before the timer starts,
// then a consumer handles them all with an empty handler. It reports msgs/s.
func BenchmarkQueueBacklog(b *testing.B) {
	url := testenv.Get(b, "KIT_TEST_NATS_URL")
	prefill := func(b *testing.B, nb *natsBench, subject string) {
		b.Helper()
		ctx := context.Background()
		for i := range b.N {
			if _, err := nb.js.PublishAsync(subject, queuePayload); err != nil {
				b.Fatal(err)
			}
			if i%1000 == 999 {
				<-nb.js.PublishAsyncComplete()
			}
		}
		select {
		case <-nb.js.PublishAsyncComplete():
		case <-time.After(time.Minute):
			b.Fatal("prefill did not complete")
		}
		_ = ctx
	}
	for _, c := range []struct {
		name string
		opts []string
		n    int
	}{
		{"kit-queue-c1", nil, 1},
		{"kit-queue-c16", nil, 16},
		{"kit-queue-c16-asyncack", []string{"ack_sync=false"}, 16},
	} {
		b.Run(c.name, func(b *testing.B) {
			nb := newNATSBench(b, url)
			subject := nb.prefix + ".backlog"
			prefill(b, nb, subject)
			q := nb.openQueue(b, url, c.opts...)
			runBacklog(b, func(ctx context.Context, handled func()) error {
				return q.Consume(ctx, "bench", subject, func(context.Context, *queue.Message) error {
					handled()
					return nil
				}, queue.Concurrency(c.n))
			})
		})
	}
	for _, double := range []bool{false, true} {
		name := "jetstream-consume"
		if double {
			name += "-doubleack"
		}
		b.Run(name, func(b *testing.B) {
			nb := newNATSBench(b, url)
			subject := nb.prefix + ".backlog"
			prefill(b, nb, subject)
			cons := nb.cons("bench", subject)
			runBacklog(b, func(ctx context.Context, handled func()) error {
				cc, err := cons.Consume(func(m jetstream.Msg) {
					if double {
						_ = m.DoubleAck(ctx)
					} else {
						_ = m.Ack()
					}
					handled()
				})
				if err != nil {
					return err
				}
				<-ctx.Done()
				cc.Drain()
				<-cc.Closed()
				return nil
			})
		})
	}
}

func runBacklog(b *testing.B, consume func(ctx context.Context, handled func()) error) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var count atomic.Int64
	all := make(chan struct{})
	n := int64(b.N)
	handled := func() {
		if count.Add(1) == n {
			close(all)
		}
	}
	b.ResetTimer()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- consume(ctx, handled) }()
	select {
	case <-all:
	case <-time.After(2 * time.Minute):
		b.Fatalf("handled %d of %d", count.Load(), b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
