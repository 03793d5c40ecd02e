// Package mysql registers the mysql:// scheme with kit/db, for MySQL and MariaDB, on
// go-sql-driver/mysql.
//
//	import _ "github.com/stackkit/stackkit/kit/db/mysql"
//
//	bdb, err := db.Open(ctx, "mysql://app:secret@localhost:3306/app?tls=true")
//
// Times are read as time.Time in UTC (parseTime and loc=UTC are always on; bun needs them).
// Besides kit/db's pool options, the URL accepts: socket (a Unix socket path, instead of the
// host), tls (true, false, skip-verify, preferred), charset, collation, timeout (dial),
// read_timeout, write_timeout, allow_native_passwords, allow_cleartext_passwords, and time_zone
// (the session time zone, e.g. "+00:00").
package mysql

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stackkit/stackkit/kit/db"
	"github.com/stackkit/stackkit/kit/registry"
	"github.com/uptrace/bun/dialect/mysqldialect"

	"database/sql"
)

func init() {
	db.Register("mysql", open)
}

func open(_ context.Context, u *url.URL, opts *registry.Options) (*db.Driver, error) {
	cfg := mysql.NewConfig()
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	cfg.Net, cfg.Addr = "tcp", u.Host
	if u.Port() == "" && u.Host != "" {
		cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	if socket := opts.String("socket", ""); socket != "" {
		cfg.Net, cfg.Addr = "unix", socket
	}
	cfg.TLSConfig = opts.Enum("tls", "false", "true", "false", "skip-verify", "preferred")
	if cs := opts.String("charset", ""); cs != "" {
		cfg.Params = map[string]string{"charset": cs}
	}
	cfg.Collation = opts.String("collation", cfg.Collation)
	cfg.Timeout = opts.Duration("timeout", 10*time.Second)
	cfg.ReadTimeout = opts.Duration("read_timeout", 0)
	cfg.WriteTimeout = opts.Duration("write_timeout", 0)
	cfg.AllowNativePasswords = opts.Bool("allow_native_passwords", true)
	cfg.AllowCleartextPasswords = opts.Bool("allow_cleartext_passwords", false)
	if tz := opts.String("time_zone", ""); tz != "" {
		if cfg.Params == nil {
			cfg.Params = map[string]string{}
		}
		cfg.Params["time_zone"] = "'" + strings.ReplaceAll(tz, "'", "") + "'"
	}
	if err := opts.Err(); err != nil {
		return nil, err
	}
	if cfg.Addr == "" {
		return nil, fmt.Errorf("no host in URL (want mysql://user:password@host:3306/database)")
	}
	if err := cfg.Apply(); err != nil { // normalises and validates, e.g. the TLS mode
		return nil, err
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return &db.Driver{DB: sql.OpenDB(connector), Dialect: mysqldialect.New(), System: "mysql"}, nil
}
