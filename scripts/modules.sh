#!/usr/bin/env bash
# Prints the module directories listed in go.work, relative to the repository root, one per line.
# Fails loudly rather than printing nothing: an empty list would make `make test` test nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mods=$(go list -m -f '{{.Dir}}' | sed "s#^$root/##")
[ -n "$mods" ] || { echo "modules.sh: go.work lists no modules" >&2; exit 1; }
echo "$mods"
