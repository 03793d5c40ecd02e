package bench

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/mail"
	"github.com/stackkit/stackkit/kit/queue"
)

// The mail worker benchmarks run queued mail end to end, as services/mailer does: an application's
// queued kit/mail Mailer publishes each rendered message to NATS JetStream (a stream of the
// benchmark's own, file storage, work-queue retention), and a mail.Worker on a second connection
// consumes the subject and sends each message to an in-process SMTP server (startBenchSMTP in
// mail_test.go: go-smtp on loopback, discarding), through kit/mail's SMTP pool or with one
// connection per message (max_idle=0, what Django's backend does per send_mail call).
//
//   - EndToEnd: 4 publishers enqueue b.N messages while the worker runs; the time runs from the
//     first publish until the SMTP server has accepted the b.N-th message. Reports msgs/s and the
//     enqueue latency (one queued Send: render + publish + JetStream's ack) at p50 and p99.
//   - Backlog: b.N messages are queued first; the time runs from starting the worker until the
//     last is accepted: the worker's own throughput, as after an outage.

const mailQueuePublishers = 4

func BenchmarkMailWorker(b *testing.B) {
	url := testenv.Get(b, "KIT_TEST_NATS_URL")
	for _, mode := range []string{"EndToEnd", "Backlog"} {
		b.Run(mode, func(b *testing.B) {
			for _, c := range []struct {
				name        string
				smtpOpts    string
				concurrency int
			}{
				{"pooled-c8", "&max_conns=8", 8},
				{"conn-per-message-c8", "&max_conns=8&max_idle=0", 8},
				{"pooled-c16", "&max_conns=16", 16},
			} {
				b.Run(c.name, func(b *testing.B) { benchMailWorker(b, url, mode == "Backlog", c.smtpOpts, c.concurrency) })
			}
		})
	}
}

func benchMailWorker(b *testing.B, url string, backlog bool, smtpOpts string, concurrency int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nb := newNATSBench(b, url)
	subject := nb.prefix + ".mail"
	pubQ := nb.openQueue(b, url)
	workQ := nb.openQueue(b, url)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	queued, err := mail.NewQueued(pubQ, subject, mail.WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	s := startBenchSMTP(b)
	sender, err := mail.Open(ctx, "smtp://"+s.addr+"?starttls=off"+smtpOpts, mail.WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	defer sender.Close()
	w := &mail.Worker{Queue: workQ, Mailer: sender, Subject: subject, Logger: quiet,
		Options: []queue.ConsumeOption{queue.Concurrency(concurrency)}}
	runWorker := func() chan error {
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		select {
		case <-w.Ready():
		case err := <-done:
			b.Fatal(err)
		}
		return done
	}

	var done chan error
	if !backlog {
		done = runWorker()
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	lat := publishMail(b, queued, b.N)
	if backlog {
		b.StopTimer()
		b.ResetTimer()
		b.StartTimer()
		start = time.Now()
		done = runWorker()
	}
	waitMessages(b, s, int64(b.N), start)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(s.sessions.Load())/float64(b.N), "conns/op")
	if !backlog {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "enqueue-p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "enqueue-p99-µs")
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// publishMail enqueues n messages from mailQueuePublishers goroutines and returns each Send's
// latency.
func publishMail(b *testing.B, queued *mail.Mailer, n int) []time.Duration {
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	for p := range mailQueuePublishers {
		wg.Go(func() {
			for i := p; i < n; i += mailQueuePublishers {
				t0 := time.Now()
				if err := queued.Send(context.Background(), mailMessage()); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return lat
}

// waitMessages waits until the SMTP server has accepted n messages; a poll every 100 µs adds at
// most that to the measured time.
func waitMessages(b *testing.B, s *benchSMTPServer, n int64, start time.Time) {
	t := time.NewTicker(100 * time.Microsecond)
	defer t.Stop()
	for s.messages.Load() < n {
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("SMTP server accepted %d of %d messages in 5 minutes", s.messages.Load(), n)
		}
		<-t.C
	}
}
