package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/uptrace/bun"
)

// ErrAfterCommit is wrapped by the error [InTx] returns when the transaction committed but one or
// more [OnCommit] callbacks failed: the data is saved, the side effects are not all done.
var ErrAfterCommit = errors.New("db: transaction committed, but on-commit callbacks failed")

// ErrNestedTxOptions is returned when a nested [InTx] asks for transaction options: a savepoint
// runs at the isolation level of the transaction it is part of.
var ErrNestedTxOptions = errors.New("db: transaction options cannot apply to a nested transaction (savepoint)")

// TxOption configures the outermost transaction of [InTx].
type TxOption func(*sql.TxOptions)

// Isolation sets the isolation level.
func Isolation(level sql.IsolationLevel) TxOption {
	return func(o *sql.TxOptions) { o.Isolation = level }
}

// ReadOnly starts a read-only transaction.
func ReadOnly() TxOption { return func(o *sql.TxOptions) { o.ReadOnly = true } }

// txState is one level of transaction: the outermost transaction or a savepoint within it.
type txState struct {
	db     *bun.DB
	tx     bun.Tx
	parent *txState // nil for the outermost transaction

	mu        sync.Mutex
	hooks     []func(context.Context) error
	done      bool
	committed bool
}

// txKey finds a database's current transaction level in a context; innermostKey finds the
// innermost level of any database, which is where OnCommit registers.
type txKey struct{ db *bun.DB }
type innermostKey struct{}

func withTx(ctx context.Context, st *txState) context.Context {
	return context.WithValue(context.WithValue(ctx, txKey{st.db}, st), innermostKey{}, st)
}

func innermost(ctx context.Context) *txState {
	st, _ := ctx.Value(innermostKey{}).(*txState)
	return st
}

// active returns the unfinished transaction level of d that ctx carries, if any. A context kept
// from a savepoint that has ended stands for the enclosing level that is still open.
func active(ctx context.Context, d *bun.DB) *txState {
	st, _ := ctx.Value(txKey{d}).(*txState)
	for ; st != nil; st = st.parent {
		st.mu.Lock()
		done := st.done
		st.mu.Unlock()
		if !done {
			return st
		}
	}
	return nil
}

// Current returns the transaction of d that ctx is running in, and whether there is one.
func Current(ctx context.Context, d *bun.DB) (bun.Tx, bool) {
	if st := active(ctx, d); st != nil {
		return st.tx, true
	}
	return bun.Tx{}, false
}

// From returns the transaction of d that ctx is running in, or d itself: repository code takes a
// ctx and a *bun.DB and works the same inside and outside [InTx].
func From(ctx context.Context, d *bun.DB) bun.IDB {
	if tx, ok := Current(ctx, d); ok {
		return tx
	}
	return d
}

// InTx runs fn in a transaction on d and commits if fn returns nil, or rolls back if it returns
// an error, panics or exits its goroutine (t.Fatal); a panic is re-raised after the rollback.
//
// Called with a ctx that is already inside a transaction of d, InTx makes a savepoint instead:
// an error from fn rolls back to the savepoint only, and the outer transaction continues.
//
// After the outermost commit, InTx runs the callbacks registered with [OnCommit] in registration
// order, with ctx. All of them run; if any fail, InTx returns their errors joined and wrapped in
// [ErrAfterCommit] (the transaction is committed all the same).
func InTx(ctx context.Context, d *bun.DB, fn func(ctx context.Context, tx bun.Tx) error, opts ...TxOption) error {
	return inTx(ctx, d, d.BeginTx, fn, opts)
}

// InTxOn is [InTx] on a connection taken from d's pool, for work that must stay on one session
// (session-level locks, temporary tables, SET commands). The transaction is d's as far as
// [OnCommit], [From] and nested InTx calls are concerned.
func InTxOn(ctx context.Context, d *bun.DB, conn bun.Conn, fn func(ctx context.Context, tx bun.Tx) error, opts ...TxOption) error {
	return inTx(ctx, d, conn.BeginTx, fn, opts)
}

func inTx(ctx context.Context, d *bun.DB, begin func(context.Context, *sql.TxOptions) (bun.Tx, error),
	fn func(ctx context.Context, tx bun.Tx) error, opts []TxOption) error {
	if parent := active(ctx, d); parent != nil {
		if len(opts) > 0 {
			return ErrNestedTxOptions
		}
		return savepoint(ctx, parent, fn)
	}
	var txOpts sql.TxOptions
	for _, o := range opts {
		o(&txOpts)
	}
	tx, err := begin(ctx, &txOpts)
	if err != nil {
		return fmt.Errorf("db: begin transaction: %w", err)
	}
	st := &txState{db: d, tx: tx}
	if err := run(withTx(ctx, st), st, fn); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		st.finish(false)
		return fmt.Errorf("db: commit: %w", err)
	}
	hooks := st.finish(true)
	var errs []error
	for _, h := range hooks {
		if err := h(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrAfterCommit, errors.Join(errs...))
	}
	return nil
}

func savepoint(ctx context.Context, parent *txState, fn func(ctx context.Context, tx bun.Tx) error) error {
	sp, err := parent.tx.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: savepoint: %w", err)
	}
	st := &txState{db: parent.db, tx: sp, parent: parent}
	if err := run(withTx(ctx, st), st, fn); err != nil {
		return err
	}
	if err := sp.Commit(); err != nil { // RELEASE SAVEPOINT
		st.finish(false)
		return fmt.Errorf("db: release savepoint: %w", err)
	}
	// The savepoint's callbacks now belong to the enclosing transaction: they run only if it commits.
	hooks := st.finish(true)
	parent.mu.Lock()
	parent.hooks = append(parent.hooks, hooks...)
	parent.mu.Unlock()
	return nil
}

// run calls fn and rolls st back unless fn returns nil: on an error, a panic (re-raised), or
// runtime.Goexit (t.Fatal in a test), which recover does not see.
func run(ctx context.Context, st *txState, fn func(ctx context.Context, tx bun.Tx) error) (err error) {
	returned := false
	defer func() {
		if returned {
			return
		}
		p := recover()
		_ = st.tx.Rollback()
		st.finish(false)
		if p != nil {
			panic(p)
		}
	}()
	err = fn(ctx, st.tx)
	returned = true
	if err != nil {
		if rbErr := st.tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			err = fmt.Errorf("%w (and rollback failed: %w)", err, rbErr)
		}
		st.finish(false)
		return err
	}
	return nil
}

// finish marks st done and hands back its callbacks.
func (st *txState) finish(committed bool) []func(context.Context) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.done, st.committed = true, committed
	hooks := st.hooks
	st.hooks = nil
	return hooks
}

// OnCommit registers fn to run after the outermost transaction that ctx is in commits. Callbacks
// run in registration order; a rollback drops them, including a rollback to the savepoint they
// were registered in. Outside a transaction, fn runs at once and OnCommit returns its error.
//
// This is how a service sends an email, publishes an event or clears a cache only once the data it
// describes is committed.
func OnCommit(ctx context.Context, fn func(ctx context.Context) error) error {
	for st := innermost(ctx); st != nil; st = st.parent {
		st.mu.Lock()
		if !st.done {
			st.hooks = append(st.hooks, fn)
			st.mu.Unlock()
			return nil
		}
		committed := st.committed
		st.mu.Unlock()
		if !committed {
			return nil // registered in a transaction that rolled back: dropped with it
		}
		// A released savepoint: its callbacks moved to the enclosing level; so does this one.
	}
	return fn(ctx)
}
