#!/usr/bin/env bash
# `--rebuild` of the schema a running projector serves, while events flow:
# readers keep reading during the rebuild, the swap waits for the
# projector's batch, the projector goes on into the new schema from the
# carried positions; afterwards the read model equals a separate rebuild.
source "$(dirname "$0")/projector_lib.sh"

N=${OSS_TEST_EVENTS:-20000}
STEP=1000
PREFIX=swp-$TAG
LOG=$WORK/projector.log

pid=$(start_projector "$LOG"); PIDS+=("$pid")
for i in $(seq 1 120); do
    [ -n "$(app -c "SELECT 1 FROM $SCHEMA.positions LIMIT 1")" ] && break
    sleep 1
done
[ -n "$(app -c "SELECT 1 FROM $SCHEMA.positions LIMIT 1")" ] || fail "projector never positioned: $(tail -3 "$LOG")"
gen "$PREFIX" $STEP 1
wait_count "$SCHEMA" "$PREFIX" $STEP 60 || fail "first events not applied"

( for s in $(seq $STEP $STEP $((N - 1))); do gen "$PREFIX" $STEP $((s + 1)); sleep 0.3; done ) &
genpid=$!
# a reader during the rebuild: the served schema answers all along
( while kill -0 "$genpid" 2>/dev/null; do
      app -c "SELECT count(*) FROM $SCHEMA.accounts WHERE account_id LIKE '$PREFIX-%'" >/dev/null || { echo reader-failed >"$WORK/reader"; break; }
      sleep 0.1
  done ) &
readerpid=$!
OSS_CONFIG=$OSS_CONFIG OSS_PROJECTOR_SCHEMA=$SCHEMA OSS_PROJECTOR_NAME=$NAME \
    "$PROJECTOR" --rebuild >"$WORK/rebuild.log" 2>&1 || fail "live rebuild failed: $(tail -3 "$WORK/rebuild.log")"
say "rebuilt $SCHEMA under the running projector"
wait "$genpid" || fail "event generation failed"
wait "$readerpid" || true
[ ! -e "$WORK/reader" ] || fail "a reader failed during the rebuild"
kill -0 "$pid" || fail "projector died"
wait_count "$SCHEMA" "$PREFIX" "$N" 180 || fail "projector did not go on after the swap: $(tail -5 "$LOG")"

OSS_CONFIG=$OSS_CONFIG OSS_PROJECTOR_SCHEMA=${SCHEMA}_r OSS_PROJECTOR_NAME=$NAME \
    "$PROJECTOR" --rebuild >"$WORK/rebuild2.log" 2>&1 || fail "rebuild failed: $(tail -3 "$WORK/rebuild2.log")"
live=$(digest "$SCHEMA" "$PREFIX"); rebuilt=$(digest "${SCHEMA}_r" "$PREFIX")
say "live    $live"; say "rebuilt $rebuilt"
[ "${live%%:*}" = "$N" ] || fail "live read model holds ${live%%:*} of $N accounts"
[ "$live" = "$rebuilt" ] || fail "read model differs from the rebuild"
[ "$(app -c "SELECT count(*) FROM pg_namespace WHERE nspname IN ('${SCHEMA}_new', '${SCHEMA}_old')")" = 0 ] \
    || fail "rebuild left a schema behind"
once=$(not_once "$SCHEMA" "$PREFIX")
[ "$once" = 0 ] || fail "$once accounts not applied exactly once (apply_count <> 1)"
say "PASS"
