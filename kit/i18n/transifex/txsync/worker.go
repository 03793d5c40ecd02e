package txsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing/fstest"
	"time"

	"github.com/stackkit/stackkit/kit/i18n"
	"github.com/stackkit/stackkit/kit/i18n/transifex"
	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/storage"
	"golang.org/x/text/language"
)

// Defaults of Options.
const (
	DefaultKeep        = 5
	DefaultConcurrency = 16
	// DefaultTimeout bounds one request's handling, its wait for a debounce window and for the
	// sync it joined included.
	DefaultTimeout = 30 * time.Minute
	// MaxDebounce caps how long a request's NotBefore may hold it: a request dated further in
	// the future is pulled after MaxDebounce.
	MaxDebounce = 10 * time.Minute
)

// Options configure a Worker. The zero value is usable.
type Options struct {
	// Prefix is where in storage the worker keeps its working copy and the versions (default
	// DefaultPrefix).
	Prefix string
	// RequestSubject is the subject of sync requests (default DefaultRequestSubject).
	RequestSubject string
	// EventSubject is where a new version is announced (default DefaultEventSubject).
	EventSubject string
	// Consumer is the durable consumer name (default DefaultConsumer); replicas share it.
	Consumer string
	// Events is the queue the announcements go to (default: the request queue). Announcements
	// reach every service instance, each with a consumer of its own, which on NATS needs a stream
	// with retention=limits or interest: give such a queue here when the requests' stream is a
	// work queue.
	Events *queue.Queue
	// Mode is the Transifex download mode (default "default"; "reviewed" serves reviewed strings
	// only).
	Mode string
	// Workers bounds the files pulled at once (default transifex.DefaultWorkers).
	Workers int
	// Keep is how many versions stay in storage, the current one included (default DefaultKeep).
	Keep int
	// ConsumeOptions are passed to queue.Consume after the worker's own (Concurrency
	// DefaultConcurrency, Timeout DefaultTimeout), so they override them: MaxDeliveries, Backoff,
	// DeadLetterSubject, Ready.
	ConsumeOptions []queue.ConsumeOption
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock for version names and debounce windows (default time.Now).
	Now func() time.Time
}

// Worker consumes sync requests, pulls translations from Transifex into a working copy in
// kit/storage, compiles and checks every catalog, stores them as a new version, points the
// current version at it and announces it. One sync runs at a time per Worker; requests arriving
// meanwhile are folded into the next one. It is safe for concurrent use.
type Worker struct {
	client *transifex.Client
	cfg    *transifex.Config
	store  *storage.Storage
	q      *queue.Queue
	events *queue.Queue
	o      Options
	layout Layout
	dest   StorageDestination
	log    *slog.Logger

	co coalescer

	mu          sync.Mutex
	lastVersion string

	syncs, failures, versions, coalesced, requests atomic.Int64
	lastSuccess                                    atomic.Int64 // unix nanoseconds
	busy                                           atomic.Bool
}

// NewWorker returns a worker pulling cfg's resources with client into store, consuming requests
// from q.
func NewWorker(client *transifex.Client, cfg *transifex.Config, store *storage.Storage, q *queue.Queue, o Options) (*Worker, error) {
	if client == nil || cfg == nil || store == nil || q == nil {
		return nil, errors.New("txsync: NewWorker needs a client, a config, a storage and a queue")
	}
	if len(cfg.Resources) == 0 {
		return nil, fmt.Errorf("%w: .tx/config has no resources", transifex.ErrConfig)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	o.Prefix = normPrefix(o.Prefix)
	if err := storage.ValidateName(o.Prefix + "current"); err != nil {
		return nil, fmt.Errorf("txsync: prefix %q: %w", o.Prefix, err)
	}
	if o.RequestSubject == "" {
		o.RequestSubject = DefaultRequestSubject
	}
	if o.EventSubject == "" {
		o.EventSubject = DefaultEventSubject
	}
	for _, s := range []string{o.RequestSubject, o.EventSubject} {
		if err := queue.ValidateSubject(s, false); err != nil {
			return nil, fmt.Errorf("txsync: %w", err)
		}
	}
	if o.RequestSubject == o.EventSubject {
		return nil, fmt.Errorf("txsync: requests and announcements both on subject %q", o.RequestSubject)
	}
	if o.Consumer == "" {
		o.Consumer = DefaultConsumer
	}
	if err := queue.ValidateName(o.Consumer); err != nil {
		return nil, fmt.Errorf("txsync: %w", err)
	}
	if o.Mode == "" {
		o.Mode = "default"
	}
	if !transifex.ValidMode(o.Mode) {
		return nil, fmt.Errorf("%w: mode %q: want one of %s", transifex.ErrConfig, o.Mode, strings.Join(transifex.Modes, ", "))
	}
	if o.Keep <= 0 {
		o.Keep = DefaultKeep
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if _, err := buildDomains(cfg); err != nil {
		return nil, err
	}
	w := &Worker{client: client, cfg: cfg, store: store, q: q, events: o.Events, o: o,
		layout: Layout{o.Prefix}, log: o.Logger}
	if w.events == nil {
		w.events = q
	}
	w.dest = StorageDestination{Store: store, Prefix: w.layout.Work()}
	return w, nil
}

// Layout is where the worker stores things.
func (w *Worker) Layout() Layout { return w.layout }

// Run consumes sync requests until ctx is done (then drains: a sync in progress finishes and
// its requests are acknowledged) or the queue is closed.
func (w *Worker) Run(ctx context.Context) error {
	// While Transifex is down the consumer pauses and asks w.Probe whether it is back, so no
	// request spends a delivery on the outage; ConsumeOptions may give another probe.
	opts := append([]queue.ConsumeOption{queue.Concurrency(DefaultConcurrency), queue.Timeout(DefaultTimeout),
		queue.Probe(w.Probe)}, w.o.ConsumeOptions...)
	return w.q.Consume(ctx, w.o.Consumer, w.o.RequestSubject, w.Handle, opts...)
}

// Handle is the queue handler: it decodes the request, waits for its NotBefore, and answers it
// with a sync (its own or one it joins). A malformed request, a resource the config lacks, a
// refused token and other configuration problems are permanent (the request goes to the dead
// letters at once). Transifex being down — unreachable, 502/503/504, or throttling longer than
// the sync may wait — is queue.Unavailable: the consumer pauses and probes with
// w.Probe (Run passes it) and the request keeps its deliveries. Failed jobs, files Transifex serves
// broken, other answers and timeouts are retried on the consumer's backoff, then dead-lettered
// with the reason.
func (w *Worker) Handle(ctx context.Context, m *queue.Message) error {
	w.requests.Add(1)
	req, err := DecodeRequest(m.Data)
	if err != nil {
		return queue.Permanent(err)
	}
	if _, err := w.cfg.SelectResources(req.Resources); err != nil {
		return queue.Permanent(err)
	}
	if wait := req.NotBefore.Sub(w.o.Now()); wait > 0 {
		t := time.NewTimer(min(wait, MaxDebounce))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	res, shared, err := w.co.do(ctx, req, w.sync)
	if shared {
		w.coalesced.Add(1)
	}
	if err != nil {
		w.log.LogAttrs(ctx, slog.LevelWarn, "i18n sync failed", slog.String("id", m.ID),
			slog.Int("delivery", m.Delivery), slog.String("request", req.String()), slog.String("error", err.Error()))
		return classify(err)
	}
	w.log.LogAttrs(ctx, slog.LevelInfo, "i18n sync done", slog.String("id", m.ID), slog.String("request", req.String()),
		slog.String("version", res.Version), slog.Bool("changed", res.Changed), slog.Bool("coalesced", shared))
	return nil
}

// Sync runs a sync for req now (coalesced with any in progress), without the queue.
func (w *Worker) Sync(ctx context.Context, req Request) (*Result, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if _, err := w.cfg.SelectResources(req.Resources); err != nil {
		return nil, err
	}
	res, _, err := w.co.do(ctx, req, w.sync)
	return res, err
}

// Result is what a sync did.
type Result struct {
	// Version is the current version after the sync ("" when nothing was ever pulled).
	Version string
	// Changed reports that the sync published Version; false when the catalogs were the same
	// as the current version's.
	Changed bool
	// Report is the pull's report.
	Report *transifex.Report
	// Requests is how many requests the sync answered.
	Requests int
}

// PullError is a pull in which some files failed; nothing was published.
type PullError struct{ Report *transifex.Report }

func (e *PullError) Error() string {
	return fmt.Sprintf("txsync: pull failed for %d files, nothing published: %v", len(e.Report.Failed()),
		strings.ReplaceAll(e.Report.Err().Error(), "\n", "; "))
}

func (e *PullError) Unwrap() error { return e.Report.Err() }

// permanent reports whether every failure is one retrying cannot fix.
func (e *PullError) permanent() bool {
	for _, r := range e.Report.Failed() {
		if !permanentError(r.Err) {
			return false
		}
	}
	return true
}

// outage reports whether a failure is Transifex being down: one file that could not be pulled
// for that is enough, the others would not be pulled either.
func (e *PullError) outage() bool {
	for _, r := range e.Report.Failed() {
		if outageError(r.Err) {
			return true
		}
	}
	return false
}

// outageError reports whether err means Transifex is not serving the worker, rather than that
// the request failed: the API (or its file host) could not be reached — refused, reset, timed
// out, TLS — or answered 502, 503 or 504, or throttles the token for longer than the handler may
// wait (a 429 whose hold passes the operation's deadline, or 429s until the tries ran out).
func outageError(err error) bool {
	return errors.Is(err, transifex.ErrUnavailable) || errors.Is(err, transifex.ErrThrottled)
}

func permanentError(err error) bool {
	for _, target := range []error{transifex.ErrUnauthorized, transifex.ErrForbidden, transifex.ErrNotFound, transifex.ErrConfig, ErrInvalidRequest} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// classify marks the errors retrying cannot fix as permanent, and Transifex being down as
// queue.Unavailable, so the consumer pauses instead of spending the request's deliveries.
func classify(err error) error {
	var pe *PullError
	if errors.As(err, &pe) {
		switch {
		case pe.permanent():
			return queue.Permanent(err)
		case pe.outage():
			return queue.Unavailable(err)
		}
		return err
	}
	switch {
	case permanentError(err):
		return queue.Permanent(err)
	case outageError(err):
		return queue.Unavailable(err)
	}
	return err
}

// Probe asks Transifex whether it serves the worker again: one authenticated GET of the first
// project in .tx/config, without retries (transifex.Client.Ping). It is the probe for the
// consumer's pause after Handle returned queue.Unavailable. It returns an error while Transifex
// cannot be reached, answers 502, 503 or 504, or throttles the token (while a 429's hold lasts,
// at once and without a request), and nil once it answers, whatever it says about the project:
// a refused token or a missing project is for Handle to report, not a reason to stay paused.
func (w *Worker) Probe(ctx context.Context) error {
	err := w.client.Ping(ctx, w.cfg.Resources[0].ProjectID())
	if err != nil && (outageError(err) || ctx.Err() != nil) {
		return fmt.Errorf("txsync: transifex: %w", err)
	}
	return nil
}

// Stats are the worker's counters since it started.
type Stats struct {
	Requests  int64 // requests handled (redeliveries included)
	Syncs     int64 // syncs run
	Failures  int64 // syncs that failed
	Versions  int64 // versions published
	Coalesced int64 // requests answered by a sync another request ran
	Waiting   int   // requests now waiting for the running sync to end
	Busy      bool  // a sync is running
	// LastVersion is the last version this worker published or found current.
	LastVersion string
	// LastSuccess is when a sync last succeeded (zero: never).
	LastSuccess time.Time
}

// Stats returns the counters.
func (w *Worker) Stats() Stats {
	s := Stats{Requests: w.requests.Load(), Syncs: w.syncs.Load(), Failures: w.failures.Load(),
		Versions: w.versions.Load(), Coalesced: w.coalesced.Load(), Waiting: w.co.waitingCount(), Busy: w.busy.Load()}
	w.mu.Lock()
	s.LastVersion = w.lastVersion
	w.mu.Unlock()
	if ns := w.lastSuccess.Load(); ns != 0 {
		s.LastSuccess = time.Unix(0, ns)
	}
	return s
}

// sync is one flight: pull, build, store, point, announce.
func (w *Worker) sync(ctx context.Context, req Request, n int) (res *Result, err error) {
	w.syncs.Add(1)
	w.busy.Store(true)
	defer func() {
		w.busy.Store(false)
		if err != nil {
			w.failures.Add(1)
		} else {
			w.lastSuccess.Store(w.o.Now().UnixNano())
		}
	}()
	w.log.LogAttrs(ctx, slog.LevelInfo, "i18n sync started", slog.String("request", req.String()),
		slog.Int("requests", n), slog.String("reason", req.Reason))
	rep, err := transifex.Pull(ctx, w.client, w.cfg, transifex.PullOptions{
		Resources: req.Resources, Languages: req.Languages, All: true, Force: req.Force, Mode: w.o.Mode,
		Workers: w.o.Workers, Destination: w.dest, Validate: validateCompiles, Logger: w.log,
	})
	if err != nil {
		return nil, fmt.Errorf("txsync: pull: %w", err)
	}
	if rep.StateError != nil {
		w.log.LogAttrs(ctx, slog.LevelWarn, "i18n sync: pull state", slog.String("error", rep.StateError.Error()))
	}
	if rep.Err() != nil {
		return nil, &PullError{Report: rep}
	}
	res = &Result{Report: rep, Requests: n}
	m, files, err := w.build(ctx, req.Reason)
	if err != nil {
		return nil, err
	}
	if m == nil {
		w.log.LogAttrs(ctx, slog.LevelWarn, "i18n sync: no catalogs to publish (nothing pulled: see minimum_perc and the resources' languages)")
		return res, nil
	}
	cur, err := ReadCurrent(ctx, w.store, w.o.Prefix)
	if err != nil && !errors.Is(err, ErrNoVersion) {
		return nil, err
	}
	if cur != "" {
		if cm, err := ReadManifest(ctx, w.store, w.o.Prefix, cur); err == nil && cm.Digest == m.Digest {
			res.Version = cur
			w.setLast(cur)
			// Announce again: a previous attempt may have stored the version and failed to
			// announce it. Subscribers ignore a version they already serve.
			return res, w.announce(ctx, cm)
		}
	}
	if err := w.store1(ctx, m, files, cur); err != nil {
		return nil, err
	}
	w.versions.Add(1)
	w.setLast(m.Version)
	res.Version, res.Changed = m.Version, true
	if err := w.announce(ctx, m); err != nil {
		return nil, err
	}
	w.cleanup(ctx, m.Version)
	return res, nil
}

func (w *Worker) setLast(v string) {
	w.mu.Lock()
	w.lastVersion = v
	w.mu.Unlock()
}

// validateCompiles is the pull's Validator: the default checks, and a PO file must compile with
// msgfmt's checks, so a file that would fail the build never enters the working copy.
func validateCompiles(r *transifex.ResourceConfig, lang, name string, data []byte) error {
	if err := transifex.ValidateFile(r, lang, name, data); err != nil {
		return err
	}
	if !r.IsPO() {
		return nil
	}
	if _, _, err := compile(name, data); err != nil {
		return fmt.Errorf("%w: does not compile: %w", transifex.ErrInvalidFile, err)
	}
	return nil
}

func compile(name string, po []byte) ([]byte, int, error) {
	f, err := i18n.ParsePOBytes(po, name)
	if err != nil {
		return nil, 0, err
	}
	c, err := i18n.Compile(f)
	if err != nil {
		return nil, 0, err
	}
	mo, err := i18n.MOBytes(c)
	return mo, len(c.Messages), err
}

// Domain is the catalog name a resource's files get in a version: the file name of its
// file_filter without extension ("django" for locale/<lang>/LC_MESSAGES/django.po), or the
// resource slug when the file name holds the language (translations/<lang>.po).
func Domain(r *transifex.ResourceConfig) string {
	base := path.Base(strings.ReplaceAll(r.FileFilter, "\\", "/"))
	if strings.Contains(base, "<lang>") {
		return r.Slug
	}
	return strings.TrimSuffix(base, path.Ext(base))
}

// buildDomains checks that no two PO resources share a domain, since a version holds one catalog
// per domain and language.
func buildDomains(cfg *transifex.Config) (map[string]string, error) {
	owner := map[string]string{}
	for i := range cfg.Resources {
		r := &cfg.Resources[i]
		if !r.IsPO() {
			continue
		}
		d := Domain(r)
		if d == "" || strings.ContainsAny(d, "/\\") || strings.HasPrefix(d, ".") {
			return nil, fmt.Errorf("%w: resource %s: %q cannot name a catalog", transifex.ErrConfig, r.ID, d)
		}
		if other, dup := owner[d]; dup {
			return nil, fmt.Errorf("%w: resources %s and %s would both be catalog %q; give their file_filter different file names", transifex.ErrConfig, other, r.ID, d)
		}
		owner[d] = r.ID
	}
	return owner, nil
}

// build compiles every file of the working copy the pull state knows into a version's catalogs,
// and checks that each domain loads as kit/i18n will load it. It returns nil when there is
// nothing to publish.
func (w *Worker) build(ctx context.Context, reason string) (*Manifest, map[string][]byte, error) {
	st, err := transifex.ReadState(ctx, w.dest, "")
	if err != nil {
		return nil, nil, err
	}
	keys := make([]string, 0, len(st.Files))
	for k := range st.Files {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	byID := map[string]*transifex.ResourceConfig{}
	for i := range w.cfg.Resources {
		byID[w.cfg.Resources[i].ID] = &w.cfg.Resources[i]
	}
	files := map[string][]byte{}
	m := &Manifest{Domains: map[string][]string{}, Reason: reason}
	for _, k := range keys {
		e := st.Files[k]
		r := byID[e.Resource]
		if r == nil || !r.IsPO() {
			continue // a resource no longer in .tx/config, or not gettext
		}
		local := w.cfg.LocalLanguage(r, e.Language)
		if !languageRE.MatchString(local) {
			return nil, nil, fmt.Errorf("%w: resource %s: local language %q cannot name a directory", transifex.ErrConfig, r.ID, local)
		}
		domain := Domain(r)
		name := "locale/" + local + "/LC_MESSAGES/" + domain + ".mo"
		if _, dup := files[name]; dup {
			return nil, nil, fmt.Errorf("%w: two languages of resource %s map to %s (check lang_map)", transifex.ErrConfig, r.ID, local)
		}
		po, err := w.dest.ReadFile(ctx, e.Path)
		if err != nil {
			return nil, nil, fmt.Errorf("txsync: the working copy lost %s (the next pull fetches it again): %w", e.Path, err)
		}
		mo, msgs, err := compile(e.Path, po)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s does not compile: %w", transifex.ErrInvalidFile, e.Path, err)
		}
		files[name] = mo
		sum := sha256.Sum256(mo)
		m.Files = append(m.Files, ManifestFile{Name: name, Resource: r.ID, Language: local, Domain: domain,
			SHA256: hex.EncodeToString(sum[:]), Size: len(mo), Messages: msgs})
		m.Domains[domain] = append(m.Domains[domain], local)
	}
	if len(files) == 0 {
		return nil, nil, nil
	}
	fsys := fstest.MapFS{}
	for name, b := range files {
		fsys[name] = &fstest.MapFile{Data: b, Mode: 0o444}
	}
	// zxx ("no linguistic content") is never a catalog's language, so every catalog is loaded.
	for d, langs := range m.Domains {
		slices.Sort(langs)
		if _, err := i18n.LoadSet(fsys, language.Make("zxx"), i18n.WithDir("locale"), i18n.WithDomain(d), i18n.WithLanguages(langs...)); err != nil {
			return nil, nil, fmt.Errorf("%w: catalog set %q does not load: %w", transifex.ErrInvalidFile, d, err)
		}
	}
	slices.SortFunc(m.Files, func(a, b ManifestFile) int { return strings.Compare(a.Name, b.Name) })
	h := sha256.New()
	for _, f := range m.Files {
		fmt.Fprintf(h, "%s %s\n", f.Name, f.SHA256)
	}
	m.Digest = hex.EncodeToString(h.Sum(nil))
	return m, files, nil
}

// store1 writes a new version: its catalogs, its manifest, then the current pointer, last, so a
// reader following the pointer finds the version whole. A failure before the pointer leaves the
// current version as it was (and an orphan directory, removed by a later cleanup).
func (w *Worker) store1(ctx context.Context, m *Manifest, files map[string][]byte, cur string) error {
	now := w.o.Now().UTC().Truncate(time.Millisecond)
	if cur != "" {
		// Version names sort in time order even if the clock stepped back.
		if t := versionTime(cur); !now.After(t) {
			now = t.Add(time.Millisecond)
		}
	}
	m.Version = newVersion(now, m.Digest)
	m.Created = now
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	dir := w.layout.Dir(m.Version)
	for _, n := range names {
		if err := w.store.Put(ctx, dir+n, bytes.NewReader(files[n]), &storage.WriterOptions{ContentType: contentType(n)}); err != nil {
			return fmt.Errorf("txsync: storing version %s: %w", m.Version, err)
		}
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := w.store.Put(ctx, w.layout.Manifest(m.Version), bytes.NewReader(append(mb, '\n')), &storage.WriterOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("txsync: storing version %s: %w", m.Version, err)
	}
	if err := w.store.Put(ctx, w.layout.Current(), strings.NewReader(m.Version+"\n"), &storage.WriterOptions{ContentType: "text/plain; charset=utf-8"}); err != nil {
		return fmt.Errorf("txsync: pointing %s at version %s: %w", w.layout.Current(), m.Version, err)
	}
	w.log.LogAttrs(ctx, slog.LevelInfo, "i18n version stored", slog.String("version", m.Version),
		slog.Int("catalogs", len(m.Files)), slog.String("digest", m.Digest))
	return nil
}

// announce publishes the catalogs-updated event for m. Its ID is the version's, so repeats within
// the queue's de-duplication window are dropped.
func (w *Worker) announce(ctx context.Context, m *Manifest) error {
	ev := Event{Version: m.Version, Prefix: w.o.Prefix, Domains: m.Domains, Digest: m.Digest}
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	msg := &queue.Message{ID: "i18n-updated-" + m.Version, Subject: w.o.EventSubject, Data: data,
		Header: queue.Header{"Content-Type": {"application/json"}, HeaderVersion: {m.Version}}}
	if err := w.events.Publish(ctx, msg); err != nil {
		return fmt.Errorf("txsync: announcing version %s: %w", m.Version, err)
	}
	return nil
}

// cleanup removes versions beyond the newest Keep, never the current one. Failures are logged:
// they cost storage, not correctness.
func (w *Worker) cleanup(ctx context.Context, current string) {
	vs, err := Versions(ctx, w.store, w.o.Prefix)
	if err != nil {
		w.log.LogAttrs(ctx, slog.LevelWarn, "i18n cleanup: listing versions", slog.String("error", err.Error()))
		return
	}
	if len(vs) <= w.o.Keep {
		return
	}
	for _, v := range vs[:len(vs)-w.o.Keep] {
		if v == current {
			continue
		}
		// Collect first: deleting while listing may skip objects on a paged backend.
		var names []string
		var err error
		for obj, lerr := range w.store.List(ctx, &storage.ListOptions{Prefix: w.layout.Dir(v)}) {
			if lerr != nil {
				err = lerr
				break
			}
			names = append(names, obj.Name)
		}
		for _, n := range names {
			if err != nil {
				break
			}
			err = w.store.Delete(ctx, n)
		}
		if err != nil {
			w.log.LogAttrs(ctx, slog.LevelWarn, "i18n cleanup", slog.String("version", v), slog.String("error", err.Error()))
		}
	}
}
