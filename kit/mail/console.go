package mail

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/stackkit/stackkit/kit/registry"
)

func init() { Register("console", openConsole) }

func openConsole(_ context.Context, u *url.URL, opts *registry.Options) (Driver, error) {
	stream := opts.Enum("stream", "stdout", "stdout", "stderr")
	if err := opts.Err(); err != nil {
		return nil, err
	}
	if u.Host != "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("console:// takes no host or path (got %q); choose the stream with ?stream=stderr", u.Host+u.Path)
	}
	w := os.Stdout
	if stream == "stderr" {
		w = os.Stderr
	}
	return NewConsole(w), nil
}

// ConsoleSeparator follows every message the console backend writes.
const ConsoleSeparator = "-------------------------------------------------------------------------------\n"

// Console is the driver behind console://: it writes each message (the RFC 5322 text, with \n
// line endings, so without Bcc recipients) to a writer, followed by ConsoleSeparator, as Django's
// console backend does. Nothing is sent.
type Console struct {
	mu sync.Mutex
	w  io.Writer
}

// NewConsole returns a console driver writing to w.
func NewConsole(w io.Writer) *Console { return &Console{w: w} }

// Capabilities implements Driver.
func (*Console) Capabilities() Capabilities { return Capabilities{Name: "console"} }

// Send implements Driver.
func (d *Console) Send(ctx context.Context, env *Envelope) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var b strings.Builder
	b.Grow(len(env.Data) + 200)
	b.WriteString(strings.ReplaceAll(string(env.Data), "\r\n", "\n"))
	if !strings.HasSuffix(b.String(), "\n") {
		b.WriteByte('\n')
	}
	b.WriteString(ConsoleSeparator)
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := io.WriteString(d.w, b.String()); err != nil {
		return fmt.Errorf("mail: console: %w", err)
	}
	return nil
}

// Close implements Driver.
func (*Console) Close() error { return nil }
