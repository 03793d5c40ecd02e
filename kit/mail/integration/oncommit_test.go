package integration

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/db"
	_ "github.com/stackkit/stackkit/kit/db/sqlite"
	"github.com/stackkit/stackkit/kit/mail"
	"github.com/stackkit/stackkit/kit/queue"
	"github.com/uptrace/bun"
)

type order struct {
	bun.BaseModel `bun:"table:orders"`
	ID            int64 `bun:",pk,autoincrement"`
	Email         string
}

func receipt(o *order) *mail.Message {
	return &mail.Message{
		From: "shop@example.com", To: []string{o.Email}, Subject: "Your receipt", Text: "Thanks!",
		MessageID: mail.StableMessageID("receipt/"+o.Email, "shop.example.com"),
	}
}

// An order's receipt is enqueued in the transaction's on-commit hook: a committed order gets
// its mail, a rolled-back one gets none, and an invalid message fails the transaction.
func TestSendOnCommitSQLite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bdb, err := db.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "shop.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	if _, err := bdb.NewCreateTable().Model((*order)(nil)).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	q, err := queue.Open(ctx, "memory://")
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	queued, err := mail.NewQueued(q, "")
	if err != nil {
		t.Fatal(err)
	}

	place := func(email string, fail error) error {
		return db.InTx(ctx, bdb, func(ctx context.Context, tx bun.Tx) error {
			o := &order{Email: email}
			if _, err := tx.NewInsert().Model(o).Exec(ctx); err != nil {
				return err
			}
			if err := queued.SendOnCommit(ctx, db.OnCommit, receipt(o)); err != nil {
				return err
			}
			return fail
		})
	}
	if err := place("committed@example.com", nil); err != nil {
		t.Fatal(err)
	}
	errPayment := errors.New("payment declined")
	if err := place("rolledback@example.com", errPayment); !errors.Is(err, errPayment) {
		t.Fatalf("rolled-back order: %v", err)
	}
	if err := place("bad\r\nBcc: victim@example.com", nil); !errors.Is(err, mail.ErrInvalidAddress) && !errors.Is(err, mail.ErrInvalidHeader) {
		t.Fatalf("order with an invalid address: %v, want the mail error to fail the transaction", err)
	}
	n, err := bdb.NewSelect().Model((*order)(nil)).Count(ctx)
	if err != nil || n != 1 {
		t.Fatalf("%d orders stored (%v), want only the committed one", n, err)
	}
	// Nested: a savepoint rolled back drops its hook; the outer commit sends the outer mail.
	err = db.InTx(ctx, bdb, func(ctx context.Context, tx bun.Tx) error {
		if err := queued.SendOnCommit(ctx, db.OnCommit, receipt(&order{Email: "outer@example.com"})); err != nil {
			return err
		}
		_ = db.InTx(ctx, bdb, func(ctx context.Context, tx bun.Tx) error {
			if err := queued.SendOnCommit(ctx, db.OnCommit, receipt(&order{Email: "savepoint@example.com"})); err != nil {
				return err
			}
			return errPayment
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A marker sent last: once it is out, everything enqueued before it is too.
	marker := &mail.Message{From: "shop@example.com", To: []string{"marker@example.com"}, Subject: "marker", Text: "x"}
	if err := queued.Send(ctx, marker); err != nil {
		t.Fatal(err)
	}

	out := mail.New(mail.NewMemory())
	w := &mail.Worker{Queue: q, Mailer: out}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	sent, err := out.Driver().(*mail.Memory).Wait(ctx, 3)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	var to []string
	for _, e := range sent {
		to = append(to, e.To...)
	}
	want := []string{"committed@example.com", "outer@example.com", "marker@example.com"}
	if len(to) != len(want) {
		t.Fatalf("sent to %v, want %v", to, want)
	}
	for i := range want {
		if to[i] != want[i] {
			t.Fatalf("sent to %v, want %v", to, want)
		}
	}
}
