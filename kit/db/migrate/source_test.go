package migrate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/uptrace/bun"
)

func TestLoadFSErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		files fstest.MapFS
		want  error
		text  string
	}{
		"bad name":          {fstest.MapFS{"0001_init.sql": {}}, ErrBadFileName, "0001_init.sql"},
		"zero version":      {fstest.MapFS{"0000_init.up.sql": {}}, ErrBadFileName, "positive"},
		"no underscore":     {fstest.MapFS{"0001.up.sql": {}}, ErrBadFileName, "0001.up.sql"},
		"duplicate version": {fstest.MapFS{"0001_a.up.sql": {}, "0001_b.up.sql": {}}, ErrDuplicateVersion, "0001_a.up.sql and 0001_b.up.sql"},
		"down without up":   {fstest.MapFS{"0002_x.down.sql": {}}, nil, "0002_x.down.sql has no matching 0002_x.up.sql"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadFS(tc.files)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("loadFS = %v, want %v mentioning %q", err, tc.want, tc.text)
			}
		})
	}
	ms, err := loadFS(fstest.MapFS{"README.md": {}, "sub/0009_x.up.sql": {}, "0002_b.up.sql": {Data: []byte("x\r\n")}, "0001_a.up.sql": {}, "0001_a.down.sql": {}})
	if err != nil || len(ms) != 2 {
		t.Fatalf("loadFS = %d migrations, %v; want 2 (other files and subdirectories ignored)", len(ms), err)
	}
	// CRLF and LF versions of a file have one checksum, so a Windows checkout is not drift.
	lf, _ := loadFS(fstest.MapFS{"0002_b.up.sql": {Data: []byte("x\n")}})
	for _, m := range ms {
		if m.Version == 2 && m.Checksum() != lf[0].Checksum() {
			t.Error("CRLF and LF files have different checksums")
		}
	}
}

func TestMergeRejectsClash(t *testing.T) {
	sqlMs, _ := loadFS(fstest.MapFS{"0003_a.up.sql": {}})
	noop := func(context.Context, bun.IDB) error { return nil }
	if _, err := merge(sqlMs, []*Migration{Go(3, "b", noop, nil)}); !errors.Is(err, ErrDuplicateVersion) {
		t.Errorf("merge = %v, want ErrDuplicateVersion", err)
	}
	if _, err := merge(nil, []*Migration{Go(0, "b", noop, nil)}); err == nil {
		t.Error("merge accepted version 0")
	}
	if _, err := merge(nil, []*Migration{Go(1, "b", nil, nil)}); err == nil {
		t.Error("merge accepted a nil up function")
	}
}

func TestCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "migrations")
	up, down, err := Create(dir, "Add Users & Orders!")
	if err != nil || filepath.Base(up) != "0001_add_users_orders.up.sql" || filepath.Base(down) != "0001_add_users_orders.down.sql" {
		t.Fatalf("Create = %s, %s, %v", up, down, err)
	}
	// The next number follows the highest, and the width already in use.
	if err := os.WriteFile(filepath.Join(dir, "20261123120000_stamp.up.sql"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	up, _, err = Create(dir, "next")
	if err != nil || filepath.Base(up) != "20261123120001_next.up.sql" {
		t.Fatalf("Create after a timestamped file = %s, %v", up, err)
	}
	if _, _, err := Create(dir, "!!!"); err == nil {
		t.Error("Create accepted a name with no letters or digits")
	}
	if ms, err := loadFS(os.DirFS(dir)); err != nil || len(ms) != 3 {
		t.Errorf("created files do not load: %d, %v", len(ms), err)
	}
}
