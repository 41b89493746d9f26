#!/usr/bin/env bash
# e2e: the audit tools against the running stack. An account registered over
# the API shows in `oss audit history` (personal fields sealed, or masked with
# --reveal) and verifies; a superuser's edit of its journal row makes
# `oss audit verify` fail naming that event, and `verify --against` a
# checkpoint taken before fails too; the application role cannot UPDATE or
# DELETE journal rows. The edit is undone on exit (the journal is shared).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OSS=${OSS_CLI:?OSS_CLI missing from run.env}
[ -x "$OSS" ] || e2e_fail "$OSS is not built"
out=$(mktemp); trap 'rm -f "$out"' EXIT

# --help of every subcommand works without a database
for c in "" "audit" "audit history" "audit verify" "audit checkpoint" "rebuild" "dlq" "keys" "config"; do
    # shellcheck disable=SC2086
    "$OSS" $c --help >"$out" 2>&1 || e2e_fail "oss $c --help exited non-zero"
    grep -q "usage: oss" "$out" || e2e_fail "oss $c --help printed no usage"
done
"$OSS" audit frobnicate >/dev/null 2>&1 && e2e_fail "an unknown subcommand succeeded"
e2e_ok "--help of every subcommand"

# 1. register an account
read -r nik birth < <(e2e_nik)
tag=$RANDOM$RANDOM
email="audit.$tag@example.co.id"
name="Audit Uji $(tr 0-9 a-j <<<"$tag")"
phone="+62857$(printf '%08d' $((RANDOM * RANDOM % 100000000)))"
resp=$(e2e_post /v1/accounts "$(e2e_register_json "$nik" "$birth" "$email" "$phone" "$name")")
status=${resp%% *}; body=${resp#* }
[ "$status" = 201 ] || e2e_fail "registration answered $status: $body"
stream=$(jq -r '.stream_id // (if .account_id then "account-" + .account_id else empty end)' <<<"$body")
[ -n "$stream" ] || e2e_fail "no stream or account id in $body"
event=$(e2e_psql -c "SELECT event_id FROM oss.journal WHERE stream_id = '$stream' AND version = 1")
[ -n "$event" ] || e2e_fail "no journal event for $stream"
e2e_ok "registered $stream (event $event)"

# 2. history: the event, the actor, sealed fields, a sound chain
"$OSS" audit history "$stream" >"$out" 2>&1 || { cat "$out"; e2e_fail "audit history exited non-zero"; }
grep -q "oss.v1.AccountRegistered" "$out" || e2e_fail "history lacks the event type"
grep -q "v1 " "$out" || e2e_fail "history lacks the version"
grep -q "$event" "$out" || e2e_fail "history lacks the event id"
grep -q "nik: \[sealed\]" "$out" || e2e_fail "history does not show the NIK as sealed"
grep -q "chain ok" "$out" || e2e_fail "history did not verify the chain"
for secret in "$nik" "$email" "$name" "$phone" "$birth"; do
    grep -qF "$secret" "$out" && e2e_fail "history printed personal data in plaintext"
done
# --reveal without a reason is refused (the read is recorded, and a read
# needs its why), and reveals nothing
st=0; "$OSS" audit history --reveal "$stream" >"$out" 2>&1 || st=$?
[ "$st" = 2 ] || { cat "$out"; e2e_fail "--reveal without --reason exited $st, want 2"; }
grep -q "nik: " "$out" && e2e_fail "--reveal without --reason printed fields"
why="audit e2e $tag"
"$OSS" audit history --reveal --reason "$why" "$stream" >"$out" 2>&1 || { cat "$out"; e2e_fail "audit history --reveal exited non-zero"; }
masked="${nik:0:4}********${nik:12:4}"
grep -qF "nik: $masked" "$out" || { cat "$out"; e2e_fail "history --reveal lacks the masked NIK $masked"; }
for secret in "$nik" "$email" "$name" "$phone"; do
    grep -qF "$secret" "$out" && e2e_fail "history --reveal printed personal data unmasked"
done
e2e_ok "history shows the event with personal fields sealed / masked"
# the reveal was recorded as the API records a staff read: a row the subject
# sees (GET /v1/me/personal-data-access) and a PersonalDataRead event on the
# subject's stream, actor the console's operator
row=$(e2e_psql -c "SELECT subject_id, reader_principal_id, reader_role, endpoint, event_id FROM oss.pii_access_log WHERE reason = '$why'")
[ "$(wc -l <<<"$row")" = 1 ] && [ -n "$row" ] || e2e_fail "the reveal left $(grep -c . <<<"$row") access-log rows, want 1: $row"
IFS='|' read -r sid reader role endpoint pev <<<"$row"
[[ $reader == cli:* ]] && [ "$role" = console ] && [ "$endpoint" = "oss audit history --reveal" ] || e2e_fail "access-log row is $row"
ev=$(e2e_psql -c "SELECT payload_type || '|' || actor_kind || '|' || actor_id FROM oss.journal WHERE event_id = '$pev' AND stream_id = 'subject-$sid'")
[ "$ev" = "oss.v1.PersonalDataRead|4|$reader" ] || e2e_fail "the reveal's event is '$ev'"
e2e_ok "the reveal is recorded: access-log row and PersonalDataRead on subject-$sid by $reader"

# 3. verify passes, checkpoint + verify --against passes
"$OSS" audit verify "$stream" >"$out" 2>&1 || { cat "$out"; e2e_fail "audit verify $stream failed on a sound stream"; }
cp=$("$OSS" audit checkpoint 2>/dev/null) || e2e_fail "audit checkpoint failed"
[[ $cp =~ ^[0-9]+:[0-9a-f]{64}$ ]] || e2e_fail "checkpoint \"$cp\" is not SIZE:DIGEST"
size=${cp%%:*}
pos=$(e2e_psql -c "SELECT position FROM oss.journal WHERE event_id = '$event'")
[ "$size" -ge "$pos" ] || e2e_fail "checkpoint size $size does not cover position $pos"
"$OSS" audit verify "$stream" --against "$cp" >"$out" 2>&1 || { cat "$out"; e2e_fail "verify --against a fresh checkpoint failed"; }
e2e_ok "verify and checkpoint $cp"

# 4. the application role may not change the journal
e2e_psql -c "UPDATE oss.journal SET reason = 'x' WHERE event_id = '$event'" >/dev/null 2>&1 \
    && e2e_fail "the application role could UPDATE the journal"
e2e_psql -c "DELETE FROM oss.journal WHERE event_id = '$event'" >/dev/null 2>&1 \
    && e2e_fail "the application role could DELETE from the journal"
e2e_ok "UPDATE and DELETE by the application role refused"

# 5. a superuser alters the row (trigger disabled inside the transaction)
super_set_reason() { # VALUE-SQL
    e2e_psql_super >/dev/null <<SQL
BEGIN;
ALTER TABLE oss.journal DISABLE TRIGGER journal_no_update;
UPDATE oss.journal SET reason = $1 WHERE event_id = '$event';
ALTER TABLE oss.journal ENABLE TRIGGER journal_no_update;
COMMIT;
SQL
}
orig=$(e2e_psql -c "SELECT coalesce(quote_literal(reason), 'NULL') FROM oss.journal WHERE event_id = '$event'")
trap 'super_set_reason "$orig" || echo "WARNING: could not restore journal row $event" >&2; rm -f "$out"' EXIT
super_set_reason "'rewritten by a superuser'"

st=0; "$OSS" audit verify "$stream" >"$out" 2>&1 || st=$?
[ $st -eq 1 ] || { cat "$out"; e2e_fail "audit verify $stream exited $st after the edit (want 1)"; }
grep -q "stream=$stream version=1 event=$event" "$out" || { cat "$out"; e2e_fail "verify did not name the altered event"; }
st=0; "$OSS" audit verify >"$out" 2>&1 || st=$?
[ $st -eq 1 ] || e2e_fail "audit verify (every stream) exited $st after the edit (want 1)"
st=0; "$OSS" audit history "$stream" >"$out" 2>&1 || st=$?
[ $st -eq 1 ] && grep -q BROKEN "$out" || e2e_fail "audit history did not flag the altered event"
st=0; "$OSS" audit verify --against "$cp" >"$out" 2>&1 || st=$?
[ $st -eq 1 ] || { cat "$out"; e2e_fail "verify --against exited $st after the edit (want 1)"; }
e2e_ok "the superuser's edit is detected: $(grep BROKEN "$out" | head -1)"

# 6. undone: sound again, and the checkpoint matches again
super_set_reason "$orig"
trap 'rm -f "$out"' EXIT
"$OSS" audit verify "$stream" --against "$cp" >"$out" 2>&1 || { cat "$out"; e2e_fail "verify failed after restoring the row"; }
e2e_ok "restored row verifies against the checkpoint again"
echo "PASS test_audit"
