#!/usr/bin/env bash
# Relay failure paths: a relay whose database session is terminated
# (pg_terminate_backend: it loses its connection and with it the advisory
# lock) must purge its producer and exit 2 promptly, and whoever leads next
# must publish no event id twice. The stack's relay is stopped for the test;
# ours run with a 5 s message timeout. While E2E_FAULTS_N events (default
# 20,000, hash-chained, in 200 transactions) are being appended:
#   1. the active relay's session is terminated: it exits 2 within 10 s and
#      the hot standby takes over;
#   2. the new leader's session is terminated too, with no standby left: it
#      exits 2 and a relay started afterwards (a supervisor's restart) leads.
# Then every event id of the run is on Kafka exactly once. (The "broker lost
# data" paths: tests/e2e/test_broker_restart.sh for a new cluster id end to
# end, tests/integration/test_relay_faults.c for the decisions.) The stack's
# relay is started again at the end.
source "$(dirname "$0")/lib.sh"

relay=${OSS_RELAY_BIN:-$OSS_BUILD_DIR/producers/oss-relay}
[ -x "$relay" ] || e2e_fail "$relay is not built"
tmp=$(mktemp -d)
started=()
cleanup() {
    local rc=$? p
    if [ $rc -ne 0 ]; then
        for p in "$tmp"/relay.*.log; do [ -f "$p" ] && { echo "--- $p" >&2; tail -n 15 "$p" >&2; }; done
    fi
    for p in "${started[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${started[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$p" 2>/dev/null || true
    done
    [ -n "${writer:-}" ] && kill "$writer" 2>/dev/null || true
    "$E2E_ROOT/infra/run" svc start relay >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

lock_key=$(sed -n 's/^[[:space:]]*relay\.lock_key[[:space:]]*=[[:space:]]*//p' "$OSS_CONFIG" | tail -n1)
lock_key=${lock_key:-7301}
leader_pid() {
    local app
    app=$(e2e_psql_super -c "SELECT a.application_name
        FROM pg_locks l JOIN pg_stat_activity a USING (pid)
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
          AND l.classid = (($lock_key::bigint >> 32) & 4294967295)::oid
          AND l.objid = ($lock_key::bigint & 4294967295)::oid
          AND a.application_name LIKE 'oss-relay%'")
    case $app in oss-relay:*) echo "${app#oss-relay:}" ;; esac
}
start_relay() {
    local name=$1; shift
    env OSS_RELAY_MESSAGE_TIMEOUT_MS=5000 "$@" "$relay" >>"$tmp/relay.$name.log" 2>&1 &
    last=$!
    started+=("$last")
}
# terminate PID: ends the database session(s) of relay PID
terminate() {
    local n
    n=$(e2e_psql_super -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                           WHERE application_name = 'oss-relay:$1'")
    [ "$n" -ge 1 ] || e2e_fail "relay $1 has no database session to terminate"
}
# expect_exit PID NAME: PID exits with code 2 within 10 s of now
expect_exit() {
    local pid=$1 t0=$SECONDS code
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && e2e_fail "relay $pid still runs 10 s after its session was terminated"
    code=0
    wait "$pid" || code=$?
    [ "$code" -eq 2 ] || e2e_fail "relay $pid exited with $code, not 2 (lost lock/database): $(tail -3 "$tmp/relay.$2.log")"
    grep -q "level=error" "$tmp/relay.$2.log" || e2e_fail "relay $pid logged no error about its lost session"
    e2e_ok "relay $pid exited 2 within $((SECONDS - t0 + 1)) s of losing its session"
}
count_mine() { e2e_psql -c "SELECT count(*) FROM oss.journal WHERE stream_type = '$stype'"; }

"$E2E_ROOT/infra/run" svc stop relay >/dev/null || e2e_fail "could not stop the stack's relay"
e2e_wait 20 bash -c "[ -z \"\$(psql -X -qtA '$OSS_PG_SUPER_URL' -c \"SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND objid = ($lock_key::bigint & 4294967295)::oid\")\" ]" \
    || e2e_fail "some relay still holds lock $lock_key after the stack's relay stopped"
start_relay a
a=$last
e2e_wait 40 grep -q "leading from" "$tmp/relay.a.log" || e2e_fail "relay a did not lead"
start_relay b
b=$last
e2e_wait 10 grep -q "hot standby" "$tmp/relay.b.log" || e2e_fail "relay b did not stand by"
[ "$(leader_pid)" = "$a" ] || e2e_fail "the leader is '$(leader_pid)', not relay a ($a)"

stype="rx$(printf '%x' "$(date +%s)")$$"
stype=${stype:0:30}
prefix=$(sed -n 's/^[[:space:]]*bus\.topic_prefix[[:space:]]*=[[:space:]]*//p' "$OSS_CONFIG" | tail -n1)
topic=${prefix:-oss.}$stype
n=${E2E_FAULTS_N:-20000}
ntx=200 nversions=10
nstreams=$((n / ntx / nversions))
[ "$nstreams" -ge 1 ] || e2e_fail "E2E_FAULTS_N=$n is below 2000"
total=$((ntx * nstreams * nversions))
{
cat "$(dirname "$0")/journal_gen.sql"
for i in $(seq 1 $ntx); do
    echo "SELECT pg_temp.gen('$stype', '$stype-$i', $nstreams, $nversions, 'faults');"
    echo "SELECT pg_sleep(0.1);"
done
} >"$tmp/gen.sql"
psql -X -q -v ON_ERROR_STOP=1 "$OSS_PG_URL" -f "$tmp/gen.sql" >"$tmp/gen.log" 2>&1 &
writer=$!

# 1. the leader loses its session mid-stream; the standby takes over
e2e_wait 60 bash -c "[ \$(psql -X -qtA '$OSS_PG_URL' -c \"SELECT count(*) FROM oss.journal WHERE stream_type = '$stype'\") -ge $((total / 5)) ]" \
    || e2e_fail "the writer did not get going: $(cat "$tmp/gen.log")"
terminate "$a"
e2e_ok "terminated the session of leader $a after $(count_mine) of $total events"
expect_exit "$a" a
e2e_wait 30 bash -c "[ \"\$(psql -X -qtA '$OSS_PG_SUPER_URL' -c \"SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.objid = ($lock_key::bigint & 4294967295)::oid\")\" = 'oss-relay:$b' ]" \
    || e2e_fail "the standby $b did not take the lock"
e2e_wait 40 grep -q "leading from" "$tmp/relay.b.log" || e2e_fail "the standby did not resume"
e2e_ok "standby $b leads"

# 2. the new leader loses its session too; a restarted relay takes over
e2e_wait 60 bash -c "[ \$(psql -X -qtA '$OSS_PG_URL' -c \"SELECT count(*) FROM oss.journal WHERE stream_type = '$stype'\") -ge $((total / 2)) ]" \
    || e2e_fail "the writer stalled: $(cat "$tmp/gen.log")"
terminate "$b"
e2e_ok "terminated the session of leader $b after $(count_mine) of $total events"
expect_exit "$b" b
start_relay c
c=$last
e2e_wait 40 grep -q "leading from" "$tmp/relay.c.log" || e2e_fail "the restarted relay did not lead"
e2e_ok "restarted relay $c leads"
wait "$writer" || e2e_fail "the writer failed: $(cat "$tmp/gen.log")"
writer=
[ "$(count_mine)" -eq "$total" ] || e2e_fail "the writer did not append $total events"

# 3. every event id exactly once
kafka_ids() {
    kcat -b "$OSS_KAFKA_BOOTSTRAP" -C -t "$topic" -o beginning -e -q -f '%h\n' 2>/dev/null \
        | sed -n 's/.*ce_id=\([0-9a-f-]*\).*/\1/p' | sort || true
}
e2e_psql -c "SELECT event_id FROM oss.journal WHERE stream_type = '$stype'" | sort >"$tmp/journal.ids"
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ]; do
    kafka_ids >"$tmp/kafka.ids"
    [ "$(sort -u "$tmp/kafka.ids" | comm -12 - "$tmp/journal.ids" | wc -l)" -ge "$total" ] && break
    sleep 2
done
sleep 3 # late duplicates, if any, would land now
kafka_ids >"$tmp/kafka.ids"
missing=$(comm -23 "$tmp/journal.ids" <(sort -u "$tmp/kafka.ids") | wc -l)
dups=$(uniq -d "$tmp/kafka.ids" | wc -l)
echo "journal $total, kafka $(wc -l <"$tmp/kafka.ids") messages, $missing missing, $dups duplicated"
[ "$missing" -eq 0 ] || e2e_fail "$missing events never reached Kafka"
[ "$dups" -eq 0 ] || e2e_fail "$dups event ids were published twice: $(uniq -d "$tmp/kafka.ids" | head -3)"
e2e_ok "all $total events on Kafka exactly once after two lost sessions"
