#!/usr/bin/env bash
# Installs (as root) and starts Debian's PostgreSQL on 127.0.0.1 with a test role and database,
# then prints its SQLAlchemy URL. Prints a reason on stderr and exits 1 when that is not possible.
set -uo pipefail
if [ "$(id -u)" != 0 ]; then echo "test_postgres: not root, cannot install or start PostgreSQL" >&2; exit 1; fi
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null 2>&1 \
    || { echo "test_postgres: apt-get install postgresql failed" >&2; exit 1; }
fi
read -r ver name port _ < <(pg_lsclusters -h | head -n 1)
[ -n "${ver:-}" ] || { echo "test_postgres: no PostgreSQL cluster" >&2; exit 1; }
pg_ctlcluster "$ver" "$name" start >/dev/null 2>&1 || true
su postgres -c "psql -q -p $port -v ON_ERROR_STOP=1" >/dev/null 2>&1 <<'SQL' || { echo "test_postgres: could not create the test role" >&2; exit 1; }
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rjcoach') THEN
    CREATE ROLE rjcoach LOGIN PASSWORD 'rjcoach-test' CREATEDB;
  END IF;
END $$;
SQL
su postgres -c "createdb -p $port -O rjcoach rjcoach_test" >/dev/null 2>&1 || true
echo "postgresql+psycopg://rjcoach:rjcoach-test@127.0.0.1:$port/rjcoach_test"
