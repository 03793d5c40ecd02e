module github.com/stackkit/stackkit/kit/cache/redis

go 1.26.0

require (
	github.com/redis/go-redis/v9 v9.23.0
	github.com/stackkit/stackkit/internal/testenv v0.0.0
	github.com/stackkit/stackkit/kit/cache v0.0.0
	github.com/stackkit/stackkit/kit/registry v0.0.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-logr/logr v1.4.4 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/maypok86/otter/v2 v2.4.0 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/otel v1.47.0 // indirect
	go.opentelemetry.io/otel/log v1.47.0 // indirect
	go.opentelemetry.io/otel/metric v1.47.0 // indirect
	go.opentelemetry.io/otel/trace v1.47.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

replace github.com/stackkit/stackkit/kit/cache => ..

replace github.com/stackkit/stackkit/kit/registry => ../../registry

replace github.com/stackkit/stackkit/internal/testenv => ../../../internal/testenv
