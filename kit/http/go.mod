module github.com/stackkit/stackkit/kit/http

go 1.26.0
