package web

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/cli"
	"github.com/stackkit/stackkit/kit/db"
	"github.com/stackkit/stackkit/kit/db/dbtest"
	"github.com/stackkit/stackkit/kit/db/migrate"
	_ "github.com/stackkit/stackkit/kit/db/mysql"
	_ "github.com/stackkit/stackkit/kit/db/postgres"
	_ "github.com/stackkit/stackkit/kit/db/sqlite"
	"github.com/uptrace/bun"
)

// backends are the databases every store test runs on; the servers' admin URLs come from
// testenv, and each test gets a fresh database of its own, dropped when it ends.
var backends = []struct{ name, env string }{
	{"sqlite", ""},
	{"postgres", "KIT_TEST_POSTGRES_URL"},
	{"mysql", "KIT_TEST_MYSQL_URL"},
}

// eachBackend runs fn on a freshly migrated database of every backend.
func eachBackend(t *testing.T, fn func(t *testing.T, d *bun.DB)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			admin := "sqlite://"
			if b.env != "" {
				admin = testenv.Get(t, b.env)
			}
			d := dbtest.Open(t, dbtest.NewDatabase(t, admin))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			m, err := migrate.New(d, migrate.WithFS(Migrations()))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Up(ctx); err != nil {
				t.Fatalf("migrate up: %v", err)
			}
			fn(t, d)
		})
	}
}

func TestStoreTicketLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, d *bun.DB) {
		ctx := context.Background()
		s := &Store{DB: d}
		tk := &Ticket{Name: "Ada", Email: "ada@example.com", Subject: "Printer on fire", Locale: "de"}
		att := &Attachment{StorageName: "tickets/x/photo.png", FileName: "photo.png", ContentType: "image/png", Size: 1234}
		if err := s.CreateTicket(ctx, tk, "It smokes.", att); err != nil {
			t.Fatal(err)
		}
		if len(tk.ID) != 26 || tk.Status != StatusOpen {
			t.Fatalf("created ticket id %q status %q, want a 26-character id and open", tk.ID, tk.Status)
		}

		th, err := s.Thread(ctx, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := th.Ticket
		if got.Name != "Ada" || got.Email != "ada@example.com" || got.Subject != "Printer on fire" ||
			got.Locale != "de" || got.Status != StatusOpen || !got.CreatedAt.Equal(tk.CreatedAt) {
			t.Errorf("read ticket %+v, want what was created %+v", got, *tk)
		}
		if len(th.Messages) != 1 || th.Messages[0].Author != AuthorCustomer || th.Messages[0].Body != "It smokes." {
			t.Errorf("messages %+v, want the customer's first message", th.Messages)
		}
		if len(th.Attachments) != 1 || th.Attachments[0].FileName != "photo.png" || th.Attachments[0].Size != 1234 ||
			th.Attachments[0].StorageName != "tickets/x/photo.png" || th.Attachments[0].ContentType != "image/png" {
			t.Errorf("attachments %+v, want the one created", th.Attachments)
		}

		if _, err := s.Reply(ctx, tk.ID, "Unplug it."); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx, tk.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Reply(ctx, tk.ID, "Too late."); !errors.Is(err, ErrClosed) {
			t.Errorf("reply to a closed ticket: %v, want ErrClosed", err)
		}
		if err := s.Close(ctx, tk.ID); !errors.Is(err, ErrClosed) {
			t.Errorf("close of a closed ticket: %v, want ErrClosed", err)
		}
		th, err = s.Thread(ctx, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if th.Ticket.Status != StatusClosed || len(th.Messages) != 2 || th.Messages[1].Author != AuthorStaff ||
			th.Messages[1].Body != "Unplug it." {
			t.Errorf("after reply and close: status %q, messages %+v", th.Ticket.Status, th.Messages)
		}

		for name, err := range map[string]error{
			"thread": func() error { _, err := s.Thread(ctx, NewID()); return err }(),
			"reply":  func() error { _, err := s.Reply(ctx, NewID(), "x"); return err }(),
			"close":  s.Close(ctx, NewID()),
		} {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s of an unknown ticket: %v, want ErrNotFound", name, err)
			}
		}
	})
}

func TestStoreListPages(t *testing.T) {
	eachBackend(t, func(t *testing.T, d *bun.DB) {
		ctx := context.Background()
		base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		var clock time.Time
		s := &Store{DB: d, Clock: func() time.Time { return clock }}
		var ids []string
		for i := range 5 {
			clock = base.Add(time.Duration(i) * time.Second)
			tk := &Ticket{Name: "n", Email: "e@example.com", Subject: "s", Locale: "en"}
			if err := s.CreateTicket(ctx, tk, "body"); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, tk.ID)
		}
		// A reply within the clock's resolution leaves the ticket's row as it was: MySQL reports
		// no changed row, which is no reason to refuse the reply.
		for range 2 {
			if _, err := s.Reply(ctx, ids[4], "same instant"); err != nil {
				t.Fatalf("reply at the instant of the ticket's last change: %v", err)
			}
		}
		var seen []string
		for off := int64(0); off < 6; off += 2 {
			p, err := s.ListTickets(ctx, off, 2)
			if err != nil {
				t.Fatal(err)
			}
			if p.Total != 5 {
				t.Errorf("page at %d: total %d, want 5", off, p.Total)
			}
			for _, tk := range p.Tickets {
				seen = append(seen, tk.ID)
			}
		}
		want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
		if strings.Join(seen, ",") != strings.Join(want, ",") {
			t.Errorf("pages listed %v, want newest first %v", seen, want)
		}
	})
}

// TestCreateTicketRollsBack: a ticket created in a transaction that fails leaves nothing.
func TestCreateTicketRollsBack(t *testing.T) {
	eachBackend(t, func(t *testing.T, d *bun.DB) {
		ctx := context.Background()
		s := &Store{DB: d}
		boom := errors.New("boom")
		var id string
		err := db.InTx(ctx, d, func(ctx context.Context, _ bun.Tx) error {
			tk := &Ticket{Name: "n", Email: "e@example.com", Subject: "s", Locale: "en"}
			if err := s.CreateTicket(ctx, tk, "body", &Attachment{StorageName: "a", FileName: "a", ContentType: "text/plain"}); err != nil {
				return err
			}
			id = tk.ID
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx: %v, want boom", err)
		}
		if _, err := s.Thread(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("ticket of a rolled-back transaction: %v, want ErrNotFound", err)
		}
		for _, table := range []string{"tickets", "messages", "attachments"} {
			n, err := d.NewSelect().Table(table).Count(ctx)
			if err != nil || n != 0 {
				t.Errorf("%s has %d rows (%v) after the rollback, want 0", table, n, err)
			}
		}
	})
}

// TestCommandMigrate runs the binary's own embedded commands: `web migrate check` reports the
// embedded migration pending (exit 3), `web migrate up` applies it, `web check` then passes.
func TestCommandMigrate(t *testing.T) {
	url := "sqlite://" + t.TempDir() + "/web.db"
	run := func(args ...string) (int, string) {
		root := Command()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		code := cli.ExecuteContext(ctx, root, append(args, "--database-url", url))
		return code, out.String()
	}
	if code, out := run("migrate", "check"); code != 3 || !strings.Contains(out, "0001_create_tickets") {
		t.Fatalf("migrate check on an empty database: exit %d, output %q; want 3 naming 0001_create_tickets", code, out)
	}
	if code, out := run("migrate", "up"); code != 0 || !strings.Contains(out, "0001_create_tickets") {
		t.Fatalf("migrate up: exit %d, output %q", code, out)
	}
	if code, out := run("check"); code != 0 {
		t.Fatalf("check after migrate up: exit %d, output %q", code, out)
	}
	d := dbtest.Open(t, url)
	s := &Store{DB: d}
	if err := s.CreateTicket(context.Background(), &Ticket{Name: "n", Email: "e@example.com", Subject: "s", Locale: "en"}, "b"); err != nil {
		t.Fatalf("create on the migrated database: %v", err)
	}
}
