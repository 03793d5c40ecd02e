module github.com/stackkit/stackkit/kit/i18n/transifex

go 1.26.0

require (
	github.com/stackkit/stackkit/kit/i18n v0.0.0
	golang.org/x/time v0.16.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-logr/logr v1.4.4 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/otel v1.47.0 // indirect
	go.opentelemetry.io/otel/log v1.47.0 // indirect
	go.opentelemetry.io/otel/metric v1.47.0 // indirect
	go.opentelemetry.io/otel/trace v1.47.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

require (
	github.com/stackkit/stackkit/kit/queue v0.0.0
	github.com/stackkit/stackkit/kit/registry v0.0.0 // indirect
	github.com/stackkit/stackkit/kit/storage v0.0.0
	golang.org/x/text v0.43.0
)

replace github.com/stackkit/stackkit/kit/i18n => ..

replace github.com/stackkit/stackkit/kit/queue => ../../queue

replace github.com/stackkit/stackkit/kit/storage => ../../storage

replace github.com/stackkit/stackkit/kit/registry => ../../registry

replace github.com/stackkit/stackkit/internal/testenv => ../../../internal/testenv
