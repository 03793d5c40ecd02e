package txsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/stackkit/stackkit/kit/i18n"
	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/storage"
)

// HeaderVersion carries the version on a catalogs-updated message.
const HeaderVersion = "Kit-I18n-Version"

// Event is the catalogs-updated announcement: the worker stored Version under Prefix and made
// it current.
type Event struct {
	Version string              `json:"version"`
	Prefix  string              `json:"prefix"`
	Domains map[string][]string `json:"domains"`
	Digest  string              `json:"digest"`
}

// DecodeEvent reads a catalogs-updated message's data.
func DecodeEvent(data []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return e, fmt.Errorf("txsync: catalogs-updated event: %w", err)
	}
	if !ValidVersion(e.Version) {
		return e, fmt.Errorf("txsync: catalogs-updated event names version %q, not a version name", truncate(e.Version, 80))
	}
	return e, nil
}

// FollowerOptions configure a Follower. The zero value is usable.
type FollowerOptions struct {
	// Prefix is where the worker stores the versions (default DefaultPrefix).
	Prefix string
	// Subject is the catalogs-updated subject (default DefaultEventSubject).
	Subject string
	// Domain is the catalog the translator serves (default i18n.DefaultDomain, "messages").
	Domain string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Follower keeps a running i18n.Translator on the worker's current catalog version: it loads the
// version a catalogs-updated event names from kit/storage and swaps the translator's language set
// to it. A version that fails to load is never swapped in: the translator keeps serving the set
// it had. Events for a version no newer than the one served are acknowledged and ignored (a
// redelivery, or an old event replayed to a new consumer).
//
//	f := txsync.NewFollower(tr, store, txsync.FollowerOptions{Domain: "web"})
//	_ = f.LoadCurrent(ctx)                        // start on the current version, if any
//	go f.Run(ctx, events, "web-"+podName,          // one consumer per instance, removed
//		queue.InactiveThreshold(time.Hour))         // by the server once the pod is gone
type Follower struct {
	tr     *i18n.Translator
	store  *storage.Storage
	o      FollowerOptions
	layout Layout

	mu      sync.Mutex // one load at a time
	version string
}

// NewFollower returns a follower swapping tr's set, reading versions from store.
func NewFollower(tr *i18n.Translator, store *storage.Storage, o FollowerOptions) *Follower {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	o.Prefix = normPrefix(o.Prefix)
	if o.Subject == "" {
		o.Subject = DefaultEventSubject
	}
	if o.Domain == "" {
		o.Domain = i18n.DefaultDomain
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Follower{tr: tr, store: store, o: o, layout: Layout{o.Prefix}}
}

// Version is the version the translator serves ("" before the first load).
func (f *Follower) Version() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.version
}

// LoadCurrent loads the version the current pointer names, unless it is already served. With no
// version published yet it returns ErrNoVersion and the translator keeps its set.
func (f *Follower) LoadCurrent(ctx context.Context) error {
	v, err := ReadCurrent(ctx, f.store, f.o.Prefix)
	if err != nil {
		return err
	}
	return f.load(ctx, v, false)
}

// Load loads version and swaps it in, whether or not it is newer than the one served (an
// operator's rollback). On error the translator keeps its set.
func (f *Follower) Load(ctx context.Context, version string) error { return f.load(ctx, version, true) }

func (f *Follower) load(ctx context.Context, version string, anyVersion bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if version == f.version || (!anyVersion && f.version != "" && version < f.version) {
		return nil
	}
	m, err := ReadManifest(ctx, f.store, f.o.Prefix, version)
	if err != nil {
		return err
	}
	langs, ok := m.Domains[f.o.Domain]
	if !ok {
		have := make([]string, 0, len(m.Domains))
		for d := range m.Domains {
			have = append(have, d)
		}
		slices.Sort(have)
		return fmt.Errorf("txsync: version %s has no catalogs of domain %q (it has %s)", version, f.o.Domain, strings.Join(have, ", "))
	}
	fsys := i18n.OpenerFS(ctx, f.store.Open, storage.ErrNotExist)
	set, err := i18n.LoadSet(fsys, f.tr.Set().Default(), i18n.WithDir(f.layout.LocaleDir(version)),
		i18n.WithDomain(f.o.Domain), i18n.WithLanguages(langs...))
	if err != nil {
		return fmt.Errorf("txsync: loading version %s: %w", version, err)
	}
	f.tr.Swap(set)
	old := f.version
	f.version = version
	f.o.Logger.LogAttrs(ctx, slog.LevelInfo, "i18n catalogs swapped", slog.String("version", version),
		slog.String("previous", old), slog.String("domain", f.o.Domain), slog.Int("languages", len(langs)))
	return nil
}

// Handle is the queue handler for catalogs-updated events: it loads a newer version and swaps
// it in. A load that fails is retried on the consumer's backoff (storage may be briefly
// unreachable); a malformed event is dead-lettered at once.
func (f *Follower) Handle(ctx context.Context, m *queue.Message) error {
	ev, err := DecodeEvent(m.Data)
	if err != nil {
		return queue.Permanent(err)
	}
	if normPrefix(ev.Prefix) != f.o.Prefix {
		return nil // another worker's catalogs
	}
	if err := f.load(ctx, ev.Version, false); err != nil {
		f.o.Logger.LogAttrs(ctx, slog.LevelWarn, "i18n catalogs not swapped; keeping the current set",
			slog.String("version", ev.Version), slog.String("serving", f.Version()), slog.String("error", err.Error()))
		return err
	}
	return nil
}

// Run consumes catalogs-updated events as the durable consumer name until ctx is done or the
// queue is closed. Each service instance needs a name of its own, so each gets every event (and
// on NATS a stream with retention=limits or interest). Before consuming, it loads the current
// version if none is served yet (a failure is logged; events will bring the next one).
func (f *Follower) Run(ctx context.Context, q *queue.Queue, name string, opts ...queue.ConsumeOption) error {
	if f.Version() == "" {
		if err := f.LoadCurrent(ctx); err != nil && !errors.Is(err, ErrNoVersion) {
			f.o.Logger.LogAttrs(ctx, slog.LevelWarn, "i18n: loading the current catalogs", slog.String("error", err.Error()))
		}
	}
	return q.Consume(ctx, name, f.o.Subject, f.Handle, opts...)
}
