package transifex

import (
	"errors"
	"fmt"
)

// Status is what happened to one (resource, language).
type Status string

// Statuses of a Result.
const (
	// StatusWritten: pulled and written (pull), or uploaded (push).
	StatusWritten Status = "written"
	// StatusUnchanged: the remote statistics match the last pull and the local file is as written.
	StatusUnchanged Status = "unchanged"
	// StatusSkipped: left alone on purpose (no local file without --all, under minimum_perc, ...).
	StatusSkipped Status = "skipped"
	// StatusFailed: an error; the previous local file, if any, is untouched.
	StatusFailed Status = "failed"
)

// Result is the outcome for one resource in one language. Language is the remote code; it is
// empty for a resource-wide failure (the resource does not exist) and for a source upload.
type Result struct {
	Resource      string
	Language      string
	LocalLanguage string
	Path          string // slash-separated, relative to the project's root
	Status        Status
	Reason        string // why skipped or unchanged
	Err           error  // why failed, with the API's error detail
	Bytes         int
	// Stats are the remote statistics a pull acted on.
	Stats *LanguageStats
	// Source and Translation are a push's upload counts.
	Source      *SourceUploadResult
	Translation *TranslationUploadResult
}

func (r Result) String() string {
	lang := r.Language
	if lang == "" {
		lang = "source"
	}
	s := fmt.Sprintf("%s [%s] %s", r.Resource, lang, r.Status)
	if r.Path != "" {
		s += " " + r.Path
	}
	switch {
	case r.Err != nil:
		s += ": " + r.Err.Error()
	case r.Reason != "":
		s += " (" + r.Reason + ")"
	}
	return s
}

// Report is every Result of a Pull or Push, sorted by resource and language.
type Report struct {
	Results []Result
	// StateError is a problem with the pull state file (unreadable, or not saved); the files
	// themselves are as the results say.
	StateError error
}

// Count returns how many results have status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, x := range r.Results {
		if x.Status == s {
			n++
		}
	}
	return n
}

// Failed returns the failed results.
func (r *Report) Failed() []Result {
	var out []Result
	for _, x := range r.Results {
		if x.Status == StatusFailed {
			out = append(out, x)
		}
	}
	return out
}

// Err joins the failures' errors; nil when nothing failed. A caller exits non-zero on it (unlike
// tx, which exits 0 when a resource is missing).
func (r *Report) Err() error {
	var errs []error
	for _, x := range r.Failed() {
		lang := x.Language
		if lang == "" {
			lang = "source"
		}
		errs = append(errs, fmt.Errorf("%s [%s]: %w", x.Resource, lang, x.Err))
	}
	return errors.Join(errs...)
}

// Event reports progress: once when a file's work starts (Result nil) and once when it ends.
// Done counts the ended ones out of Total. Events are delivered one at a time.
type Event struct {
	Resource string
	Language string
	Path     string
	Result   *Result
	Done     int
	Total    int
}
