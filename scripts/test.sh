#!/usr/bin/env bash
# The one test command behind `make test`: every module of the workspace, integration suites
# against the servers `make services` found or started (.kit/test.env), race detector on.
# Under CI=true an unreachable server fails the run; otherwise its suites skip and the run ends
# with one line naming what was skipped.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Servers found by `make services`; variables already in the environment win.
if [ -f .kit/test.env ]; then
	while IFS= read -r line; do
		case "$line" in export\ *) ;; *) continue ;; esac
		kv=${line#export }
		name=${kv%%=*}
		[ -n "${!name:-}" ] || eval "export $kv"
	done < .kit/test.env
fi

export KIT_TEST_SKIPLOG
KIT_TEST_SKIPLOG=$(mktemp)
trap 'rm -f "$KIT_TEST_SKIPLOG"' EXIT

flags=(-race -count=1 -timeout=20m)
[ -n "${TESTFLAGS:-}" ] && read -r -a extra <<< "$TESTFLAGS" && flags+=("${extra[@]}")

mods=$(scripts/modules.sh) || { echo "make test: cannot list the workspace modules" >&2; exit 1; }
passed=0 failed=0 failed_modules=()
start=$SECONDS
for mod in $mods; do
	echo "=== $mod"
	if (cd "$mod" && go test "${flags[@]}" ./...); then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failed_modules+=("$mod")
	fi
done

echo
echo "make test: $((SECONDS - start))s"
if [ -s "$KIT_TEST_SKIPLOG" ]; then
	summary=$(sort "$KIT_TEST_SKIPLOG" | awk -F'\t' '{n[$1]++} END {for (k in n) printf "%s%s (%d tests)", sep, k, n[k]; sep=", "}')
	echo "SKIPPED (server unavailable): $summary — run 'make services' to enable them"
fi
[ ${#failed_modules[@]} -gt 0 ] && echo "failed modules: ${failed_modules[*]}"
echo "modules: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
