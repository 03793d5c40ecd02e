// Package servicekit is what Stackkit's reference services (services/mailer, services/i18nsync)
// share: their process entry point and exit codes, the environment reader, the OpenTelemetry SDK
// setup behind /metrics and OTLP, the HTTP server with one worker and its drain on SIGTERM, and
// URL redaction for logs. It lives under services/internal: only the services may import it.
//
//	func Main() int {
//		cfg, err := ConfigFromEnv(os.Environ()) // built on servicekit.ParseEnv
//		return servicekit.Main("mailer", cfg.LogLevel, err, func(ctx context.Context, logger *slog.Logger) error {
//			return Run(ctx, cfg, logger, os.Getenv) // servicekit.SetupTelemetry, then servicekit.Serve
//		}, ExitCode)
//	}
package servicekit
