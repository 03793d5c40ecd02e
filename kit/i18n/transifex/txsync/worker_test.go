package txsync_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/i18n/transifex/txsync"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txtest"
	"github.com/stackkit/stackkit/kit/queue"
)

func TestSyncStoresVersionAndFollowerSwaps(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.startWorker(t)
	tr, f := e.follower(t, "web")
	if got := translate(tr, "de", "Hello"); got != "Hello" {
		t.Fatalf("before any sync: %q", got)
	}

	e.request(t, txsync.Request{Reason: "test"})
	eventually(t, "de served", func() bool { return translate(tr, "de", "Hello") == "Hallo" })
	if got := translate(tr, "fr", "Hello"); got != "Bonjour" {
		t.Errorf("fr: %q", got)
	}
	ctx := context.Background()
	v1, err := txsync.ReadCurrent(ctx, e.store, txsync.DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version() != v1 {
		t.Errorf("follower on %q, current is %q", f.Version(), v1)
	}
	m, err := txsync.ReadManifest(ctx, e.store, txsync.DefaultPrefix, v1)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.Domains["web"], ","); got != "de,fr" {
		t.Errorf("manifest domains: %v", m.Domains)
	}
	l := e.worker.Layout()
	for _, lang := range []string{"de", "fr"} {
		if ok, err := e.store.Exists(ctx, l.Catalog(v1, lang, "web")); !ok || err != nil {
			t.Errorf("%s missing: %v", l.Catalog(v1, lang, "web"), err)
		}
	}

	// A new translation: the running translator serves it without a restart.
	e.clock.Advance(time.Hour)
	e.srv.SetTranslation(web, "de", po("de", "Servus"), txtest.Stats{Total: 1, Translated: 1})
	e.request(t, txsync.Request{Resources: []string{"shop.web"}, Languages: []string{"de"}})
	eventually(t, "the new de served", func() bool { return translate(tr, "de", "Hello") == "Servus" })
	v2 := f.Version()
	if v2 <= v1 {
		t.Fatalf("version %q does not sort after %q", v2, v1)
	}
	// The version holds every catalog, not only the language pulled.
	if got := translate(tr, "fr", "Hello"); got != "Bonjour" {
		t.Errorf("fr after a de-only sync: %q", got)
	}
	vs, err := txsync.Versions(ctx, e.store, txsync.DefaultPrefix)
	if err != nil || len(vs) != 2 || vs[0] != v1 || vs[1] != v2 {
		t.Fatalf("versions %v, %v", vs, err)
	}

	// Nothing changed: no new version.
	pulls := e.pulls()
	res, err := e.worker.Sync(ctx, txsync.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed || res.Version != v2 || e.pulls() != pulls+1 {
		t.Fatalf("unchanged sync: %+v (pulls %d -> %d)", res, pulls, e.pulls())
	}
	if vs, _ := txsync.Versions(ctx, e.store, txsync.DefaultPrefix); len(vs) != 2 {
		t.Fatalf("an unchanged sync stored a version: %v", vs)
	}
}

func TestOldVersionsRemoved(t *testing.T) {
	e := newEnv(t, envOptions{worker: txsync.Options{Keep: 2}})
	ctx := context.Background()
	for i, word := range []string{"Hallo", "Servus", "Moin", "Grüß Gott"} {
		e.clock.Advance(time.Hour)
		e.srv.SetTranslation(web, "de", po("de", word), txtest.Stats{Total: 1, Translated: 1})
		res, err := e.worker.Sync(ctx, txsync.Request{})
		if err != nil || !res.Changed {
			t.Fatalf("sync %d: %+v %v", i, res, err)
		}
	}
	vs, err := txsync.Versions(ctx, e.store, txsync.DefaultPrefix)
	if err != nil || len(vs) != 2 {
		t.Fatalf("versions %v, %v", vs, err)
	}
	cur, _ := txsync.ReadCurrent(ctx, e.store, txsync.DefaultPrefix)
	if vs[1] != cur {
		t.Fatalf("current %s is not the newest of %v", cur, vs)
	}
	var left []string
	for obj, err := range e.store.List(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(obj.Name, "i18n/work/") {
			left = append(left, obj.Name)
		}
	}
	for _, n := range left {
		if n != "i18n/current" && !strings.HasPrefix(n, "i18n/"+vs[0]+"/") && !strings.HasPrefix(n, "i18n/"+vs[1]+"/") {
			t.Errorf("object of a removed version left: %s", n)
		}
	}
}

// gate blocks the first statistics listing (the start of the first pull) until released.
type gate struct {
	once     sync.Once
	entered  chan struct{}
	released chan struct{}
}

func newGate() *gate {
	g := &gate{entered: make(chan struct{}), released: make(chan struct{})}
	return g
}

func (g *gate) release() {
	select {
	case <-g.released:
	default:
		close(g.released)
	}
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "/resource_language_stats") {
		first := false
		g.once.Do(func() { first = true })
		if first {
			close(g.entered)
			<-g.released
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestRequestsDuringAPullAreCoalescedIntoOne(t *testing.T) {
	g := newGate()
	e := newEnv(t, envOptions{transport: g})
	e.startWorker(t)
	t.Cleanup(g.release) // runs before the worker stops: a failed test must not leave a pull blocked
	tr, _ := e.follower(t, "web")

	e.request(t, txsync.Request{Reason: "first"})
	<-g.entered // the first pull is running

	// Eight duplicates of all kinds arrive while it runs.
	e.clock.Advance(time.Hour)
	e.srv.SetTranslation(web, "de", po("de", "Servus"), txtest.Stats{Total: 1, Translated: 1})
	const dups = 8
	for i := range dups {
		r := txsync.Request{Reason: "dup"}
		if i%2 == 0 {
			r.Resources = []string{"shop.web"}
		}
		e.request(t, r)
	}
	eventually(t, "the duplicates to wait", func() bool { return e.worker.Stats().Waiting == dups })
	g.release()

	eventually(t, "the change served", func() bool { return translate(tr, "de", "Hello") == "Servus" })
	eventually(t, "every request answered", func() bool {
		s := e.worker.Stats()
		return s.Requests == dups+1 && s.Waiting == 0 && !s.Busy
	})
	s := e.worker.Stats()
	// One pull for the first request, one for all eight that came during it.
	if e.pulls() != 2 || s.Syncs != 2 || s.Coalesced != dups-1 {
		t.Fatalf("pulls %d, stats %+v; want 2 pulls for %d requests", e.pulls(), s, dups+1)
	}
	for dl, err := range e.q.DeadLetters(context.Background(), txsync.DefaultConsumer) {
		t.Fatalf("dead letter: %+v %v", dl, err)
	}
}

func TestFailingPullKeepsCurrentVersionAndDeadLetters(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.startWorker(t, queue.MaxDeliveries(3), queue.Backoff(10*time.Millisecond))
	tr, f := e.follower(t, "web")
	e.request(t, txsync.Request{})
	eventually(t, "de served", func() bool { return translate(tr, "de", "Hello") == "Hallo" })
	ctx := context.Background()
	v1, _ := txsync.ReadCurrent(ctx, e.store, txsync.DefaultPrefix)

	// Transifex serves a broken PO for de; fr changed and pulls fine.
	e.clock.Advance(time.Hour)
	e.srv.SetTranslation(web, "fr", po("fr", "Salut"), txtest.Stats{Total: 1, Translated: 1})
	e.srv.SetTranslation(web, "de", po("de", "Servus"), txtest.Stats{Total: 1, Translated: 1})
	e.srv.BreakFile(web, "de", http.StatusOK, "text/x-po", []byte("msgid \"Hello\"\nmsgstr \"Servus\"\nmsgstr \"twice\"\n"))
	pulls := e.pulls()
	id := e.request(t, txsync.Request{Reason: "broken"})

	var dead *queue.DeadLetter
	eventually(t, "the dead letter", func() bool {
		for dl, err := range e.q.DeadLetters(ctx, txsync.DefaultConsumer) {
			if err == nil && dl.Message.ID == id {
				dead = dl
			}
		}
		return dead != nil
	})
	if dead.Deliveries != 3 || !strings.Contains(dead.Reason, "invalid file") || !strings.Contains(dead.Reason, "[de]") {
		t.Fatalf("dead letter after %d deliveries: %s", dead.Deliveries, dead.Reason)
	}
	if got := e.pulls() - pulls; got != 3 {
		t.Errorf("%d pulls for 3 deliveries", got)
	}
	if cur, _ := txsync.ReadCurrent(ctx, e.store, txsync.DefaultPrefix); cur != v1 {
		t.Fatalf("current moved to %s after a failed pull", cur)
	}
	if f.Version() != v1 || translate(tr, "de", "Hello") != "Hallo" || translate(tr, "fr", "Hello") != "Bonjour" {
		t.Fatalf("translator changed: version %s, de %q, fr %q", f.Version(), translate(tr, "de", "Hello"), translate(tr, "fr", "Hello"))
	}
}

func TestConfigErrorsAreDeadLetteredAtOnce(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.startWorker(t, queue.MaxDeliveries(5), queue.Backoff(10*time.Millisecond))
	ctx := context.Background()
	bad := e.request(t, txsync.Request{Resources: []string{"shop.nope"}})
	lang := e.request(t, txsync.Request{Languages: []string{"xx"}})
	garbage := &queue.Message{ID: "garbage", Subject: txsync.DefaultRequestSubject, Data: []byte("{not json")}
	if err := e.q.Publish(ctx, garbage); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]*queue.DeadLetter{}
	eventually(t, "three dead letters", func() bool {
		for dl, err := range e.q.DeadLetters(ctx, txsync.DefaultConsumer) {
			if err == nil {
				reasons[dl.Message.ID] = dl
			}
		}
		return len(reasons) == 3
	})
	for id, want := range map[string]string{bad: `matches "shop.nope"`, lang: "language xx is not a target language", "garbage": "invalid sync request"} {
		dl := reasons[id]
		if dl.Deliveries != 1 || !strings.Contains(dl.Reason, want) {
			t.Errorf("%s: %d deliveries, reason %q; want 1 and %q", id, dl.Deliveries, dl.Reason, want)
		}
	}
}

func TestUnauthorizedIsPermanent(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.srv.Inject(txtest.Fault{Path: "/projects/", Status: http.StatusUnauthorized, Times: -1})
	_, err := e.worker.Sync(context.Background(), txsync.Request{})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Sync: %v", err)
	}
	if h := e.worker.Handle(context.Background(), mustMessage(t, txsync.Request{})); !errors.Is(h, queue.ErrPermanent) {
		t.Fatalf("Handle: %v, want permanent", h)
	}
}

func mustMessage(t *testing.T, r txsync.Request) *queue.Message {
	t.Helper()
	m, err := r.Message(txsync.DefaultRequestSubject, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFollowerKeepsItsSetWhenAVersionDoesNotLoad(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	if _, err := e.worker.Sync(ctx, txsync.Request{}); err != nil {
		t.Fatal(err)
	}
	v1, _ := txsync.ReadCurrent(ctx, e.store, txsync.DefaultPrefix)
	tr := newTranslator(t)
	f := txsync.NewFollower(tr, e.store, txsync.FollowerOptions{Domain: "web", Logger: quiet()})
	if err := f.LoadCurrent(ctx); err != nil {
		t.Fatal(err)
	}
	if f.Version() != v1 || translate(tr, "de", "Hello") != "Hallo" {
		t.Fatalf("LoadCurrent: version %q", f.Version())
	}
	// A later version whose de catalog is corrupt in storage.
	e.clock.Advance(time.Hour)
	e.srv.SetTranslation(web, "de", po("de", "Servus"), txtest.Stats{Total: 1, Translated: 1})
	res, err := e.worker.Sync(ctx, txsync.Request{})
	if err != nil || !res.Changed {
		t.Fatal(res, err)
	}
	l := e.worker.Layout()
	if err := e.store.Put(ctx, l.Catalog(res.Version, "de", "web"), strings.NewReader("not a catalog"), nil); err != nil {
		t.Fatal(err)
	}
	ev := &queue.Message{Data: []byte(`{"version":"` + res.Version + `","prefix":"i18n/"}`)}
	if err := f.Handle(ctx, ev); err == nil {
		t.Fatal("a corrupt version loaded")
	}
	if f.Version() != v1 || translate(tr, "de", "Hello") != "Hallo" {
		t.Fatalf("after a failed load: version %s, de %q", f.Version(), translate(tr, "de", "Hello"))
	}
	// An older version is ignored; a malformed event is permanent.
	if err := f.Handle(ctx, &queue.Message{Data: []byte(`{"version":"20000101T000000.000Z-00000000","prefix":"i18n/"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := f.Handle(ctx, &queue.Message{Data: []byte(`{"version":"../../etc","prefix":"i18n/"}`)}); !errors.Is(err, queue.ErrPermanent) {
		t.Fatalf("bad version: %v", err)
	}
	// Another domain than the follower's.
	f2 := txsync.NewFollower(tr, e.store, txsync.FollowerOptions{Domain: "mail", Logger: quiet()})
	if err := f2.LoadCurrent(ctx); err == nil || !strings.Contains(err.Error(), `no catalogs of domain "mail" (it has web)`) {
		t.Fatalf("other domain: %v", err)
	}
}
