#!/usr/bin/env bash
# `make run`: the reference stack on embedded defaults, as supervised processes on this machine:
# services/mailer (its embedded NATS server in .kit/nats, reachable on 127.0.0.1:4223 so kitctl and
# services/web can queue into it; mail printed to the terminal) and services/web (SQLite in
# .kit/data.db, migrated first). Data stays in .kit between runs. KIT_HTTP_ADDR (or PORT) moves the
# web service off :8080. Ctrl-C stops both; each drains and exits.
#
# Separate processes rather than one: each service keeps its own logs, exit code and drain, as it
# has on Kubernetes, and a crash of one is visible rather than taking the other down.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=.kit/bin
mkdir -p "$bin"
echo "building services/web and services/mailer into $bin ..."
(cd services/web && go build -o "$root/$bin/web" ./cmd/web)
(cd services/mailer && go build -o "$root/$bin/mailer" ./cmd/mailer)

web_addr=${KIT_HTTP_ADDR:-:${PORT:-8080}}
queue_url=${KIT_QUEUE_URL:-nats+embedded://.kit/nats?listen=127.0.0.1:4223}

"$bin/web" migrate up

pids=()
stop() {
	trap - INT TERM
	kill -INT "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM

KIT_QUEUE_URL=$queue_url KIT_HTTP_ADDR=${KIT_MAILER_HTTP_ADDR:-127.0.0.1:8081} KIT_HTTP_DRAIN_DELAY=0s \
	"$bin/mailer" &
pids+=($!)
KIT_HTTP_ADDR=$web_addr KIT_HTTP_DRAIN_DELAY=0s "$bin/web" serve &
pids+=($!)

host=${web_addr%:*}
echo "make run: open http://${host:-localhost}:${web_addr##*:}/ (mailer probes on ${KIT_MAILER_HTTP_ADDR:-127.0.0.1:8081}; queue on 127.0.0.1:4223); Ctrl-C stops"

# Wait for both; if one exits on its own, stop the other and report.
code=0
while [ ${#pids[@]} -gt 0 ]; do
	if wait -n "${pids[@]}"; then :; else c=$?; [ "$c" -ne 130 ] && [ "$code" -eq 0 ] && code=$c; fi
	alive=()
	for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
	if [ ${#alive[@]} -lt ${#pids[@]} ] && [ ${#alive[@]} -gt 0 ]; then stop; fi
	pids=("${alive[@]}")
done
exit "$code"
