package nats_test

import (
	"context"
	"strings"
	"testing"

	natsgo "github.com/nats-io/nats.go"
	"github.com/stackkit/stackkit/kit/queue"
	kitnats "github.com/stackkit/stackkit/kit/queue/nats"
	"github.com/stackkit/stackkit/kit/queue/queuetest"
)

// TestConformance runs the suite against the shared NATS server: each test gets streams of its
// own, deleted when it ends.
func TestConformance(t *testing.T) {
	base := serverURL(t)
	queuetest.Run(t, func(t *testing.T, space string, opts ...queue.Option) *queue.Queue {
		deleteStreams(t, func() (*natsgo.Conn, error) { return natsgo.Connect(base) }, space)
		return openURL(t, spaceURL(base, space), opts...)
	})
}

// TestConformanceEmbedded runs the suite against one embedded server (the current nats-server
// release, where the shared one may be older), each test on its own streams over an in-process
// connection.
func TestConformanceEmbedded(t *testing.T) {
	host, err := kitnats.NewEmbedded(context.Background(), kitnats.EmbeddedConfig{Dir: t.TempDir()}, kitnats.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = host.Close() })
	ns := host.Server()
	connect := func() (*natsgo.Conn, error) { return natsgo.Connect(ns.ClientURL(), natsgo.InProcessServer(ns)) }
	queuetest.Run(t, func(t *testing.T, space string, opts ...queue.Option) *queue.Queue {
		deleteStreams(t, connect, space)
		nc, err := connect()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		d, err := kitnats.NewDriver(context.Background(), nc, kitnats.Config{
			Stream: strings.ToUpper(space), Subjects: []string{space + ".>"},
		})
		if err != nil {
			t.Fatal(err)
		}
		q := queue.New(d, append([]queue.Option{quiet()}, opts...)...)
		t.Cleanup(func() { _ = q.Close() })
		return q
	})
}
