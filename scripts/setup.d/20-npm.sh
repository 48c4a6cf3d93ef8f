#!/usr/bin/env bash
# npm dependencies, from the lock file. Skipped when node_modules matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/../.."
stamp=node_modules/.lock-stamp
sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
  echo "[setup] node_modules matches package-lock.json" >&2
  exit 0
fi
count="$(grep -c '"node_modules/' package-lock.json || true)"
echo "[setup] npm ci: $count packages from package-lock.json (a few minutes on a fresh machine; each download is listed)" >&2
# --loglevel=http lists every fetch and --foreground-scripts shows native builds (sqlite3) as
# they run: npm's progress bar is hidden when output is not a terminal, which left this silent.
npm ci --no-audit --no-fund --loglevel=http --foreground-scripts >&2
echo "$sum" > "$stamp"
