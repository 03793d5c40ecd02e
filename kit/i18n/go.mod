module github.com/stackkit/stackkit/kit/i18n

go 1.26.0

require (
	github.com/stackkit/stackkit/internal/testenv v0.0.0
	golang.org/x/text v0.43.0
)

replace github.com/stackkit/stackkit/internal/testenv => ../../internal/testenv
