#!/usr/bin/env bash
# GlusterFS for the integration tests: start glusterd if it is not running (no systemd on the
# test machines) and wait until the CLI answers. Volumes are created per test run by
# test/fixtures/gluster.ts. Packages come from 10-packages.sh.
set -euo pipefail
if ! command -v glusterd >/dev/null 2>&1; then
  echo "[setup] glusterd is not installed (run 10-packages.sh in test mode)" >&2
  exit 1
fi
if ! pgrep -x glusterd >/dev/null 2>&1; then
  echo "[setup] starting glusterd" >&2
  mkdir -p /var/log/glusterfs /var/lib/glusterd
  glusterd
fi
for _ in $(seq 1 60); do
  if gluster --mode=script volume list >/dev/null 2>&1; then exit 0; fi
  sleep 0.5
done
echo "[setup] glusterd did not answer 'gluster volume list' within 30 s" >&2
exit 1
