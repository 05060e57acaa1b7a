#!/usr/bin/env bash
# Start a local PostgreSQL for the test suite, idempotently and without input:
# installs Debian's `postgresql` package if missing, creates and starts the cluster, then makes
# role `did` (password `did`, CREATEDB for the migration test's scratch database) and the
# database `did_test` owned by it. Matches DATABASE_URL=postgresql+psycopg://did:did@127.0.0.1:5432/did_test
set -euo pipefail

PORT="${PGPORT:-5432}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

as_postgres() {
    # run from / so psql does not complain about an unreadable working directory
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && sudo -u postgres "$@")
    fi
}

installed() {
    command -v pg_ctlcluster >/dev/null 2>&1 && compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null
}

if ! installed; then
    echo "start_postgres: installing Debian's postgresql package"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

VERSION="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
# columns of pg_lsclusters -h: version cluster port status owner datadir logfile
cluster_field() { pg_lsclusters -h | awk -v v="$VERSION" -v f="$1" '$1 == v && $2 == "main" { print $f }'; }

if [ -z "$(cluster_field 2)" ]; then
    echo "start_postgres: creating cluster $VERSION/main on port $PORT"
    $SUDO pg_createcluster --port "$PORT" "$VERSION" main >/dev/null
fi
if [ "$(cluster_field 3)" != "$PORT" ]; then
    echo "start_postgres: cluster $VERSION/main listens on port $(cluster_field 3), not $PORT" >&2
    exit 1
fi
case "$(cluster_field 4)" in
    online*) ;;
    *)
        echo "start_postgres: starting cluster $VERSION/main"
        $SUDO pg_ctlcluster "$VERSION" main start
        ;;
esac

for _ in $(seq 1 60); do
    if pg_isready -q -h 127.0.0.1 -p "$PORT"; then
        break
    fi
    sleep 0.5
done
pg_isready -h 127.0.0.1 -p "$PORT" >/dev/null || { echo "start_postgres: server not ready" >&2; exit 1; }

as_postgres psql -q -X -v ON_ERROR_STOP=1 -p "$PORT" -d postgres <<'SQL'
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'did') THEN
        CREATE ROLE did LOGIN PASSWORD 'did' CREATEDB;
    ELSE
        ALTER ROLE did LOGIN PASSWORD 'did' CREATEDB;
    END IF;
END
$$;
SQL

if [ "$(as_postgres psql -X -tA -p "$PORT" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'did_test'")" != "1" ]; then
    as_postgres psql -q -X -v ON_ERROR_STOP=1 -p "$PORT" -d postgres -c "CREATE DATABASE did_test OWNER did"
fi
as_postgres psql -q -X -v ON_ERROR_STOP=1 -p "$PORT" -d postgres -c "ALTER DATABASE did_test OWNER TO did"
# PostgreSQL 15 no longer lets every role create in schema public; the owner of did_test must
as_postgres psql -q -X -v ON_ERROR_STOP=1 -p "$PORT" -d did_test -c "ALTER SCHEMA public OWNER TO did"

echo "start_postgres: PostgreSQL $VERSION ready: postgresql+psycopg://did:did@127.0.0.1:$PORT/did_test"
