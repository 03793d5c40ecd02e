package cli

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/stackkit/stackkit/kit/cache"
	"github.com/stackkit/stackkit/kit/cache/dbcache"
	"github.com/stackkit/stackkit/kit/db"
	"github.com/stackkit/stackkit/kit/registry"

	// The cache backends kitctl speaks to (memory://, dummy:// and file:// are built in).
	_ "github.com/stackkit/stackkit/kit/cache/memcached"
	_ "github.com/stackkit/stackkit/kit/cache/redis"
)

func (a *app) cacheCommand() *cobra.Command {
	var cacheURL string
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Clear a cache, create a database cache table, show backend statistics",
	}
	group(cmd)
	// Resolved at run time, so a password in KIT_CACHE_URL never shows in --help.
	cmd.PersistentFlags().StringVar(&cacheURL, "cache-url", "", "cache URL (env KIT_CACHE_URL; default "+cache.DefaultURL+")")
	url := func() string {
		if cacheURL != "" {
			return cacheURL
		}
		return envOr("KIT_CACHE_URL", cache.DefaultURL)
	}
	openCache := func(cmd *cobra.Command) (*cache.Cache, error) {
		logger, err := a.logger(cmd.ErrOrStderr())
		if err != nil {
			return nil, err
		}
		return cache.Open(cmd.Context(), url(), cache.WithLogger(logger))
	}

	clear := &cobra.Command{
		Use:   "clear",
		Short: "Remove every entry under the cache's prefix (never a whole shared Redis database)",
		Long: `Remove every entry under the cache's prefix (all versions), and nothing else: on a shared Redis
database only the keys of this prefix go. Memcached cannot delete by prefix: clear fails there unless
the URL says flush_on_clear=true, which flushes the whole server (only for a dedicated one).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := openCache(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.Clear(cmd.Context()); err != nil {
				return fmt.Errorf("clear %s: %w", registry.Redact(url()), err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cleared %s\n", registry.Redact(url()))
			return nil
		},
	}

	stats := &cobra.Command{
		Use:   "stats",
		Short: "Print the backend's statistics, where it can tell (Redis, Memcached)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := openCache(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			s, ok := c.Driver().(cache.Statser)
			if !ok {
				return fmt.Errorf("the %s backend keeps no statistics: %w", c.Backend(), cache.ErrNotSupported)
			}
			st, err := s.Stats(cmd.Context())
			if err != nil {
				return fmt.Errorf("stats %s: %w", registry.Redact(url()), err)
			}
			names := make([]string, 0, len(st))
			for k := range st {
				names = append(names, k)
			}
			slices.Sort(names)
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "backend\t%s\n", c.Backend())
			for _, k := range names {
				fmt.Fprintf(tw, "%s\t%s\n", k, st[k])
			}
			return tw.Flush()
		},
	}

	var databaseURL, table string
	createTable := &cobra.Command{
		Use:   "createtable",
		Short: "Create the table of a database-backed cache (Django's createcachetable)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dbURL := databaseURL
			if dbURL == "" {
				dbURL = envOr("KIT_DATABASE_URL", db.DefaultURL)
			}
			if strings.TrimSpace(table) == "" {
				return usagef("--table must not be empty")
			}
			logger, err := a.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			bdb, err := db.Open(cmd.Context(), dbURL, db.WithLogger(logger))
			if err != nil {
				return err
			}
			defer bdb.Close()
			if err := dbcache.CreateTable(cmd.Context(), bdb, table); err != nil {
				return fmt.Errorf("create cache table %s in %s: %w", table, registry.Redact(dbURL), err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cache table %s ready in %s\n", table, registry.Redact(dbURL))
			return nil
		},
	}
	createTable.Flags().StringVar(&databaseURL, "database-url", "", "database URL (env KIT_DATABASE_URL; default "+db.DefaultURL+")")
	createTable.Flags().StringVar(&table, "table", "kit_cache", "table name")

	cmd.AddCommand(clear, stats, createTable)
	return cmd
}
