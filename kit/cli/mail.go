package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/stackkit/stackkit/kit/mail"
	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/registry"
)

// defaultTestFrom is the From of a test message when neither --from nor the mail URL's
// default_from gives one: Django's DEFAULT_FROM_EMAIL.
const defaultTestFrom = "webmaster@localhost"

func (a *app) mailCommand() *cobra.Command {
	var subject string
	cmd := group(&cobra.Command{
		Use:   "mail",
		Short: "Send test messages; list, retry and purge the mail worker's dead letters",
	})
	qURL := queueFlag(cmd)
	cmd.PersistentFlags().StringVar(&subject, "mail-subject", "", "queue subject of queued mail (env KIT_MAIL_SUBJECT; default "+mail.DefaultSubject+")")
	mailSubject := func() string {
		if subject != "" {
			return subject
		}
		return envOr("KIT_MAIL_SUBJECT", mail.DefaultSubject)
	}
	// send-test --queue publishes, as the services do, so it may create the streams; the dead
	// letter commands only read or remove, and create nothing.
	openQueue := func(cmd *cobra.Command, create bool) (*queue.Queue, error) {
		return a.openQueue(cmd, qURL(), create)
	}
	cmd.AddCommand(a.mailSendTestCommand(qURL, mailSubject, openQueue), a.mailDeadCommand(qURL, openQueue))
	return cmd
}

func (a *app) mailSendTestCommand(qURL, mailSubject func() string, openQueue func(*cobra.Command, bool) (*queue.Queue, error)) *cobra.Command {
	var mailURL, from string
	var queued bool
	var count int
	cmd := &cobra.Command{
		Use:   "send-test ADDRESS...",
		Short: "Send a test message to each address (Django's sendtestemail); --queue --count N for drills",
		Long: `Send one test message to the addresses, naming this host and the time, through the mail URL
(--mail-url, env KIT_MAIL_URL), or with --queue put it on the queue (--queue-url, env KIT_QUEUE_URL)
for the mail service to send. It prints the Message-ID, to look the message up by.

With --queue --count N it queues N messages, each with its own Message-ID and "N/COUNT" in its
subject ("Test email 7/100 from HOST on TIME", one TIME per run), for load and recovery drills:
it reports how many it queued and how long that took, and on a failure how many were queued
before it (exit 1).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("%s needs at least one address", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			logger, err := a.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if count < 1 {
				return usagef("--count %d: want at least 1", count)
			}
			if count > 1 && !queued {
				return usagef("--count %d needs --queue: a bulk send is queued for the mail service", count)
			}
			target := mailURL
			if target == "" {
				target = envOr("KIT_MAIL_URL", mail.DefaultURL)
			}
			var m *mail.Mailer
			var via string
			if queued {
				q, err := openQueue(cmd, true)
				if err != nil {
					return err
				}
				defer q.Close()
				if m, err = mail.NewQueued(q, mailSubject(), mail.WithLogger(logger)); err != nil {
					return usageError{err}
				}
				via = fmt.Sprintf("queued on %s subject %s", registry.Redact(qURL()), mailSubject())
			} else {
				if m, err = mail.Open(ctx, target, mail.WithLogger(logger)); err != nil {
					return err
				}
				via = "via " + registry.Redact(target)
			}
			defer m.Close()

			if count > 1 {
				return sendTestBulk(cmd, m, args, from, target, via, count)
			}
			msg := testMessage(args, from, target, queued, "")
			env, err := m.Render(msg)
			if err != nil {
				return usagef("%w", err)
			}
			if err := m.SendEnvelope(ctx, env); err != nil {
				return fmt.Errorf("send test message %s %s: %w", env.MessageID, via, err)
			}
			verb := "sent"
			if m.Queued() {
				verb = "queued"
				via = strings.TrimPrefix(via, "queued ")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s test message <%s> to %s %s\n", verb, env.MessageID, strings.Join(env.To, ", "), via)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&mailURL, "mail-url", "", "mail URL (env KIT_MAIL_URL; default "+mail.DefaultURL+")")
	f.StringVar(&from, "from", "", "sender address (default: the mail URL's default_from, else "+defaultTestFrom+")")
	f.BoolVar(&queued, "queue", false, "put the message on the queue for the mail service instead of sending it")
	f.IntVar(&count, "count", 1, "with --queue: queue this many messages, numbered in their subjects (load and recovery drills)")
	return cmd
}

// testMessage is Django's sendtestemail message, with the host and time in the body too.
// numbered, when set ("7/100"), goes into the subject.
func testMessage(to []string, from, mailURL string, queued bool, numbered string) *mail.Message {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown host"
	}
	return testMessageAt(to, from, mailURL, queued, numbered, host, time.Now())
}

func testMessageAt(to []string, from, mailURL string, queued bool, numbered, host string, now time.Time) *mail.Message {
	if from == "" && (queued || !urlHasOption(mailURL, "default_from")) {
		from = defaultTestFrom
	}
	return &mail.Message{
		From:    from,
		To:      to,
		Subject: strings.Join(strings.Fields("Test email "+numbered+" from "+host+" on "+now.Format(time.RFC3339)), " "),
		Text: fmt.Sprintf("If you're reading this, it was successful.\n\nSent by kitctl mail send-test on %s at %s.\n",
			host, now.Format(time.RFC1123Z)),
	}
}

// sendTestBulk queues count test messages through the queued mailer m, and says how many it
// queued, in how long, and how many before a failure.
func sendTestBulk(cmd *cobra.Command, m *mail.Mailer, to []string, from, mailURL, via string, count int) error {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown host"
	}
	via = strings.TrimPrefix(via, "queued ")
	start := time.Now()
	var first, last string
	// On a terminal, a live count on stderr (cleared at the end); plain output stays one line.
	tty, shown := isTerminal(cmd.ErrOrStderr()), start
	defer func() {
		if tty {
			fmt.Fprint(cmd.ErrOrStderr(), "\r\033[K")
		}
	}()
	for i := 1; i <= count; i++ {
		if tty && time.Since(shown) > 200*time.Millisecond {
			shown = time.Now()
			fmt.Fprintf(cmd.ErrOrStderr(), "\r\033[Kqueued %d of %d", i-1, count)
		}
		env, err := m.Render(testMessageAt(to, from, mailURL, true, fmt.Sprintf("%d/%d", i, count), host, start))
		if err != nil {
			return usagef("%w", err)
		}
		if err := m.SendEnvelope(cmd.Context(), env); err != nil {
			return fmt.Errorf("queued %d of %d test messages %s in %s, then message %d <%s> failed: %w",
				i-1, count, via, time.Since(start).Round(time.Millisecond), i, env.MessageID, err)
		}
		if i == 1 {
			first = env.MessageID
		}
		last = env.MessageID
	}
	took := time.Since(start)
	fmt.Fprintf(cmd.OutOrStdout(), "queued %d test messages to %s %s in %s (%.0f/s), Message-IDs <%s> … <%s>\n",
		count, strings.Join(to, ", "), via, took.Round(time.Millisecond), float64(count)/took.Seconds(), first, last)
	return nil
}

func urlHasOption(rawURL, name string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && u.Query().Has(name)
}

func (a *app) mailDeadCommand(qURL func() string, openQueue func(*cobra.Command, bool) (*queue.Queue, error)) *cobra.Command {
	var consumer string
	cmd := group(&cobra.Command{
		Use:   "dead",
		Short: "List, retry or purge the mail the worker gave up on",
		Long: `Mail the worker could not send — refused with a 5xx reply, or still failing after its last
retry — waits in the queue's dead letters, with the reason. List it, send it again after fixing
the cause (retry), or drop it (purge). Sequence numbers come from list.`,
	})
	cmd.PersistentFlags().StringVar(&consumer, "consumer", "", "the mail worker's consumer name (env KIT_MAIL_CONSUMER; default "+mail.DefaultConsumer+")")
	name := func() string {
		if consumer != "" {
			return consumer
		}
		return envOr("KIT_MAIL_CONSUMER", mail.DefaultConsumer)
	}

	// consumerErr returns err, or when it is because the consumer does not exist, the one line
	// that says so.
	consumerErr := func(cmd *cobra.Command, q *queue.Queue, err error) error {
		if !errors.Is(err, queue.ErrNotFound) {
			return err
		}
		ctx := cmd.Context()
		st, serr := q.Stats(ctx)
		if serr != nil || slices.ContainsFunc(st.Consumers, func(c queue.ConsumerStats) bool { return c.Name == name() }) {
			return err
		}
		// A consumer deleted since keeps its dead letters: then err is about them, not it.
		for _, derr := range q.DeadLetters(ctx, name()) {
			if derr == nil {
				return err
			}
			break
		}
		return noConsumer(st, name(), qURL(), "give the mail worker's consumer with --consumer or KIT_MAIL_CONSUMER")
	}

	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List dead letters: sequence, time, deliveries, Message-ID, recipients, subject, reason",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := openQueue(cmd, false)
			if err != nil {
				return err
			}
			defer q.Close()
			var rows []deadRow
			for dl, err := range q.DeadLetters(cmd.Context(), name()) {
				if err != nil {
					return consumerErr(cmd, q, err)
				}
				rows = append(rows, newDeadRow(dl))
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if rows == nil {
					rows = []deadRow{}
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			if len(rows) == 0 {
				fmt.Fprintf(out, "no dead letters for consumer %s on %s\n", name(), registry.Redact(qURL()))
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tTIME\tDELIVERIES\tMESSAGE-ID\tTO\tSUBJECT\tREASON")
			for _, r := range rows {
				fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%s\n", r.Seq, r.Time.UTC().Format(time.RFC3339), r.Deliveries,
					r.MessageID, oneLine(strings.Join(r.To, ","), 60), oneLine(r.Subject, 50), oneLine(r.Reason, 0))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(out, "%d dead letter(s) for consumer %s\n", len(rows), name())
			return nil
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print a JSON array instead of a table")

	seqCommand := func(use, short, done string, do func(q *queue.Queue, cmd *cobra.Command, seqs []uint64) (int, error)) *cobra.Command {
		var all bool
		c := &cobra.Command{
			Use:   use + " SEQ... | --all",
			Short: short,
			RunE: func(cmd *cobra.Command, args []string) error {
				switch {
				case all && len(args) > 0:
					return usagef("%s: give sequence numbers or --all, not both", cmd.CommandPath())
				case !all && len(args) == 0:
					return usagef("%s: give the sequence numbers (from mail dead list) or --all", cmd.CommandPath())
				}
				seqs := make([]uint64, 0, len(args))
				for _, s := range args {
					n, err := strconv.ParseUint(s, 10, 64)
					if err != nil || n == 0 {
						return usagef("%s: %q is not a sequence number", cmd.CommandPath(), s)
					}
					seqs = append(seqs, n)
				}
				q, err := openQueue(cmd, false)
				if err != nil {
					return err
				}
				defer q.Close()
				n, err := do(q, cmd, seqs)
				switch {
				case err != nil && n == 0:
					return consumerErr(cmd, q, err)
				case err != nil:
					return fmt.Errorf("%s %d dead letter(s) of consumer %s, then failed: %w", done, n, name(), err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %d dead letter(s) of consumer %s\n", done, n, name())
				return nil
			},
		}
		c.Flags().BoolVar(&all, "all", false, "every dead letter of the consumer")
		return c
	}
	retry := seqCommand("retry", "Publish dead letters again for the worker to send (after fixing the cause)", "re-queued",
		func(q *queue.Queue, cmd *cobra.Command, seqs []uint64) (int, error) {
			return q.Redrive(cmd.Context(), name(), seqs...)
		})
	purge := seqCommand("purge", "Delete dead letters for good", "purged",
		func(q *queue.Queue, cmd *cobra.Command, seqs []uint64) (int, error) {
			return q.PurgeDead(cmd.Context(), name(), seqs...)
		})
	cmd.AddCommand(list, retry, purge)
	return cmd
}

// deadRow is one dead letter as list prints it.
type deadRow struct {
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`
	Deliveries int       `json:"deliveries"`
	MessageID  string    `json:"message_id"`
	From       string    `json:"from,omitempty"`
	To         []string  `json:"to"`
	Subject    string    `json:"subject"`
	Reason     string    `json:"reason"`
}

func newDeadRow(dl *queue.DeadLetter) deadRow {
	r := deadRow{Seq: dl.Seq, Time: dl.Time, Deliveries: dl.Deliveries, Reason: dl.Reason, To: []string{}}
	env, err := mail.QueuedEnvelope(dl.Message)
	if err != nil {
		// Not queued mail (kit/mail dead-letters anything else it finds on its subject).
		r.MessageID, r.Subject = dl.Message.ID, "(not queued mail: "+err.Error()+")"
		return r
	}
	r.MessageID, r.From, r.To = "<"+env.MessageID+">", env.From, env.To
	if h, err := env.Header(); err == nil {
		r.Subject = h.Get("Subject")
		if dec, err := new(mime.WordDecoder).DecodeHeader(r.Subject); err == nil {
			r.Subject = dec
		}
	}
	return r
}

// oneLine flattens s for a table cell and, when max > 0, shortens it to max runes.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if max > 0 {
		if r := []rune(s); len(r) > max {
			return string(r[:max-1]) + "…"
		}
	}
	if s == "" {
		return "-"
	}
	return s
}
