package txsync

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/stackkit/stackkit/kit/i18n/transifex"
	"github.com/stackkit/stackkit/kit/queue"
)

// Headers of a signed Transifex webhook.
const (
	HeaderSignature = "X-TX-Signature-V2"
	HeaderURL       = "X-TX-Url"
)

// Defaults of WebhookOptions.
const (
	DefaultWebhookMaxAge = 5 * time.Minute
	DefaultWebhookWindow = time.Minute
	maxWebhookBody       = 64 << 10
)

// WebhookOptions configure the Transifex webhook endpoint.
type WebhookOptions struct {
	// Secret is the webhook's secret key as set in Transifex; required.
	Secret string
	// URL, when set, must equal the X-TX-Url header: the callback URL as configured in
	// Transifex, so a request signed for another endpoint sharing the secret is refused.
	URL string
	// MaxAge bounds how far the Date header may be from now, either way (default
	// DefaultWebhookMaxAge): an old request replayed is refused.
	MaxAge time.Duration
	// Window is the debounce window (default DefaultWebhookWindow): webhooks for one resource
	// within a window make one request, pulled when the window closes. See Request.Message.
	Window time.Duration
	// Config maps the payload's project and resource slugs to .tx/config resources.
	Config *transifex.Config
	// Queue and Subject (default DefaultRequestSubject) are where requests go.
	Queue   *queue.Queue
	Subject string
	Logger  *slog.Logger
	Now     func() time.Time
}

// Webhook is an http.Handler for Transifex's project webhooks: it checks the request's
// signature, turns the event into a sync request for its resource and queues it.
//
// The signature is Transifex's V2 scheme, as its public documentation describes it (the OpenAPI
// description names only the headers): X-TX-Signature-V2 is the base64 HMAC-SHA256, keyed with
// the webhook's secret, of the request method, the X-TX-Url header, the Date header and the hex
// MD5 of the body, joined with new lines. The Date header must also be within MaxAge of now.
//
// Answers: 202 queued; 200 for a resource .tx/config does not have (ignored, so Transifex does
// not retry); 400 for a body that is not a webhook payload; 401 for a missing or wrong
// signature; 403 for a correctly signed request that is too old (or new) or signed for another
// URL; 405 for a method other than POST; 413 for a body over 64 KiB; 503 when the queue refuses.
type Webhook struct{ o WebhookOptions }

// NewWebhook returns the webhook endpoint.
func NewWebhook(o WebhookOptions) (*Webhook, error) {
	if o.Secret == "" {
		return nil, errors.New("txsync: the webhook needs its secret key: without it anyone could trigger pulls")
	}
	if o.Config == nil || o.Queue == nil {
		return nil, errors.New("txsync: the webhook needs the .tx/config and a queue")
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultWebhookMaxAge
	}
	if o.Window < 0 {
		return nil, fmt.Errorf("txsync: negative webhook window %s", o.Window)
	}
	if o.Window == 0 {
		o.Window = DefaultWebhookWindow
	}
	if o.Subject == "" {
		o.Subject = DefaultRequestSubject
	}
	if err := queue.ValidateSubject(o.Subject, false); err != nil {
		return nil, fmt.Errorf("txsync: %w", err)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Webhook{o: o}, nil
}

// SignWebhook computes the X-TX-Signature-V2 value of a request, as Transifex does.
func SignWebhook(secret, method, url, date string, body []byte) string {
	sum := md5.Sum(body)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(method + "\n" + url + "\n" + date + "\n" + hex.EncodeToString(sum[:])))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// WebhookPayload is the body Transifex posts.
type WebhookPayload struct {
	Project    string `json:"project"`
	Resource   string `json:"resource"`
	Language   string `json:"language"`
	Event      string `json:"event"`
	Translated *int   `json:"translated,omitempty"`
	Reviewed   *int   `json:"reviewed,omitempty"`
	Proofread  *int   `json:"proofread,omitempty"`
}

func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, "error", "use POST")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			reply(w, http.StatusRequestEntityTooLarge, "error", "body over 64 KiB")
			return
		}
		reply(w, http.StatusBadRequest, "error", "reading the body failed")
		return
	}
	sig, url, date := r.Header.Get(HeaderSignature), r.Header.Get(HeaderURL), r.Header.Get("Date")
	if sig == "" || url == "" || date == "" {
		h.refuse(r, "missing "+HeaderSignature+", "+HeaderURL+" or Date header")
		reply(w, http.StatusUnauthorized, "error", "unsigned request: "+HeaderSignature+", "+HeaderURL+" and Date are required")
		return
	}
	want := SignWebhook(h.o.Secret, r.Method, url, date, body)
	if !hmac.Equal([]byte(sig), []byte(want)) {
		h.refuse(r, "wrong signature")
		reply(w, http.StatusUnauthorized, "error", "wrong signature")
		return
	}
	at, err := http.ParseTime(date)
	if err != nil {
		h.refuse(r, "unparsable Date")
		reply(w, http.StatusForbidden, "error", "unparsable Date header")
		return
	}
	if age := h.o.Now().Sub(at); age > h.o.MaxAge || age < -h.o.MaxAge {
		h.refuse(r, fmt.Sprintf("Date %s is %s away", date, age.Round(time.Second)))
		reply(w, http.StatusForbidden, "error", "request too old or too new; check the clocks")
		return
	}
	if h.o.URL != "" && url != h.o.URL {
		h.refuse(r, "signed for another URL")
		reply(w, http.StatusForbidden, "error", "signed for another URL")
		return
	}
	var p WebhookPayload
	if err := json.Unmarshal(body, &p); err != nil || p.Project == "" || p.Resource == "" {
		reply(w, http.StatusBadRequest, "error", "want a JSON body with project and resource")
		return
	}
	var ids []string
	for _, res := range h.o.Config.Resources {
		if res.Project == p.Project && res.Slug == p.Resource {
			ids = append(ids, res.ID)
		}
	}
	if len(ids) == 0 {
		h.o.Logger.LogAttrs(r.Context(), slog.LevelInfo, "transifex webhook ignored: resource not in .tx/config",
			slog.String("project", p.Project), slog.String("resource", p.Resource), slog.String("event", p.Event))
		reply(w, http.StatusOK, "ignored", "resource not in .tx/config")
		return
	}
	reason := strings.TrimSpace(fmt.Sprintf("webhook %s %s", truncate(p.Event, 64), truncate(p.Language, 64)))
	// The whole resource, not the one language: the debounced request stands for every webhook
	// of its window, whichever languages they named (unchanged ones are skipped cheaply).
	req := Request{Resources: ids, Reason: reason, RequestedAt: h.o.Now().UTC()}
	msg, err := req.Message(h.o.Subject, h.o.Window)
	if err != nil {
		reply(w, http.StatusBadRequest, "error", err.Error())
		return
	}
	if err := h.o.Queue.Publish(r.Context(), msg); err != nil {
		h.o.Logger.LogAttrs(r.Context(), slog.LevelError, "transifex webhook: queueing the sync request", slog.String("error", err.Error()))
		reply(w, http.StatusServiceUnavailable, "error", "could not queue the sync request")
		return
	}
	h.o.Logger.LogAttrs(r.Context(), slog.LevelInfo, "transifex webhook queued a sync", slog.String("id", msg.ID),
		slog.String("resources", strings.Join(ids, ",")), slog.String("reason", reason))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "queued", "id": msg.ID})
}

func (h *Webhook) refuse(r *http.Request, why string) {
	h.o.Logger.LogAttrs(r.Context(), slog.LevelWarn, "transifex webhook refused", slog.String("reason", why),
		slog.String("remote", r.RemoteAddr))
}

func reply(w http.ResponseWriter, status int, key, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": key, "detail": msg})
}
