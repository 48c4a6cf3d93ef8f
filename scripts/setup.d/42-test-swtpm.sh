#!/usr/bin/env bash
# swtpm for the checkpoint test of a guest with an emulated TPM (<tpm><backend type='emulator'/>):
# libvirt starts one swtpm per such domain and keeps its state under its swtpm state directory.
# libvirt looks for the swtpm binaries when a domain with a TPM starts, so libvirtd need not be
# restarted after this. Test mode only; idempotent.
set -euo pipefail
[ "${SETUP_MODE:-base}" = test ] || exit 0
missing=()
for pkg in swtpm swtpm-tools; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "[setup] swtpm present" >&2
  exit 0
fi
echo "[setup] installing ${missing[*]} (emulated TPM for the checkpoint tests)" >&2
apt-get update >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
echo "[setup] swtpm installed: $(swtpm --version 2>&1 | head -1)" >&2
