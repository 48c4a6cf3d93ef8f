#!/usr/bin/env bash
# libvirtd + virtlogd for the libvirt tests (no systemd here: started by hand, idempotently).
# The test fixture does the same when tests run directly; this step just makes CI start warm.
set -euo pipefail
# udev would give /dev/kvm to group kvm; without it libvirt re-probes QEMU (~30 s) on every call.
if [ -c /dev/kvm ] && getent group kvm >/dev/null; then
  chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
fi

# Mount propagation into guests. libvirt runs each QEMU in its own mount namespace, made a slave
# of / when the domain starts; with / private (no systemd here) that slave receives nothing, so a
# share the coordinator mounts after a guest started is invisible to its QEMU and a hot-plugged
# disk on it fails to open. systemd makes / recursively shared on every real host; do the same,
# before libvirtd starts. Idempotent: nothing to do when / is shared already.
if ! findmnt -no PROPAGATION / | grep -q shared; then
  mount --make-rshared /
  if pidof libvirtd >/dev/null; then
    # A libvirtd started while / was private is restarted, but never under running guests.
    if [ -z "$(virsh -c qemu:///system list --name 2>/dev/null | tr -d '[:space:]')" ]; then
      kill "$(pidof libvirtd)"
      for _ in $(seq 1 100); do pidof libvirtd >/dev/null || break; sleep 0.1; done
    else
      echo "[setup] / made shared, but libvirtd runs domains started before: they keep a private view" >&2
    fi
  fi
fi

pidof virtlogd >/dev/null || /usr/sbin/virtlogd -d
pidof libvirtd >/dev/null || /usr/sbin/libvirtd -d
for _ in $(seq 1 300); do
  [ -S /var/run/libvirt/libvirt-sock ] && virsh -c qemu:///system version >/dev/null 2>&1 && exit 0
  sleep 0.1
done
echo "[setup] libvirtd did not answer on /var/run/libvirt/libvirt-sock" >&2
exit 1
