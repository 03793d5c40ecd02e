package txsync_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/i18n/transifex/txsync"
)

const (
	secret   = "s3cr3t-webhook-key"
	hookURL  = "https://i18nsync.example.com/webhooks/transifex"
	hookBody = `{"project":"shop","resource":"web","language":"de","translated":100,"event":"translation_completed"}`
)

// signed builds a webhook request as Transifex sends it.
func signed(method, body, date, key string) *http.Request {
	r := httptest.NewRequest(method, "/webhooks/transifex", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Date", date)
	r.Header.Set(txsync.HeaderURL, hookURL)
	r.Header.Set(txsync.HeaderSignature, txsync.SignWebhook(key, method, hookURL, date, []byte(body)))
	return r
}

func newWebhook(t *testing.T, e *env, now time.Time, window time.Duration) *txsync.Webhook {
	t.Helper()
	h, err := txsync.NewWebhook(txsync.WebhookOptions{Secret: secret, URL: hookURL, Window: window,
		Config: e.cfg, Queue: e.q, Logger: quiet(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestSignWebhookMatchesTransifexV2(t *testing.T) {
	// base64(HMAC-SHA256(key, "POST\n<url>\n<date>\n<hex md5 of body>")), computed independently:
	// printf 'POST\nhttps://example.com/hook\nTue, 03 Mar 2026 10:00:00 GMT\n%s' "$(printf '{}' | md5sum | cut -d' ' -f1)" |
	//   openssl dgst -sha256 -hmac key -binary | base64
	got := txsync.SignWebhook("key", "POST", "https://example.com/hook", "Tue, 03 Mar 2026 10:00:00 GMT", []byte("{}"))
	if want := "42V5ZHc01Z/Wk9g7lkstQpFaw3WEjBkBFDrk8m0maf8="; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
}

func TestWebhookSignature(t *testing.T) {
	e := newEnv(t, envOptions{})
	now := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	h := newWebhook(t, e, now, time.Minute)
	date := now.Add(-30 * time.Second).Format(http.TimeFormat)

	tampered := signed(http.MethodPost, hookBody, date, secret)
	tampered.Body = httpBody(strings.Replace(hookBody, `"web"`, `"admin"`, 1))
	otherURL := signed(http.MethodPost, hookBody, date, secret)
	otherURL.Header.Set(txsync.HeaderURL, "https://elsewhere.example.com/hook")
	otherURL.Header.Set(txsync.HeaderSignature, txsync.SignWebhook(secret, http.MethodPost, "https://elsewhere.example.com/hook", date, []byte(hookBody)))
	unsigned := signed(http.MethodPost, hookBody, date, secret)
	unsigned.Header.Del(txsync.HeaderSignature)
	unknown := `{"project":"shop","resource":"mail","language":"de","event":"review_completed"}`

	for _, c := range []struct {
		name string
		r    *http.Request
		want int
	}{
		{"wrong key", signed(http.MethodPost, hookBody, date, "guess"), http.StatusUnauthorized},
		{"tampered body", tampered, http.StatusUnauthorized},
		{"no signature", unsigned, http.StatusUnauthorized},
		{"replayed an hour later", signed(http.MethodPost, hookBody, now.Add(-time.Hour).Format(http.TimeFormat), secret), http.StatusForbidden},
		{"dated in the future", signed(http.MethodPost, hookBody, now.Add(time.Hour).Format(http.TimeFormat), secret), http.StatusForbidden},
		{"signed for another URL", otherURL, http.StatusForbidden},
		{"GET", signed(http.MethodGet, "", date, secret), http.StatusMethodNotAllowed},
		{"not a payload", signed(http.MethodPost, `{"hello":1}`, date, secret), http.StatusBadRequest},
		{"resource not in .tx/config", signed(http.MethodPost, unknown, date, secret), http.StatusOK},
		{"valid", signed(http.MethodPost, hookBody, date, secret), http.StatusAccepted},
	} {
		if w := serve(h, c.r); w.Code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, w.Code, w.Body, c.want)
		}
	}
	// Only the valid one reached the queue.
	n, err := e.q.Purge(context.Background(), txsync.DefaultRequestSubject)
	if err != nil || n != 1 {
		t.Fatalf("%d requests queued (%v), want 1", n, err)
	}
	if _, err := txsync.NewWebhook(txsync.WebhookOptions{Config: e.cfg, Queue: e.q}); err == nil {
		t.Error("a webhook without a secret was built")
	}
}

func TestWebhooksWithinAWindowMakeOnePull(t *testing.T) {
	e := newEnv(t, envOptions{})
	// The webhook's clock is at 10:00:10; its window closes at 10:01:00, which the worker's clock
	// has passed, so the one request is pulled at once.
	at := time.Date(2026, 3, 3, 10, 0, 10, 0, time.UTC)
	h := newWebhook(t, e, at, time.Minute)
	workerNow := at.Add(2 * time.Minute)
	e.worker = mustWorker(t, e, txsync.Options{Now: func() time.Time { return workerNow }})
	tr, _ := e.follower(t, "web")
	var ids []string
	for _, lang := range []string{"de", "fr", "de", "fr", "de"} {
		body := strings.Replace(hookBody, `"de"`, `"`+lang+`"`, 1)
		w := serve(h, signed(http.MethodPost, body, at.Format(http.TimeFormat), secret))
		if w.Code != http.StatusAccepted {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		var got struct{ ID string }
		_ = json.Unmarshal(w.Body.Bytes(), &got)
		ids = append(ids, got.ID)
	}
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("message IDs differ within a window: %v", ids)
		}
	}
	e.startWorker(t)
	eventually(t, "de and fr served", func() bool {
		return translate(tr, "de", "Hello") == "Hallo" && translate(tr, "fr", "Hello") == "Bonjour"
	})
	eventually(t, "the request answered", func() bool { s := e.worker.Stats(); return s.Requests == 1 && !s.Busy })
	if e.pulls() != 1 || e.worker.Stats().Requests != 1 {
		t.Fatalf("%d pulls, %+v; want one pull for five webhooks", e.pulls(), e.worker.Stats())
	}
}

func mustWorker(t *testing.T, e *env, o txsync.Options) *txsync.Worker {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet()
	}
	w, err := txsync.NewWorker(e.client, e.cfg, e.store, e.q, o)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestRequestMessage(t *testing.T) {
	at := time.Date(2026, 3, 3, 10, 0, 10, 0, time.UTC)
	a, _ := txsync.Request{Resources: []string{"shop.web", "shop.mail"}, RequestedAt: at}.Message("s", time.Minute)
	b, _ := txsync.Request{Resources: []string{"shop.mail", "shop.web"}, RequestedAt: at.Add(40 * time.Second)}.Message("s", time.Minute)
	c, _ := txsync.Request{Resources: []string{"shop.web"}, RequestedAt: at}.Message("s", time.Minute)
	d, _ := txsync.Request{Resources: []string{"shop.web", "shop.mail"}, RequestedAt: at.Add(time.Minute)}.Message("s", time.Minute)
	if a.ID != b.ID || a.ID == c.ID || a.ID == d.ID {
		t.Fatalf("IDs: same scope and window %s %s; other scope %s; next window %s", a.ID, b.ID, c.ID, d.ID)
	}
	r, err := txsync.DecodeRequest(a.Data)
	if err != nil || !r.NotBefore.Equal(time.Date(2026, 3, 3, 10, 1, 0, 0, time.UTC)) {
		t.Fatalf("NotBefore %v, %v", r.NotBefore, err)
	}
	x, _ := txsync.Request{}.Message("s", 0)
	y, _ := txsync.Request{}.Message("s", 0)
	if x.ID == y.ID {
		t.Fatal("requests without a window share an ID")
	}
	for _, bad := range []txsync.Request{{Resources: []string{"a b"}}, {Languages: []string{"../de"}}, {Reason: strings.Repeat("x", 501)}} {
		if _, err := bad.Message("s", 0); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, err := txsync.DecodeRequest([]byte(`{"resources":"shop.web"}`)); err == nil {
		t.Error("a malformed request decoded")
	}
}

func httpBody(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }
