module github.com/stackkit/stackkit/kit/mail/integration

go 1.26.0

require (
	github.com/emersion/go-smtp v0.25.1
	github.com/nats-io/nats.go v1.55.0
	github.com/stackkit/stackkit/internal/testenv v0.0.0
	github.com/stackkit/stackkit/kit/db v0.0.0
	github.com/stackkit/stackkit/kit/db/sqlite v0.0.0
	github.com/stackkit/stackkit/kit/mail v0.0.0
	github.com/stackkit/stackkit/kit/queue v0.0.0
	github.com/stackkit/stackkit/kit/queue/nats v0.0.0
	github.com/uptrace/bun v1.3.0
)

require (
	github.com/antithesishq/antithesis-sdk-go v0.8.0-default-no-op // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dustin/go-humanize v1.1.0 // indirect
	github.com/emersion/go-sasl v0.0.0-20241020182733-b788ff22d5a6 // indirect
	github.com/go-logr/logr v1.4.4 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/google/go-tpm v0.9.8 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/jinzhu/inflection v1.0.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/minio/highwayhash v1.0.4 // indirect
	github.com/nats-io/jwt/v2 v2.8.2 // indirect
	github.com/nats-io/nats-server/v2 v2.15.2 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/ncruces/go-strftime v1.1.0 // indirect
	github.com/puzpuzpuz/xsync/v3 v3.5.1 // indirect
	github.com/remyoudompheng/bigfft v0.0.0-20230129092748-24d4a6f8daec // indirect
	github.com/stackkit/stackkit/kit/registry v0.0.0 // indirect
	github.com/tmthrgd/go-hex v0.0.0-20190904060850-447a3041c3bc // indirect
	github.com/uptrace/bun/dialect/sqlitedialect v1.3.0 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	github.com/wneessen/go-mail v0.8.1 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/otel v1.47.0 // indirect
	go.opentelemetry.io/otel/log v1.47.0 // indirect
	go.opentelemetry.io/otel/metric v1.47.0 // indirect
	go.opentelemetry.io/otel/trace v1.47.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	golang.org/x/time v0.16.0 // indirect
	modernc.org/libc v1.80.1 // indirect
	modernc.org/mathutil v1.7.1 // indirect
	modernc.org/memory v1.12.1 // indirect
	modernc.org/sqlite v1.62.0 // indirect
)

replace (
	github.com/stackkit/stackkit/internal/testenv => ../../../internal/testenv
	github.com/stackkit/stackkit/kit/db => ../../db
	github.com/stackkit/stackkit/kit/db/sqlite => ../../db/sqlite
	github.com/stackkit/stackkit/kit/mail => ..
	github.com/stackkit/stackkit/kit/queue => ../../queue
	github.com/stackkit/stackkit/kit/queue/nats => ../../queue/nats
	github.com/stackkit/stackkit/kit/registry => ../../registry
)
