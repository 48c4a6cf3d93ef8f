#!/usr/bin/env bash
# The systemd units under a real systemd (test/integration/deploy/systemd-nspawn.test.ts): this
# machine's PID 1 is not systemd, so the test boots a minimal Debian 12 root with
# systemd-nspawn -b. Installs systemd-container and debootstrap, and makes the root once
# (~250 MB, a few minutes); later runs find it. Test mode only; idempotent.
set -euo pipefail
[ "${SETUP_MODE:-base}" = test ] || exit 0
root="${QCS_NSPAWN_ROOT:-/var/lib/qcowshare-test/nspawn-bookworm}"
missing=()
for pkg in systemd-container debootstrap; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "[setup] installing ${missing[*]} (for the units' test under systemd-nspawn)" >&2
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi
if [ -f "$root/.qcowshare-nspawn-root" ]; then
  echo "[setup] nspawn root present ($root)" >&2
  exit 0
fi
echo "[setup] making a Debian 12 root for systemd-nspawn in $root (debootstrap, a few minutes)" >&2
s=$SECONDS
rm -rf "$root.partial"
mkdir -p "$(dirname "$root")"
# systemd as init; qemu-utils: the service checks for qemu-img at start; procps: the units' /bin/kill.
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,qemu-utils,procps \
  bookworm "$root.partial" "${QCS_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >&2
touch "$root.partial/.qcowshare-nspawn-root"
rm -rf "$root"
mv "$root.partial" "$root"
echo "[setup] nspawn root ready in $((SECONDS - s)) s" >&2
