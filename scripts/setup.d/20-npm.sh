#!/usr/bin/env bash
# npm dependencies, from the lock file. Skipped when node_modules matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/../.."
stamp=node_modules/.lock-stamp
sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then exit 0; fi
npm ci --no-audit --no-fund >&2
echo "$sum" > "$stamp"
