package txsync

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stackkit/stackkit/kit/queue"
)

// Subjects and names the worker and its clients agree on by default.
const (
	// DefaultRequestSubject is where sync requests are published.
	DefaultRequestSubject = "kit.i18n.sync"
	// DefaultEventSubject is where the worker announces a new catalog version.
	DefaultEventSubject = "kit.i18n.updated"
	// DefaultConsumer is the worker's durable consumer name; replicas share it.
	DefaultConsumer = "i18nsync"
)

// ErrInvalidRequest is wrapped by errors about a malformed sync request. The worker
// dead-letters such a request at once: retrying cannot fix it.
var ErrInvalidRequest = errors.New("txsync: invalid sync request")

// Request asks the worker to pull translations and publish a new catalog version. The zero
// Request pulls every resource of the worker's .tx/config in every language.
type Request struct {
	// Resources limits the pull to these resources, as tx pull's -r names them ("proj.res" or
	// "o:org:p:proj:r:res", * as wildcard); none means all.
	Resources []string `json:"resources,omitempty"`
	// Languages limits the pull to these languages (remote or local codes); none means all.
	Languages []string `json:"languages,omitempty"`
	// Force pulls files even when their remote statistics have not changed.
	Force bool `json:"force,omitempty"`
	// Reason says who asked and why ("kitctl", "webhook translation_completed de"); logged and
	// recorded in the version's manifest.
	Reason string `json:"reason,omitempty"`
	// RequestedAt is when the request was made.
	RequestedAt time.Time `json:"requested_at,omitzero"`
	// NotBefore delays the pull until then: requests debounced into one message (see
	// [Request.Message]) are pulled once the window closes, so the pull sees every change made
	// within it.
	NotBefore time.Time `json:"not_before,omitzero"`
}

var (
	languageRE = regexp.MustCompile(`^[a-zA-Z0-9@_.-]{1,64}$`)
	patternRE  = regexp.MustCompile(`^[a-zA-Z0-9:._*-]{1,400}$`)
)

// Validate checks the request's syntax; whether its resources exist is the worker's to say.
func (r *Request) Validate() error {
	for _, p := range r.Resources {
		if !patternRE.MatchString(p) {
			return fmt.Errorf("%w: resource %q: want project.resource or o:ORG:p:PROJECT:r:RESOURCE (* as wildcard)", ErrInvalidRequest, p)
		}
	}
	for _, l := range r.Languages {
		if !languageRE.MatchString(l) {
			return fmt.Errorf("%w: language %q: want a language code such as de or pt_BR", ErrInvalidRequest, l)
		}
	}
	if len(r.Reason) > 500 {
		return fmt.Errorf("%w: reason is %d bytes long; the limit is 500", ErrInvalidRequest, len(r.Reason))
	}
	return nil
}

// scope is the canonical form of what a request pulls, for its message ID.
func (r *Request) scope() string {
	res := slices.Clone(r.Resources)
	slices.Sort(res)
	langs := slices.Clone(r.Languages)
	slices.Sort(langs)
	b, _ := json.Marshal(struct {
		R []string `json:"r"`
		L []string `json:"l"`
		F bool     `json:"f"`
	}{slices.Compact(res), slices.Compact(langs), r.Force})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Message returns the queue message for r on subject. With a window, requests of the same scope
// made within the same window (windows are aligned on the clock: 12:00:00 to 12:01:00 for a
// minute) get the same message ID, so the queue keeps only the first, and NotBefore is set to
// the window's end, so the one pull that follows sees every change made within it. A window
// must not exceed the queue's de-duplication window (2 minutes on NATS by default). Without a
// window the message has a unique ID and is pulled at once.
//
// RequestedAt is set to now when zero.
func (r Request) Message(subject string, window time.Duration) (*queue.Message, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if r.RequestedAt.IsZero() {
		r.RequestedAt = time.Now().UTC()
	}
	var id string
	if window > 0 {
		start := r.RequestedAt.Truncate(window)
		id = "i18nsync-" + r.scope() + "-" + strconv.FormatInt(start.UnixMilli(), 10)
		if end := start.Add(window); end.After(r.NotBefore) {
			r.NotBefore = end.UTC()
		}
	} else {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = "i18nsync-" + r.scope() + "-" + hex.EncodeToString(b[:])
	}
	data, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return &queue.Message{ID: id, Subject: subject, Data: data,
		Header: queue.Header{"Content-Type": {"application/json"}}}, nil
}

// DecodeRequest reads a request message's data. Fields it does not know are ignored, so an
// older worker reads a newer client's requests.
func DecodeRequest(data []byte) (Request, error) {
	var r Request
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	return r, r.Validate()
}

// merge folds b into a: the union of their resources (all when either asks for all), their
// languages when both name the same ones (else all: a language one resource lacks would fail
// the other's pull), Force when either forces.
func merge(a, b Request) Request {
	out := Request{Force: a.Force || b.Force, RequestedAt: a.RequestedAt}
	if b.RequestedAt.After(out.RequestedAt) {
		out.RequestedAt = b.RequestedAt
	}
	if len(a.Resources) > 0 && len(b.Resources) > 0 {
		out.Resources = union(a.Resources, b.Resources)
	}
	if sameSet(a.Languages, b.Languages) {
		out.Languages = union(a.Languages, nil)
	}
	switch {
	case a.Reason == "" || a.Reason == b.Reason:
		out.Reason = b.Reason
	case b.Reason == "":
		out.Reason = a.Reason
	default:
		out.Reason = a.Reason + "; " + b.Reason
		if len(out.Reason) > 500 {
			out.Reason = out.Reason[:497] + "..."
		}
	}
	return out
}

func union(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

func sameSet(a, b []string) bool {
	return slices.Equal(union(a, nil), union(b, nil))
}

func (r Request) String() string {
	var parts []string
	if len(r.Resources) == 0 {
		parts = append(parts, "all resources")
	} else {
		parts = append(parts, "resources "+strings.Join(r.Resources, ","))
	}
	if len(r.Languages) == 0 {
		parts = append(parts, "all languages")
	} else {
		parts = append(parts, "languages "+strings.Join(r.Languages, ","))
	}
	if r.Force {
		parts = append(parts, "forced")
	}
	return strings.Join(parts, ", ")
}
