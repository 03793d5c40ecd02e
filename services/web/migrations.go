package web

import (
	"embed"
	"io/fs"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the service's SQL migrations (NNNN_name.up.sql / .down.sql at the root), which
// the binary's `web migrate` and `web check` commands apply and verify.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the directory is embedded at build time: it exists
	}
	return sub
}
