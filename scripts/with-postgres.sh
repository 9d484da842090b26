#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL cluster: initdb into a temporary folder as the
# 'postgres' user, listening on 127.0.0.1 only, at a free port; the command gets its address in
# BRANCHDESK_TEST_POSTGRES (postgres://postgres@127.0.0.1:PORT/postgres, trust authentication:
# nothing but this machine's loopback reaches it). The cluster is stopped and its folder removed
# when the command ends, whatever happens. Without PostgreSQL's programs the command runs alone
# and the PostgreSQL tests say they were skipped (set BRANCHDESK_REQUIRE_POSTGRES=1 to fail instead).
#
#   bash scripts/with-postgres.sh swift test --filter Postgres
set -euo pipefail

# Already beside a cluster (.ci/run starts one around the whole test command): use that one.
if [ -n "${BRANCHDESK_TEST_POSTGRES:-}" ]; then
    exec "$@"
fi

bin="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "with-postgres: no PostgreSQL programs (initdb) found; running without a cluster" >&2
    exec "$@"
fi

folder="$(mktemp -d /tmp/branchdesk-postgres.XXXXXX)"
as_postgres=()
if [ "$(id -u)" = 0 ]; then
    chown postgres "$folder"
    as_postgres=(runuser -u postgres --)
fi
stop() {
    "${as_postgres[@]}" "$bin/pg_ctl" -D "$folder/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$folder"
}
trap stop EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"${as_postgres[@]}" "$bin/initdb" -D "$folder/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$folder/initdb.log" 2>&1 \
    || { cat "$folder/initdb.log" >&2; exit 1; }
# fsync stays on: the tests check what survives a crash, as production would.
"${as_postgres[@]}" "$bin/pg_ctl" -D "$folder/data" -w -l "$folder/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $folder -c max_connections=200" start >/dev/null \
    || { cat "$folder/server.log" >&2; exit 1; }

export BRANCHDESK_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
export BRANCHDESK_TEST_PG_BIN="$bin" BRANCHDESK_TEST_PG_DATA="$folder/data"
status=0
"$@" || status=$?
exit "$status"
