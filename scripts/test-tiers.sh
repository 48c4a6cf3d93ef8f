#!/usr/bin/env bash
# Every test file, in three tiers (test/fixtures/mocha/tiers.cjs; serial-tier.cjs says which file
# is where and why): `parallel` (two mocha workers) and, at the same time, `single` (the guest e2e
# files and those that build dist/, one at a time; its lines prefixed "[single] "), then `alone`
# (the files that kill a daemon the machine shares), one at a time. Every tier always runs, so one run shows every failure; the
# exit status is non-zero when any tier failed. Arguments go to every mocha run.
set -uo pipefail
cd "$(dirname "$0")/.."

tier() { npx mocha --config "test/fixtures/mocha/$1.mocharc.cjs" "${@:2}"; }
took() { echo "[test] $1 tier: $2 in $(( $(date +%s) - $3 )) s"; }

started=$(date +%s)
echo "[test] parallel tier (two workers) and single tier (one file at a time, lines prefixed [single]) at once"
( tier single "$@" 2>&1 | sed -u 's/^/[single] /'; exit "${PIPESTATUS[0]}" ) &
single_pid=$!
tier parallel "$@"; parallel_rc=$?
took parallel "exit ${parallel_rc}" "$started"
wait "$single_pid"; single_rc=$?
took single "exit ${single_rc}" "$started"

alone_started=$(date +%s)
echo "[test] alone tier (one file at a time, nothing beside it)"
tier alone "$@"; alone_rc=$?
took alone "exit ${alone_rc}" "$alone_started"

[ "$parallel_rc" -eq 0 ] && [ "$single_rc" -eq 0 ] && [ "$alone_rc" -eq 0 ]
