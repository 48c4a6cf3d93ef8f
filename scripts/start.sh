#!/usr/bin/env bash
# The main job on embedded defaults: installs what it needs (idempotent), builds when dist/ is
# missing or older than the sources, then runs the storage service with SQLite and a
# local-directory share under ./var. Extra arguments go to the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh base
bash scripts/build.sh --if-stale
mkdir -p var
# V8's young generation as the unit sets it (deploy/systemd/qcowshare-api.service: NODE_OPTIONS).
export NODE_OPTIONS="--max-semi-space-size=4${NODE_OPTIONS:+ $NODE_OPTIONS}"
# exec: the pid this script had is node's, so SIGTERM to it stops the service itself.
exec node dist/src/cli/main.js serve "$@"
