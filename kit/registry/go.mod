module github.com/stackkit/stackkit/kit/registry

go 1.25.0
