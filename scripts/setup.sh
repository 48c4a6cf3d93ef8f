#!/usr/bin/env bash
# Idempotent machine set-up for a fresh Debian 12 host (run as root).
#   scripts/setup.sh base     packages + npm dependencies (what the service needs)
#   scripts/setup.sh test     everything the whole test suite needs, services started
# Each step in scripts/setup.d/ is a small script that checks before it acts. Every step says
# what it does (the first sentence of its header comment) and how long it took, so a first run that installs
# packages for minutes is not silent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mode="${1:-base}"
export SETUP_MODE="$mode"
for step in "$here"/setup.d/*.sh; do
  name="$(basename "$step" .sh)"
  case "$name" in
    *-test-*) [ "$mode" = test ] || continue ;;
  esac
  # The first sentence of the step's header comment.
  what="$(awk 'NR > 1 && /^#/ { sub(/^# */, ""); printf "%s ", $0; next } NR > 1 { exit }' "$step" | sed -E 's/([.]) .*/\1/; s/ +$//')"
  echo "[setup] $name: $what" >&2
  t0="$(date +%s%N)"
  bash "$step"
  t1="$(date +%s%N)"
  ms=$(( (t1 - t0) / 1000000 ))
  printf '[setup] %s: done in %d.%03d s\n' "$name" $((ms / 1000)) $((ms % 1000)) >&2
done
echo "[setup] $mode: all steps done in $((SECONDS)) s" >&2
