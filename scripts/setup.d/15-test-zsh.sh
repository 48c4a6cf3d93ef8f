#!/usr/bin/env bash
# zsh, for the test of `qcs completion zsh` (the script is loaded into a real zsh). Installs it only when missing.
set -euo pipefail
if dpkg-query -W -f='${Status}' zsh 2>/dev/null | grep -q 'install ok installed'; then
  echo "[setup] zsh present" >&2
  exit 0
fi
echo "[setup] installing: zsh" >&2
apt-get update >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends zsh >&2
