// Package txtest is an imitation of the Transifex API v3 for tests: an httptest server that
// speaks JSON:API as the API's OpenAPI description documents it (media type, error documents,
// cursor pagination through links.next, async download and upload jobs answering 202 with a
// Content-Location, a 303 to a file on a second host with its own credentials in the query),
// with faults to inject: 429 with or without Retry-After, 5xx, failed and never-ending jobs, and
// broken files. It also provides a virtual Clock.
//
//	srv := txtest.New(t)
//	srv.AddProject("o:acme:p:shop", "en", "de", "fr")
//	srv.AddResource("o:acme:p:shop:r:web", "PO", sourcePO)
//	srv.SetTranslation("o:acme:p:shop:r:web", "de", dePO, txtest.Stats{Total: 10, Translated: 10})
//	c, _ := transifex.New(srv.Token, transifex.WithBaseURL(srv.URL()), transifex.WithClock(txtest.NewClock()))
package txtest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// MediaType is the API's media type.
const MediaType = "application/vnd.api+json"

// ErrorObject is an entry of an error document or of a job's errors.
type ErrorObject struct {
	Status string `json:"status,omitempty"`
	Code   string `json:"code,omitempty"`
	Title  string `json:"title,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Stats set a language's statistics; words are derived (three per string).
type Stats struct {
	LastUpdate time.Time
	Total      int
	Translated int
	Reviewed   int
	Proofread  int
}

// Request is a request the server received.
type Request struct {
	Method        string
	Path          string
	RawQuery      string
	Authorization string
	ContentType   string
	Body          []byte
	// At is when the request arrived, on the server's clock (WithNow).
	At time.Time
	// Status is the status the server answered, and RetryAfter the Retry-After header it sent
	// (0 and "" while the request is being served).
	Status     int
	RetryAfter string
}

// Fault answers matching requests with a status instead of serving them.
type Fault struct {
	Method string // "" for any
	Path   string // path prefix; "" for any
	Status int
	// RetryAfter is the Retry-After header's value ("" for none): seconds or an HTTP date.
	RetryAfter string
	// RetryAt, when set, makes Retry-After the HTTP date of the moment the fault answers plus
	// RetryAt, rounded up to the next whole second (an HTTP date has no finer resolution).
	RetryAt time.Duration
	// After lets this many matching requests through before the fault answers.
	After int
	// Times is how many matching requests it answers (0 means 1; -1 every one).
	Times int
	// Detail is the error document's detail (a default per status when empty).
	Detail string
}

type project struct {
	id        string
	source    string
	languages []string
}

type resource struct {
	id, slug, name, format string
	project                string
	source                 []byte
	created, modified      time.Time
	translations           map[string][]byte
	stats                  map[string]Stats
}

type job struct {
	id, kind   string
	resource   string
	language   string
	mode       string
	polls      int // polls answered so far
	need       int // polls answered "processing" before the result; -1 never finishes
	failWith   []ErrorObject
	details    map[string]int
	fileID     string
	created    time.Time
	uploadData []byte
}

type file struct {
	location    string
	auth        string
	data        []byte
	status      int
	contentType string
}

type jobKey struct{ resource, language string }

type broken struct {
	status      int
	contentType string
	body        []byte
	location    string
}

// Server is the imitation. Its exported fields are set by New; change the data and faults with
// its methods, which are safe to call while requests run.
type Server struct {
	// Token is the one bearer token the API accepts.
	Token string
	// API is the API's server; Files is the separate file host downloads redirect to.
	API   *httptest.Server
	Files *httptest.Server

	mu        sync.Mutex
	pageSize  int
	jobPolls  int
	now       func() time.Time
	projects  map[string]*project
	resources map[string]*resource
	jobs      map[string]*job
	files     map[string]*file
	faults    []*Fault
	failJobs  map[jobKey][]ErrorObject
	slowJobs  map[jobKey]int
	broken    map[jobKey]broken
	requests  []Request
	fileReqs  []Request
	arrived   chan struct{} // closed and replaced on each API request
}

// Option configures a Server.
type Option func(*Server)

// WithPageSize sets the page size of collections (the API's is 150), to test pagination.
func WithPageSize(n int) Option { return func(s *Server) { s.pageSize = n } }

// WithJobPolls sets how many polls a job answers "processing" before its result (default 1).
func WithJobPolls(n int) Option { return func(s *Server) { s.jobPolls = n } }

// WithNow sets the server's time source (for dates in documents).
func WithNow(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// New starts the API and file servers; they close when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	s := &Server{
		Token:     "1/" + randHex(20),
		pageSize:  150,
		jobPolls:  1,
		now:       time.Now,
		projects:  map[string]*project{},
		resources: map[string]*resource{},
		jobs:      map[string]*job{},
		files:     map[string]*file{},
		failJobs:  map[jobKey][]ErrorObject{},
		slowJobs:  map[jobKey]int{},
		broken:    map[jobKey]broken{},
		arrived:   make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	s.API = httptest.NewServer(http.HandlerFunc(s.serveAPI))
	s.Files = httptest.NewServer(http.HandlerFunc(s.serveFile))
	t.Cleanup(func() { s.API.Close(); s.Files.Close() })
	return s
}

// URL is the API's address, for transifex.WithBaseURL.
func (s *Server) URL() string { return s.API.URL }

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func uuid() string {
	h := randHex(16)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

// AddProject adds a project ("o:org:p:proj") with its source language and target languages.
func (s *Server) AddProject(id, sourceLanguage string, languages ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projects[id] = &project{id: id, source: sourceLanguage, languages: slices.Clone(languages)}
}

// AddResource adds a resource ("o:org:p:proj:r:res") of an existing project, with its format
// ("PO") and source file.
func (s *Server) AddResource(id, format string, source []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addResource(id, format, id[strings.LastIndex(id, ":")+1:], source)
}

func (s *Server) addResource(id, format, name string, source []byte) *resource {
	pid := id[:strings.Index(id, ":r:")]
	now := s.now().UTC().Truncate(time.Second)
	r := &resource{id: id, slug: id[strings.LastIndex(id, ":")+1:], name: name, format: format, project: pid,
		source: source, created: now, modified: now, translations: map[string][]byte{}, stats: map[string]Stats{}}
	s.resources[id] = r
	return r
}

// SetTranslation sets a language's file and statistics.
func (s *Server) SetTranslation(resourceID, language string, content []byte, st Stats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.resources[resourceID]
	if r == nil {
		panic("txtest: SetTranslation on unknown resource " + resourceID)
	}
	if st.LastUpdate.IsZero() {
		st.LastUpdate = s.now().UTC().Truncate(time.Second)
	}
	r.translations[language] = slices.Clone(content)
	r.stats[language] = st
}

// Translation returns a language's current file (after uploads too).
func (s *Server) Translation(resourceID, language string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.resources[resourceID]; r != nil {
		return slices.Clone(r.translations[language])
	}
	return nil
}

// Source returns a resource's source file (after uploads too), nil for an unknown resource.
func (s *Server) Source(resourceID string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.resources[resourceID]; r != nil {
		return slices.Clone(r.source)
	}
	return nil
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every injected fault (those injected with Times -1 included): the outage
// is over.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// FailJob makes the jobs (downloads and uploads) of a resource in a language end "failed" with
// errs; language "" is the source upload.
func (s *Server) FailJob(resourceID, language string, errs ...ErrorObject) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failJobs[jobKey{resourceID, language}] = errs
}

// SlowJob makes those jobs answer "processing" polls times before the result; -1 for ever.
func (s *Server) SlowJob(resourceID, language string, polls int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slowJobs[jobKey{resourceID, language}] = polls
}

// BreakFile makes the file host answer the download of a language with status, content type
// and body instead of the file.
func (s *Server) BreakFile(resourceID, language string, status int, contentType string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.broken[jobKey{resourceID, language}] = broken{status: status, contentType: contentType, body: body}
}

// RedirectFile makes the file host answer the download of a language with a 302 to location, as
// a CDN may.
func (s *Server) RedirectFile(resourceID, language, location string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.broken[jobKey{resourceID, language}] = broken{status: http.StatusFound, location: location}
}

// Requests returns the API requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// FileRequests returns the file host's requests.
func (s *Server) FileRequests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.fileReqs)
}

// WaitRequests blocks until n API requests have arrived, or until done is closed (then false).
func (s *Server) WaitRequests(done <-chan struct{}, n int) bool {
	for {
		s.mu.Lock()
		got, ch := len(s.requests), s.arrived
		s.mu.Unlock()
		if got >= n {
			return true
		}
		select {
		case <-ch:
		case <-done:
			return false
		}
	}
}

// Count returns how many API requests had the method (or any, "") and a path with the prefix.
func (s *Server) Count(method, pathPrefix string) int {
	n := 0
	for _, r := range s.Requests() {
		if (method == "" || r.Method == method) && strings.HasPrefix(r.Path, pathPrefix) {
			n++
		}
	}
	return n
}

// ---- serving ----

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", MediaType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var defaultErrors = map[int]ErrorObject{
	400: {Code: "invalid", Title: "Field is invalid"},
	401: {Code: "unauthorized", Title: "Unauthorized", Detail: "Please verify your credentials"},
	403: {Code: "forbidden", Title: "Operation not allowed", Detail: "You do not have permissions to perform this action"},
	404: {Code: "not_found", Title: "Object not found", Detail: "Object not found. It may have been deleted or not been created yet"},
	409: {Code: "conflict", Title: "Conflict"},
	415: {Code: "unsupported_media_type", Title: "Unsupported media type"},
	429: {Code: "Throttled", Title: "Throttled", Detail: "Request was throttled. Expected available in 60 seconds."},
	500: {Code: "server_error", Title: "Something went wrong", Detail: "Something went wrong, please try again"},
}

func writeError(w http.ResponseWriter, status int, detail string) {
	e := defaultErrors[status]
	if e.Title == "" {
		e = ErrorObject{Code: strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_")), Title: http.StatusText(status)}
	}
	e.Status = strconv.Itoa(status)
	if detail != "" {
		e.Detail = detail
	}
	writeJSON(w, status, map[string]any{"errors": []ErrorObject{e}})
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	s.mu.Lock()
	at := s.now()
	idx := len(s.requests)
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Authorization: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: body, At: at})
	close(s.arrived)
	s.arrived = make(chan struct{})
	sw := &statusWriter{ResponseWriter: w}
	w = sw
	defer func() {
		s.mu.Lock()
		s.requests[idx].Status, s.requests[idx].RetryAfter = sw.status, sw.Header().Get("Retry-After")
		s.mu.Unlock()
	}()
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(r.URL.Path, f.Path) {
			if f.After > 0 {
				f.After--
				continue
			}
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					s.faults = slices.Delete(s.faults, i, i+1)
				}
			}
			s.mu.Unlock()
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			if f.RetryAt > 0 {
				w.Header().Set("Retry-After", roundUpSecond(at.Add(f.RetryAt)).UTC().Format(http.TimeFormat))
			}
			if f.Status >= 500 && f.Status != 500 {
				// Gateways answer 502/503/504 with their own page, not JSON:API.
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(f.Status)
				fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", f.Status, http.StatusText(f.Status))
				return
			}
			writeError(w, f.Status, f.Detail)
			return
		}
	}
	s.mu.Unlock()

	if r.Header.Get("Authorization") != "Bearer "+s.Token {
		writeError(w, http.StatusUnauthorized, "")
		return
	}
	if a := r.Header.Get("Accept"); a != "" && !strings.Contains(a, MediaType) && !strings.Contains(a, "*/*") && !strings.Contains(a, "application/json") {
		writeError(w, http.StatusNotAcceptable, "Accept "+MediaType)
		return
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPatch {
		if mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(mt) != MediaType {
			writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be "+MediaType)
			return
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && len(parts) == 2 && parts[0] == "projects":
		s.getProject(w, parts[1])
	case r.Method == http.MethodGet && len(parts) == 2 && parts[0] == "resources":
		s.getResource(w, parts[1])
	case r.Method == http.MethodGet && len(parts) == 1 && parts[0] == "resources":
		s.listResources(w, r)
	case r.Method == http.MethodPost && len(parts) == 1 && parts[0] == "resources":
		s.createResource(w, body)
	case r.Method == http.MethodGet && len(parts) == 1 && parts[0] == "resource_language_stats":
		s.listStats(w, r)
	case r.Method == http.MethodPost && len(parts) == 1 && isJobKind(parts[0]):
		s.createJob(w, parts[0], body)
	case r.Method == http.MethodGet && len(parts) == 2 && isJobKind(parts[0]):
		s.pollJob(w, parts[0], parts[1])
	default:
		writeError(w, http.StatusNotFound, "")
	}
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func roundUpSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

func isJobKind(k string) bool {
	return k == "resource_translations_async_downloads" || k == "resource_strings_async_uploads" || k == "resource_translations_async_uploads"
}

func (s *Server) abs(path string) string { return s.API.URL + path }

func relData(typ, id, related string) map[string]any {
	return map[string]any{"data": map[string]string{"type": typ, "id": id}, "links": map[string]string{"related": related}}
}

func (s *Server) getProject(w http.ResponseWriter, id string) {
	p := s.projects[id]
	if p == nil {
		writeError(w, http.StatusNotFound, "")
		return
	}
	org := id[:strings.Index(id, ":p:")]
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
		"type": "projects", "id": id,
		"attributes": map[string]any{"slug": id[strings.LastIndex(id, ":")+1:], "name": id, "private": true, "type": "file"},
		"relationships": map[string]any{
			"organization":    relData("organizations", org, "/organizations/"+org),
			"source_language": relData("languages", "l:"+p.source, "/languages/l:"+p.source),
			"languages":       map[string]any{"links": map[string]string{"related": "/projects/" + id + "/languages"}},
		},
		"links": map[string]string{"self": s.abs("/projects/" + id)},
	}})
}

func (s *Server) resourceObject(r *resource) map[string]any {
	return map[string]any{
		"type": "resources", "id": r.id,
		"attributes": map[string]any{
			"slug": r.slug, "name": r.name, "priority": "normal", "i18n_version": 2, "accept_translations": true,
			"categories": []string{}, "i18n_options": map[string]any{}, "mp4_url": nil, "ogg_url": nil, "webm_url": nil,
			"youtube_url": nil, "string_count": len(msgids(r.source)), "word_count": 3 * len(msgids(r.source)),
			"datetime_created": r.created.Format(time.RFC3339), "datetime_modified": r.modified.Format(time.RFC3339),
		},
		"relationships": map[string]any{
			"project":     relData("projects", r.project, "/projects/"+r.project),
			"i18n_format": map[string]any{"data": map[string]string{"type": "i18n_formats", "id": r.format}},
		},
		"links": map[string]string{"self": s.abs("/resources/" + r.id)},
	}
}

func (s *Server) getResource(w http.ResponseWriter, id string) {
	r := s.resources[id]
	if r == nil {
		writeError(w, http.StatusNotFound, "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": s.resourceObject(r)})
}

var (
	projectIDRE  = regexp.MustCompile(`^o:[a-zA-Z0-9._-]+:p:[a-zA-Z0-9_-]+$`)
	resourceIDRE = regexp.MustCompile(`^o:[a-zA-Z0-9._-]+:p:[a-zA-Z0-9_-]+:r:[a-zA-Z0-9_-]+$`)
	languageIDRE = regexp.MustCompile(`^l:[a-zA-Z0-9@_.-]+$`)
)

func paramError(w http.ResponseWriter, param, detail string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []map[string]any{{
		"status": "400", "code": "invalid", "title": "Invalid parameter", "detail": detail,
		"source": map[string]string{"parameter": param},
	}}})
}

func pointerError(w http.ResponseWriter, pointer, detail string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []map[string]any{{
		"status": "400", "code": "invalid", "title": "Field is invalid", "detail": detail,
		"source": map[string]string{"pointer": pointer},
	}}})
}

// page serves one page of items, with an opaque cursor in links.next.
func (s *Server) page(w http.ResponseWriter, r *http.Request, items []map[string]any) {
	q := r.URL.Query()
	offset := 0
	if c := q.Get("page[cursor]"); c != "" {
		raw, err := base64.RawURLEncoding.DecodeString(c)
		var n int
		if err == nil {
			_, err = fmt.Sscanf(string(raw), "offset=%d;", &n)
		}
		if err != nil || n < 0 || n > len(items) {
			paramError(w, "page[cursor]", "Invalid cursor")
			return
		}
		offset = n
	}
	end := min(offset+s.pageSize, len(items))
	links := map[string]any{"self": s.abs(r.URL.RequestURI()), "previous": nil, "next": nil}
	if end < len(items) {
		nq := url.Values{}
		for k, v := range q {
			if k != "page[cursor]" {
				nq[k] = v
			}
		}
		// The cursor carries noise so that a client cannot build it: it must follow the link.
		nq.Set("page[cursor]", base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "offset=%d;%s", end, randHex(4))))
		links["next"] = s.abs(r.URL.Path + "?" + nq.Encode())
	}
	if offset > 0 {
		links["previous"] = s.abs(r.URL.Path)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": items[offset:end], "links": links})
}

func (s *Server) listResources(w http.ResponseWriter, r *http.Request) {
	pid := r.URL.Query().Get("filter[project]")
	if !projectIDRE.MatchString(pid) {
		paramError(w, "filter[project]", "filter[project] is required: o:organization_slug:p:project_slug")
		return
	}
	if s.projects[pid] == nil {
		writeError(w, http.StatusNotFound, "")
		return
	}
	var items []map[string]any
	for _, id := range sortedKeys(s.resources) {
		if res := s.resources[id]; res.project == pid {
			items = append(items, s.resourceObject(res))
		}
	}
	s.page(w, r, items)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (s *Server) statsOf(res *resource, lang string) Stats {
	p := s.projects[res.project]
	n := len(msgids(res.source))
	if lang == p.source {
		return Stats{LastUpdate: res.modified, Total: n, Translated: n, Reviewed: n, Proofread: n}
	}
	st, ok := res.stats[lang]
	if !ok {
		return Stats{LastUpdate: res.modified, Total: n}
	}
	return st
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func (s *Server) listStats(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pid := q.Get("filter[project]")
	if !projectIDRE.MatchString(pid) {
		paramError(w, "filter[project]", "filter[project] is required: o:organization_slug:p:project_slug")
		return
	}
	p := s.projects[pid]
	if p == nil {
		writeError(w, http.StatusNotFound, "")
		return
	}
	rf, lf := q.Get("filter[resource]"), q.Get("filter[language]")
	if rf != "" && !resourceIDRE.MatchString(rf) {
		paramError(w, "filter[resource]", "Invalid resource identifier")
		return
	}
	if lf != "" && !languageIDRE.MatchString(lf) {
		paramError(w, "filter[language]", "Invalid language identifier")
		return
	}
	if rf != "" && s.resources[rf] == nil {
		writeError(w, http.StatusNotFound, "")
		return
	}
	langs := append([]string{p.source}, p.languages...)
	var items []map[string]any
	for _, id := range sortedKeys(s.resources) {
		res := s.resources[id]
		if res.project != pid || (rf != "" && id != rf) {
			continue
		}
		for _, l := range langs {
			if lf != "" && lf != "l:"+l {
				continue
			}
			st := s.statsOf(res, l)
			items = append(items, map[string]any{
				"type": "resource_language_stats", "id": id + ":l:" + l,
				"attributes": map[string]any{
					"last_update": st.LastUpdate.UTC().Format(time.RFC3339), "last_translation_update": timeOrNil(st.LastUpdate),
					"last_review_update": nil, "last_proofread_update": nil,
					"total_strings": st.Total, "translated_strings": st.Translated, "reviewed_strings": st.Reviewed,
					"proofread_strings": st.Proofread, "untranslated_strings": st.Total - st.Translated,
					"total_words": 3 * st.Total, "translated_words": 3 * st.Translated, "reviewed_words": 3 * st.Reviewed,
					"proofread_words": 3 * st.Proofread, "untranslated_words": 3 * (st.Total - st.Translated),
				},
				"relationships": map[string]any{
					"resource": relData("resources", id, "/resources/"+id),
					"language": relData("languages", "l:"+l, "/languages/l:"+l),
				},
				"links": map[string]string{"self": "/resource_language_stats/" + id + ":l:" + l},
			})
		}
	}
	s.page(w, r, items)
}

type inDoc struct {
	Data struct {
		Type          string                     `json:"type"`
		Attributes    map[string]json.RawMessage `json:"attributes"`
		Relationships map[string]struct {
			Data *struct {
				Type string `json:"type"`
				ID   string `json:"id"`
			} `json:"data"`
		} `json:"relationships"`
	} `json:"data"`
}

func (d *inDoc) relID(name, typ string) (string, bool) {
	r, ok := d.Data.Relationships[name]
	if !ok || r.Data == nil || r.Data.Type != typ || r.Data.ID == "" {
		return "", false
	}
	return r.Data.ID, true
}

func (d *inDoc) str(name string) (string, bool, error) {
	raw, ok := d.Data.Attributes[name]
	if !ok || string(raw) == "null" {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, err
	}
	return s, true, nil
}

func (s *Server) createResource(w http.ResponseWriter, body []byte) {
	var d inDoc
	if err := json.Unmarshal(body, &d); err != nil {
		pointerError(w, "/data", "JSON parse error")
		return
	}
	if d.Data.Type != "resources" {
		pointerError(w, "/data/type", "type must be resources")
		return
	}
	pid, ok := d.relID("project", "projects")
	if !ok || s.projects[pid] == nil {
		pointerError(w, "/data/relationships/project", "Project not found")
		return
	}
	format, ok := d.relID("i18n_format", "i18n_formats")
	if !ok {
		pointerError(w, "/data/relationships/i18n_format", "i18n_format is required")
		return
	}
	name, _, _ := d.str("name")
	slug, _, _ := d.str("slug")
	if name == "" {
		pointerError(w, "/data/attributes/name", "This field is required.")
		return
	}
	if slug == "" {
		slug = strings.ToLower(strings.ReplaceAll(name, " ", "-"))
	}
	id := pid + ":r:" + slug
	if s.resources[id] != nil {
		writeError(w, http.StatusConflict, "Value `"+slug+"` already exists")
		return
	}
	res := s.addResource(id, format, name, nil)
	writeJSON(w, http.StatusCreated, map[string]any{"data": s.resourceObject(res)})
}

var modes = []string{"default", "reviewed", "proofread", "translator", "untranslated", "onlytranslated", "onlyreviewed", "onlyproofread", "sourceastranslation"}

func (s *Server) createJob(w http.ResponseWriter, kind string, body []byte) {
	var d inDoc
	if err := json.Unmarshal(body, &d); err != nil {
		pointerError(w, "/data", "JSON parse error")
		return
	}
	if d.Data.Type != kind {
		pointerError(w, "/data/type", "type must be "+kind)
		return
	}
	rid, ok := d.relID("resource", "resources")
	if !ok || !resourceIDRE.MatchString(rid) {
		pointerError(w, "/data/relationships/resource", "A valid resource is required")
		return
	}
	res := s.resources[rid]
	if res == nil {
		writeError(w, http.StatusNotFound, "Resource not found")
		return
	}
	j := &job{id: uuid(), kind: kind, resource: rid, created: s.now().UTC(), need: s.jobPolls}
	if kind != "resource_strings_async_uploads" {
		lid, ok := d.relID("language", "languages")
		if !ok || !languageIDRE.MatchString(lid) {
			pointerError(w, "/data/relationships/language", "A valid language is required")
			return
		}
		j.language = strings.TrimPrefix(lid, "l:")
		if p := s.projects[res.project]; !slices.Contains(p.languages, j.language) && !(kind == "resource_translations_async_downloads" && j.language == p.source) {
			pointerError(w, "/data/relationships/language", "Language `"+j.language+"` is not a target language of the project")
			return
		}
	}
	if kind == "resource_translations_async_downloads" {
		mode, _, err := d.str("mode")
		if err != nil || (mode != "" && !slices.Contains(modes, mode)) {
			pointerError(w, "/data/attributes/mode", "`"+mode+"` is not a valid choice")
			return
		}
		if mode == "" {
			mode = "default"
		}
		j.mode = mode
		if ft, _, err := d.str("file_type"); err != nil || (ft != "" && ft != "default" && ft != "xliff" && ft != "json") {
			pointerError(w, "/data/attributes/file_type", "not a valid choice")
			return
		}
		if ce, _, err := d.str("content_encoding"); err != nil || (ce != "" && ce != "text" && ce != "base64") {
			pointerError(w, "/data/attributes/content_encoding", "not a valid choice")
			return
		}
	} else {
		content, ok, err := d.str("content")
		if err != nil || !ok {
			pointerError(w, "/data/attributes/content", "This field is required.")
			return
		}
		enc, _, _ := d.str("content_encoding")
		switch enc {
		case "text":
			j.uploadData = []byte(content)
		case "base64":
			if j.uploadData, err = base64.StdEncoding.DecodeString(content); err != nil {
				pointerError(w, "/data/attributes/content", "Invalid base64 content")
				return
			}
		default:
			pointerError(w, "/data/attributes/content_encoding", "content_encoding must be text or base64")
			return
		}
	}
	key := jobKey{rid, j.language}
	if errs, ok := s.failJobs[key]; ok {
		j.failWith = errs
	}
	if n, ok := s.slowJobs[key]; ok {
		j.need = n
	}
	s.jobs[j.id] = j
	loc := s.abs("/" + kind + "/" + j.id)
	w.Header().Set("Content-Location", loc)
	writeJSON(w, http.StatusAccepted, map[string]any{"data": s.jobObject(j, "pending")})
}

func (s *Server) jobObject(j *job, status string) map[string]any {
	attrs := map[string]any{
		"status": status, "errors": []ErrorObject{},
		"date_created": j.created.Format(time.RFC3339), "date_modified": s.now().UTC().Format(time.RFC3339),
	}
	if status == "failed" {
		attrs["errors"] = j.failWith
	}
	if j.kind != "resource_translations_async_downloads" {
		attrs["details"] = nil
		if status == "succeeded" {
			attrs["details"] = j.details
		}
	}
	rels := map[string]any{"resource": relData("resources", j.resource, "/resources/"+j.resource)}
	if j.language != "" {
		rels["language"] = relData("languages", "l:"+j.language, "/languages/l:"+j.language)
	}
	return map[string]any{"type": j.kind, "id": j.id, "attributes": attrs, "relationships": rels,
		"links": map[string]string{"self": s.abs("/" + j.kind + "/" + j.id)}}
}

func (s *Server) pollJob(w http.ResponseWriter, kind, id string) {
	j := s.jobs[id]
	if j == nil || j.kind != kind {
		writeError(w, http.StatusNotFound, "")
		return
	}
	j.polls++
	if j.need < 0 || j.polls <= j.need {
		writeJSON(w, http.StatusOK, map[string]any{"data": s.jobObject(j, "processing")})
		return
	}
	if j.failWith != nil {
		writeJSON(w, http.StatusOK, map[string]any{"data": s.jobObject(j, "failed")})
		return
	}
	res := s.resources[j.resource]
	switch kind {
	case "resource_translations_async_downloads":
		if j.fileID == "" {
			j.fileID = uuid() + "-file"
			f := &file{auth: randHex(24), status: http.StatusOK, contentType: "text/x-po; charset=utf-8", data: s.translationFile(res, j.language)}
			if b, ok := s.broken[jobKey{j.resource, j.language}]; ok {
				f.status, f.contentType, f.data, f.location = b.status, b.contentType, b.body, b.location
			}
			s.files[j.fileID] = f
		}
		w.Header().Set("Location", s.Files.URL+"/files/"+j.fileID+"?auth="+s.files[j.fileID].auth)
		w.Header().Set("Content-Type", MediaType)
		w.WriteHeader(http.StatusSeeOther)
		_, _ = w.Write([]byte("{}"))
		return
	case "resource_strings_async_uploads":
		if j.details == nil {
			j.details = sourceUploadCounts(res.source, j.uploadData)
			res.source = j.uploadData
			res.modified = s.now().UTC().Truncate(time.Second)
		}
	case "resource_translations_async_uploads":
		if j.details == nil {
			j.details = translationUploadCounts(res.translations[j.language], j.uploadData)
			res.translations[j.language] = j.uploadData
			n := len(msgids(res.source))
			res.stats[j.language] = Stats{LastUpdate: s.now().UTC().Truncate(time.Second), Total: n, Translated: min(n, countTranslated(j.uploadData))}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": s.jobObject(j, "succeeded")})
}

// translationFile is what the API compiles for a language: the stored file, or an empty PO with
// a header.
func (s *Server) translationFile(res *resource, lang string) []byte {
	if b, ok := res.translations[lang]; ok {
		return slices.Clone(b)
	}
	if lang == s.projects[res.project].source && res.source != nil {
		return slices.Clone(res.source)
	}
	return fmt.Appendf(nil, "msgid \"\"\nmsgstr \"\"\n\"Content-Type: text/plain; charset=UTF-8\\n\"\n\"Language: %s\\n\"\n", lang)
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.fileReqs = append(s.fileReqs, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Authorization: r.Header.Get("Authorization")})
	f := s.files[strings.TrimPrefix(r.URL.Path, "/files/")]
	s.mu.Unlock()
	if f == nil || r.URL.Query().Get("auth") != f.auth {
		http.Error(w, "Forbidden", http.StatusForbidden)
		return
	}
	if f.location != "" {
		http.Redirect(w, r, f.location, f.status)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.WriteHeader(f.status)
	_, _ = w.Write(f.data)
}

// ---- a little PO reading, enough to count strings ----

type poEntry struct{ key, str string }

// poEntries reads msgctxt/msgid/msgstr entries (the header excluded).
func poEntries(data []byte) []poEntry {
	var out []poEntry
	var cur *poEntry
	var field *string
	var ctx string
	flush := func() {
		if cur != nil && cur.key != "" {
			out = append(out, *cur)
		}
		cur, field = nil, nil
	}
	for line := range bytes.Lines(data) {
		l := strings.TrimSpace(string(line))
		switch {
		case strings.HasPrefix(l, "msgctxt "):
			flush()
			ctx = unq(l[len("msgctxt "):])
			cur = &poEntry{key: ctx + "\x04"}
			field = nil
		case strings.HasPrefix(l, "msgid "):
			if cur == nil || field != nil {
				flush()
				cur = &poEntry{}
			}
			cur.key += unq(l[len("msgid "):])
			field = &cur.key
		case strings.HasPrefix(l, "msgid_plural "):
			field = nil
		case strings.HasPrefix(l, "msgstr"):
			if cur != nil {
				_, v, _ := strings.Cut(l, " ")
				cur.str += unq(v)
				field = &cur.str
			}
		case strings.HasPrefix(l, `"`):
			if field != nil {
				*field += unq(l)
			}
		case l == "" || strings.HasPrefix(l, "#"):
			if l == "" {
				flush()
			}
		}
	}
	flush()
	return out
}

func unq(s string) string {
	if v, err := strconv.Unquote(strings.TrimSpace(s)); err == nil {
		return v
	}
	return strings.Trim(s, `"`)
}

func msgids(data []byte) map[string]string {
	m := map[string]string{}
	for _, e := range poEntries(data) {
		m[e.key] = e.str
	}
	return m
}

func countTranslated(data []byte) int {
	n := 0
	for _, e := range poEntries(data) {
		if e.str != "" {
			n++
		}
	}
	return n
}

func sourceUploadCounts(old, new []byte) map[string]int {
	o, n := msgids(old), msgids(new)
	c := map[string]int{"strings_created": 0, "strings_updated": 0, "strings_skipped": 0, "strings_deleted": 0}
	for k := range n {
		if _, ok := o[k]; ok {
			c["strings_skipped"]++
		} else {
			c["strings_created"]++
		}
	}
	for k := range o {
		if _, ok := n[k]; !ok {
			c["strings_deleted"]++
		}
	}
	return c
}

func translationUploadCounts(old, new []byte) map[string]int {
	o, n := msgids(old), msgids(new)
	c := map[string]int{"translations_created": 0, "translations_updated": 0}
	for k, v := range n {
		if v == "" {
			continue
		}
		switch ov, ok := o[k]; {
		case !ok || ov == "":
			c["translations_created"]++
		case ov != v:
			c["translations_updated"]++
		}
	}
	return c
}
