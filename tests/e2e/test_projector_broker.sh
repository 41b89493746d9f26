#!/usr/bin/env bash
# The embedded broker killed (-9) and restarted empty by infra/run's
# supervisor while events flow: a private projector notices the new
# bootstrap list and cluster id, catches up from the journal, rejoins Kafka;
# nothing is lost (every account applied), nothing applied twice (applied
# versions = 1, read model == from-scratch rebuild).
source "$(dirname "$0")/projector_lib.sh"

N=${OSS_TEST_EVENTS:-30000}
STEP=1000
PREFIX=brk-$TAG
LOG=$WORK/projector.log
BROKER_PID_FILE=$OSS_VAR/run/broker.pid
[ -s "$BROKER_PID_FILE" ] || fail "no broker pid in $BROKER_PID_FILE (is infra/run supervising?)"
[ -s "$OSS_VAR/run/supervisor.pid" ] && kill -0 "$(cat "$OSS_VAR/run/supervisor.pid")" 2>/dev/null \
    || fail "infra/run's supervisor is not running: it restarts the broker"

pid=$(start_projector "$LOG"); PIDS+=("$pid")
for i in $(seq 1 120); do
    [ -n "$(app -c "SELECT 1 FROM $SCHEMA.positions LIMIT 1")" ] && break
    sleep 1
done
old_cluster=$(app -c "SELECT cluster_id FROM $SCHEMA.positions LIMIT 1")
[ -n "$old_cluster" ] || fail "projector never positioned: $(tail -3 "$LOG")"
say "projector $pid on cluster $old_cluster; appending $N events"

( for s in $(seq 0 $STEP $((N - 1))); do gen "$PREFIX" $STEP $((s + 1)); sleep 0.2; done ) &
genpid=$!
wait_count "$SCHEMA" "$PREFIX" $((N / 4)) 120 || fail "nothing flows before the restart"
bpid=$(cat "$BROKER_PID_FILE")
kill -KILL "$bpid"
say "killed -9 broker $bpid"
wait "$genpid" || fail "event generation failed"
wait_count "$SCHEMA" "$PREFIX" "$N" 240 || fail "projector did not catch up: $(grep -v debug "$LOG" | tail -5)"
new_cluster=$(app -c "SELECT DISTINCT cluster_id FROM $SCHEMA.positions")
say "caught up; cluster now $new_cluster"
[ "$new_cluster" != "$old_cluster" ] || fail "positions still name the old cluster"
grep -q "cluster id changed" "$LOG" || fail "the projector did not notice the new cluster"
kill -0 "$pid" || fail "projector died"

OSS_CONFIG=$OSS_CONFIG OSS_PROJECTOR_SCHEMA=${SCHEMA}_r OSS_PROJECTOR_NAME=$NAME \
    "$PROJECTOR" --rebuild >"$WORK/rebuild.log" 2>&1 || fail "rebuild failed: $(tail -3 "$WORK/rebuild.log")"
live=$(digest "$SCHEMA" "$PREFIX"); rebuilt=$(digest "${SCHEMA}_r" "$PREFIX")
say "live    $live"; say "rebuilt $rebuilt"
[ "${live%%:*}" = "$N" ] || fail "live read model holds ${live%%:*} of $N accounts"
[ "$live" = "$rebuilt" ] || fail "read model differs from the rebuild"
twice=$(app -c "SELECT count(*) FROM $SCHEMA.applied_streams WHERE stream_id LIKE 'account-$PREFIX-%' AND version <> 1")
[ "$twice" = 0 ] || fail "$twice streams with a wrong applied version"
once=$(not_once "$SCHEMA" "$PREFIX")
[ "$once" = 0 ] || fail "$once accounts not applied exactly once (apply_count <> 1)"
say "PASS"
