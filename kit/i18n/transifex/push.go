package transifex

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
)

// PushOptions are tx push's options.
type PushOptions struct {
	// Resources selects resources as -r does; none selects all.
	Resources []string
	// Source uploads the source files; Translations the translation files. Neither means
	// Source, as tx push does.
	Source       bool
	Translations bool
	// Languages limits the translation files pushed, by remote or local code.
	Languages []string
	// KeepTranslations keeps translations of strings whose source text changed;
	// ReplaceEditedStrings overwrites strings edited in the Transifex editor.
	KeepTranslations     bool
	ReplaceEditedStrings bool
	// Workers bounds the uploads in flight (default DefaultWorkers).
	Workers int
	// Files is where the files are read (default os.DirFS(cfg.Root)).
	Files fs.FS
	// Progress, when set, receives an Event as each upload starts and ends.
	Progress func(Event)
	// Logger gets a line per result (default: the client's logger).
	Logger *slog.Logger
}

type pushTask struct {
	res    *ResourceConfig
	remote string // "" for the source
	local  string
	path   string
}

// Push uploads source files (creating a resource the project lacks, as tx does) and, with
// Translations, translation files, each as an async job it waits for. Source uploads go first;
// a resource whose source upload failed gets no translation uploads. Per-file failures are
// Results with StatusFailed; the error is for failures that stop everything.
func Push(ctx context.Context, c *Client, cfg *Config, o PushOptions) (*Report, error) {
	if !o.Source && !o.Translations {
		o.Source = true
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.Files == nil {
		if cfg.Root == "" {
			return nil, configErrorf("the configuration has no root directory and no files were given")
		}
		o.Files = os.DirFS(cfg.Root)
	}
	if o.Logger == nil {
		o.Logger = c.logger
	}
	resources, err := cfg.SelectResources(o.Resources)
	if err != nil {
		return nil, err
	}
	ps := &pusher{c: c, cfg: cfg, o: o, report: &Report{}, failedSource: map[string]bool{}, projects: map[string]*Project{}}

	if o.Source {
		var tasks []pushTask
		for _, r := range resources {
			if r.SourceFile == "" {
				ps.finish(Result{Resource: r.ID, Status: StatusFailed, Err: configErrorf("[%s] has no source_file", r.ID)})
				ps.failedSource[r.ID] = true
				continue
			}
			tasks = append(tasks, pushTask{res: r, path: path.Clean(strings.ReplaceAll(r.SourceFile, "\\", "/"))})
		}
		if err := ps.run(ctx, tasks); err != nil {
			return ps.done(), err
		}
	}
	if o.Translations {
		var tasks []pushTask
		for _, r := range resources {
			if ps.failedSource[r.ID] {
				ps.finish(Result{Resource: r.ID, Language: "*", Status: StatusSkipped, Reason: "the source upload failed"})
				continue
			}
			ts, err := ps.planTranslations(ctx, r)
			if err != nil {
				if fatal(ctx, err) {
					return ps.done(), err
				}
				ps.finish(Result{Resource: r.ID, Language: "*", Status: StatusFailed, Err: err})
				continue
			}
			tasks = append(tasks, ts...)
		}
		if err := ps.run(ctx, tasks); err != nil {
			return ps.done(), err
		}
	}
	return ps.done(), ctx.Err()
}

type pusher struct {
	c      *Client
	cfg    *Config
	o      PushOptions
	report *Report

	mu           sync.Mutex
	failedSource map[string]bool
	projects     map[string]*Project
	doneN, total int
}

func (ps *pusher) done() *Report {
	sortResults(ps.report.Results)
	return ps.report
}

func (ps *pusher) finish(r Result) {
	ps.mu.Lock()
	ps.report.Results = append(ps.report.Results, r)
	ps.doneN++
	ps.total = max(ps.total, ps.doneN)
	if ps.o.Progress != nil {
		ps.o.Progress(Event{Resource: r.Resource, Language: r.Language, Path: r.Path, Result: &r, Done: ps.doneN, Total: ps.total})
	}
	ps.mu.Unlock()
	attrs := []slog.Attr{slog.String("resource", r.Resource), slog.String("language", r.Language), slog.String("path", r.Path), slog.String("status", string(r.Status))}
	if r.Err != nil {
		ps.o.Logger.LogAttrs(context.Background(), slog.LevelError, "transifex: push failed", append(attrs, slog.String("error", r.Err.Error()))...)
	} else {
		ps.o.Logger.LogAttrs(context.Background(), slog.LevelDebug, "transifex: push", attrs...)
	}
}

// run uploads tasks with bounded workers; a refused token stops the rest.
func (ps *pusher) run(ctx context.Context, tasks []pushTask) error {
	ps.mu.Lock()
	ps.total += len(tasks)
	ps.mu.Unlock()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var fatalErr error
	var once sync.Once
	work := make(chan *pushTask)
	var wg sync.WaitGroup
	for range min(ps.o.Workers, max(len(tasks), 1)) {
		wg.Go(func() {
			for t := range work {
				r := ps.push(wctx, t)
				if r.Err != nil && fatal(wctx, r.Err) && !errors.Is(r.Err, context.Canceled) {
					once.Do(func() { fatalErr = r.Err; cancel() })
				}
				ps.finish(r)
			}
		})
	}
	for i := range tasks {
		if wctx.Err() != nil {
			break
		}
		t := &tasks[i]
		if ps.o.Progress != nil {
			ps.mu.Lock()
			ps.o.Progress(Event{Resource: t.res.ID, Language: t.remote, Path: t.path, Done: ps.doneN, Total: ps.total})
			ps.mu.Unlock()
		}
		work <- t
	}
	close(work)
	wg.Wait()
	if fatalErr != nil {
		return fatalErr
	}
	return ctx.Err()
}

func (ps *pusher) push(ctx context.Context, t *pushTask) Result {
	res := Result{Resource: t.res.ID, Language: t.remote, LocalLanguage: t.local, Path: t.path}
	fail := func(err error) Result {
		res.Status, res.Err = StatusFailed, err
		if t.remote == "" {
			ps.mu.Lock()
			ps.failedSource[t.res.ID] = true
			ps.mu.Unlock()
		}
		return res
	}
	data, err := fs.ReadFile(ps.o.Files, t.path)
	if err != nil {
		return fail(fmt.Errorf("reading %s: %w", t.path, err))
	}
	res.Bytes = len(data)
	if t.remote != "" {
		tr, err := ps.c.UploadTranslation(ctx, TranslationUpload{Resource: t.res.ID, Language: t.remote, Content: data})
		if err != nil {
			return fail(err)
		}
		res.Status, res.Translation = StatusWritten, tr
		return res
	}
	if _, err := ps.c.Resource(ctx, t.res.ID); err != nil {
		if !errors.Is(err, ErrNotFound) {
			return fail(err)
		}
		if t.res.Type == "" {
			return fail(fmt.Errorf("resource not found on Transifex, and [%s] has no type to create it with: %w", t.res.ID, err))
		}
		name := t.res.ResourceName
		if name == "" {
			name = path.Base(t.path)
		}
		if _, err := ps.c.CreateResource(ctx, NewResource{Project: t.res.ProjectID(), Slug: t.res.Slug, Name: name, Format: t.res.Type}); err != nil {
			return fail(fmt.Errorf("creating the resource: %w", err))
		}
		res.Reason = "resource created"
	}
	sr, err := ps.c.UploadSource(ctx, SourceUpload{Resource: t.res.ID, Content: data,
		KeepTranslations: ps.o.KeepTranslations, ReplaceEditedStrings: ps.o.ReplaceEditedStrings})
	if err != nil {
		return fail(err)
	}
	res.Status, res.Source = StatusWritten, sr
	return res
}

func (ps *pusher) sourceLanguage(ctx context.Context, r *ResourceConfig) (string, error) {
	if r.SourceLang != "" {
		return r.SourceLang, nil
	}
	ps.mu.Lock()
	pr, ok := ps.projects[r.ProjectID()]
	ps.mu.Unlock()
	if !ok {
		var err error
		if pr, err = ps.c.Project(ctx, r.ProjectID()); err != nil {
			return "", err
		}
		ps.mu.Lock()
		ps.projects[r.ProjectID()] = pr
		ps.mu.Unlock()
	}
	return pr.SourceLanguage, nil
}

func (ps *pusher) planTranslations(ctx context.Context, r *ResourceConfig) ([]pushTask, error) {
	files, err := FindTranslations(ps.o.Files, r)
	if err != nil {
		return nil, err
	}
	src, err := ps.sourceLanguage(ctx, r)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, l := range ps.o.Languages {
		want[l] = true
	}
	locals := make([]string, 0, len(files))
	for l := range files {
		locals = append(locals, l)
	}
	slices.Sort(locals)
	var tasks []pushTask
	for _, local := range locals {
		remote := ps.cfg.RemoteLanguage(r, local)
		if remote == src || local == src {
			continue
		}
		if len(want) > 0 && !want[remote] && !want[local] {
			continue
		}
		tasks = append(tasks, pushTask{res: r, remote: remote, local: local, path: files[local]})
	}
	return tasks, nil
}
