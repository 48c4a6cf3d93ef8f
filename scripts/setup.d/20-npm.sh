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
# The lock file changed, but maybe not what it installs (e.g. only a package moved between
# dependencies and devDependencies): npm's own record of the installed tree
# (node_modules/.package-lock.json) then holds every package at the locked version, and a
# reinstall would only churn a node_modules that running processes may be using.
if [ -f node_modules/.package-lock.json ] && node -e '
  const want = require("./package-lock.json").packages, have = require("./node_modules/.package-lock.json").packages;
  const same = (a, b) => a.version === b.version && (!a.integrity || !b.integrity || a.integrity === b.integrity);
  const ok = Object.entries(want).every(([k, p]) => k === "" || (have[k] ? same(p, have[k]) : p.optional === true))
    && Object.keys(have).every((k) => k in want);
  process.exit(ok ? 0 : 1);' 2>/dev/null; then
  echo "[setup] node_modules holds every package of package-lock.json at its locked version" >&2
  exit 0
fi
count="$(grep -c '"node_modules/' package-lock.json || true)"
echo "[setup] npm ci: $count packages from package-lock.json (a few minutes on a fresh machine; each download is listed)" >&2
# --loglevel=http lists every fetch and --foreground-scripts shows native builds (sqlite3) as
# they run: npm's progress bar is hidden when output is not a terminal, which left this silent.
npm ci --no-audit --no-fund --loglevel=http --foreground-scripts >&2
echo "$sum" > "$stamp"
