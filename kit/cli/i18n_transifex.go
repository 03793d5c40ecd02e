package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/stackkit/stackkit/kit/i18n/transifex"
	"golang.org/x/time/rate"
)

// I18nPullCommand returns "pull" (kitctl i18n pull) alone, for a service that builds its own
// i18n group.
func I18nPullCommand(opts ...Option) *cobra.Command { return newApp(opts).i18nPullCommand() }

// I18nPushCommand returns "push" (kitctl i18n push) alone.
func I18nPushCommand(opts ...Option) *cobra.Command { return newApp(opts).i18nPushCommand() }

const txConfigHelp = `The project is described by tx's own .tx/config, found in the current directory or a parent
(or named with --config), so a project set up for the tx CLI works unchanged:

  [main]
  host = https://www.transifex.com
  lang_map = pt_BR: pt-br             # remote code: local code

  [o:ORGANIZATION:p:PROJECT:r:RESOURCE]
  file_filter = locale/<lang>/LC_MESSAGES/django.po
  source_file = locale/en/LC_MESSAGES/django.po
  source_lang = en
  type = PO
  minimum_perc = 0                    # skip languages less done than this
  trans.fr = other/place/fr.po        # one language's file elsewhere
  lang_map = ...                      # per resource, over [main]'s

The API token comes from KIT_TRANSIFEX_TOKEN, else TX_TOKEN, else the token key of the
~/.transifexrc section named by [main] host (whose rest_hostname is the API address, as tx reads
it). The token is never printed.`

// transifexFlags are the flags pull and push share.
type transifexFlags struct {
	config       string
	resources    []string
	languages    []string
	workers      int
	timeout      time.Duration
	rate         float64
	restHostname string
}

func (f *transifexFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "path of .tx/config (default: .tx/config in the current directory or a parent)")
	fl.StringSliceVarP(&f.resources, "resources", "r", nil, "resources to act on, as project.resource or o:ORG:p:PROJECT:r:RESOURCE, * as wildcard (default all)")
	fl.StringSliceVarP(&f.languages, "languages", "l", nil, "languages to act on, by remote or local code (comma-separated)")
	fl.IntVar(&f.workers, "workers", transifex.DefaultWorkers, "files in flight at once")
	fl.DurationVar(&f.timeout, "timeout", transifex.DefaultOperationTimeout, "deadline of each file's job, retries and polling included")
	fl.Float64Var(&f.rate, "rate", float64(transifex.DefaultRate), "API requests per second, shared by all workers (Transifex allows about 8)")
	fl.StringVar(&f.restHostname, "rest-hostname", "", "API address (default: rest_hostname from ~/.transifexrc, else "+transifex.DefaultRestHostname+")")
}

// open loads .tx/config and builds the client.
func (f *transifexFlags) open(cmd *cobra.Command, a *app, logTo io.Writer) (*transifex.Config, *transifex.Client, error) {
	if f.workers < 1 {
		return nil, nil, usagef("--workers must be at least 1")
	}
	if f.rate <= 0 {
		return nil, nil, usagef("--rate must be positive")
	}
	if f.timeout <= 0 {
		return nil, nil, usagef("--timeout must be positive")
	}
	path := f.config
	if path == "" {
		var err error
		if path, err = transifex.FindConfig("."); err != nil {
			return nil, nil, err
		}
	}
	cfg, err := transifex.LoadConfig(path)
	if err != nil {
		return nil, nil, err
	}
	creds, err := transifex.ResolveCredentials(cfg, transifex.CredentialOptions{RestHostname: f.restHostname})
	if err != nil {
		return nil, nil, err
	}
	logger, err := a.logger(logTo)
	if err != nil {
		return nil, nil, err
	}
	burst := max(1, int(f.rate))
	c, err := transifex.NewFromCredentials(creds,
		transifex.WithLogger(logger),
		transifex.WithOperationTimeout(f.timeout),
		transifex.WithRateLimit(rate.Limit(f.rate), burst),
		transifex.WithUserAgent(a.name+" (stackkit)"),
	)
	if err != nil {
		return nil, nil, err
	}
	return cfg, c, nil
}

// progress prints each result as a plain line on stdout and, on a terminal, keeps a live line on
// stderr naming the files in flight; log lines go through it so they do not tear that line.
type progress struct {
	mu          sync.Mutex
	out, err    io.Writer
	tty         bool
	verb        string
	shown       bool
	inFlight    []string
	done, total int
}

func newProgress(cmd *cobra.Command, verb string) *progress {
	return &progress{out: cmd.OutOrStdout(), err: cmd.ErrOrStderr(), tty: isTerminal(cmd.ErrOrStderr()), verb: verb}
}

// isTerminal reports whether w is a character device (a terminal), without a dependency.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func langLabel(l string) string {
	if l == "" {
		return "source"
	}
	return l
}

func shortResource(id string) string {
	if i := strings.LastIndex(id, ":"); i >= 0 {
		return id[i+1:]
	}
	return id
}

func (p *progress) clear() {
	if p.tty && p.shown {
		fmt.Fprint(p.err, "\r\033[K")
		p.shown = false
	}
}

func (p *progress) draw() {
	if !p.tty || p.total == 0 || p.done >= p.total {
		return
	}
	line := fmt.Sprintf("[%d/%d] %s", p.done, p.total, p.verb)
	for i, f := range p.inFlight {
		if len(line)+len(f) > 100 {
			line += fmt.Sprintf(" +%d", len(p.inFlight)-i)
			break
		}
		line += " " + f
	}
	fmt.Fprint(p.err, line)
	p.shown = true
}

// Write lets log lines through without tearing the live line.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	n, err := p.err.Write(b)
	p.draw()
	return n, err
}

func (p *progress) event(e transifex.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	p.done, p.total = e.Done, e.Total
	key := shortResource(e.Resource) + " [" + langLabel(e.Language) + "]"
	r := e.Result
	if r == nil {
		p.inFlight = append(p.inFlight, key)
	} else if i := slices.Index(p.inFlight, key); i >= 0 {
		p.inFlight = slices.Delete(p.inFlight, i, i+1)
	}
	if r != nil && r.Status != transifex.StatusUnchanged {
		line := fmt.Sprintf("%-9s %s [%s]", r.Status, r.Resource, langLabel(r.Language))
		if r.Path != "" {
			line += " " + r.Path
		}
		switch {
		case r.Err != nil:
			line += ": " + r.Err.Error()
		case r.Reason != "":
			line += " (" + r.Reason + ")"
		case r.Source != nil:
			line += fmt.Sprintf(" (%d created, %d updated, %d deleted, %d unchanged)", r.Source.Created, r.Source.Updated, r.Source.Deleted, r.Source.Skipped)
		case r.Translation != nil:
			line += fmt.Sprintf(" (%d created, %d updated)", r.Translation.Created, r.Translation.Updated)
		}
		fmt.Fprintln(p.out, line)
	}
	p.draw()
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

// finish prints the summary and turns failures into exit code 1.
func finish(cmd *cobra.Command, rep *transifex.Report, what string, err error) error {
	if rep != nil {
		fmt.Fprintf(cmd.OutOrStdout(), "%s: %d written, %d unchanged, %d skipped, %d failed\n", what,
			rep.Count(transifex.StatusWritten), rep.Count(transifex.StatusUnchanged), rep.Count(transifex.StatusSkipped), rep.Count(transifex.StatusFailed))
		if rep.StateError != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: %v\n", rep.StateError)
		}
	}
	if err != nil {
		return err
	}
	if n := len(rep.Failed()); n > 0 {
		return fmt.Errorf("%s: %d of %d failed (see above)", what, n, len(rep.Results))
	}
	return nil
}

func (a *app) i18nPullCommand() *cobra.Command {
	var f transifexFlags
	var all, force, compile bool
	var mode, stateFile string
	var minPerc int
	cmd := &cobra.Command{
		Use:           "pull",
		SilenceErrors: true,
		SilenceUsage:  true,
		Short:         "Download translations from Transifex (tx pull), writing each file atomically",
		Long: `Download translations from Transifex as tx pull does: the statistics of each resource, then for
each language an asynchronous download job whose file is checked before it replaces the local one
(a PO file must parse and have its header; with --compile it must also compile). A failed file
keeps the previous one, its error (with the API's detail) is printed, and the exit code is 1.

By default only languages that already have a local file are pulled; --all also creates the
others, and -l names languages (by remote or local code). A file whose remote statistics (last
update and string counts) and mode have not changed since the last pull, and whose local bytes
are still the ones written, is skipped; that state is kept in --state-file, not in file times.
--force pulls everything. Modes: ` + strings.Join(transifex.Modes, ", ") + `.

` + txConfigHelp,
		Example: `  kitctl i18n pull                      # languages with a local file
  kitctl i18n pull --all --compile      # every language, and the .mo files
  kitctl i18n pull -r shop.web -l de,fr --mode reviewed --minimum-perc 80`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !transifex.ValidMode(mode) {
				return usagef("--mode %q: want one of %s", mode, strings.Join(transifex.Modes, ", "))
			}
			o := transifex.PullOptions{Resources: f.resources, Languages: f.languages, All: all, Mode: mode,
				Force: force, Workers: f.workers, Compile: compile, StateFile: stateFile}
			if cmd.Flags().Changed("minimum-perc") {
				if minPerc < 0 || minPerc > 100 {
					return usagef("--minimum-perc must be from 0 to 100")
				}
				o.MinimumPerc = &minPerc
			}
			p := newProgress(cmd, "pulling")
			cfg, c, err := f.open(cmd, a, p)
			if err != nil {
				return err
			}
			// Results are printed as they come; the library's own per-file log lines would repeat them.
			o.Progress, o.Logger = p.event, slog.New(slog.DiscardHandler)
			rep, err := transifex.Pull(cmd.Context(), c, cfg, o)
			p.finish()
			return finish(cmd, rep, "pull", err)
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "also pull languages that have no local file yet")
	fl.BoolVarP(&force, "force", "f", false, "pull even files unchanged since the last pull")
	fl.BoolVar(&compile, "compile", false, "also write each pulled PO file's compiled .mo beside it (nothing is written if it does not compile)")
	fl.StringVar(&mode, "mode", "default", "download mode: "+strings.Join(transifex.Modes, ", "))
	fl.IntVar(&minPerc, "minimum-perc", 0, "skip languages less done than this percentage (default: each resource's minimum_perc)")
	fl.StringVar(&stateFile, "state-file", transifex.DefaultStateFile, "where the last pull's state is kept, relative to the project root")
	return cmd
}

func (a *app) i18nPushCommand() *cobra.Command {
	var f transifexFlags
	var source, translations, keep, replace bool
	cmd := &cobra.Command{
		Use:           "push",
		SilenceErrors: true,
		SilenceUsage:  true,
		Short:         "Upload source files (and with -t translations) to Transifex (tx push)",
		Long: `Upload source files to Transifex as tx push does, creating a resource the project lacks from the
section's type and resource_name, and print the strings created, updated and deleted. With -t the
translation files found through file_filter (and trans.<lang>) go up too, after their resource's
source; -l limits them. Each upload is an asynchronous job that is waited for; a failed one is
printed with the API's detail and the exit code is 1.

` + txConfigHelp,
		Example: `  kitctl i18n push                  # source files
  kitctl i18n push -s -t -l de      # source files and the German translations`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := newProgress(cmd, "pushing")
			cfg, c, err := f.open(cmd, a, p)
			if err != nil {
				return err
			}
			rep, err := transifex.Push(cmd.Context(), c, cfg, transifex.PushOptions{
				Resources: f.resources, Languages: f.languages, Source: source, Translations: translations,
				KeepTranslations: keep, ReplaceEditedStrings: replace, Workers: f.workers, Progress: p.event,
				Logger: slog.New(slog.DiscardHandler),
			})
			p.finish()
			return finish(cmd, rep, "push", err)
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.BoolVarP(&source, "source", "s", false, "push the source files (the default when -t is not given)")
	fl.BoolVarP(&translations, "translations", "t", false, "push the translation files")
	fl.BoolVar(&keep, "keep-translations", false, "keep translations of strings whose source text changed")
	fl.BoolVar(&replace, "replace-edited-strings", false, "overwrite strings edited in the Transifex editor")
	return cmd
}
