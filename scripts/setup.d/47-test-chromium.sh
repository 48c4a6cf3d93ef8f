#!/usr/bin/env bash
# The web console's browser tests (test/integration/console): Debian's chromium, driven by
# playwright-core from npm (no downloaded browser build). Test mode only; idempotent.
set -euo pipefail
[ "${SETUP_MODE:-base}" = test ] || exit 0
if dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q 'install ok installed'; then
  echo "[setup] chromium present ($(dpkg-query -W -f='${Version}' chromium))" >&2
  exit 0
fi
echo "[setup] installing chromium (for the console's browser tests)" >&2
apt-get update >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-dejavu-core >&2
echo "[setup] chromium $(dpkg-query -W -f='${Version}' chromium) installed" >&2
