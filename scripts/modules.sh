#!/usr/bin/env bash
# Prints the module directories listed in go.work, one per line.
set -euo pipefail
cd "$(dirname "$0")/.."
go work edit -json | python3 -c 'import json,sys; [print(u["DiskPath"].removeprefix("./")) for u in json.load(sys.stdin)["Use"]]'
