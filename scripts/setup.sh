#!/usr/bin/env bash
# Idempotent machine set-up for a fresh Debian 12 host (run as root).
#   scripts/setup.sh base     packages + npm dependencies (what the service needs)
#   scripts/setup.sh test     everything the whole test suite needs, services started
# Each step in scripts/setup.d/ is a small script that checks before it acts.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mode="${1:-base}"
export SETUP_MODE="$mode"
for step in "$here"/setup.d/*.sh; do
  name="$(basename "$step" .sh)"
  case "$name" in
    *-test-*) [ "$mode" = test ] || continue ;;
  esac
  echo "[setup] $name" >&2
  bash "$step"
done
