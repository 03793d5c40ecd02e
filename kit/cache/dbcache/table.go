package dbcache

import (
	"context"
	"fmt"

	"github.com/stackkit/stackkit/kit/db"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// CreateTable creates the cache table and its index on expires_at if they do not exist
// (kitctl cache createtable). The columns:
//
//	cache_key   VARCHAR(255) COLLATE "C" (PostgreSQL), VARBINARY(255) (MySQL), TEXT (SQLite); primary key
//	value       BYTEA, LONGBLOB, BLOB
//	expires_at  BIGINT, Unix milliseconds; NULL never expires; indexed as <table>_expires_at_idx
//
// The key column compares bytes exactly in every dialect (MySQL's default collations would
// ignore case and trailing spaces), so keys differing only in case are different keys.
func CreateTable(ctx context.Context, bdb *bun.DB, table string) error {
	if !tableName.MatchString(table) {
		return fmt.Errorf("dbcache: table name %q: want letters, digits and underscores, at most 48, not starting with a digit", table)
	}
	var stmts []string
	switch name := bdb.Dialect().Name(); name {
	case dialect.PG:
		stmts = []string{
			`CREATE TABLE IF NOT EXISTS "` + table + `" (` +
				`"cache_key" VARCHAR(255) COLLATE "C" NOT NULL PRIMARY KEY, ` +
				`"value" BYTEA NOT NULL, "expires_at" BIGINT NULL)`,
			`CREATE INDEX IF NOT EXISTS "` + table + `_expires_at_idx" ON "` + table + `" ("expires_at")`,
		}
	case dialect.MySQL:
		// One statement: MySQL has no CREATE INDEX IF NOT EXISTS (MariaDB has).
		stmts = []string{
			"CREATE TABLE IF NOT EXISTS `" + table + "` (" +
				"`cache_key` VARBINARY(255) NOT NULL PRIMARY KEY, " +
				"`value` LONGBLOB NOT NULL, `expires_at` BIGINT NULL, " +
				"INDEX `" + table + "_expires_at_idx` (`expires_at`))",
		}
	case dialect.SQLite:
		stmts = []string{
			`CREATE TABLE IF NOT EXISTS "` + table + `" (` +
				`"cache_key" TEXT NOT NULL PRIMARY KEY, "value" BLOB NOT NULL, "expires_at" INTEGER NULL)`,
			`CREATE INDEX IF NOT EXISTS "` + table + `_expires_at_idx" ON "` + table + `" ("expires_at")`,
		}
	default:
		return fmt.Errorf("dbcache: unsupported database dialect %s", name)
	}
	err := db.InTx(ctx, bdb, func(ctx context.Context, tx bun.Tx) error {
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("dbcache: create table %s: %w", table, err)
	}
	return nil
}

// CreateTable creates the driver's table if it does not exist; see the function CreateTable.
// kitctl finds it on a cache's driver by the method alone, without importing this package.
func (d *Driver) CreateTable(ctx context.Context) error { return CreateTable(ctx, d.db, d.table) }
