# Shared helpers of the projector e2e tests (sourced, not a test itself):
# find the stack, run private oss-projector instances on their own schema,
# generate account events, digest read models.
set -euo pipefail

SRC=${OSS_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD_FROM_CTEST=${OSS_BUILD_DIR:-}
if [ ! -r "$SRC/var/run.env" ]; then
    echo "FAIL: $SRC/var/run.env missing: is the stack running (infra/run --detach)?" >&2
    exit 1
fi
set -a
# shellcheck disable=SC1091
source "$SRC/var/run.env"
set +a
BUILD=${BUILD_FROM_CTEST:-$OSS_BUILD_DIR}
PROJECTOR=$BUILD/consumers/oss-projector
[ -x "$PROJECTOR" ] || { echo "FAIL: $PROJECTOR not built" >&2; exit 1; }
GEN_SQL=$SRC/tests/e2e/test_projector_gen.sql
TAG=$(printf 'p%d%04x' $$ $((RANDOM)))
SCHEMA=rm_${TAG}
NAME=pt_${TAG}
WORK=$(mktemp -d)
PIDS=()

fail() { echo "FAIL: $*" >&2; exit 1; }
say() { echo "$(date -u +%T) $*"; }
app() { psql -X -q -tA -v ON_ERROR_STOP=1 "$OSS_PG_URL" "$@"; }
owner() { psql -X -q -tA -v ON_ERROR_STOP=1 "$OSS_PG_ADMIN_URL" "$@"; }

# start_projector LOGFILE [schema [name]]: a private projector; echoes pid
start_projector() {
    OSS_CONFIG=$OSS_CONFIG OSS_PROJECTOR_SCHEMA=${2:-$SCHEMA} \
        OSS_PROJECTOR_NAME=${3:-$NAME} OSS_LOG_LEVEL=info \
        "$PROJECTOR" >>"$1" 2>&1 &
    echo $!
}

# gone PID: waits (up to 30 s) until the process has exited (our projectors
# are not children of the test shell: they start in a command substitution)
gone() {
    local i
    for i in $(seq 1 300); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    return 1
}

# gen PREFIX N START: append N account events
gen() {
    app -v prefix="$1" -v n="$2" -v start="$3" -f "$GEN_SQL" >/dev/null
}

# digest SCHEMA PREFIX: md5 over the accounts of the test streams, with
# apply_count (events applied to the row): a rebuild applies each once, so
# equal digests also mean nothing was applied twice
digest() {
    app -c "SELECT count(*) || ':' || coalesce(md5(string_agg(concat_ws('|',
        account_id, stream_id, status, scale, actor_type, country,
        terms_version, subject_id, registered_at, version, apply_count), ','
        ORDER BY account_id)), '') FROM $1.accounts WHERE account_id LIKE '$2-%'"
}
# not_once SCHEMA PREFIX: accounts of the test streams (one AccountRegistered
# each, version 1) not applied exactly once
not_once() {
    app -c "SELECT count(*) FROM $1.accounts WHERE account_id LIKE '$2-%'
        AND apply_count <> 1"
}
applied_digest() {
    app -c "SELECT count(*) || ':' || coalesce(md5(string_agg(stream_id ||
        '=' || version, ',' ORDER BY stream_id)), '') FROM $1.applied_streams
        WHERE stream_id LIKE 'account-$2-%'"
}

# wait_count SCHEMA PREFIX N SECONDS
wait_count() {
    local i got=0
    for i in $(seq 1 "$4"); do
        got=$(app -c "SELECT count(*) FROM $1.accounts WHERE account_id LIKE '$2-%'")
        [ "$got" -ge "$3" ] && return 0
        sleep 1
    done
    echo "only $got of $3 accounts in $1 after $4 s" >&2
    return 1
}

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do gone "$p" || kill -KILL "$p" 2>/dev/null || true; done
    owner -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE; DROP SCHEMA IF EXISTS ${SCHEMA}_r CASCADE; DROP SCHEMA IF EXISTS ${SCHEMA}_r_new CASCADE; DROP SCHEMA IF EXISTS ${SCHEMA}_new CASCADE; DELETE FROM oss.rebuild_progress WHERE schema_name LIKE '${SCHEMA}%'" >/dev/null 2>&1 || true
    if [ -n "${OSS_TEST_KEEP:-}" ]; then cp -r "$WORK" "/tmp/projector-test-$TAG"; echo "logs kept in /tmp/projector-test-$TAG"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

owner -c "SELECT oss.rm_define('$SCHEMA')" >/dev/null
