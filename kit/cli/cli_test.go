package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/kit/cli"
	"github.com/stackkit/stackkit/kit/db/dbtest"
	"github.com/stackkit/stackkit/kit/db/migrate"
	"github.com/uptrace/bun"
)

// TestMain lets the test binary act as kitctl for the multi-process tests: run with
// KITCTL_TEST_MAIN=1 it is kitctl, and nothing else.
func TestMain(m *testing.M) {
	if os.Getenv("KITCTL_TEST_MAIN") == "1" {
		os.Exit(cli.Main())
	}
	os.Exit(m.Run())
}

type result struct {
	code           int
	stdout, stderr string
}

func kitctl(t *testing.T, args []string, opts ...cli.Option) result {
	t.Helper()
	root := cli.New(opts...)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	code := cli.ExecuteContext(context.Background(), root, args)
	return result{code, out.String(), errOut.String()}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMigrateCommands(t *testing.T) {
	dir := t.TempDir()
	migrations := filepath.Join(dir, "migrations")
	dbURL := "sqlite://" + filepath.ToSlash(filepath.Join(dir, "app.db"))
	flags := []string{"--database-url", dbURL, "--migrations", migrations}
	run := func(args ...string) result { return kitctl(t, append(args, flags...)) }

	r := run("migrate", "create", "Create Users!")
	if r.code != 0 || !strings.Contains(r.stdout, "0001_create_users.up.sql") {
		t.Fatalf("create: %+v", r)
	}
	writeFiles(t, migrations, map[string]string{
		"0001_create_users.up.sql":   "CREATE TABLE users (id INTEGER PRIMARY KEY);",
		"0001_create_users.down.sql": "DROP TABLE users;",
		"0002_add_email.up.sql":      "ALTER TABLE users ADD COLUMN email TEXT;",
		"0002_add_email.down.sql":    "ALTER TABLE users DROP COLUMN email;",
	})

	if r = run("migrate", "check"); r.code != cli.ExitPending || !strings.Contains(r.stderr, "0001_create_users") {
		t.Fatalf("check with pending migrations: %+v, want exit 3 naming them", r)
	}
	if r = run("migrate", "plan"); r.code != 0 || !strings.Contains(r.stdout, "up 0001_create_users") || !strings.Contains(r.stdout, "up 0002_add_email") {
		t.Fatalf("plan: %+v", r)
	}
	if r = run("migrate", "up", "--to", "1"); r.code != 0 || !strings.Contains(r.stdout, "0001_create_users") || strings.Contains(r.stdout, "0002") {
		t.Fatalf("up --to 1: %+v", r)
	}
	if r = run("migrate", "up"); r.code != 0 || !strings.Contains(r.stdout, "up   0002_add_email") {
		t.Fatalf("up: %+v", r)
	}
	if !strings.Contains(r.stderr, "migrate: applied") {
		t.Errorf("up logged nothing to stderr: %q", r.stderr)
	}
	if r = run("migrate", "check"); r.code != 0 || !strings.Contains(r.stdout, "up to date") {
		t.Fatalf("check when up to date: %+v", r)
	}

	r = run("migrate", "status", "--json")
	var status struct {
		Database   string
		Migrations []migrate.Status
	}
	if err := json.Unmarshal([]byte(r.stdout), &status); err != nil || r.code != 0 {
		t.Fatalf("status --json: %v: %+v", err, r)
	}
	if len(status.Migrations) != 2 || status.Migrations[1].State != migrate.StateApplied || status.Migrations[1].Name != "add_email" {
		t.Fatalf("status --json: %+v", status)
	}

	// Drift: an applied file edited blocks up (exit 1) until repaired.
	writeFiles(t, migrations, map[string]string{"0002_add_email.up.sql": "ALTER TABLE users ADD COLUMN email TEXT; -- reviewed"})
	if r = run("migrate", "status"); !strings.Contains(r.stdout, "drift") {
		t.Errorf("status does not show drift: %+v", r)
	}
	if r = run("migrate", "check"); r.code != cli.ExitFailure || !strings.Contains(r.stderr, "changed since they were applied") || !strings.Contains(r.stderr, "(database sqlite://") {
		t.Fatalf("check with drift: %+v, want exit 1", r)
	}
	if r = run("migrate", "repair"); r.code != 0 || !strings.Contains(r.stdout, "accepted 0002_add_email") {
		t.Fatalf("repair: %+v", r)
	}

	if r = run("migrate", "down", "--dry-run"); r.code != 0 || !strings.Contains(r.stdout, "down 0002_add_email") {
		t.Fatalf("down --dry-run: %+v", r)
	}
	if r = run("migrate", "down", "--to", "zero"); r.code != 0 || !strings.Contains(r.stdout, "down 0001_create_users") {
		t.Fatalf("down --to zero: %+v", r)
	}
	if r = run("migrate", "status"); strings.Count(r.stdout, "pending") != 2 {
		t.Fatalf("status after down to zero: %+v", r)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"migrate", "upp"},
		{"migrat"},
		{"migrate", "up", "--bogus"},
		{"migrate", "down", "0"},
		{"migrate", "down", "2", "--to", "1"},
		{"migrate", "up", "--to", "x"},
		{"migrate", "create"},
		{"migrate", "status", "extra"},
		{"version", "--log-level", "loud"},
		{"migrate", "up", "--lock-timeout", "0s", "--database-url", "sqlite://:memory:"},
	} {
		r := kitctl(t, args)
		if r.code != cli.ExitUsage {
			t.Errorf("kitctl %s: exit %d, want 2 (stderr %q)", strings.Join(args, " "), r.code, r.stderr)
		}
		if r.stderr == "" {
			t.Errorf("kitctl %s: no message on stderr", strings.Join(args, " "))
		}
	}
	if r := kitctl(t, []string{"migrat"}); !strings.Contains(r.stderr, "did you mean migrate") {
		t.Errorf("no suggestion for a typo: %q", r.stderr)
	}
	// A typo inside a group, which is not a prefix of the command it means.
	if r := kitctl(t, []string{"migrate", "upp"}); r.code != cli.ExitUsage || !strings.Contains(r.stderr, "did you mean up") {
		t.Errorf("kitctl migrate upp: exit %d, stderr %q; want exit 2 and a suggestion of up", r.code, r.stderr)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	t.Setenv("KIT_DATABASE_URL", "postgres://app:hunter2@127.0.0.1:1/app?ping_timeout=1s")
	dir := t.TempDir()
	r := kitctl(t, []string{"migrate", "status", "--migrations", dir})
	if r.code != cli.ExitFailure {
		t.Fatalf("status against an unreachable server: exit %d, want 1", r.code)
	}
	if !strings.Contains(r.stderr, "postgres://app:xxxxx@127.0.0.1:1/app") {
		t.Errorf("error does not name the redacted URL: %q", r.stderr)
	}
	help := kitctl(t, []string{"migrate", "--help"})
	for _, s := range []string{r.stdout, r.stderr, help.stdout, help.stderr} {
		if strings.Contains(s, "hunter2") {
			t.Fatalf("password printed: %q", s)
		}
	}
}

func TestEmbeddedAndGoMigrations(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // no ./migrations here: the embedded source must be used
	ran := false
	goMigration := migrate.Go(2, "go_step", func(ctx context.Context, db bun.IDB) error {
		ran = true
		_, err := db.ExecContext(ctx, "INSERT INTO runs (version) VALUES (2)")
		return err
	}, nil)
	fsys := dbtest.Files(1)
	opts := []cli.Option{cli.WithName("orders"), cli.WithMigrationsFS(fsys), cli.WithGoMigrations(goMigration), cli.WithVersion("v1.2.3")}
	dbURL := "sqlite://" + filepath.ToSlash(filepath.Join(dir, "svc.db"))
	if r := kitctl(t, []string{"migrate", "up", "--database-url", dbURL}, opts...); r.code != 0 || !ran {
		t.Fatalf("up with embedded and Go migrations: %+v (Go migration ran: %v)", r, ran)
	}
	if r := kitctl(t, []string{"version"}, opts...); !strings.HasPrefix(r.stdout, "orders v1.2.3") {
		t.Errorf("version: %q", r.stdout)
	}
	// A service can also mount the migrate group under its own root.
	if cmd := cli.MigrateCommand(opts...); cmd.Name() != "migrate" || !cmd.HasSubCommands() {
		t.Errorf("MigrateCommand: %v", cmd.Name())
	}
}

func TestMissingMigrationsDir(t *testing.T) {
	t.Chdir(t.TempDir())
	r := kitctl(t, []string{"migrate", "up", "--database-url", "sqlite://:memory:"})
	if r.code != cli.ExitFailure || !strings.Contains(r.stderr, `migrations directory "./migrations" not found`) {
		t.Fatalf("up without a migrations directory: %+v", r)
	}
}
