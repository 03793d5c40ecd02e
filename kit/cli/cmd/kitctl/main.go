// Command kitctl is Stackkit's operations CLI: migrations, cache, storage, mail and translation
// commands, and "kitctl check". Run "kitctl --help".
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/redis/go-redis/v9"
	"github.com/stackkit/stackkit/kit/cli"
)

// redisLog sends go-redis's own pool messages ("failed to dial after 1 attempts"), which it
// otherwise prints to stderr in its own format, to slog at debug level: kitctl reports the
// error of the command that met it, once, in the --log-format asked for.
type redisLog struct{}

func (redisLog) Printf(ctx context.Context, format string, v ...any) {
	slog.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

func main() {
	redis.SetLogger(redisLog{}) // a library global, set by the application that owns the process
	os.Exit(cli.Main())
}
