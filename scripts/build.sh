#!/usr/bin/env bash
# The compiled build: lib/, src/, drivers/ and coordinator/ to dist/ (JavaScript + source maps).
#   scripts/build.sh          build (always)
#   scripts/build.sh --if-stale   build only when dist/ is missing or older than a source
# Compiles into a fresh directory and swaps it in, so a service running from dist/ never sees a
# half-written tree and files of deleted sources do not linger.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=dist/.built
inputs=(lib src drivers coordinator package.json package-lock.json tsconfig.json tsconfig.build.json)
if [ "${1:-}" = --if-stale ] && [ -f "$stamp" ]; then
  # One find over the sources, stopping at the first newer file: cheap enough for every start.
  if [ -z "$(find "${inputs[@]}" -newer "$stamp" -print -quit 2>/dev/null)" ]; then exit 0; fi
fi
echo "[build] compiling to dist/" >&2
start=$SECONDS
rm -rf dist.new
npx --no-install tsc -p tsconfig.build.json --outDir dist.new
# The console's static files (not TypeScript) ship next to its compiled module.
cp -r src/console/static dist.new/src/console/static
touch dist.new/.built
rm -rf dist.old
[ -d dist ] && mv dist dist.old
mv dist.new dist
rm -rf dist.old
chmod +x dist/src/cli/main.js
echo "[build] done in $((SECONDS - start)) s" >&2
