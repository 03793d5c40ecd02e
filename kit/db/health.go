package db

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// Check returns a readiness check for d, for kit/http/health or any probe: it pings the database
// within the context's deadline.
//
//	h.Add("database", db.Check(bdb))
func Check(d *bun.DB) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := d.PingContext(ctx); err != nil {
			return fmt.Errorf("db: ping: %w", err)
		}
		return nil
	}
}
