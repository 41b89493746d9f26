#!/usr/bin/env bash
# Offsets out of range (what the embedded broker's silent retention causes):
# a projector whose stored positions Kafka no longer holds notices it
# (auto.offset.reset=error), catches up from the journal and rejoins at the
# high watermarks; the events appended meanwhile are all applied once.
source "$(dirname "$0")/projector_lib.sh"

N=2000
PREFIX=rng-$TAG
LOG=$WORK/projector.log

pid=$(start_projector "$LOG"); PIDS+=("$pid")
for i in $(seq 1 120); do
    [ -n "$(app -c "SELECT 1 FROM $SCHEMA.positions LIMIT 1")" ] && break
    sleep 1
done
[ -n "$(app -c "SELECT 1 FROM $SCHEMA.positions LIMIT 1")" ] || fail "projector never positioned: $(tail -3 "$LOG")"
kill -TERM "$pid"; gone "$pid" || fail "projector did not stop on SIGTERM"
grep -q "stopping" "$LOG" || fail "projector did not stop cleanly on SIGTERM"

# positions far beyond what Kafka holds, on the same cluster
app -c "UPDATE $SCHEMA.positions SET next_offset = next_offset + 100000000 WHERE name = '$NAME'" >/dev/null
gen "$PREFIX" "$N" 1
pid=$(start_projector "$LOG"); PIDS+=("$pid")
wait_count "$SCHEMA" "$PREFIX" "$N" 120 || fail "events not applied after the out-of-range offsets: $(tail -5 "$LOG")"
grep -q "offset out of range" "$LOG" || fail "the projector did not report the out-of-range offset"
grep -q "catching up from the journal (offset out of range)" "$LOG" || fail "no journal catch-up after the out-of-range offset"
far=$(app -c "SELECT count(*) FROM $SCHEMA.positions WHERE name = '$NAME' AND next_offset >= 100000000")
[ "$far" = 0 ] || fail "$far positions still out of range"
twice=$(app -c "SELECT count(*) FROM $SCHEMA.applied_streams WHERE stream_id LIKE 'account-$PREFIX-%' AND version <> 1")
[ "$twice" = 0 ] || fail "wrong applied versions"
once=$(not_once "$SCHEMA" "$PREFIX")
[ "$once" = 0 ] || fail "$once accounts not applied exactly once (apply_count <> 1)"
say "PASS"
