#!/usr/bin/env bash
# Debian packages. Installs only what is missing; one apt-get update per machine boot.
set -euo pipefail
base=(qemu-utils util-linux ca-certificates)
test=(qemu-system-x86 qemu-block-extra libvirt-daemon-system libvirt-clients qemu-guest-agent
      glusterfs-server glusterfs-client mariadb-server busybox-static python3-cinderclient cpio
      gcc libc6-dev systemd ovmf)
want=("${base[@]}")
[ "${SETUP_MODE:-base}" = test ] && want+=("${test[@]}")
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "[setup] installing: ${missing[*]}" >&2
  # apt's normal output (downloads, unpacking, set-up of each package) is the progress report.
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
else
  echo "[setup] all ${#want[@]} packages present" >&2
fi
