package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/db/dbtest"
	_ "github.com/stackkit/stackkit/kit/db/postgres"
)

func TestConformance(t *testing.T) {
	dbtest.Run(t, testenv.Get(t, "KIT_TEST_POSTGRES_URL"))
}

func TestParamsPassedThrough(t *testing.T) {
	dbURL := dbtest.NewDatabase(t, testenv.Get(t, "KIT_TEST_POSTGRES_URL"))
	// The postgresql:// alias, and libpq parameters reaching the server.
	d := dbtest.Open(t, strings.Replace(dbURL, "postgres://", "postgresql://", 1)+"&application_name=kit-test&statement_timeout=1234")
	var app, timeout string
	if err := d.QueryRowContext(context.Background(), "SELECT current_setting('application_name'), current_setting('statement_timeout')").Scan(&app, &timeout); err != nil {
		t.Fatal(err)
	}
	if app != "kit-test" || timeout != "1234ms" {
		t.Errorf("application_name=%q statement_timeout=%q, want kit-test and 1234ms", app, timeout)
	}
}
