#!/usr/bin/env bash
# kill -9 of the projector in the middle of 100,000 events, then a restart:
# the read model equals a from-scratch rebuild (table digests), every event
# is applied, none twice (applied versions = journal versions).
# Runs a private oss-projector (own name and schema) against the stack.
source "$(dirname "$0")/projector_lib.sh"

N=${OSS_TEST_EVENTS:-100000}
PREFIX=kill-$TAG
LOG=$WORK/projector.log

pid=$(start_projector "$LOG"); PIDS+=("$pid")
# let it catch up with the existing journal and join Kafka
for i in $(seq 1 120); do
    [ -n "$(app -c "SELECT 1 FROM $SCHEMA.positions WHERE name = '$NAME' LIMIT 1")" ] && break
    sleep 1
done
[ -n "$(app -c "SELECT 1 FROM $SCHEMA.positions LIMIT 1")" ] || fail "projector never positioned; log: $(tail -5 "$LOG")"
say "projector $pid positioned; appending $N events"

( for s in $(seq 0 10000 $((N - 1))); do
      c=$((N - s < 10000 ? N - s : 10000))
      gen "$PREFIX" "$c" $((s + 1))
  done ) &
genpid=$!

# kill -9 once a third or so has been applied
killed=0
for i in $(seq 1 600); do
    got=$(app -c "SELECT count(*) FROM $SCHEMA.accounts WHERE account_id LIKE '$PREFIX-%'")
    if [ "$got" -ge $((N / 3)) ]; then
        kill -KILL "$pid"; gone "$pid" || fail "projector survived kill -9"
        killed=1
        say "killed -9 projector at $got applied"
        break
    fi
    sleep 0.2
done
[ $killed = 1 ] || fail "projector did not apply $((N / 3)) events in time (relay running?); log: $(tail -5 "$LOG")"
wait "$genpid" || fail "event generation failed"
pid=$(start_projector "$LOG"); PIDS+=("$pid")
say "restarted projector $pid"
wait_count "$SCHEMA" "$PREFIX" "$N" 240 || fail "projector did not catch up; log: $(tail -5 "$LOG")"
say "caught up"

# from scratch: rebuild into a separate schema
OSS_CONFIG=$OSS_CONFIG OSS_PROJECTOR_SCHEMA=${SCHEMA}_r OSS_PROJECTOR_NAME=$NAME \
    "$PROJECTOR" --rebuild >"$WORK/rebuild.log" 2>&1 || fail "rebuild failed: $(tail -3 "$WORK/rebuild.log")"
grep -q "rebuild ${SCHEMA}_r: .* events" "$WORK/rebuild.log" || fail "rebuild printed no progress"

live=$(digest "$SCHEMA" "$PREFIX"); rebuilt=$(digest "${SCHEMA}_r" "$PREFIX")
say "live    $live"; say "rebuilt $rebuilt"
[ "${live%%:*}" = "$N" ] || fail "live read model holds ${live%%:*} of $N accounts"
[ "$live" = "$rebuilt" ] || fail "read model differs from the rebuild"
la=$(applied_digest "$SCHEMA" "$PREFIX"); ra=$(applied_digest "${SCHEMA}_r" "$PREFIX")
[ "$la" = "$ra" ] || fail "applied versions differ: $la vs $ra"
bad=$(app -c "SELECT count(*) FROM $SCHEMA.applied_streams a JOIN oss.journal j ON j.stream_id = a.stream_id AND j.version = 1 WHERE a.stream_id LIKE 'account-$PREFIX-%' AND a.version <> 1")
[ "$bad" = 0 ] || fail "$bad streams with a wrong applied version"
once=$(not_once "$SCHEMA" "$PREFIX")
[ "$once" = 0 ] || fail "$once accounts not applied exactly once (apply_count <> 1)"
grep -q "resuming at stored positions" "$LOG" || fail "restart did not resume from stored positions"
say "PASS"
