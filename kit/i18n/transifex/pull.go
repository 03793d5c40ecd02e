package transifex

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
)

// DefaultWorkers is how many files are pulled or pushed at once.
const DefaultWorkers = 4

// PullOptions are tx pull's options.
type PullOptions struct {
	// Resources selects resources as -r does ("proj.res" or the full ID, * as wildcard); none
	// selects all.
	Resources []string
	// Languages selects languages as -l does, by remote or local code; none selects those that
	// already have a local file (or all of them with All).
	Languages []string
	// All also pulls languages that have no local file yet, creating it (tx pull --all).
	All bool
	// Mode is the download mode (one of Modes; "" is "default").
	Mode string
	// MinimumPerc overrides each resource's minimum_perc when not nil: a language with a
	// smaller share of strings done (translated, or reviewed or proofread for those modes) is
	// skipped.
	MinimumPerc *int
	// Force pulls even the files whose remote statistics have not changed since the last pull.
	Force bool
	// Workers bounds the files in flight (default DefaultWorkers). Requests share the client's
	// rate limiter whatever the number.
	Workers int
	// Destination receives the files and the state (default Dir(cfg.Root)).
	Destination Destination
	// StateFile is the pull state's name in Destination (default DefaultStateFile).
	StateFile string
	// Validate checks each downloaded file (default ValidateFile).
	Validate Validator
	// Compile also writes the MO file beside each pulled PO file. The PO file is compiled with
	// kit/i18n's format checks before anything is written: if it does not compile, neither file
	// is replaced and the result fails.
	Compile bool
	// Progress, when set, receives an Event as each file starts and ends.
	Progress func(Event)
	// Logger gets a line per result (default: the client's logger).
	Logger *slog.Logger
}

type pullTask struct {
	res    *ResourceConfig
	remote string
	local  string
	path   string
	stats  LanguageStats
	// existing is the local file's content, nil when there is none.
	existing []byte
	explicit bool
}

// Pull downloads translations as tx pull does, and writes each file atomically: first the
// statistics of each resource, then per language an async download job (created, polled, and its
// file fetched from the redirect without the token), validated before it replaces the old file.
// Files whose remote statistics match the last pull (kept in StateFile) are skipped unless Force.
//
// The error is for failures that stop everything (bad options, a refused token, a cancelled
// context); per-file failures are Results with StatusFailed — check Report.Err.
func Pull(ctx context.Context, c *Client, cfg *Config, o PullOptions) (*Report, error) {
	if o.Mode == "" {
		o.Mode = "default"
	}
	if !ValidMode(o.Mode) {
		return nil, configErrorf("mode %q: want one of %s", o.Mode, strings.Join(Modes, ", "))
	}
	if o.MinimumPerc != nil && (*o.MinimumPerc < 0 || *o.MinimumPerc > 100) {
		return nil, configErrorf("minimum percentage %d: want 0 to 100", *o.MinimumPerc)
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.Destination == nil {
		if cfg.Root == "" {
			return nil, configErrorf("the configuration has no root directory and no destination was given")
		}
		o.Destination = Dir(cfg.Root)
	}
	if o.StateFile == "" {
		o.StateFile = DefaultStateFile
	}
	if o.Validate == nil {
		o.Validate = ValidateFile
	}
	if o.Logger == nil {
		o.Logger = c.logger
	}
	resources, err := cfg.SelectResources(o.Resources)
	if err != nil {
		return nil, err
	}
	report := &Report{}
	state, serr := loadState(ctx, o.Destination, o.StateFile)
	if serr != nil {
		report.StateError = serr
		o.Logger.Warn(serr.Error())
	}
	p := &puller{c: c, cfg: cfg, o: o, state: state, report: report, projects: map[string]*Project{}}

	// Phase 1: what is there to pull.
	// One statistics listing per project (filtered to the resource when only one is pulled).
	var tasks []pullTask
	byProject := map[string][]*ResourceConfig{}
	var projects []string
	for _, r := range resources {
		if _, ok := byProject[r.ProjectID()]; !ok {
			projects = append(projects, r.ProjectID())
		}
		byProject[r.ProjectID()] = append(byProject[r.ProjectID()], r)
	}
	for _, pid := range projects {
		rs := byProject[pid]
		stats, serr := p.projectStats(ctx, pid, rs)
		for _, r := range rs {
			var ts []pullTask
			err := serr
			if err == nil {
				ts, err = p.plan(ctx, r, stats)
			}
			if err != nil {
				if fatal(ctx, err) {
					return report, err
				}
				p.finish(Result{Resource: r.ID, Status: StatusFailed, Err: err})
				continue
			}
			tasks = append(tasks, ts...)
		}
	}

	// Phase 2: bounded workers over the files.
	p.total = len(tasks) + len(p.report.Results)
	p.done = len(p.report.Results)
	work := make(chan *pullTask)
	var wg sync.WaitGroup
	var fatalOnce sync.Once
	var fatalErr error
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(o.Workers, max(len(tasks), 1)) {
		wg.Go(func() {
			for t := range work {
				res := p.pull(wctx, t)
				if res.Err != nil && fatal(wctx, res.Err) && !errors.Is(res.Err, context.Canceled) {
					fatalOnce.Do(func() { fatalErr = res.Err; cancel() })
				}
				p.finish(res)
			}
		})
	}
	for i := range tasks {
		if wctx.Err() != nil {
			break
		}
		t := &tasks[i]
		p.event(Event{Resource: t.res.ID, Language: t.remote, Path: t.path})
		work <- t
	}
	close(work)
	wg.Wait()

	if p.dirty {
		if err := saveState(ctx, o.Destination, o.StateFile, state); err != nil {
			report.StateError = errors.Join(report.StateError, err)
			o.Logger.Warn(err.Error())
		}
	}
	sortResults(report.Results)
	if fatalErr != nil {
		return report, fatalErr
	}
	if err := ctx.Err(); err != nil {
		return report, err
	}
	return report, nil
}

// fatal reports errors that would fail every other file too: a refused token, a cancelled run.
func fatal(ctx context.Context, err error) bool {
	return errors.Is(err, ErrUnauthorized) || ctx.Err() != nil
}

func sortResults(rs []Result) {
	slices.SortStableFunc(rs, func(a, b Result) int {
		if c := strings.Compare(a.Resource, b.Resource); c != 0 {
			return c
		}
		return strings.Compare(a.Language, b.Language)
	})
}

type puller struct {
	c      *Client
	cfg    *Config
	o      PullOptions
	state  *PullState
	report *Report

	mu          sync.Mutex
	projects    map[string]*Project
	dirty       bool
	done, total int
}

func (p *puller) event(e Event) {
	if p.o.Progress == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	e.Done, e.Total = p.done, p.total
	p.o.Progress(e)
}

func (p *puller) finish(r Result) {
	p.mu.Lock()
	p.report.Results = append(p.report.Results, r)
	p.done++
	p.total = max(p.total, p.done)
	e := Event{Resource: r.Resource, Language: r.Language, Path: r.Path, Result: &r, Done: p.done, Total: p.total}
	if p.o.Progress != nil {
		p.o.Progress(e)
	}
	p.mu.Unlock()
	attrs := []slog.Attr{slog.String("resource", r.Resource), slog.String("language", r.Language), slog.String("path", r.Path), slog.String("status", string(r.Status))}
	switch {
	case r.Err != nil:
		p.o.Logger.LogAttrs(context.Background(), slog.LevelError, "transifex: pull failed", append(attrs, slog.String("error", r.Err.Error()))...)
	case r.Reason != "":
		p.o.Logger.LogAttrs(context.Background(), slog.LevelDebug, "transifex: pull", append(attrs, slog.String("reason", r.Reason))...)
	default:
		p.o.Logger.LogAttrs(context.Background(), slog.LevelDebug, "transifex: pull", attrs...)
	}
}

func (p *puller) project(ctx context.Context, id string) (*Project, error) {
	if pr, ok := p.projects[id]; ok {
		return pr, nil
	}
	pr, err := p.c.Project(ctx, id)
	if err != nil {
		return nil, err
	}
	p.projects[id] = pr
	return pr, nil
}

// projectStats fetches the project (for its source language) and the statistics of its
// resources, keyed by resource ID.
func (p *puller) projectStats(ctx context.Context, pid string, rs []*ResourceConfig) (map[string][]LanguageStats, error) {
	if _, err := p.project(ctx, pid); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("project %s not found on Transifex: %w", pid, err)
		}
		return nil, err
	}
	f := StatsFilter{}
	if len(rs) == 1 {
		f.Resource = rs[0].ID
	}
	stats, err := p.c.ResourceLanguageStats(ctx, pid, f)
	if err != nil {
		if errors.Is(err, ErrNotFound) && len(rs) == 1 {
			return nil, fmt.Errorf("resource not found on Transifex: %w", err)
		}
		return nil, err
	}
	out := map[string][]LanguageStats{}
	for _, s := range stats {
		out[s.Resource] = append(out[s.Resource], s)
	}
	return out, nil
}

// plan lists the languages of one resource to pull, recording skips and failures as results.
func (p *puller) plan(ctx context.Context, r *ResourceConfig, all map[string][]LanguageStats) ([]pullTask, error) {
	proj := p.projects[r.ProjectID()]
	remote := map[string]LanguageStats{}
	for _, s := range all[r.ID] {
		remote[s.Language] = s
	}
	if len(remote) == 0 {
		return nil, fmt.Errorf("%w: resource %s not found on Transifex (it has no statistics)", ErrNotFound, r.ID)
	}
	want := map[string]bool{}
	for _, l := range p.o.Languages {
		want[l] = true
	}
	matched := map[string]bool{}
	var tasks []pullTask
	codes := make([]string, 0, len(remote))
	for code := range remote {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	for _, code := range codes {
		if code == proj.SourceLanguage {
			continue
		}
		local := p.cfg.LocalLanguage(r, code)
		explicit := want[code] || want[local]
		if len(want) > 0 && !explicit {
			continue
		}
		matched[code], matched[local] = true, true
		t := pullTask{res: r, remote: code, local: local, path: r.TranslationPath(local), stats: remote[code], explicit: explicit}
		base := Result{Resource: r.ID, Language: code, LocalLanguage: local, Path: t.path, Stats: &t.stats}
		existing, err := p.o.Destination.ReadFile(ctx, t.path)
		switch {
		case err == nil:
			t.existing = existing
		case !isNotExist(err):
			base.Status, base.Err = StatusFailed, fmt.Errorf("reading the local file: %w", err)
			p.finish(base)
			continue
		case !p.o.All && !explicit:
			base.Status, base.Reason = StatusSkipped, "no local file (pull it with --all or -l "+local+")"
			p.finish(base)
			continue
		}
		minPerc := r.MinimumPerc
		if p.o.MinimumPerc != nil {
			minPerc = *p.o.MinimumPerc
		}
		if minPerc > 0 {
			if pc := t.stats.Percent(p.o.Mode); pc < float64(minPerc) {
				base.Status, base.Reason = StatusSkipped, fmt.Sprintf("%.0f%% done, under the minimum of %d%%", pc, minPerc)
				p.finish(base)
				continue
			}
		}
		if !p.o.Force && t.existing != nil {
			if e, ok := p.state.Files[stateKey(r.ID, code)]; ok && e.unchanged(t.stats, p.o.Mode, t.path) && e.SHA256 == digest(t.existing) && p.compiled(ctx, r, t.path) {
				base.Status, base.Reason = StatusUnchanged, "unchanged since the last pull"
				p.finish(base)
				continue
			}
		}
		tasks = append(tasks, t)
	}
	for _, l := range p.o.Languages {
		if !matched[l] && l != proj.SourceLanguage {
			p.finish(Result{Resource: r.ID, Language: l, Status: StatusFailed,
				Err: fmt.Errorf("%w: language %s is not a target language of the resource", ErrNotFound, l)})
		}
	}
	return tasks, nil
}

// pull downloads, validates and writes one file.
func (p *puller) pull(ctx context.Context, t *pullTask) Result {
	res := Result{Resource: t.res.ID, Language: t.remote, LocalLanguage: t.local, Path: t.path, Stats: &t.stats}
	fail := func(err error) Result { res.Status, res.Err = StatusFailed, err; return res }
	data, err := p.c.DownloadTranslation(ctx, DownloadRequest{Resource: t.res.ID, Language: t.remote, Mode: p.o.Mode})
	if err != nil {
		return fail(err)
	}
	if err := p.o.Validate(t.res, t.remote, t.path, data); err != nil {
		return fail(err)
	}
	var mo []byte
	if p.o.Compile && isPO(t.res) {
		if mo, err = compilePO(t.path, data); err != nil {
			return fail(fmt.Errorf("%w: does not compile: %w", ErrInvalidFile, err))
		}
	}
	if err := p.o.Destination.WriteFile(ctx, t.path, data); err != nil {
		return fail(fmt.Errorf("writing %s: %w", t.path, err))
	}
	if mo != nil {
		if err := p.o.Destination.WriteFile(ctx, moName(t.path), mo); err != nil {
			return fail(fmt.Errorf("writing %s: %w", moName(t.path), err))
		}
	}
	res.Status, res.Bytes = StatusWritten, len(data)
	p.mu.Lock()
	p.state.Files[stateKey(t.res.ID, t.remote)] = StateEntry{
		Resource: t.res.ID, Language: t.remote, Path: t.path, Mode: p.o.Mode, SHA256: digest(data),
		LastUpdate: t.stats.LastUpdate, TotalStrings: t.stats.TotalStrings, TranslatedStrings: t.stats.TranslatedStrings,
		ReviewedStrings: t.stats.ReviewedStrings, ProofreadStrings: t.stats.ProofreadStrings, PulledAt: p.c.clock.Now().UTC(),
	}
	p.dirty = true
	p.mu.Unlock()
	return res
}

// compiled reports whether the MO file a Compile pull needs is there (true without Compile).
func (p *puller) compiled(ctx context.Context, r *ResourceConfig, po string) bool {
	if !p.o.Compile || !isPO(r) {
		return true
	}
	_, err := p.o.Destination.ReadFile(ctx, moName(po))
	return err == nil
}
