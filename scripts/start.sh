#!/usr/bin/env bash
# The main job on embedded defaults: installs what it needs (idempotent), then runs the storage
# service with SQLite and a local-directory share under ./var. Extra arguments go to the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh base
mkdir -p var
exec npx --no-install tsx src/cli/main.ts serve "$@"
