module github.com/stackkit/stackkit/kit/i18n/transifex

go 1.26.0

require golang.org/x/time v0.16.0
