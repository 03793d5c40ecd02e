package migrate

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// record is one row of the history table.
type record struct {
	bun.BaseModel `bun:"table:kit_migrations"`

	Version    int64     `bun:"version,pk,autoincrement:false"`
	Name       string    `bun:"name,notnull,type:varchar(255)"`
	Checksum   string    `bun:"checksum,notnull,type:varchar(64)"`
	AppliedAt  time.Time `bun:"applied_at,notnull"`
	DurationMS int64     `bun:"duration_ms,notnull"`
}

func (m *Migrator) createHistory(ctx context.Context, db bun.IDB) error {
	_, err := db.NewCreateTable().Model((*record)(nil)).ModelTableExpr(m.table).IfNotExists().Exec(ctx)
	if err != nil {
		return fmt.Errorf("migrate: create history table %s: %w", m.table, err)
	}
	return nil
}

// history returns the applied migrations by version. A missing history table means none.
func (m *Migrator) history(ctx context.Context, db bun.IDB) (map[int64]record, error) {
	exists, err := m.historyExists(ctx, db)
	if err != nil || !exists {
		return map[int64]record{}, err
	}
	var rows []record
	// bun qualifies columns with the model's alias, "record".
	if err := db.NewSelect().Model(&rows).ModelTableExpr(m.table + " AS record").Order("version").Scan(ctx); err != nil {
		return nil, fmt.Errorf("migrate: read history table %s: %w", m.table, err)
	}
	out := make(map[int64]record, len(rows))
	for _, r := range rows {
		out[r.Version] = r
	}
	return out, nil
}

func (m *Migrator) historyExists(ctx context.Context, db bun.IDB) (bool, error) {
	var q string
	switch m.dialect {
	case "pg": // resolved through search_path, as the unqualified table name is
		q = "SELECT count(*) FROM (SELECT to_regclass(?) AS t) AS r WHERE t IS NOT NULL"
	case "mysql":
		q = "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
	default:
		q = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	}
	var n int
	if err := db.NewRaw(q, m.table).Scan(ctx, &n); err != nil {
		return false, fmt.Errorf("migrate: look for history table %s: %w", m.table, err)
	}
	return n > 0, nil
}

func (m *Migrator) insertRecord(ctx context.Context, db bun.IDB, mg *Migration, started time.Time) error {
	r := record{
		Version: mg.Version, Name: mg.Name, Checksum: mg.checksum,
		AppliedAt: started.UTC().Truncate(time.Millisecond), DurationMS: time.Since(started).Milliseconds(),
	}
	if _, err := db.NewInsert().Model(&r).ModelTableExpr(m.table).Exec(ctx); err != nil {
		return fmt.Errorf("migrate: record %s as applied: %w", mg.ID(), err)
	}
	return nil
}

func (m *Migrator) deleteRecord(ctx context.Context, db bun.IDB, mg *Migration) error {
	if _, err := db.NewDelete().TableExpr(m.table).Where("version = ?", mg.Version).Exec(ctx); err != nil {
		return fmt.Errorf("migrate: record %s as rolled back: %w", mg.ID(), err)
	}
	return nil
}
