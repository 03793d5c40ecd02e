package nats

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stackkit/stackkit/kit/queue"
)

// ensureStreams creates the work and dead-letter streams, or updates them to the Config. Settings
// JetStream cannot change (retention, storage) are compared first, so the error names the option.
func (d *Driver) ensureStreams(ctx context.Context) error {
	retention, err := d.cfg.retention()
	if err != nil {
		return err
	}
	limit := func(v int64) int64 {
		if v == 0 {
			return -1
		}
		return v
	}
	work := jetstream.StreamConfig{
		Name:        d.cfg.Stream,
		Description: "kit/queue work stream",
		Subjects:    slices.Clone(d.cfg.Subjects),
		Retention:   retention,
		Storage:     d.cfg.Storage,
		MaxAge:      d.cfg.MaxAge,
		MaxBytes:    limit(d.cfg.MaxBytes),
		MaxMsgs:     limit(d.cfg.MaxMsgs),
		Replicas:    d.cfg.Replicas,
		Duplicates:  d.cfg.DedupWindow,
		Discard:     jetstream.DiscardOld,
	}
	if _, err := d.ensureStream(ctx, work, nil); err != nil {
		return err
	}
	dup := d.cfg.DedupWindow
	if d.cfg.DeadMaxAge > 0 && dup > d.cfg.DeadMaxAge {
		dup = d.cfg.DeadMaxAge
	}
	dead := jetstream.StreamConfig{
		Name:        d.cfg.DeadStream,
		Description: "kit/queue dead letters of stream " + d.cfg.Stream,
		Subjects:    []string{d.cfg.DeadPrefix + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     d.cfg.Storage,
		MaxAge:      d.cfg.DeadMaxAge,
		MaxBytes:    -1,
		MaxMsgs:     -1,
		Replicas:    d.cfg.Replicas,
		Duplicates:  dup,
		Discard:     jetstream.DiscardOld,
	}
	// Keep the dead-letter subjects consumers added; drop none a consumer may still use.
	s, err := d.ensureStream(ctx, dead, func(existing *jetstream.StreamConfig, want *jetstream.StreamConfig) {
		for _, subj := range existing.Subjects {
			if !slices.Contains(want.Subjects, subj) {
				want.Subjects = append(want.Subjects, subj)
			}
		}
	})
	if err != nil {
		return err
	}
	d.dead = s
	return nil
}

// ensureStream makes stream want exist with its configuration. merge, if set, adjusts want to
// what an existing stream has.
func (d *Driver) ensureStream(ctx context.Context, want jetstream.StreamConfig, merge func(existing, want *jetstream.StreamConfig)) (jetstream.Stream, error) {
	s, err := d.js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if d.cfg.NoCreate {
			return nil, fmt.Errorf("%w: stream %s does not exist (create=false: nothing is created)", queue.ErrNotFound, want.Name)
		}
		s, err = d.createStream(ctx, want)
		if err != nil {
			return nil, fmt.Errorf("create stream %s: %w", want.Name, d.mapErr(err, ""))
		}
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", want.Name, d.mapErr(err, ""))
	}
	if d.cfg.NoCreate {
		return s, nil
	}
	have := s.CachedInfo().Config
	if have.Retention != want.Retention {
		return nil, fmt.Errorf("%w: %w: retention: stream %s exists with retention %s, not %s, and JetStream cannot change it (delete the stream, or use another)",
			queue.ErrConflict, queue.ErrInvalidOption, want.Name, have.Retention, want.Retention)
	}
	if have.Storage != want.Storage {
		return nil, fmt.Errorf("%w: %w: storage: stream %s exists with storage %s, and JetStream cannot change it",
			queue.ErrConflict, queue.ErrInvalidOption, want.Name, have.Storage)
	}
	if merge != nil {
		merge(&have, &want)
	}
	if sameStream(have, want) {
		return s, nil
	}
	// Update only what this driver manages; keep everything else the operator set.
	upd := have
	upd.Description = want.Description
	upd.Subjects = want.Subjects
	upd.MaxAge = want.MaxAge
	upd.MaxBytes = want.MaxBytes
	upd.MaxMsgs = want.MaxMsgs
	upd.Replicas = want.Replicas
	upd.Duplicates = want.Duplicates
	s, err = d.js.UpdateStream(ctx, upd)
	if err != nil {
		return nil, fmt.Errorf("update stream %s: %w", want.Name, d.mapErr(err, ""))
	}
	return s, nil
}

// createStream creates a stream, retrying a failure to create its store: nats-server 2.9 races
// the removal of an empty streams directory (after the last stream is deleted) with a creation.
func (d *Driver) createStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	for attempt := 1; ; attempt++ {
		s, err := d.js.CreateStream(ctx, cfg)
		var apiErr *jetstream.APIError
		if err == nil || attempt == 3 || !errors.As(err, &apiErr) || apiErr.ErrorCode != 10049 {
			return s, err
		}
		select {
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		case <-ctx.Done():
			return nil, err
		}
	}
}

func sameStream(have, want jetstream.StreamConfig) bool {
	a, b := slices.Clone(have.Subjects), slices.Clone(want.Subjects)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b) && have.MaxAge == want.MaxAge && have.MaxBytes == want.MaxBytes &&
		have.MaxMsgs == want.MaxMsgs && have.Replicas == want.Replicas && have.Duplicates == want.Duplicates &&
		have.Description == want.Description
}

// deadStream returns the dead-letter stream.
func (d *Driver) deadStream(ctx context.Context) (jetstream.Stream, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead != nil {
		return d.dead, nil
	}
	s, err := d.js.Stream(ctx, d.cfg.DeadStream)
	if err != nil {
		return nil, d.mapErr(err, "")
	}
	d.dead = s
	return s, nil
}

// ensureDeadSubject adds subject to the dead-letter stream's subjects unless one of them covers
// it already.
func (d *Driver) ensureDeadSubject(ctx context.Context, subject string) error {
	if slices.ContainsFunc(d.cfg.Subjects, func(s string) bool { return queue.MatchSubject(s, subject) }) {
		return fmt.Errorf("%w: DeadLetterSubject: %q is in the work stream %s (%s); dead letters need a subject of their own",
			queue.ErrInvalidOption, subject, d.cfg.Stream, strings.Join(d.cfg.Subjects, ", "))
	}
	dead, err := d.deadStream(ctx)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	covered := func(cfg jetstream.StreamConfig) bool {
		return slices.ContainsFunc(cfg.Subjects, func(s string) bool { return queue.MatchSubject(s, subject) })
	}
	if covered(dead.CachedInfo().Config) {
		return nil
	}
	info, err := dead.Info(ctx) // another process may have added it
	if err != nil {
		return d.mapErr(err, "")
	}
	if covered(info.Config) {
		return nil
	}
	if d.cfg.NoCreate {
		return fmt.Errorf("dead-letter subject %q is not in stream %s, and create=false", subject, d.cfg.DeadStream)
	}
	cfg := info.Config
	cfg.Subjects = append(cfg.Subjects, subject)
	s, err := d.js.UpdateStream(ctx, cfg)
	if err != nil {
		return fmt.Errorf("add dead-letter subject %q to stream %s: %w", subject, d.cfg.DeadStream, d.mapErr(err, subject))
	}
	d.dead = s
	return nil
}
