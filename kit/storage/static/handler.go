package static

import (
	"errors"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stackkit/stackkit/kit/storage"
)

// DefaultMaxAge is how long clients may cache files served under unhashed names.
const DefaultMaxAge = time.Minute

// HandlerOptions configure [Handler].
type HandlerOptions struct {
	// MaxAge is the Cache-Control max-age for unhashed names (default DefaultMaxAge).
	MaxAge time.Duration
}

// Handler serves the static files in s, to be mounted with http.StripPrefix:
//
//	mux.Handle("/static/", http.StripPrefix("/static/", static.Handler(s, manifest, nil)))
//
// Hashed names from the manifest are served with "Cache-Control: public, max-age=31536000,
// immutable", every other name with a short max-age; all with ETags, Last-Modified, ranges and
// conditional requests. When the request accepts it and a precompressed variant is stored beside
// the file (name.br, name.gz, as Collect stores them), the variant is served with
// Content-Encoding, brotli first; a variant deleted meanwhile falls back to the next, then to the
// file itself. Responses carry "Vary: Accept-Encoding" and, the files being the app's own,
// "Content-Disposition: inline" (ServeObject would send HTML and SVG as attachments). Error
// answers carry neither Content-Encoding nor Cache-Control. m may be nil (no name counts as
// hashed).
func Handler(s *storage.Storage, m *Manifest, opts *HandlerOptions) http.Handler {
	h := &handler{s: s, m: m, short: "public, max-age=" + strconv.Itoa(int(DefaultMaxAge.Seconds()))}
	if opts != nil && opts.MaxAge > 0 {
		h.short = "public, max-age=" + strconv.Itoa(int(opts.MaxAge.Seconds()))
	}
	return h
}

type handler struct {
	s        *storage.Storage
	m        *Manifest
	short    string
	variants sync.Map // hashed name -> []string, the encodings stored beside it (immutable)
}

var encodings = []struct{ token, suffix string }{{"br", ".br"}, {"gzip", ".gz"}}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	if h.s.ValidateName(name) != nil {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Add("Vary", "Accept-Encoding")
	// ServeObject drops Cache-Control, Content-Encoding and Content-Disposition from its error
	// answers, so a 404 is never cached as immutable nor labelled as compressed.
	hashed := h.m != nil && h.m.IsHashed(name)
	if hashed {
		hdr.Set("Cache-Control", ImmutableCacheControl)
	} else {
		hdr.Set("Cache-Control", h.short)
	}
	// Static files are the app's own, not uploads: HTML and SVG among them are served inline.
	hdr.Set("Content-Disposition", "inline")
	accept := r.Header.Get("Accept-Encoding")
	stored, remembered := h.stored(r, name, hashed)
	for _, v := range stored {
		if !accepts(accept, v.token) {
			continue
		}
		for _, e := range encodings {
			if e.token != v.token {
				continue
			}
			a := v.attrs
			if remembered {
				var err error
				if a, err = h.s.Stat(r.Context(), name+e.suffix); err != nil {
					// Deleted since it was remembered (or unreadable): forget, try the next
					// encoding, then the identity file.
					h.variants.Delete(name)
					continue
				}
			}
			ct := mime.TypeByExtension(path.Ext(name))
			if ct == "" {
				if a, err := h.s.Stat(r.Context(), name); err == nil {
					ct = a.ContentType
				}
			}
			if ct != "" {
				hdr.Set("Content-Type", ct)
			}
			hdr.Set("Content-Encoding", v.token)
			h.s.ServeObjectAttrs(w, r, name+e.suffix, a)
			return
		}
	}
	h.s.ServeObject(w, r, name)
}

// variant is an encoding stored beside a file, with its attributes when just looked up.
type variant struct {
	token string
	attrs *storage.Attrs // nil when remembered
}

// stored returns the encodings with a variant stored beside name, best first, and whether the
// answer was remembered rather than looked up now. For hashed names, whose files never change,
// the answer is remembered (without attributes), and a remembered variant is checked again
// before it is served.
func (h *handler) stored(r *http.Request, name string, hashed bool) (found []variant, remembered bool) {
	if hashed {
		if v, ok := h.variants.Load(name); ok {
			return v.([]variant), true
		}
	}
	var tokens []variant
	for _, e := range encodings {
		a, err := h.s.Stat(r.Context(), name+e.suffix)
		if errors.Is(err, storage.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, false // serve the identity encoding; nothing remembered
		}
		found = append(found, variant{e.token, a})
		tokens = append(tokens, variant{token: e.token})
	}
	if hashed {
		h.variants.Store(name, tokens)
	}
	return found, false
}

// accepts reports whether an Accept-Encoding header value accepts enc with a non-zero q.
func accepts(header, enc string) bool {
	for part := range strings.SplitSeq(header, ",") {
		token, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(token), enc) && strings.TrimSpace(token) != "*" {
			continue
		}
		params = strings.ReplaceAll(params, " ", "")
		if q, ok := strings.CutPrefix(params, "q="); ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				if strings.TrimSpace(token) == "*" {
					continue
				}
				return false
			}
		}
		return true
	}
	return false
}
