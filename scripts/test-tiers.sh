#!/usr/bin/env bash
# Every test file, in two tiers (test/fixtures/mocha/tiers.cjs): first the files that run beside
# each other, two mocha workers at once, then, one at a time, the files that must run alone
# (test/fixtures/mocha/serial-tier.cjs names them and says why). Both tiers always run, so one
# run shows every failure; the exit status is non-zero when either tier failed.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
for tier in parallel serial; do
  started=$(date +%s)
  echo "[test] ${tier} tier"
  npx mocha --config "test/fixtures/mocha/${tier}.mocharc.cjs" "$@" || status=1
  echo "[test] ${tier} tier: done in $(( $(date +%s) - started )) s"
done
exit "$status"
