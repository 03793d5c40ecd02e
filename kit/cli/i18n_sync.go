package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/stackkit/stackkit/kit/i18n/transifex"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txsync"
	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/registry"

	// nats:// and nats+embedded://, where the i18nsync worker reads its requests.
	_ "github.com/stackkit/stackkit/kit/queue/nats"
)

// I18nSyncCommand returns "sync" (kitctl i18n sync) alone.
func I18nSyncCommand(opts ...Option) *cobra.Command { return newApp(opts).i18nSyncCommand() }

// publishTimeout bounds queueing the request: an unreachable queue fails the command, not hangs it.
const publishTimeout = 30 * time.Second

func (a *app) i18nSyncCommand() *cobra.Command {
	var (
		queueURL, subject, reason, config string
		resources, languages              []string
		force                             bool
		window                            time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Ask the i18nsync worker to pull translations from Transifex (queue a sync request)",
		Long: `Queue a sync request for the i18nsync worker (services/i18nsync) instead of pulling here: the
worker pulls the translations, compiles and checks them, stores a new catalog version in its
storage and announces it, and the services following the catalogs swap to it while they run.

The request goes to the worker's queue: --queue-url, else KIT_QUEUE_URL (nats://...; memory:// is
this process's own queue and is refused). When a .tx/config is found (or named with --config),
--resources are checked against it first; the worker checks them again and dead-letters a request
it cannot serve. With --window, requests of the same scope within the same window are one
request (the queue drops the repeats) and the pull waits for the window's end.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			url := queueURL
			if url == "" {
				url = os.Getenv("KIT_QUEUE_URL")
			}
			if url == "" {
				return usagef("--queue-url (or KIT_QUEUE_URL) is required: the queue the i18nsync worker consumes")
			}
			if strings.HasPrefix(strings.ToLower(url), "memory:") {
				return usagef("--queue-url memory://: a memory queue lives in this process only; the worker would never see the request")
			}
			if window < 0 {
				return usagef("--window must not be negative")
			}
			if err := queue.ValidateSubject(subject, false); err != nil {
				return usagef("--subject: %v", err)
			}
			if err := checkSyncResources(config, resources); err != nil {
				return err
			}
			if reason == "" {
				reason = "kitctl i18n sync"
				if u := os.Getenv("USER"); u != "" {
					reason += " by " + u
				}
			}
			req := txsync.Request{Resources: resources, Languages: languages, Force: force, Reason: reason}
			msg, err := req.Message(subject, window)
			if err != nil {
				return usageError{err}
			}
			logger, err := a.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), publishTimeout)
			defer cancel()
			q, err := queue.Open(ctx, url, queue.WithLogger(logger))
			if err != nil {
				if errors.Is(err, registry.ErrInvalidOption) || errors.Is(err, registry.ErrUnknownScheme) || errors.Is(err, registry.ErrInvalidURL) {
					return usageError{err}
				}
				return err
			}
			defer q.Close()
			if err := q.Publish(ctx, msg); err != nil {
				return fmt.Errorf("queueing the sync request on %s: %w", registry.Redact(url), err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "queued sync request %s on %s: %s\n", msg.ID, subject, req.String())
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&queueURL, "queue-url", "", "the worker's queue (env KIT_QUEUE_URL), e.g. nats://nats:4222")
	fl.StringVar(&subject, "subject", txsync.DefaultRequestSubject, "subject the worker consumes (its KIT_I18N_SUBJECT)")
	fl.StringSliceVarP(&resources, "resources", "r", nil, "resources to pull, as project.resource or o:ORG:p:PROJECT:r:RESOURCE, * as wildcard (default all)")
	fl.StringSliceVarP(&languages, "languages", "l", nil, "languages to pull, by remote or local code (default all)")
	fl.BoolVarP(&force, "force", "f", false, "pull files even when their remote statistics have not changed")
	fl.StringVar(&reason, "reason", "", "why, for the worker's log and the version's manifest (default \"kitctl i18n sync by $USER\")")
	fl.DurationVar(&window, "window", 0, "merge requests of the same scope within this window into one (0: a request of its own, pulled at once)")
	fl.StringVar(&config, "config", "", "path of .tx/config to check --resources against (default: found from the current directory, if any)")
	return cmd
}

// checkSyncResources checks the resource patterns against the project's .tx/config, when there
// is one here: a typo is better caught now than dead-lettered by the worker.
func checkSyncResources(path string, resources []string) error {
	if len(resources) == 0 {
		return nil
	}
	if path == "" {
		found, err := transifex.FindConfig(".")
		if err != nil {
			return nil // no project here: the worker checks
		}
		path = found
	}
	cfg, err := transifex.LoadConfig(path)
	if err != nil {
		return err
	}
	if _, err := cfg.SelectResources(resources); err != nil {
		return usageError{err}
	}
	return nil
}
