module github.com/stackkit/stackkit/internal/testenv

go 1.26.0
