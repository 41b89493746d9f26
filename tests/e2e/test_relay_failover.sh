#!/usr/bin/env bash
# Relay failover: the stack's relay is stopped for the test and two of ours
# run: an active one that writes its checkpoint only every 2 s (so that Kafka
# holds more than its checkpoint says when it dies) and a hot standby.
# E2E_RELAY_N events (default 100,000, as the projector's kill test; a
# multiple of 2,000) are appended to the journal (hash-chained, in 200
# transactions, spread over one stream type (topic) per 20,000 events: the
# embedded broker keeps only ~5 MiB per partition and drops the oldest), and
# the active relay is killed with -9 in the middle. At 100,000 the test takes
# about a minute on the 2-core dev machine. The standby must take the
# lock, wait out the old producer's message timeout, read the partition tails,
# skip what Kafka already holds beyond the checkpoint, and carry on: every
# event id of the run appears on Kafka (kcat) exactly once. The stack's relay
# is started again at the end.
source "$(dirname "$0")/lib.sh"

relay=${OSS_RELAY_BIN:-$OSS_BUILD_DIR/producers/oss-relay}
[ -x "$relay" ] || e2e_fail "$relay is not built"
tmp=$(mktemp -d)
started=()
cleanup() {
    local rc=$? p
    if [ $rc -ne 0 ]; then
        for p in "$tmp"/relay.*.log; do echo "--- $p" >&2; tail -n 15 "$p" >&2; done
    fi
    for p in "${started[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${started[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$p" 2>/dev/null || true
    done
    "$E2E_ROOT/infra/run" svc start relay >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

lock_key=$(sed -n 's/^[[:space:]]*relay\.lock_key[[:space:]]*=[[:space:]]*//p' "$OSS_CONFIG" | tail -n1)
lock_key=${lock_key:-7301}
# the pid of the relay holding the advisory lock: its application_name is
# oss-relay:PID (an older build without the pid: the stack's relay.pid)
leader_pid() {
    local app
    app=$(e2e_psql_super -c "SELECT a.application_name
        FROM pg_locks l JOIN pg_stat_activity a USING (pid)
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
          AND l.classid = (($lock_key::bigint >> 32) & 4294967295)::oid
          AND l.objid = ($lock_key::bigint & 4294967295)::oid
          AND a.application_name LIKE 'oss-relay%'")
    case $app in
    oss-relay:*) echo "${app#oss-relay:}" ;;
    oss-relay) cat "$OSS_VAR/run/relay.pid" 2>/dev/null || echo unknown ;;
    esac
}
# start_relay NAME [VAR=VALUE...]: an oss-relay of ours; its pid in $last
start_relay() {
    local name=$1; shift
    env OSS_RELAY_MESSAGE_TIMEOUT_MS=5000 "$@" "$relay" >>"$tmp/relay.$name.log" 2>&1 &
    last=$!
    started+=("$last")
}

# 1. the stack's relay steps down (cleanly); ours lead and stand by
"$E2E_ROOT/infra/run" svc stop relay >/dev/null || e2e_fail "could not stop the stack's relay"
e2e_wait 20 bash -c "! kill -0 \$(cat '$OSS_VAR/run/relay.pid' 2>/dev/null || echo 0) 2>/dev/null" || true
start_relay a OSS_RELAY_CHECKPOINT_MS=2000
active=$last
e2e_wait 40 grep -q "leading from" "$tmp/relay.a.log" || e2e_fail "our relay did not take the lock: $(cat "$tmp/relay.a.log")"
start_relay b
standby=$last
e2e_wait 10 grep -q "hot standby" "$tmp/relay.b.log" || e2e_fail "the second relay did not wait as a standby: $(cat "$tmp/relay.b.log")"
old=$(leader_pid)
[ "$old" = "$active" ] || e2e_fail "the leader is '$old', not our relay $active"
e2e_ok "relay $old active, $standby standing by"

# 2. N events in 200 transactions under a stream type of our own
stype="rf$(printf '%x' "$(date +%s)")$$"
stype=${stype:0:28}
prefix=$(sed -n 's/^[[:space:]]*bus\.topic_prefix[[:space:]]*=[[:space:]]*//p' "$OSS_CONFIG" | tail -n1)
prefix=${prefix:-oss.}
n=${E2E_RELAY_N:-100000}
[ "$n" -ge 2000 ] && [ $((n % 2000)) -eq 0 ] || e2e_fail "E2E_RELAY_N=$n: must be a multiple of 2000"
ntx=200 nversions=10
nstreams=$((n / ntx / nversions))
ntypes=$(((n + 19999) / 20000))
topics=()
for k in $(seq 0 $((ntypes - 1))); do topics+=("$prefix${stype}x$k"); done
mine="stream_type LIKE '${stype}x%'"
# every message of our topics: one ce_id per line
kafka_ids() {
    local t
    for t in "${topics[@]}"; do
        kcat -b "$OSS_KAFKA_BOOTSTRAP" -C -t "$t" -o beginning -e -q -f '%h\n' 2>/dev/null \
            | sed -n 's/.*ce_id=\([0-9a-f-]*\).*/\1/p' || true
    done | sort
}
{
cat "$(dirname "$0")/journal_gen.sql"
for i in $(seq 1 $ntx); do
    echo "SELECT pg_temp.gen('${stype}x$((i % ntypes))', '$stype-$i', $nstreams, $nversions, 'failover');"
    echo "SELECT pg_sleep(0.04);"
done
} >"$tmp/gen.sql"
total=$((ntx * nstreams * nversions))

psql -X -q -v ON_ERROR_STOP=1 "$OSS_PG_URL" -f "$tmp/gen.sql" >"$tmp/gen.log" 2>&1 &
writer=$!
# 3. kill the active relay mid-stream
e2e_wait 90 bash -c "[ \$(psql -X -qtA '$OSS_PG_URL' -c \"SELECT count(*) FROM oss.journal WHERE $mine\") -ge $((total / 5)) ]" \
    || e2e_fail "the writer did not get going: $(cat "$tmp/gen.log")"
kill -9 "$old"
e2e_ok "killed relay $old (-9) after $(e2e_psql -c "SELECT count(*) FROM oss.journal WHERE $mine") of $total events"
wait $writer || e2e_fail "the writer failed: $(cat "$tmp/gen.log")"
[ "$(e2e_psql -c "SELECT count(*) FROM oss.journal WHERE $mine")" -eq $total ] \
    || e2e_fail "the writer did not append $total events"

# 4. someone else leads now (the standby, or a restarted stack relay)
new_leader() { local p; p=$(leader_pid); [ -n "$p" ] && [ "$p" != "$old" ]; }
e2e_wait 30 new_leader || e2e_fail "no relay took over from $old"
new=$(leader_pid)
[ "$new" = "$standby" ] || e2e_fail "the leader is '$new', not the standby $standby"
e2e_wait 60 grep -q "leading from" "$tmp/relay.b.log" || e2e_fail "the standby did not resume: $(cat "$tmp/relay.b.log")"
skipped=$(sed -n 's/.*; \([0-9]*\) events beyond it already in Kafka.*/\1/p' "$tmp/relay.b.log" | head -n1)
e2e_ok "relay $new took over; Kafka held $skipped events beyond the checkpoint"
[ "${skipped:-0}" -gt 0 ] || e2e_fail "Kafka held nothing beyond the old checkpoint: the tail read was not exercised"

# 5. every event id on Kafka exactly once
e2e_psql -c "SELECT event_id FROM oss.journal WHERE $mine" | sort >"$tmp/journal.ids"
got=0
deadline=$((SECONDS + 150))
while [ $SECONDS -lt $deadline ]; do
    kafka_ids >"$tmp/kafka.ids"
    got=$(sort -u "$tmp/kafka.ids" | comm -12 - "$tmp/journal.ids" | wc -l)
    [ "$got" -ge $total ] && break
    sleep 2
done
sleep 3 # late duplicates, if any, would land now
kafka_ids >"$tmp/kafka.ids"
missing=$(comm -23 "$tmp/journal.ids" <(sort -u "$tmp/kafka.ids") | wc -l)
dups=$(uniq -d "$tmp/kafka.ids" | wc -l)
echo "journal $total, kafka $(wc -l <"$tmp/kafka.ids") messages, $missing missing, $dups duplicated"
grep -h "took the relay lock\|waiting\|leading from" "$tmp"/relay.*.log || true
[ "$missing" -eq 0 ] || e2e_fail "$missing events never reached Kafka"
[ "$dups" -eq 0 ] || e2e_fail "$dups event ids were published twice: $(uniq -d "$tmp/kafka.ids" | head -3)"
e2e_ok "all $total events on Kafka exactly once after the failover"

# 6. a clean stop (SIGTERM) hands over at once: the next leader need not wait
#    out the message timeout of a producer that was flushed and destroyed
#    (it still reads every partition tail: tens of seconds on a loaded box)
start_relay c
third=$last
e2e_wait 10 grep -q "hot standby" "$tmp/relay.c.log" || e2e_fail "the third relay did not stand by"
kill -TERM "$new"
e2e_wait 60 grep -q "leading from" "$tmp/relay.c.log" || e2e_fail "relay $third did not take over after a clean stop: $(cat "$tmp/relay.c.log")"
! grep -q "did not close its producer" "$tmp/relay.c.log" || e2e_fail "the next leader waited although the old producer was closed"
e2e_ok "clean stop of $new: relay $third took over without waiting"
