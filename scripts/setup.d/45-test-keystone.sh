#!/usr/bin/env bash
# A real Keystone for the authentication tests, with its own SQLite database, started without systemd.
# Idempotent: installs keystone only when missing (its package must not start the stock service),
# writes its own configuration under a state directory, syncs the database, sets up fernet and
# credential keys, bootstraps an admin once, and starts uwsgi on its own port only when it does not
# answer. Tests read the endpoint and the admin password from the state directory
# (test/fixtures/keystone.ts) and create, then delete, their own users and projects.
set -euo pipefail
state="${QCOWSHARE_KEYSTONE_STATE:-/var/lib/qcowshare-test/keystone}"
port="${QCOWSHARE_KEYSTONE_PORT:-35357}"
url="http://127.0.0.1:$port/v3"

want=(keystone uwsgi-plugin-python3 python3-keystoneclient python3-openstackclient python3-cinderclient curl openssl)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "[setup] installing: ${missing[*]}" >&2
  # The package's postinst would start the stock Keystone (its own database, port 5000): a
  # policy-rc.d that denies every start keeps it down; ours runs from its own configuration.
  # apt holds the dpkg lock for the whole run, so no other install sees this policy.
  placed_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d
    placed_policy=1
  fi
  trap '[ "$placed_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  # Debconf defaults already say: no database configuration, no admin, no endpoint registration.
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
  [ "$placed_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  placed_policy=0
else
  echo "[setup] keystone packages present" >&2
fi

# A plain --http-socket does not keep connections alive: "Connection: close" tells clients (the
# cinder client's requests pool) not to reuse one, which uwsgi would reset. One process, one thread: SQLite takes one writer at a time, and concurrent writes in Keystone
# fail with "database is locked" instead of waiting.
args=(--plugin python3 --http-socket "127.0.0.1:$port" --wsgi-file /usr/bin/keystone-wsgi-public
      --env "OS_KEYSTONE_CONFIG_FILES=$state/keystone.conf" --processes 1 --threads 1 --master --die-on-term
      --pidfile "$state/uwsgi.pid" --daemonize "$state/uwsgi.log" --add-header 'Connection: close')
# The stock unit is enabled by the package; it is never used here, and its self-referencing After=
# makes `systemd-analyze verify` of our own units (WantedBy=multi-user.target) print a warning.
# systemctl disable works without systemd running (it only removes the links).
if [ -e /etc/systemd/system/multi-user.target.wants/keystone.service ]; then
  echo "[setup] disabling the stock keystone.service (our Keystone runs from its own configuration)" >&2
  systemctl disable keystone.service >&2 || rm -f /etc/systemd/system/multi-user.target.wants/keystone.service
fi
answers() { curl -fsS -m 3 "$url" >/dev/null 2>&1; }
# Running with other arguments (an older version of this step): restarted below.
# Bumped when the set-up below changes, so a machine set up by an older version runs it again.
step_version=4
if answers && [ -s "$state/admin-password" ] && [ "$(cat "$state/uwsgi.args" 2>/dev/null)" = "${args[*]}" ] \
   && [ "$(cat "$state/step-version" 2>/dev/null)" = "$step_version" ]; then
  echo "[setup] Keystone answers at $url" >&2
  exit 0
fi

install -d -m 0700 "$state" "$state/fernet-keys" "$state/credential-keys"
conf="$state/keystone.conf"
cat > "$conf" <<EOF
[DEFAULT]
log_file = $state/keystone.log
[database]
connection = sqlite:///$state/keystone.sqlite
[token]
provider = fernet
expiration = 3600
[fernet_tokens]
key_repository = $state/fernet-keys
[credential]
key_repository = $state/credential-keys
[cache]
enabled = false
EOF
if [ ! -s "$state/admin-password" ]; then
  (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$state/admin-password")
fi
echo "[setup] keystone-manage db_sync" >&2
keystone-manage --config-file "$conf" db_sync
# Write-ahead logging (kept in the database file): a commit need not wait for readers. Keystone
# keeps a reading connection open while another one of the same request commits; in the default
# journal mode that commit waits for a lock it can never get ("database is locked").
sqlite3 "$state/keystone.sqlite" 'PRAGMA journal_mode=WAL;' >/dev/null
if [ -z "$(ls -A "$state/fernet-keys")" ]; then
  echo "[setup] keystone-manage fernet_setup / credential_setup" >&2
  keystone-manage --config-file "$conf" fernet_setup --keystone-user root --keystone-group root
  keystone-manage --config-file "$conf" credential_setup --keystone-user root --keystone-group root
fi
# bootstrap is idempotent: it creates what is missing and leaves the rest.
echo "[setup] keystone-manage bootstrap (admin, roles admin/member/reader, identity endpoint)" >&2
keystone-manage --config-file "$conf" bootstrap \
  --bootstrap-password "$(cat "$state/admin-password")" \
  --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name admin \
  --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
  --bootstrap-admin-url "$url" --bootstrap-public-url "$url" --bootstrap-internal-url "$url"
# The service role (for compute hosts and this service's own user). Created through bootstrap: on
# SQLite, POST /v3/roles opens a second connection inside its own write transaction and fails
# with "database is locked". Side effect: the bootstrap admin also holds the service role.
keystone-manage --config-file "$conf" bootstrap \
  --bootstrap-password "$(cat "$state/admin-password")" \
  --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name service
echo "$url" > "$state/endpoint"

# A stale uwsgi (not answering, or started with other arguments) is stopped before a new one starts.
if [ -s "$state/uwsgi.pid" ] && kill -0 "$(cat "$state/uwsgi.pid")" 2>/dev/null; then
  kill "$(cat "$state/uwsgi.pid")" || true
  for _ in $(seq 1 100); do kill -0 "$(cat "$state/uwsgi.pid")" 2>/dev/null || break; sleep 0.1; done
fi
echo "[setup] starting Keystone (uwsgi) on 127.0.0.1:$port" >&2
uwsgi "${args[@]}"
echo "${args[*]}" > "$state/uwsgi.args"
echo "$step_version" > "$state/step-version"
for _ in $(seq 1 240); do
  if answers; then echo "[setup] Keystone answers at $url" >&2; exit 0; fi
  sleep 0.25
done
echo "[setup] Keystone did not answer within 60 s (see $state/uwsgi.log)" >&2
exit 1
