# Sourced by .ci/run and bench/bench.sh: make sure a PostgreSQL answers on 127.0.0.1:5432 and
# set PG_URL to a superuser URL for the `postgres` database. Installs and starts the Debian
# package when nothing answers.
PG_PORT="${PG_PORT:-5432}"

pg_answers() { psql "$1" -Atqc 'select 1' >/dev/null 2>&1; }

ensure_postgres() {
  local trust="postgres://postgres@127.0.0.1:${PG_PORT}/postgres"
  local pw="postgres://postgres:postgres@127.0.0.1:${PG_PORT}/postgres"
  if command -v psql >/dev/null 2>&1; then
    if pg_answers "$trust"; then PG_URL="$trust"; return; fi
    if pg_answers "$pw"; then PG_URL="$pw"; return; fi
  fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "== installing PostgreSQL" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql postgresql-client >/dev/null
  fi
  echo "== starting PostgreSQL" >&2
  local version
  version="$(ls /etc/postgresql | sort -V | tail -n1)"
  if ! pg_lsclusters -h | awk '{print $2}' | grep -qx main; then
    pg_createcluster "$version" main >/dev/null
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do
    pg_isready -h 127.0.0.1 -p "$PG_PORT" -q && break
    sleep 1
  done
  if pg_answers "$trust"; then PG_URL="$trust"; return; fi
  # A fresh cluster asks for a password on TCP: give the postgres role one.
  su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
  if pg_answers "$pw"; then PG_URL="$pw"; return; fi
  echo "PostgreSQL is not reachable on 127.0.0.1:${PG_PORT}" >&2
  exit 1
}

# PG_URL with another database name.
pg_url_for() { printf '%s/%s\n' "${PG_URL%/*}" "$1"; }
