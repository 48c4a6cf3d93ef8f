#!/usr/bin/env bash
# libvirtd + virtlogd for the libvirt tests (no systemd here: started by hand, idempotently).
# The test fixture does the same when tests run directly; this step just makes CI start warm.
set -euo pipefail
# udev would give /dev/kvm to group kvm; without it libvirt re-probes QEMU (~30 s) on every call.
if [ -c /dev/kvm ] && getent group kvm >/dev/null; then
  chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
fi
pidof virtlogd >/dev/null || /usr/sbin/virtlogd -d
pidof libvirtd >/dev/null || /usr/sbin/libvirtd -d
for _ in $(seq 1 300); do
  [ -S /var/run/libvirt/libvirt-sock ] && virsh -c qemu:///system version >/dev/null 2>&1 && exit 0
  sleep 0.1
done
echo "[setup] libvirtd did not answer on /var/run/libvirt/libvirt-sock" >&2
exit 1
