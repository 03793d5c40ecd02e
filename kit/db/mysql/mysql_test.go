package mysql_test

import (
	"context"
	"testing"
	"time"

	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/db/dbtest"
	_ "github.com/stackkit/stackkit/kit/db/mysql"
)

func TestConformance(t *testing.T) {
	dbtest.Run(t, testenv.Get(t, "KIT_TEST_MYSQL_URL"))
}

func TestTimesAreUTC(t *testing.T) {
	d := dbtest.Open(t, dbtest.NewDatabase(t, testenv.Get(t, "KIT_TEST_MYSQL_URL"))+"?time_zone=%2B00:00")
	ctx := context.Background()
	if _, err := d.ExecContext(ctx, "CREATE TABLE ts (at DATETIME(6) NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 11, 23, 12, 30, 45, 123456000, time.UTC)
	if _, err := d.NewInsert().Model(&map[string]any{"at": want}).TableExpr("ts").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	var got time.Time
	if err := d.NewSelect().Column("at").Table("ts").Scan(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("read back %v, want %v in UTC", got, want)
	}
}
