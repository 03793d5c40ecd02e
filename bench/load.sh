#!/usr/bin/env bash
# Loopback load test behind `make bench`: wrk against bench/cmd/httpload serving GET /hello, in
# alternating rounds, and the median requests/s of each stack with its share of bare's:
#   bare         net/http's http.Server and ServeMux, nothing else
#   bare-headers bare, with the response headers kit adds (request ID, security headers, Vary)
#   kit          Stackkit's server (kithttp.NewServer) and default stack, access log disabled
#   kit-stack    the default stack on bare net/http's http.Server (the stack's cost alone)
#   kit-logging  kit with the access log written as JSON to io.Discard
#
#   bench/load.sh                                # the five stacks above, 3 rounds of 10 s
#   LOAD_STACKS="bare kit" LOAD_ROUNDS=5 LOAD_DURATION=20s bench/load.sh
#
# The machine has two cores: the server runs with GOMAXPROCS=1 pinned to CPU 0 and wrk with one
# thread pinned to CPU 1 (taskset), so that neither takes the other's core and the figure is the
# throughput of one core of server. Traffic goes to 127.0.0.1 only; every server is stopped by
# this script (and stops by itself after two minutes if the script dies), and the whole run is
# bounded: rounds x stacks x (duration + 2 s warm-up), about 3 minutes by default.
#
# wrk comes from Debian's packages and is installed when missing (as root, or through sudo).
# Without it the load test is skipped, or fails under CI=true.
set -euo pipefail
cd "$(dirname "$0")"

rounds=${LOAD_ROUNDS:-3}
duration=${LOAD_DURATION:-10s}
connections=${LOAD_CONNECTIONS:-64}
stacks=(${LOAD_STACKS:-bare bare-headers kit kit-stack kit-logging})
base_port=${LOAD_PORT:-18080}

if ! command -v wrk >/dev/null; then
	echo "load: installing wrk from Debian's packages"
	sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
	if ! { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq wrk; } >/dev/null; then
		echo "load: wrk is not installed and could not be (apt-get install wrk as root)" >&2
		[ "${CI:-}" = true ] && exit 1
		echo "load: SKIPPED the loopback load test"
		exit 0
	fi
fi

pin_server=() pin_client=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	pin_server=(taskset -c 0)
	pin_client=(taskset -c 1)
fi

work=$(mktemp -d)
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$work/httpload" ./cmd/httpload

# serve STACK PORT starts the server and waits until it answers /hello.
serve() {
	GOMAXPROCS=1 "${pin_server[@]}" "$work/httpload" -stack "$1" -addr "127.0.0.1:$2" -max 2m &
	server_pid=$!
	for _ in $(seq 100); do
		if [ "$(curl -s -m 1 -H 'Host: example.com' "http://127.0.0.1:$2/hello" 2>/dev/null)" = hello ]; then
			return 0
		fi
		sleep 0.05
	done
	echo "load: the $1 server did not answer on 127.0.0.1:$2" >&2
	exit 1
}

# cpu_ticks PID prints the process's user + system CPU time in clock ticks.
clk_tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

stop() {
	kill "$server_pid"
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}

# hit PORT DURATION runs wrk and prints its output.
hit() {
	"${pin_client[@]}" wrk -t1 -c"$connections" -d"$2" --latency \
		-H 'Host: example.com' -H 'Accept-Encoding: gzip, deflate, br, zstd' \
		"http://127.0.0.1:$1/hello"
}

echo "load: wrk -t1 -c$connections -d$duration, $rounds rounds of: ${stacks[*]}; server GOMAXPROCS=1 ${pin_server[*]:-unpinned}, wrk ${pin_client[*]:-unpinned}"
for round in $(seq "$rounds"); do
	order=("${stacks[@]}")
	if [ $((round % 2)) -eq 0 ]; then # alternate the order: a slow spell does not always hit one stack
		order=()
		for ((i = ${#stacks[@]} - 1; i >= 0; i--)); do order+=("${stacks[i]}"); done
	fi
	for stack in "${order[@]}"; do
		port=$((base_port + round))
		serve "$stack" "$port"
		hit "$port" 2s >/dev/null # warm-up: connections, pools, the CPU's frequency
		cpu0=$(cpu_ticks "$server_pid")
		out=$(hit "$port" "$duration")
		cpu1=$(cpu_ticks "$server_pid")
		stop
		if grep -q -e 'Non-2xx' -e 'Socket errors' <<<"$out"; then
			echo "$out" >&2
			echo "load: $stack: errors or non-2xx responses; the figure would be meaningless" >&2
			exit 1
		fi
		rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
		requests=$(awk '/ requests in / {print $1}' <<<"$out")
		p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
		p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
		# The server's CPU time (user + system) per request: unlike requests/s, it hardly moves
		# when other work on the machine takes the server's core now and then.
		cpu_us=$(awk -v t=$((cpu1 - cpu0)) -v hz="$clk_tck" -v n="$requests" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
		echo "$stack $rps $cpu_us" >>"$work/results"
		printf 'load: round %d %-12s %10s req/s  server CPU %6s µs/req  p50 %-8s p99 %s\n' \
			"$round" "$stack" "$rps" "$cpu_us" "$p50" "$p99"
	done
done

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
declare -A med cpu
for stack in "${stacks[@]}"; do
	med[$stack]=$(awk -v s="$stack" '$1 == s {print $2}' "$work/results" | median)
	cpu[$stack]=$(awk -v s="$stack" '$1 == s {print $3}' "$work/results" | median)
	printf 'load: median %-12s %10.0f req/s  server CPU %6.2f µs/req\n' "$stack" "${med[$stack]}" "${cpu[$stack]}"
done
if [ -n "${med[bare]:-}" ]; then
	for stack in "${stacks[@]}"; do
		[ "$stack" = bare ] && continue
		awk -v s="$stack" -v k="${med[$stack]}" -v b="${med[bare]}" -v kc="${cpu[$stack]}" -v bc="${cpu[bare]}" \
			'BEGIN {printf "load: %s/bare = %.1f%% of the requests/s (target >= 90%%); by server CPU per request %.1f%%\n", s, 100 * k / b, 100 * bc / kc}'
	done
fi
