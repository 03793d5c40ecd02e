# Stackkit workspace. `make test` is the one test command; CI runs it with CI=true.
SHELL := /bin/bash
ROOT := $(abspath .)
BIN := $(ROOT)/.kit/bin
STATICCHECK_VERSION := v0.8.2
MODULES = $(shell scripts/modules.sh || echo MODULES-UNAVAILABLE)

.PHONY: all run test bench lint services tidy build kitctl

all: lint test

## run: the reference stack on embedded defaults (services/web and services/mailer; see scripts/run.sh)
run:
	@scripts/run.sh

## services: find or start every test server on loopback and write .kit/test.env
services:
	@scripts/services.sh

## test: every module's tests, integration suites against real servers (race detector on)
test: services
	@scripts/test.sh

## bench: the benchmarks, each beside the peer library it is measured against, then the loopback
## HTTP load test (bench/load.sh: wrk, installed from Debian's packages when missing).
## BENCH_COUNT rounds (default 10), each a fresh process running every benchmark once, so kit
## and its peer alternate and a slow spell of the machine lands on both (`go test -count N`
## would run all N samples of one library before the next). BENCH=regexp picks benchmarks and
## skips the load test. The raw lines go to stdout and to bench/bench.txt, for benchstat -col /lib.
bench: services
	@set -o pipefail; set -a; source .kit/test.env; set +a; \
	cd bench && go test -c -o $(BIN)/bench.test . && : > bench.txt && \
	for r in $$(seq $${BENCH_COUNT:-10}); do \
		$(BIN)/bench.test -test.run '^$$' -test.bench "$${BENCH:-.}" -test.benchmem -test.count 1 \
			-test.timeout 60m | tee -a bench.txt || exit 1; \
	done && \
	if [ -z "$${BENCH:-}" ]; then ./load.sh; fi

## lint: gofmt, go vet and staticcheck over every module
lint: $(BIN)/staticcheck
	@bad=$$(gofmt -l $(MODULES)); if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi
	@for m in $(MODULES); do (cd $$m && go vet ./... && $(BIN)/staticcheck ./... && \
		GOWORK=off go mod tidy -diff >/dev/null || { echo "$$m: go.mod/go.sum not tidy (run make tidy)"; exit 1; }) || exit 1; done
	@echo "lint: ok ($(words $(MODULES)) modules)"

# The stamp in the file name rebuilds staticcheck when its pinned version changes.
$(BIN)/staticcheck: $(BIN)/.staticcheck-$(STATICCHECK_VERSION)
$(BIN)/.staticcheck-$(STATICCHECK_VERSION):
	GOBIN=$(BIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@touch $@

## tidy: go mod tidy in every module
tidy:
	@for m in $(MODULES); do (cd $$m && GOWORK=off go mod tidy) || exit 1; done

## build: compile every module
build:
	@for m in $(MODULES); do (cd $$m && go build ./...) || exit 1; done

## kitctl: build the operations CLI into .kit/bin
kitctl:
	cd kit/cli && go build -o $(BIN)/kitctl ./cmd/kitctl
