package dbtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stackkit/stackkit/kit/db"
	"github.com/uptrace/bun"
)

type item struct {
	bun.BaseModel `bun:"table:kit_items"`
	ID            int64  `bun:"id,pk"`
	Name          string `bun:"name,notnull"`
}

func testTx(t *testing.T, adminURL string) {
	ctx := context.Background()
	d := Open(t, NewDatabase(t, adminURL))
	if _, err := d.NewCreateTable().Model((*item)(nil)).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	var nextID int64
	insert := func(ctx context.Context, idb bun.IDB) int64 {
		t.Helper()
		nextID++
		if _, err := idb.NewInsert().Model(&item{ID: nextID, Name: fmt.Sprint("item", nextID)}).Exec(ctx); err != nil {
			t.Fatalf("insert: %v", err)
		}
		return nextID
	}
	// exists asks through the pool, outside any transaction: it sees committed rows only.
	exists := func(id int64) bool {
		t.Helper()
		ok, err := d.NewSelect().Model((*item)(nil)).Where("id = ?", id).Exists(ctx)
		if err != nil {
			t.Fatalf("exists: %v", err)
		}
		return ok
	}
	errBoom := errors.New("boom")

	t.Run("CommitAndRollback", func(t *testing.T) {
		var committed, rolledBack int64
		if err := db.InTx(ctx, d, func(ctx context.Context, tx bun.Tx) error {
			committed = insert(ctx, tx)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		err := db.InTx(ctx, d, func(ctx context.Context, tx bun.Tx) error {
			rolledBack = insert(ctx, tx)
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("InTx returned %v, want fn's error", err)
		}
		if !exists(committed) || exists(rolledBack) {
			t.Errorf("committed row present=%v (want true), rolled-back row present=%v (want false)", exists(committed), exists(rolledBack))
		}
	})

	t.Run("PanicRollsBack", func(t *testing.T) {
		var id int64
		func() {
			defer func() {
				if p := recover(); p != "kaboom" {
					t.Errorf("recovered %v, want the original panic", p)
				}
			}()
			_ = db.InTx(ctx, d, func(ctx context.Context, tx bun.Tx) error {
				id = insert(ctx, tx)
				panic("kaboom")
			})
		}()
		if exists(id) {
			t.Error("row inserted before the panic was committed")
		}
	})

	t.Run("SavepointRollback", func(t *testing.T) {
		var outer, inner, after int64
		var ran []string
		err := db.InTx(ctx, d, func(ctx context.Context, tx bun.Tx) error {
			outer = insert(ctx, tx)
			must(t, db.OnCommit(ctx, func(context.Context) error { ran = append(ran, "outer"); return nil }))
			err := db.InTx(ctx, d, func(ctx context.Context, sp bun.Tx) error {
				inner = insert(ctx, sp)
				must(t, db.OnCommit(ctx, func(context.Context) error { ran = append(ran, "inner"); return nil }))
				return errBoom
			})
			if !errors.Is(err, errBoom) {
				t.Errorf("nested InTx returned %v", err)
			}
			after = insert(ctx, tx)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !exists(outer) || exists(inner) || !exists(after) {
			t.Errorf("outer=%v inner=%v after=%v, want true false true", exists(outer), exists(inner), exists(after))
		}
		if !slices.Equal(ran, []string{"outer"}) {
			t.Errorf("callbacks ran %v, want [outer]: the rolled-back savepoint's callback must be dropped", ran)
		}
	})

	t.Run("OnCommitOrder", func(t *testing.T) {
		var ran []string
		var seenCommitted bool
		var id int64
		err := db.InTx(ctx, d, func(ctx context.Context, tx bun.Tx) error {
			id = insert(ctx, tx)
			add := func(name string) {
				must(t, db.OnCommit(ctx, func(context.Context) error {
					ran = append(ran, name)
					seenCommitted = exists(id)
					return nil
				}))
			}
			add("1")
			must(t, db.InTx(ctx, d, func(ctx context.Context, sp bun.Tx) error {
				add("2")
				return db.InTx(ctx, d, func(ctx context.Context, sp2 bun.Tx) error { add("3"); return nil })
			}))
			add("4")
			if len(ran) != 0 {
				t.Errorf("callbacks ran before commit: %v", ran)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ran, []string{"1", "2", "3", "4"}) {
			t.Errorf("callbacks ran %v, want [1 2 3 4]", ran)
		}
		if !seenCommitted {
			t.Error("a callback did not see the committed row from another connection")
		}
	})

	t.Run("OnCommitDroppedOnRollback", func(t *testing.T) {
		ran := false
		_ = db.InTx(ctx, d, func(ctx context.Context, tx bun.Tx) error {
			must(t, db.InTx(ctx, d, func(ctx context.Context, sp bun.Tx) error {
				return db.OnCommit(ctx, func(context.Context) error { ran = true; return nil })
			}))
			return errBoom // the released savepoint's callback goes with the outer rollback
		})
		if ran {
			t.Error("callback ran although the transaction rolled back")
		}
	})

	t.Run("OnCommitOutsideTx", func(t *testing.T) {
		ran := false
		if err := db.OnCommit(ctx, func(context.Context) error { ran = true; return nil }); err != nil || !ran {
			t.Errorf("outside a transaction: ran=%v err=%v, want it run at once", ran, err)
		}
		if err := db.OnCommit(ctx, func(context.Context) error { return errBoom }); !errors.Is(err, errBoom) {
			t.Errorf("outside a transaction: err=%v, want the callback's error", err)
		}
	})

	t.Run("OnCommitErrors", func(t *testing.T) {
		var id int64
		second := false
		err := db.InTx(ctx, d, func(ctx context.Context, tx bun.Tx) error {
			id = insert(ctx, tx)
			must(t, db.OnCommit(ctx, func(context.Context) error { return errBoom }))
			must(t, db.OnCommit(ctx, func(context.Context) error { second = true; return nil }))
			return nil
		})
		if !errors.Is(err, db.ErrAfterCommit) || !errors.Is(err, errBoom) {
			t.Errorf("err = %v, want ErrAfterCommit wrapping the callback's error", err)
		}
		if !exists(id) || !second {
			t.Errorf("row committed=%v, later callback ran=%v; want both", exists(id), second)
		}
	})

	t.Run("FromAndCurrent", func(t *testing.T) {
		if _, ok := db.Current(ctx, d); ok {
			t.Error("Current outside a transaction reported one")
		}
		if db.From(ctx, d) != bun.IDB(d) {
			t.Error("From outside a transaction is not the database")
		}
		_ = db.InTx(ctx, d, func(ctx context.Context, tx bun.Tx) error {
			id := insert(ctx, db.From(ctx, d))
			if ok, _ := db.From(ctx, d).NewSelect().Model((*item)(nil)).Where("id = ?", id).Exists(ctx); !ok {
				t.Error("From inside a transaction does not see the transaction's own row")
			}
			return errBoom
		})
	})

	t.Run("NestedOptionsRejected", func(t *testing.T) {
		err := db.InTx(ctx, d, func(ctx context.Context, tx bun.Tx) error {
			return db.InTx(ctx, d, func(context.Context, bun.Tx) error { return nil }, db.ReadOnly())
		})
		if !errors.Is(err, db.ErrNestedTxOptions) {
			t.Errorf("err = %v, want ErrNestedTxOptions", err)
		}
	})

	t.Run("ConcurrentOnCommit", func(t *testing.T) {
		var mu sync.Mutex
		count := 0
		err := db.InTx(ctx, d, func(ctx context.Context, tx bun.Tx) error {
			var wg sync.WaitGroup
			for range 16 {
				wg.Go(func() {
					if err := db.OnCommit(ctx, func(context.Context) error { mu.Lock(); count++; mu.Unlock(); return nil }); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			return nil
		})
		if err != nil || count != 16 {
			t.Errorf("count=%d err=%v, want 16 callbacks run", count, err)
		}
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
