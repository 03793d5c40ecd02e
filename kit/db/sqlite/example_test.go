package sqlite_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing/fstest"

	"github.com/stackkit/stackkit/kit/db"
	"github.com/stackkit/stackkit/kit/db/migrate"
	_ "github.com/stackkit/stackkit/kit/db/sqlite"
	"github.com/uptrace/bun"
)

type Order struct {
	ID    int64 `bun:",pk,autoincrement"`
	Total int64
}

// Open a database by URL, migrate it, and send a receipt only once the order is committed.
func Example() {
	ctx := context.Background()
	bdb, err := db.Open(ctx, "sqlite://:memory:")
	if err != nil {
		panic(err)
	}
	defer bdb.Close()

	files := fstest.MapFS{ // in a service: an embed.FS of migrations/*.sql
		"0001_orders.up.sql":   {Data: []byte("CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, total INTEGER NOT NULL);")},
		"0001_orders.down.sql": {Data: []byte("DROP TABLE orders;")},
	}
	m, err := migrate.New(bdb, migrate.WithFS(files), migrate.WithLogger(discard))
	if err != nil {
		panic(err)
	}
	steps, err := m.Up(ctx)
	fmt.Println("applied", len(steps), "migration(s)", err)

	err = db.InTx(ctx, bdb, func(ctx context.Context, tx bun.Tx) error {
		order := &Order{Total: 4200}
		if _, err := tx.NewInsert().Model(order).Exec(ctx); err != nil {
			return err
		}
		return db.OnCommit(ctx, func(ctx context.Context) error {
			fmt.Println("committed: sending the receipt for order", order.ID)
			return nil
		})
	})
	fmt.Println("transaction:", err)

	err = db.InTx(ctx, bdb, func(ctx context.Context, tx bun.Tx) error {
		_ = db.OnCommit(ctx, func(ctx context.Context) error {
			fmt.Println("never printed: the transaction rolls back")
			return nil
		})
		return fmt.Errorf("card declined")
	})
	fmt.Println("transaction:", err)
	// Output:
	// applied 1 migration(s) <nil>
	// committed: sending the receipt for order 1
	// transaction: <nil>
	// transaction: card declined
}

var discard = slog.New(slog.DiscardHandler)
