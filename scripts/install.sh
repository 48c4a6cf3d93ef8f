#!/usr/bin/env bash
# Installs the compiled build, production node_modules, the systemd units and example
# configuration (run as root; idempotent: run it again after an update).
#
#   scripts/install.sh            or: npm run install-service
#
# Locations (environment variables, defaults in brackets); DESTDIR stages everything under
# another root without changing the paths written into the units (for packaging and tests):
#   PREFIX      [/opt/qcowshare]        dist/, node_modules/, deploy/, docs/
#   SYSCONFDIR  [/etc/qcowshare]        configuration; existing files are never overwritten
#   STATEDIR    [/var/lib/qcowshare]    the units' working directory (database, mounts, leases)
#   UNITDIR     [/etc/systemd/system]   the two .service files
#   NODE        [command -v node]       the node binary the units run
#   DESTDIR     []
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX="${PREFIX:-/opt/qcowshare}"
SYSCONFDIR="${SYSCONFDIR:-/etc/qcowshare}"
STATEDIR="${STATEDIR:-/var/lib/qcowshare}"
UNITDIR="${UNITDIR:-/etc/systemd/system}"
NODE="${NODE:-$(command -v node)}"
DESTDIR="${DESTDIR:-}"
root="$DESTDIR$PREFIX"
t0=$SECONDS
step() { echo "[install] $*" >&2; }

step "build (only when dist/ is older than the sources)"
bash scripts/build.sh --if-stale

step "compiled build -> $root/dist"
mkdir -p "$root"
rm -rf "$root/dist.new"
cp -a dist "$root/dist.new"
rm -rf "$root/dist.old"
[ -d "$root/dist" ] && mv "$root/dist" "$root/dist.old"
mv "$root/dist.new" "$root/dist"
rm -rf "$root/dist.old"
cp package.json package-lock.json "$root/"

# Production dependencies only: a copy of this tree's node_modules pruned of development
# packages (TypeScript, tsx, mocha...). Offline, and skipped when the lock file did not change.
sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
stamp="$root/node_modules/.qcowshare-lock-stamp"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
  step "production node_modules: up to date"
else
  step "production node_modules -> $root/node_modules (copy, then npm prune --omit=dev)"
  s=$SECONDS
  stage="$root/.stage"
  rm -rf "$stage"
  mkdir -p "$stage"
  cp package.json package-lock.json "$stage/"
  cp -a node_modules/. "$stage/node_modules/"
  (cd "$stage" && npm prune --omit=dev --offline --no-audit --no-fund --ignore-scripts >&2)
  rm -rf "$root/node_modules"
  mv "$stage/node_modules" "$root/node_modules"
  rm -rf "$stage"
  echo "$sum" > "$stamp"
  step "  done in $((SECONDS - s)) s"
fi

step "start check and documentation -> $root/deploy, $root/docs"
mkdir -p "$root/deploy" "$root/docs/operations"
cp deploy/wait-healthy.mjs "$root/deploy/"
cp docs/operations/install.md "$root/docs/operations/"

# The units and the example configuration name the default locations; rewrite them to these.
paths() {
  sed -e "s|/opt/qcowshare|$PREFIX|g" -e "s|/etc/qcowshare|$SYSCONFDIR|g" \
      -e "s|/var/lib/qcowshare|$STATEDIR|g" -e "s|/usr/bin/node |$NODE |g" "$1"
}

step "systemd units -> $DESTDIR$UNITDIR"
mkdir -p "$DESTDIR$UNITDIR"
for unit in deploy/systemd/*.service; do
  paths "$unit" > "$DESTDIR$UNITDIR/$(basename "$unit")"
done

step "configuration -> $DESTDIR$SYSCONFDIR (existing files kept; *.example always refreshed)"
mkdir -p "$DESTDIR$SYSCONFDIR"
install_conf() { # source, name, mode
  paths "$1" > "$DESTDIR$SYSCONFDIR/$2.example"
  if [ ! -e "$DESTDIR$SYSCONFDIR/$2" ]; then
    install -m "$3" "$DESTDIR$SYSCONFDIR/$2.example" "$DESTDIR$SYSCONFDIR/$2"
    step "  created $SYSCONFDIR/$2"
  fi
}
install_conf deploy/config/qcowshare.json qcowshare.json 0644
install_conf deploy/config/qcowshare.env qcowshare.env 0600
install_conf config/coordinator.example.json coordinator.json 0644
install_conf deploy/config/coordinator.env coordinator.env 0600
cp config/mysql-glusterfs.example.json "$DESTDIR$SYSCONFDIR/mysql-glusterfs.json.example"

step "state directory -> $DESTDIR$STATEDIR"
mkdir -p "$DESTDIR$STATEDIR"
chmod 0750 "$DESTDIR$STATEDIR"

step "done in $((SECONDS - t0)) s"
if [ -z "$DESTDIR" ]; then
  step "next: edit $SYSCONFDIR/qcowshare.json, then: systemctl daemon-reload && systemctl enable --now qcowshare-api"
fi
