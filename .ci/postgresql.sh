#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the tests of the postgresql:// backend.
#
#   .ci/postgresql.sh run [--durable] -- COMMAND...   start a server, run COMMAND with
#                                                     MLTRACK_TEST_POSTGRESQL_URI set, stop the server
#                                                     (also when COMMAND fails); exits with COMMAND's status.
#                                                     If the variable is already set, just runs COMMAND.
#   eval "$(.ci/postgresql.sh start [--durable])"     start one and export MLTRACK_TEST_POSTGRESQL_URI
#                                                     (and MLTRACK_TEST_POSTGRESQL_DIR); running it again
#                                                     while that server runs prints the same exports.
#   .ci/postgresql.sh stop                            stop the server `start` made and delete its files.
#
# PostgreSQL comes from Debian's packages (installed with apt-get when missing, as root). The cluster
# lives in a temporary folder owned by the `postgres` user when run as root (initdb refuses root), listens
# on a free port of 127.0.0.1 only, and has one database and one password-authenticated user (allowed to
# create databases and roles, for the tests). It runs with fsync off, as fits a server that is deleted
# afterwards; --durable keeps PostgreSQL's default durability (for benchmarks). Only the exports go to
# stdout; progress goes to stderr.
set -euo pipefail

DEFAULT_DIR="${TMPDIR:-/tmp}/mltrack-postgresql-$(id -u)"
DATABASE=mltrack_test
ROLE=mltrack

usage() {
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

say() {
    echo "postgresql.sh: $*" >&2
}

find_bindir() {
    if [ -n "${PG_BINDIR:-}" ]; then
        echo "$PG_BINDIR"
        return
    fi
    local newest
    newest=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    if [ -n "$newest" ] && [ -x "$newest/initdb" ]; then
        echo "$newest"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    fi
}

install_postgresql() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        say "PostgreSQL is not installed; install it (Debian: apt-get install postgresql) or set PG_BINDIR"
        exit 1
    fi
    say "installing PostgreSQL from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # The server package would create and start a "main" cluster we do not use: tell it not to.
    apt-get install -y -qq postgresql-common >&2
    if [ -f /etc/postgresql-common/createcluster.conf ]; then
        sed -i 's/^#* *create_main_cluster.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf
    fi
    apt-get install -y -qq postgresql >&2
}

# Runs a PostgreSQL program as the owner of the cluster.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        (cd / && runuser -u postgres -- "$@") # postgres cannot enter root's working directory
    else
        "$@"
    fi
}

is_running() {
    local dir=$1
    [ -f "$dir/uri" ] && [ -d "$dir/data" ] && as_owner "$(cat "$dir/bindir")/pg_ctl" --pgdata="$dir/data" status >/dev/null 2>&1
}

print_exports() {
    local dir=$1
    echo "export MLTRACK_TEST_POSTGRESQL_URI=$(cat "$dir/uri")"
    echo "export MLTRACK_TEST_POSTGRESQL_DIR=$dir"
}

random_hex() {
    od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

start_server() {
    local dir=$1 durable=$2
    if is_running "$dir"; then
        say "reusing the server already running in $dir"
        print_exports "$dir"
        return
    fi
    BINDIR=$(find_bindir)
    if [ -z "$BINDIR" ]; then
        install_postgresql
        BINDIR=$(find_bindir)
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir"
    fi
    chmod 700 "$dir"
    as_owner "$BINDIR/initdb" --pgdata="$dir/data" --username=postgres --encoding=UTF8 --no-locale \
        --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$dir.initdb.log" 2>&1 ||
        { cat "$dir.initdb.log" >&2; rm -f "$dir.initdb.log"; exit 1; }
    rm -f "$dir.initdb.log"
    local options="-c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c max_connections=200"
    if [ "$durable" = no ]; then
        options="$options -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    local port="" candidate attempt
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        candidate=$((20000 + RANDOM % 40000))
        if (: </dev/tcp/127.0.0.1/"$candidate") 2>/dev/null; then
            continue # something listens there
        fi
        if as_owner "$BINDIR/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --timeout=60 \
            --options="-p $candidate $options" start >/dev/null; then
            port=$candidate
            break
        fi
        if ! grep -q "could not bind\|could not create listen socket\|already in use" "$dir/server.log" 2>/dev/null; then
            cat "$dir/server.log" >&2
            say "the server did not start (log above)"
            exit 1
        fi
        say "port $candidate was taken meanwhile; trying another (attempt $attempt)"
    done
    if [ -z "$port" ]; then
        say "found no free port to start PostgreSQL on"
        exit 1
    fi
    local password
    password=$(random_hex 12)
    as_owner "$BINDIR/psql" --quiet --no-psqlrc --set=ON_ERROR_STOP=1 --host="$dir" --port="$port" \
        --username=postgres --dbname=postgres >/dev/null <<SQL
CREATE ROLE $ROLE LOGIN CREATEDB CREATEROLE PASSWORD '$password';
CREATE DATABASE $DATABASE OWNER $ROLE;
SQL
    echo "$BINDIR" >"$dir/bindir"
    echo "postgresql://$ROLE:$password@127.0.0.1:$port/$DATABASE" >"$dir/uri" # written last: the server is ready
    say "PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}') listening on 127.0.0.1:$port (files in $dir)"
    print_exports "$dir"
}

stop_server() {
    local dir=$1
    if [ ! -d "$dir" ]; then
        return
    fi
    BINDIR=$(cat "$dir/bindir" 2>/dev/null || find_bindir)
    if [ -n "$BINDIR" ] && [ -d "$dir/data" ]; then
        as_owner "$BINDIR/pg_ctl" --pgdata="$dir/data" --mode=fast --wait stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    say "stopped the server in $dir and deleted its files"
}

[ $# -ge 1 ] || usage
command=$1
shift
durable=no
if [ "${1:-}" = --durable ]; then
    durable=yes
    shift
fi
case "$command" in
    start)
        [ $# -eq 0 ] || usage
        start_server "$DEFAULT_DIR" "$durable"
        ;;
    stop)
        [ $# -eq 0 ] || usage
        stop_server "${MLTRACK_TEST_POSTGRESQL_DIR:-$DEFAULT_DIR}"
        ;;
    run)
        [ "${1:-}" = -- ] || usage
        shift
        [ $# -ge 1 ] || usage
        if [ -n "${MLTRACK_TEST_POSTGRESQL_URI:-}" ]; then
            exec "$@"
        fi
        dir=$(mktemp -d "${TMPDIR:-/tmp}/mltrack-postgresql.XXXXXX")
        trap 'stop_server "$dir"' EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        exports=$(start_server "$dir" "$durable")
        eval "$exports"
        status=0
        "$@" || status=$?
        exit "$status"
        ;;
    *)
        usage
        ;;
esac
