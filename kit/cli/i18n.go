package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/stackkit/stackkit/kit/i18n"
	"github.com/stackkit/stackkit/kit/i18n/extract"
)

// defaultLocaleDir is where catalogs live unless --locale-dir or KIT_LOCALE_DIR say otherwise:
// <dir>/<lang>/LC_MESSAGES/<domain>.po, Django's layout.
const defaultLocaleDir = "./locale"

func (a *app) i18nCommand() *cobra.Command {
	var localeDir string
	cmd := &cobra.Command{
		Use:   "i18n",
		Short: "Extract messages, compile catalogs, show translation statistics",
		Long: `Translation catalogs in gettext's layout: <locale-dir>/<domain>.pot (the template) and
<locale-dir>/<lang>/LC_MESSAGES/<domain>.po and .mo. The workflow: mark messages in code with
i18n.T/N/P/NP (and {{t}} {{n}} {{p}} {{np}} in templates), "i18n extract" them, translate the
.po files, "i18n compile" them, and serve them with kit/i18n.`,
	}
	group(cmd)
	cmd.PersistentFlags().StringVar(&localeDir, "locale-dir", "", "catalog directory (env KIT_LOCALE_DIR; default "+defaultLocaleDir+")")
	dir := func() string {
		if localeDir != "" {
			return localeDir
		}
		return envOr("KIT_LOCALE_DIR", defaultLocaleDir)
	}

	var (
		source, domain, project string
		langs, templateExts     []string
		tests                   bool
	)
	extractCmd := &cobra.Command{
		Use:   "extract",
		Short: "Write the .pot from Go source and templates, and merge it into every .po (as msgmerge)",
		Long: `Scan the Go files and templates under --source for translatable messages (calls of kit/i18n's
T, N, P, NP and Lazy* functions, and the t, n, p, np template functions), write
<locale-dir>/<domain>.pot, and merge it into every <locale-dir>/<lang>/LC_MESSAGES/<domain>.po as
msgmerge does: translations kept, changed messages matched to their nearest old msgid and marked
fuzzy, removed ones made obsolete (#~). --lang creates the .po of a new language.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(domain) == "" || strings.ContainsAny(domain, `/\`) {
				return usagef("--domain %q: want a file name without extension", domain)
			}
			for _, l := range langs {
				if !validLangDir(l) {
					return usagef("--lang %q: want a locale name such as de or pt_BR", l)
				}
			}
			pot, warnings, err := extract.Dir(source, extract.Options{TemplateExts: templateExts, Tests: tests, Project: project, Skip: skipLocaleDir(source, dir())})
			if err != nil {
				return err
			}
			for _, w := range warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
			}
			out := cmd.OutOrStdout()
			potPath := filepath.Join(dir(), domain+".pot")
			pot.Name = potPath
			potData := pot.Bytes()
			if old, err := os.ReadFile(potPath); err == nil && sameExceptDate(old, potData) {
				// Nothing changed but the date: keep the file, so version control sees no change.
				potData = old
				if pot, err = i18n.ParsePOBytes(old, potPath); err != nil {
					return err
				}
			} else if err := writeFileAtomic(potPath, potData); err != nil {
				return err
			}
			fmt.Fprintf(out, "%s: %d messages\n", potPath, len(pot.Messages))

			pos, err := findPO(dir(), domain)
			if err != nil {
				return err
			}
			have := map[string]bool{}
			for _, p := range pos {
				have[p.lang] = true
			}
			for _, l := range langs {
				if !have[l] {
					p := filepath.Join(dir(), l, "LC_MESSAGES", domain+".po")
					nf := i18n.NewPO(pot, l)
					nf.Name = p
					if err := writeFileAtomic(p, nf.Bytes()); err != nil {
						return err
					}
					printStats(out, "created "+p, nf.Stats())
				}
			}
			for _, p := range pos {
				data, err := os.ReadFile(p.path)
				if err != nil {
					return err
				}
				def, err := i18n.ParsePOBytes(data, p.path)
				if err != nil {
					return err
				}
				merged := i18n.Merge(def, pot)
				mdata := merged.Bytes()
				if bytes.Equal(mdata, data) {
					printStats(out, "unchanged "+p.path, merged.Stats())
					continue
				}
				if err := writeFileAtomic(p.path, mdata); err != nil {
					return err
				}
				printStats(out, "updated "+p.path, merged.Stats())
			}
			return nil
		},
	}
	f := extractCmd.Flags()
	f.StringVar(&source, "source", ".", "directory to scan for Go files and templates")
	f.StringVar(&domain, "domain", i18n.DefaultDomain, "catalog name: <domain>.pot, <lang>/LC_MESSAGES/<domain>.po")
	f.StringSliceVar(&langs, "lang", nil, "create the .po of these languages if missing (repeatable: --lang de --lang pt_BR)")
	f.StringSliceVar(&templateExts, "template-ext", nil, "template file extensions (default .html,.tmpl,.gohtml,.tpl)")
	f.BoolVar(&tests, "tests", false, "scan _test.go files too")
	f.StringVar(&project, "project", "", "Project-Id-Version of the .pot")

	compileCmd := &cobra.Command{
		Use:   "compile",
		Short: "Compile every .po under the locale directory into the .mo beside it (as msgfmt --check-format)",
		Long: `Compile every <locale-dir>/<lang>/LC_MESSAGES/*.po into the .mo beside it, as msgfmt does:
fuzzy and untranslated entries are left out, and the checks of msgfmt --check-format apply
(placeholders of go-format, c-format and python-brace-format messages match their msgid's; the
Plural-Forms header parses and matches every plural entry). Each .mo is replaced atomically.
Any error fails the command (exit 1), naming file:line; a .po with errors leaves its old .mo.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pos, err := findPO(dir(), "")
			if err != nil {
				return err
			}
			if len(pos) == 0 {
				return fmt.Errorf("no .po files under %s (want <lang>/LC_MESSAGES/<domain>.po)", dir())
			}
			var errs []error
			for _, p := range pos {
				n, err := compilePO(p.path)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d messages -> %s\n", p.path, n, moPath(p.path))
			}
			if len(errs) > 0 {
				return fmt.Errorf("compile failed:\n%w", errors.Join(errs...))
			}
			return nil
		},
	}

	statsCmd := &cobra.Command{
		Use:   "stats",
		Short: "Translated, fuzzy and untranslated messages per language",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pos, err := findPO(dir(), "")
			if err != nil {
				return err
			}
			if len(pos) == 0 {
				return fmt.Errorf("no .po files under %s", dir())
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "LANGUAGE\tDOMAIN\tTRANSLATED\tFUZZY\tUNTRANSLATED\tOBSOLETE\tDONE")
			for _, p := range pos {
				f, err := readPO(p.path)
				if err != nil {
					return err
				}
				s := f.Stats()
				done := 100.0
				if s.Total() > 0 {
					done = 100 * float64(s.Translated) / float64(s.Total())
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%.0f%%\n", p.lang, p.domain, s.Translated, s.Fuzzy, s.Untranslated, s.Obsolete, done)
			}
			return tw.Flush()
		},
	}

	cmd.AddCommand(extractCmd, compileCmd, statsCmd)
	cmd.AddCommand(a.i18nPullCommand(), a.i18nPushCommand()) // Transifex: i18n_transifex.go
	cmd.AddCommand(a.i18nSyncCommand())                      // the i18nsync worker: i18n_sync.go
	return cmd
}

type poFile struct {
	path, lang, domain string
}

// findPO lists <dir>/<lang>/LC_MESSAGES/<domain>.po (any domain when domain is ""), sorted.
func findPO(dir, domain string) ([]poFile, error) {
	pattern := "*.po"
	if domain != "" {
		pattern = domain + ".po"
	}
	matches, err := filepath.Glob(filepath.Join(dir, "*", "LC_MESSAGES", pattern))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) && domain == "" {
		return nil, fmt.Errorf("locale directory %s does not exist", dir)
	}
	slices.Sort(matches)
	out := make([]poFile, 0, len(matches))
	for _, m := range matches {
		lang := filepath.Base(filepath.Dir(filepath.Dir(m)))
		out = append(out, poFile{path: m, lang: lang, domain: strings.TrimSuffix(filepath.Base(m), ".po")})
	}
	return out, nil
}

// readPO reads and parses the PO file at path; errors name it (with the line, for bad syntax).
func readPO(path string) (*i18n.POFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return i18n.ParsePOBytes(data, path)
}

func moPath(po string) string { return strings.TrimSuffix(po, ".po") + ".mo" }

// compilePO compiles one .po into the .mo beside it; it returns the number of messages.
func compilePO(path string) (int, error) {
	f, err := readPO(path)
	if err != nil {
		return 0, err
	}
	c, err := i18n.Compile(f)
	if err != nil {
		return 0, err
	}
	mo, err := i18n.MOBytes(c)
	if err != nil {
		return 0, err
	}
	return len(c.Messages), writeFileAtomic(moPath(path), mo)
}

// writeFileAtomic writes data to a temporary file beside path and renames it over path, so a
// reader (or a crash) sees the old file or the new one, never half of one.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// sameExceptDate reports whether two .pot files differ only in POT-Creation-Date.
func sameExceptDate(a, b []byte) bool {
	strip := func(d []byte) []byte {
		var out [][]byte
		for _, line := range bytes.Split(d, []byte("\n")) {
			if !bytes.HasPrefix(line, []byte(`"POT-Creation-Date:`)) {
				out = append(out, line)
			}
		}
		return bytes.Join(out, []byte("\n"))
	}
	return bytes.Equal(strip(a), strip(b))
}

// skipLocaleDir keeps extraction out of the locale directory when it lies under the source.
func skipLocaleDir(source, localeDir string) []string {
	rel, err := filepath.Rel(source, localeDir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return nil
	}
	return []string{filepath.ToSlash(rel)}
}

func validLangDir(l string) bool {
	if l == "" || len(l) > 35 {
		return false
	}
	for _, c := range l {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '@') {
			return false
		}
	}
	return true
}

func printStats(w interface{ Write([]byte) (int, error) }, what string, s i18n.Stats) {
	fmt.Fprintf(w, "%s: %d translated, %d fuzzy, %d untranslated, %d obsolete\n", what, s.Translated, s.Fuzzy, s.Untranslated, s.Obsolete)
}
