package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/db/dbtest"
)

// backend is a database kitctl is tested against with real processes.
type backend struct {
	name string
	env  string // KIT_TEST_* variable with the admin URL; "" for SQLite, which needs no server
	// slow is a statement that runs until the process is killed, holding the migration lock.
	slow string
}

var backends = []backend{
	{"postgres", "KIT_TEST_POSTGRES_URL", "SELECT pg_sleep(600);"},
	{"mariadb", "KIT_TEST_MYSQL_URL", "SELECT SLEEP(600);"},
	{"sqlite", "", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;"},
}

func (b backend) adminURL(t *testing.T) string {
	if b.env == "" {
		return "sqlite://"
	}
	return testenv.Get(t, b.env)
}

// command returns this test binary set up to run as kitctl with args.
func command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "KITCTL_TEST_MAIN=1")
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func writeMapFS(t *testing.T, dir string, n int) {
	t.Helper()
	files := map[string]string{}
	for name, f := range dbtest.Files(n) {
		files[name] = string(f.Data)
	}
	writeFiles(t, dir, files)
}

// TestConcurrentMigrators starts eight "kitctl migrate up" processes at once on one database:
// all must exit 0, and every migration must be applied exactly once.
func TestConcurrentMigrators(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dbURL := dbtest.NewDatabase(t, b.adminURL(t))
			dir := filepath.Join(t.TempDir(), "migrations")
			const n, processes = 20, 8
			writeMapFS(t, dir, n)

			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmds := make([]*exec.Cmd, processes)
			outs := make([]*bytes.Buffer, processes)
			for i := range cmds {
				cmds[i] = command(ctx, "migrate", "up", "--database-url", dbURL, "--migrations", dir, "--lock-timeout", "2m")
				outs[i] = new(bytes.Buffer)
				cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
			}
			// Start them all before waiting for any, so they race for the lock.
			for _, c := range cmds {
				if err := c.Start(); err != nil {
					t.Fatal(err)
				}
			}
			applied := 0
			for i, c := range cmds {
				if err := c.Wait(); err != nil {
					t.Errorf("migrator %d: %v\n%s", i, err, outs[i])
				}
				applied += strings.Count(outs[i].String(), `msg="migrate: applied"`)
			}
			if applied != n {
				t.Errorf("the processes applied %d migrations between them, want %d", applied, n)
			}
			dbtest.AssertAppliedOnce(t, dbtest.Open(t, dbURL), n)
		})
	}
}

// TestKilledMigratorReleasesLock kills a migrator with SIGKILL while it holds the lock in the
// middle of a migration; the next migrator must get the lock at once and finish the job.
func TestKilledMigratorReleasesLock(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dbURL := dbtest.NewDatabase(t, b.adminURL(t))
			dir := filepath.Join(t.TempDir(), "migrations")
			writeMapFS(t, dir, 1)
			writeFiles(t, dir, map[string]string{
				"0002_slow.up.sql": b.slow + "\nINSERT INTO runs (version) VALUES (2);\n",
			})

			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			victim := command(ctx, "migrate", "up", "--database-url", dbURL, "--migrations", dir)
			stderr, err := victim.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := victim.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait until the victim, holding the lock, has started the slow migration.
			var seen []string
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				seen = append(seen, sc.Text())
				if strings.Contains(sc.Text(), `msg="migrate: applying" migration=0002_slow`) {
					break
				}
			}
			if !strings.Contains(strings.Join(seen, "\n"), "0002_slow") {
				_ = victim.Process.Kill()
				t.Fatalf("the migrator never reached the slow migration:\n%s", strings.Join(seen, "\n"))
			}
			// Proof that the victim holds the lock: an impatient migrator gives up.
			blocked, err := command(ctx, "migrate", "up", "--database-url", dbURL, "--migrations", dir, "--lock-timeout", "300ms").CombinedOutput()
			if err == nil || !strings.Contains(string(blocked), "timed out waiting for the migration lock") {
				t.Fatalf("a second migrator did not wait for the victim's lock: %v\n%s", err, blocked)
			}
			if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			go func() { _, _ = bufio.NewReader(stderr).WriteTo(new(bytes.Buffer)) }()
			_ = victim.Wait()

			// The fixed migration, and a successor that would give up if the dead one still held the lock.
			writeFiles(t, dir, map[string]string{"0002_slow.up.sql": "INSERT INTO runs (version) VALUES (2);\n"})
			start := time.Now()
			next := command(ctx, "migrate", "up", "--database-url", dbURL, "--migrations", dir, "--lock-timeout", "20s")
			out, err := next.CombinedOutput()
			if err != nil {
				t.Fatalf("migrator after the kill: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "migration=0002_slow") {
				t.Errorf("the successor did not apply 0002_slow:\n%s", out)
			}
			t.Logf("successor finished %s after the kill", time.Since(start).Round(time.Millisecond))
			dbtest.AssertAppliedOnce(t, dbtest.Open(t, dbURL), 2)
		})
	}
}
