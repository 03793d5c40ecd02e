// Package bench measures Stackkit's modules beside the peer libraries they replace, in the same
// `go test -bench` run against the same servers. It holds benchmarks only and is never published.
//
//	make bench                        # every benchmark, -count 5, servers from make services
//	go test -run '^$' -bench Up200 .  # one pair, with KIT_TEST_POSTGRES_URL set
//
// docs/benchmarks.md records the figures, the machine and the command that produced them.
package bench
