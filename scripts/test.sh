#!/usr/bin/env bash
# The README's test command: installs what the tests need when it is missing (Debian's chromium
# for the pages, postgresql for the results database), starts a PostgreSQL server of its own on
# loopback for them, runs every test, and stops the server again.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# A server for the tests alone: its own data directory, 127.0.0.1 only, password (SCRAM)
# authentication for its one role, `wb`. PostgreSQL refuses to run as root: as root it runs as
# the `postgres` user.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pg_dir=${WB_TEST_PG_DIR:-${TMPDIR:-/tmp}/wb-test-postgres}
pg_port=${WB_TEST_PG_PORT:-54329}
as_pg=()
if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u postgres --); fi
if [ ! -s "$pg_dir/PG_VERSION" ]; then
    rm -rf "$pg_dir"
    mkdir -p "$pg_dir"
    [ ${#as_pg[@]} -eq 0 ] || chown postgres "$pg_dir"
    secret=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    printf '%s\n' "$secret" >"$pg_dir.pw"
    [ ${#as_pg[@]} -eq 0 ] || chown postgres "$pg_dir.pw"
    "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir" -U wb --pwfile="$pg_dir.pw" \
        --auth=scram-sha-256 >/dev/null
fi
# A server left running (an interrupted earlier run) is used as it is.
if ! "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir" status >/dev/null 2>&1; then
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir" -l "$pg_dir/server.log" -w -s \
        -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$pg_dir" start
fi
trap '"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir" -w -s -m fast stop' EXIT
# The tests create and drop their own databases on it; they must not skip it.
WB_TEST_PG="postgres://wb:$(cat "$pg_dir.pw")@127.0.0.1:$pg_port/postgres"
export WB_TEST_PG WB_TEST_PG_REQUIRED=1

cargo test --workspace "$@"
