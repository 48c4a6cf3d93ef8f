#!/usr/bin/env bash
# The whole test suite: installs and starts what it needs (idempotent), then type check, lint, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
exec npm test --silent
