#!/usr/bin/env bash
# MariaDB for the test suite (SQLite needs nothing). Idempotent: initialises the data directory
# only when empty, starts mariadbd only when it does not answer, waits until it does.
# Tests create (and drop) a uniquely named database and user per run (test/fixtures/mariadb.ts).
set -euo pipefail
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || { echo "[setup] mariadb-server is not installed" >&2; exit 1; }
alive() { mariadb -uroot -N -B -e 'SELECT 1' >/dev/null 2>&1; }
if alive; then exit 0; fi
datadir="$(my_print_defaults --mysqld 2>/dev/null | sed -n 's/^--datadir=//p' | tail -n1)"
datadir="${datadir:-/var/lib/mysql}"
if [ ! -d "$datadir/mysql" ]; then
  echo "[setup] initialising MariaDB in $datadir" >&2
  mysql_install_db --user=mysql --skip-test-db >&2
fi
install -d -o mysql -g mysql /run/mysqld
start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
for _ in $(seq 1 240); do
  if alive; then echo "[setup] MariaDB is up" >&2; exit 0; fi
  sleep 0.25
done
echo "[setup] MariaDB did not answer within 60 s" >&2
exit 1
