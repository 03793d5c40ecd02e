package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/registry"

	// nats:// and nats+embedded:// (memory:// is built in).
	natsq "github.com/stackkit/stackkit/kit/queue/nats"
)

// queueFlag adds --queue-url to cmd's persistent flags and returns the URL to use: the flag, else
// KIT_QUEUE_URL, else the embedded default. Resolved at run time, so a password in KIT_QUEUE_URL
// never shows in --help.
func queueFlag(cmd *cobra.Command) func() string {
	var queueURL string
	cmd.PersistentFlags().StringVar(&queueURL, "queue-url", "", "queue URL (env KIT_QUEUE_URL; default "+natsq.DefaultURL+")")
	return func() string {
		if queueURL != "" {
			return queueURL
		}
		return envOr("KIT_QUEUE_URL", natsq.DefaultURL)
	}
}

// openQueue opens the queue at rawURL. With create false it creates nothing — no stream, no
// directory — and fails with what is missing: every command that only reads or removes opens it
// so. A bad URL (scheme, option) is a usage error.
func (a *app) openQueue(cmd *cobra.Command, rawURL string, create bool) (*queue.Queue, error) {
	logger, err := a.logger(cmd.ErrOrStderr())
	if err != nil {
		return nil, err
	}
	opts := []queue.Option{queue.WithLogger(logger)}
	if !create {
		opts = append(opts, queue.WithCreate(false)) // else the URL's create option decides
	}
	q, err := queue.Open(cmd.Context(), rawURL, opts...)
	if errors.Is(err, registry.ErrInvalidOption) || errors.Is(err, registry.ErrUnknownScheme) || errors.Is(err, registry.ErrInvalidURL) {
		return nil, usageError{err}
	}
	return q, err
}

func (a *app) queueCommand() *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "queue",
		Short: "Show a queue's backlog: messages, consumers, pending and dead letters",
		Long: `Show what a kit/queue queue holds (--queue-url, else KIT_QUEUE_URL, else ` + natsq.DefaultURL + `):
its stored messages and dead letters, and for each durable consumer the messages waiting for it
(pending), delivered and not yet acknowledged (ack pending, retries waiting included), delivered
more than once (redelivered) and its dead letters. Run it twice: a falling pending count is a
draining backlog.

These commands only read: they create no stream, consumer or directory, and fail (exit 1) naming
the stream, directory or consumer that does not exist.`,
	})
	url := queueFlag(cmd)

	var statsJSON bool
	stats := &cobra.Command{
		Use:   "stats [CONSUMER]",
		Short: "Print the queue's counts and each consumer's (or one consumer's) backlog",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("%s takes at most one CONSUMER, got %q", cmd.CommandPath(), args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.queueStats(cmd, url())
			if err != nil {
				return err
			}
			if len(args) == 1 {
				if err := keepConsumer(st, args[0], url()); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if statsJSON {
				return writeJSON(out, st)
			}
			where := registry.Redact(url())
			if st.Name != "" {
				where += " (stream " + st.Name + ")"
			}
			fmt.Fprintf(out, "queue %s on %s\n", where, st.Backend)
			fmt.Fprintf(out, "messages %d (%s), dead letters %d (%s)\n", st.Messages, sizeOf(st.Bytes), st.DeadLetters, sizeOf(st.DeadBytes))
			if len(st.Consumers) == 0 {
				fmt.Fprintln(out, "no consumers")
				return nil
			}
			fmt.Fprintln(out)
			return consumerTable(out, st.Consumers, false)
		},
	}
	stats.Flags().BoolVar(&statsJSON, "json", false, "print the counts as one JSON object")

	var lsJSON bool
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List the durable consumers with their subjects and counts",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.queueStats(cmd, url())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if lsJSON {
				return writeJSON(out, st.Consumers)
			}
			if len(st.Consumers) == 0 {
				fmt.Fprintf(out, "no consumers on %s\n", registry.Redact(url()))
				return nil
			}
			return consumerTable(out, st.Consumers, true)
		},
	}
	ls.Flags().BoolVar(&lsJSON, "json", false, "print a JSON array of consumers")

	cmd.AddCommand(stats, ls)
	return cmd
}

// queueStats opens the queue at rawURL creating nothing, and reads its counts.
func (a *app) queueStats(cmd *cobra.Command, rawURL string) (*queue.Stats, error) {
	q, err := a.openQueue(cmd, rawURL, false)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	st, err := q.Stats(cmd.Context())
	if err != nil {
		return nil, fmt.Errorf("stats of %s: %w", registry.Redact(rawURL), err)
	}
	return st, nil
}

// keepConsumer narrows st to the consumer name, or says it does not exist.
func keepConsumer(st *queue.Stats, name, rawURL string) error {
	for _, c := range st.Consumers {
		if c.Name == name {
			st.Consumers = []queue.ConsumerStats{c}
			return nil
		}
	}
	return noConsumer(st, name, rawURL, "")
}

// noConsumer is the error every command gives for a consumer the queue st was read from does not
// have: one line naming it, its stream (the URL for a backend without streams) and the consumers
// there are, then fix when given. It wraps queue.ErrNotFound without repeating its text.
func noConsumer(st *queue.Stats, name, rawURL, fix string) error {
	where := registry.Redact(rawURL)
	if st.Name != "" {
		where = "stream " + st.Name
	}
	have := "it has no consumers"
	if len(st.Consumers) > 0 {
		names := make([]string, len(st.Consumers))
		for i, c := range st.Consumers {
			names[i] = c.Name
		}
		have = "its consumers: " + strings.Join(names, ", ")
	}
	msg := fmt.Sprintf("consumer %s does not exist on %s (%s)", name, where, have)
	if fix != "" {
		msg += "; " + fix
	}
	return notFoundError(msg)
}

// notFoundError is an error message that wraps queue.ErrNotFound.
type notFoundError string

func (e notFoundError) Error() string { return string(e) }
func (e notFoundError) Unwrap() error { return queue.ErrNotFound }

// consumerTable prints consumers, one a line; wide adds the dead-letter subject.
func consumerTable(w io.Writer, cs []queue.ConsumerStats, wide bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "CONSUMER\tSUBJECT\tPENDING\tACK PENDING\tREDELIVERED\tDEAD"
	if wide {
		head += "\tDEAD-LETTER SUBJECT"
	}
	fmt.Fprintln(tw, head)
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d", c.Name, c.Subject, c.Pending, c.AckPending, c.Redelivered, c.DeadLetters)
		if wide {
			fmt.Fprintf(tw, "\t%s", c.DeadLetterSubject)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // subjects hold '>', which reads better unescaped
	return enc.Encode(v)
}

// sizeOf formats a byte count for people, "unknown" for -1.
func sizeOf(n int64) string {
	if n < 0 {
		return "size unknown"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
