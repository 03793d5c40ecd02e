package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/uptrace/bun"
)

// Func is the body of a migration written in Go. db is the migration's transaction, or the
// database itself for a migration that runs outside a transaction.
type Func func(ctx context.Context, db bun.IDB) error

// Migration is one step of the schema history: a pair of SQL files or a pair of Go functions.
type Migration struct {
	Version int64
	Name    string

	// SQL migrations: the files' text, and their statements once parsed for the dialect.
	upFile, downFile   string
	upSQL, downSQL     string
	hasDown            bool
	upStmts, downStmts []Statement
	upNoTx, downNoTx   bool

	// Go migrations.
	up, down Func
	noTx     bool

	checksum string
}

// GoOption configures a Go migration.
type GoOption func(*Migration)

// NoTransaction runs a Go migration outside a transaction, as the -- kit:no-transaction directive
// does for a SQL file.
func NoTransaction() GoOption { return func(m *Migration) { m.noTx = true } }

// Go returns a migration written in Go, to be passed to [WithMigrations] and ordered by version
// among the SQL files. down may be nil for a migration that cannot be undone.
func Go(version int64, name string, up, down Func, opts ...GoOption) *Migration {
	m := &Migration{Version: version, Name: name, up: up, down: down}
	for _, o := range opts {
		o(m)
	}
	return m
}

// ID is the migration's display name, as in its file name: "0003_add_orders".
func (m *Migration) ID() string { return fmt.Sprintf("%04d_%s", m.Version, m.Name) }

// IsGo reports whether the migration is written in Go.
func (m *Migration) IsGo() bool { return m.up != nil }

// Reversible reports whether the migration has a down step.
func (m *Migration) Reversible() bool { return m.down != nil || m.hasDown }

// Checksum is the SHA-256 of the up SQL with line endings normalised, or "" for a Go migration,
// whose code cannot be fingerprinted.
func (m *Migration) Checksum() string { return m.checksum }

// fileRE is the migration file name: version digits, an underscore, a name, the direction.
var fileRE = regexp.MustCompile(`^([0-9]+)_([^.]+)\.(up|down)\.sql$`)

// loadFS reads the SQL migrations at the root of fsys. A .sql file whose name does not follow the
// NNNN_name.up.sql / NNNN_name.down.sql pattern is an error rather than silently ignored.
func loadFS(fsys fs.FS) ([]*Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrate: read migrations: %w", err)
	}
	byVersion := map[int64]*Migration{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		match := fileRE.FindStringSubmatch(e.Name())
		if match == nil {
			return nil, fmt.Errorf("migrate: %s: %w: want NNNN_name.up.sql or NNNN_name.down.sql", e.Name(), ErrBadFileName)
		}
		version, err := strconv.ParseInt(match[1], 10, 64)
		if err != nil || version <= 0 {
			return nil, fmt.Errorf("migrate: %s: %w: version must be a positive integer", e.Name(), ErrBadFileName)
		}
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
		m := byVersion[version]
		if m == nil {
			m = &Migration{Version: version, Name: match[2]}
			byVersion[version] = m
		} else if m.Name != match[2] {
			return nil, fmt.Errorf("migrate: %w %d: %s and %s", ErrDuplicateVersion, version, m.fileFor(match[3]), e.Name())
		}
		if match[3] == "up" {
			if m.upFile != "" {
				return nil, fmt.Errorf("migrate: %w %d: %s and %s", ErrDuplicateVersion, version, m.upFile, e.Name())
			}
			m.upFile, m.upSQL = e.Name(), string(body)
			m.checksum = checksum(body)
		} else {
			if m.downFile != "" {
				return nil, fmt.Errorf("migrate: %w %d: %s and %s", ErrDuplicateVersion, version, m.downFile, e.Name())
			}
			m.downFile, m.downSQL, m.hasDown = e.Name(), string(body), true
		}
	}
	out := make([]*Migration, 0, len(byVersion))
	for _, m := range byVersion {
		if m.upFile == "" {
			return nil, fmt.Errorf("migrate: %s has no matching %s", m.downFile, strings.Replace(m.downFile, ".down.sql", ".up.sql", 1))
		}
		out = append(out, m)
	}
	return out, nil
}

func (m *Migration) fileFor(direction string) string {
	if direction == "up" || m.downFile == "" {
		return m.upFile
	}
	return m.downFile
}

func checksum(body []byte) string {
	normalised := strings.ReplaceAll(string(body), "\r\n", "\n")
	sum := sha256.Sum256([]byte(normalised))
	return hex.EncodeToString(sum[:])
}

// parse splits a SQL migration's files into statements for the dialect, so that a syntax problem
// in any file is reported before anything runs.
func (m *Migration) parse(dialect string) error {
	if m.IsGo() {
		return nil
	}
	var dirs Directives
	var err error
	if m.upStmts, dirs, err = splitStatements(m.upSQL, dialect); err != nil {
		return fmt.Errorf("migrate: %s: %w", m.upFile, err)
	}
	m.upNoTx = dirs.NoTransaction
	if m.hasDown {
		if m.downStmts, dirs, err = splitStatements(m.downSQL, dialect); err != nil {
			return fmt.Errorf("migrate: %s: %w", m.downFile, err)
		}
		m.downNoTx = dirs.NoTransaction
	}
	return nil
}

// merge orders SQL and Go migrations into one history and rejects clashing versions.
func merge(sqlMigrations, goMigrations []*Migration) ([]*Migration, error) {
	all := append(slices.Clone(sqlMigrations), goMigrations...)
	for _, m := range goMigrations {
		if m.Version <= 0 || m.Name == "" || m.up == nil {
			return nil, fmt.Errorf("migrate: Go migration %d %q: version must be positive, name non-empty and up non-nil", m.Version, m.Name)
		}
	}
	slices.SortFunc(all, func(a, b *Migration) int { return compareInt(a.Version, b.Version) })
	for i := 1; i < len(all); i++ {
		if all[i].Version == all[i-1].Version {
			return nil, fmt.Errorf("migrate: %w %d: %s and %s", ErrDuplicateVersion, all[i].Version, all[i-1].describe(), all[i].describe())
		}
	}
	return all, nil
}

func (m *Migration) describe() string {
	if m.IsGo() {
		return "Go migration " + m.ID()
	}
	return m.upFile
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

var nameRE = regexp.MustCompile(`[^a-z0-9]+`)

// Create writes the next pair of empty migration files into dir, numbered one above the highest
// version there (zero-padded to four digits, or to the width the directory already uses), and
// returns their paths. name is reduced to lower-case letters, digits and underscores.
func Create(dir, name string) (up, down string, err error) {
	slug := strings.Trim(nameRE.ReplaceAllString(strings.ToLower(name), "_"), "_")
	if slug == "" {
		return "", "", fmt.Errorf("migrate: create: name %q has no letters or digits", name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("migrate: create: %w", err)
	}
	existing, err := loadFS(os.DirFS(dir))
	if err != nil {
		return "", "", err
	}
	next, width := int64(1), 4
	for _, m := range existing {
		next = max(next, m.Version+1)
		width = max(width, len(strings.SplitN(m.upFile, "_", 2)[0]))
	}
	base := fmt.Sprintf("%0*d_%s", width, next, slug)
	up, down = filepath.Join(dir, base+".up.sql"), filepath.Join(dir, base+".down.sql")
	header := "-- Migration " + base + "\n"
	for _, f := range []struct{ path, body string }{{up, header}, {down, header + "-- Undo what the up migration did, or delete this file if it cannot be undone.\n"}} {
		file, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return "", "", fmt.Errorf("migrate: create: %w", err)
		}
		_, werr := file.WriteString(f.body)
		if cerr := file.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return "", "", errors.Join(fmt.Errorf("migrate: create: %w", werr), os.Remove(f.path))
		}
	}
	return up, down, nil
}
