module github.com/stackkit/stackkit/kit/i18n/transifex

go 1.26.0

require (
	github.com/stackkit/stackkit/kit/i18n v0.0.0
	golang.org/x/time v0.16.0
)

require golang.org/x/text v0.43.0 // indirect

replace github.com/stackkit/stackkit/kit/i18n => ..
