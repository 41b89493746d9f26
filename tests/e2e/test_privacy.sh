#!/usr/bin/env bash
# Personal data end to end (issue 4, item 7) over real HTTP against the
# running stack:
#  1. an owner signs up (register -> activate with the OTP from its sealed
#     delivery -> password -> sign in) and reads its own personal data;
#  2. an auditor must give a reason; each read is logged in
#     oss.pii_access_log with a PersonalDataRead event (same transaction);
#     the owner sees who read it (GET /v1/me/personal-data-access) and
#     exports all its personal data (GET /v1/me/export);
#  3. an operator erases the subject (POST /v1/subjects/{id}/erasure): the
#     key and keyed look-ups are gone, the journal rows of its streams are
#     byte for byte unchanged and `oss audit verify` passes, `oss audit
#     history --reveal` prints [erased], reads answer 410, no message can
#     reach it (resend 409, no delivery queued, no mail once the notifier
#     has caught up), the read models purge it, a second erasure is 409;
#  4. `oss subject erase --account` does the same from the console.
# Staff principals come from `oss principal create` when the CLI has it,
# else are written straight into oss.principals / oss.grants / oss.sessions.
source "$(dirname "$0")/lib.sh"
OSS_API_URL=${E2E_API_URL:-$OSS_API_URL}
OSS=${OSS_CLI:?OSS_CLI missing from run.env}
OSS=${E2E_OSS_CLI:-$OSS}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap '[ -n "${E2E_KEEP:-}" ] || rm -rf "$work"' EXIT

req() { # METHOD PATH [BODY] [curl args...]: prints "STATUS BODY"
    local m=$1 p=$2 b=${3:-}; shift 3 || shift $#
    local args=(-sS -m 30 -o "$work/body" -w '%{http_code}' -X "$m" "$OSS_API_URL$p")
    [ -n "$b" ] && args+=(-H 'Content-Type: application/json' --data-binary "$b")
    curl "${args[@]}" "$@" || echo -n 000
    echo -n " "; tr -d '\n' <"$work/body"; echo
}
st() { echo "${1%% *}"; }
jb() { echo "${1#* }"; }
auth() { echo "Authorization: Bearer $1"; }

# open_activation STREAM -> prints the OTP of the newest activation delivery
open_activation() {
    local d plain
    has_delivery() { [ -n "$(e2e_psql -c "SELECT 1 FROM oss.deliveries WHERE stream_id = '$1' AND kind = 'activation' LIMIT 1")" ]; }
    e2e_wait 20 has_delivery "$1" || e2e_fail "no activation delivery for $1"
    d=$(e2e_psql -c "SELECT delivery_id FROM oss.deliveries WHERE stream_id = '$1' AND kind = 'activation' ORDER BY created_at DESC LIMIT 1")
    plain=$(OSS_PG_URL=$OSS_PG_URL OSS_CONFIG=$OSS_CONFIG /usr/bin/python3 "$here/open_delivery.py" "$d") \
        || e2e_fail "could not open delivery $d"
    jq -r .otp <<<"$plain"
}

# signup: registers a business owner and signs it in; sets ID NIK BD NAME
# EMAIL PHONE PW TOKEN
signup() {
    local tag r otp
    read -r NIK BD < <(e2e_nik)
    tag=$(date +%s%N | tail -c 9)$RANDOM
    EMAIL="priv.$tag@example.co.id"
    NAME="Privasi $(tr 0-9 a-j <<<"$tag" | sed 's/./\U&/')"
    PHONE="+62857$(printf '%08d' $((RANDOM * RANDOM % 100000000)))"
    PW="Pv-$tag-x9!"
    r=$(e2e_post /v1/accounts "$(e2e_register_json "$NIK" "$BD" "$EMAIL" "$PHONE" "$NAME")")
    [ "$(st "$r")" = 201 ] || e2e_fail "registration: $r"
    ID=$(jb "$r" | jq -r .account_id)
    otp=$(open_activation "access-$ID")
    e2e_secret --for "$ID" "$otp"
    e2e_secret "$PW"
    r=$(req POST "/v1/accounts/$ID/activate" "{\"otp\":\"$otp\"}")
    [ "$(st "$r")" = 200 ] || [ "$(st "$r")" = 204 ] || e2e_fail "activate: $r"
    r=$(req POST "/v1/accounts/$ID/password" "{\"password\":\"$PW\"}")
    [ "$(st "$r")" = 204 ] || e2e_fail "set password: $r"
    r=$(req POST /v1/sessions "{\"account_id\":\"$ID\",\"password\":\"$PW\"}")
    [ "$(st "$r")" = 201 ] || e2e_fail "sign in: $r"
    TOKEN=$(jb "$r" | jq -r .token)
    [ -n "$TOKEN" ] && [ "$TOKEN" != null ] || e2e_fail "no token in $r"
    e2e_secret "$TOKEN"
}

# staff ROLE: prints "PRINCIPAL_ID TOKEN" of a signed-in government
# principal of institution "oss"
staff() {
    local role=$1 pid tok nik bd tag
    if [ -z "${E2E_STAFF_SQL:-}" ] && "$OSS" principal create --help >/dev/null 2>&1; then
        read -r nik bd < <(e2e_nik)
        tag=$(date +%s%N | tail -c 9)
        pid=$("$OSS" principal create --role "$role" --institution oss --nik "$nik" \
            --name "Staf $role" --email "staf.$role.$tag@oss.go.id" \
            --phone "+62811$(printf '%08d' $((RANDOM * RANDOM % 100000000)))" --birth-date "$bd" 2>"$work/perr" | tail -1) \
            || e2e_fail "oss principal create --role $role: $(cat "$work/perr")"
        local otp pw="St-$tag-x9!" r
        otp=$(open_activation "access-$pid")
        e2e_secret --for "$pid" "$otp"; e2e_secret "$pw"
        r=$(req POST "/v1/principals/$pid/activate" "{\"otp\":\"$otp\"}")
        [ "$(st "$r")" = 200 ] || [ "$(st "$r")" = 204 ] || e2e_fail "activate $role: $r"
        r=$(req POST "/v1/principals/$pid/password" "{\"password\":\"$pw\"}")
        [ "$(st "$r")" = 204 ] || e2e_fail "password $role: $r"
        r=$(req POST /v1/sessions "{\"principal_id\":\"$pid\",\"password\":\"$pw\"}")
        [ "$(st "$r")" = 201 ] || e2e_fail "sign in $role: $r"
        tok=$(jb "$r" | jq -r .token)
        e2e_secret "$tok"
    else
        pid=$(e2e_psql -c "SELECT gen_random_uuid()")
        tok=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
        e2e_secret "$tok"
        local key mac otpfile
        otpfile=$(sed -n 's/^crypto.otp_key_file *= *//p' "$OSS_CONFIG")
        key=$(grep -m1 -E '^[0-9a-f]{64}$' "$otpfile")
        mac=$(printf 'session|%s' "$tok" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -r | cut -d' ' -f1)
        e2e_psql >/dev/null <<SQL
INSERT INTO oss.principals (principal_id, kind, subject_id, contact_stream)
    VALUES ('$pid', 'government', gen_random_uuid(), 'access-$pid');
INSERT INTO oss.grants (principal_id, role, institution) VALUES ('$pid', '$role', 'oss');
INSERT INTO oss.sessions (token_hmac, session_id, stream_id, expires_at)
    VALUES (decode('$mac', 'hex'), gen_random_uuid(), 'access-$pid', now() + interval '1 hour');
SQL
    fi
    echo "$pid $tok"
}

# 1. the owner and its own data
signup
OWNER=$ID OWNER_TOKEN=$TOKEN
r=$(req GET "/v1/accounts/$OWNER/personal-data")
[ "$(st "$r")" = 401 ] || e2e_fail "personal data without a session: $r"
r=$(req GET "/v1/accounts/$OWNER/personal-data" "" -H "$(auth "$OWNER_TOKEN")")
[ "$(st "$r")" = 200 ] || e2e_fail "owner reads own personal data: $r"
for f in "nik:$NIK" "name:$NAME" "email:$EMAIL" "phone:$PHONE" "birth_date:$BD"; do
    [ "$(jb "$r" | jq -r ".personal_data.${f%%:*}")" = "${f#*:}" ] || e2e_fail "owner's ${f%%:*} is not what was registered: $r"
done
[ "$(jb "$r" | jq -r .logged)" = false ] || e2e_fail "the owner's own read was logged: $r"
SID=$(jb "$r" | jq -r .subject_id)
[[ $SID =~ ^[0-9a-f-]{36}$ ]] || e2e_fail "no subject id: $r"
e2e_ok "the owner reads its own personal data (subject $SID), not logged"

# 2. staff reads: a reason is required; every read logged with its event
read -r AUD AUD_TOKEN < <(staff auditor)
read -r OPR OPR_TOKEN < <(staff operator)
r=$(req GET "/v1/accounts/$OWNER/personal-data" "" -H "$(auth "$AUD_TOKEN")")
[ "$(st "$r")" = 422 ] && [ "$(jb "$r" | jq -r '.error.fields[0].field')" = reason ] || e2e_fail "auditor without a reason: $r"
before=$(e2e_psql -c "SELECT count(*) FROM oss.pii_access_log WHERE subject_id = '$SID'")
[ "$before" = 0 ] || e2e_fail "reads logged before any staff read: $before"
why="audit sample 2026-11 case $RANDOM"
r=$(req GET "/v1/accounts/$OWNER/personal-data?reason=$(jq -rn --arg s "$why" '$s|@uri')" "" -H "$(auth "$AUD_TOKEN")")
[ "$(st "$r")" = 200 ] || e2e_fail "auditor with a reason: $r"
[ "$(jb "$r" | jq -r .personal_data.nik)" = "$NIK" ] || e2e_fail "auditor did not get the NIK: $r"
ev=$(jb "$r" | jq -r .access_event_id)
row=$(e2e_psql -F'|' -c "SELECT reader_principal_id, reader_role, reason, endpoint, event_id FROM oss.pii_access_log WHERE subject_id = '$SID'")
[ "$row" = "$AUD|auditor|$why|GET /v1/accounts/{id}/personal-data|$ev" ] || e2e_fail "access log row: $row"
jrow=$(e2e_psql -F'|' -c "SELECT stream_id, payload_type, actor_id, reason FROM oss.journal WHERE event_id = '$ev'")
[ "$jrow" = "subject-$SID|oss.v1.PersonalDataRead|$AUD|$why" ] || e2e_fail "PersonalDataRead event: $jrow"
[ "$(e2e_psql -c "SELECT count(*) FROM oss.pii_access_log l JOIN oss.journal j ON j.event_id = l.event_id WHERE l.subject_id = '$SID'")" = 1 ] \
    || e2e_fail "log row and event not both there"
r=$(req GET "/v1/accounts/$OWNER/personal-data?reason=helpdesk%20call" "" -H "$(auth "$OPR_TOKEN")")
[ "$(st "$r")" = 200 ] || e2e_fail "operator with a reason: $r"
e2e_ok "staff reads need a reason and are logged with a PersonalDataRead event ($ev)"

r=$(req GET /v1/me/personal-data-access "" -H "$(auth "$OWNER_TOKEN")")
[ "$(st "$r")" = 200 ] || e2e_fail "my personal-data access: $r"
[ "$(jb "$r" | jq -r '.reads | length')" = 2 ] || e2e_fail "the subject does not see both reads: $r"
[ "$(jb "$r" | jq -r '.reads[0] | .reader_principal_id + "|" + .reader_role + "|" + .reason')" = "$AUD|auditor|$why" ] \
    || e2e_fail "first read as the subject sees it: $r"
[ "$(jb "$r" | jq -r '.reads[1].reader_role')" = operator ] || e2e_fail "second read: $r"
r=$(req GET /v1/me/export "" -H "$(auth "$OWNER_TOKEN")")
[ "$(st "$r")" = 200 ] || e2e_fail "export: $r"
for f in "nik:$NIK" "name:$NAME" "email:$EMAIL" "phone:$PHONE" "birth_date:$BD"; do
    [ "$(jb "$r" | jq -r ".personal_data.${f%%:*}")" = "${f#*:}" ] || e2e_fail "export's ${f%%:*}: $r"
done
jb "$r" | jq -e '.events[] | select(.event_type == "oss.v1.AccountRegistered")' >/dev/null || e2e_fail "export lacks the registration event: $r"
[ "$(jb "$r" | jq -r '.personal_data_reads | length')" = 2 ] || e2e_fail "export lacks the reads: $r"
e2e_ok "the subject sees who read its data and exports all of it"

# 3. erasure by an operator
r=$(req POST "/v1/subjects/$SID/erasure" '{"reason":"test"}' -H "$(auth "$AUD_TOKEN")")
[ "$(st "$r")" = 403 ] || e2e_fail "an auditor could erase: $r"
r=$(req POST "/v1/subjects/$SID/erasure" '{"reason":"test"}' -H "$(auth "$OWNER_TOKEN")")
[ "$(st "$r")" = 403 ] || [ "$(st "$r")" = 404 ] || e2e_fail "the owner could erase via the operator route: $r"
r=$(req POST "/v1/subjects/$SID/erasure" '{}' -H "$(auth "$OPR_TOKEN")")
[ "$(st "$r")" = 422 ] || e2e_fail "erasure without a reason: $r"
r=$(req POST "/v1/subjects/00000000-0000-4000-8000-000000000000/erasure" '{"reason":"x"}' -H "$(auth "$OPR_TOKEN")")
[ "$(st "$r")" = 404 ] || e2e_fail "erasure of an unknown subject: $r"
streams="'account-$OWNER','access-$OWNER'"
snap() { e2e_psql -c "SELECT count(*) || ':' || md5(string_agg(event_id::text || encode(payload, 'hex') || encode(hash, 'hex') || encode(prev_hash, 'hex'), ',' ORDER BY position)) FROM oss.journal WHERE stream_id IN ($streams)"; }
before=$(snap)
mails_before=$({ grep -rlF -- "$EMAIL" "$OSS_VAR/mail" 2>/dev/null || true; } | wc -l)
[ "$(e2e_psql -c "SELECT count(*) FROM oss.subject_keys WHERE subject_id = '$SID'")" = 1 ] || e2e_fail "no key before erasure"
[ "$(e2e_psql -c "SELECT count(*) FROM oss.account_lookup WHERE stream_id = 'account-$OWNER'")" -ge 1 ] || e2e_fail "no look-up before erasure"
r=$(req POST "/v1/subjects/$SID/erasure" '{"reason":"data subject request (UU PDP art. 8)"}' -H "$(auth "$OPR_TOKEN")")
[ "$(st "$r")" = 200 ] || e2e_fail "erasure: $r"
er_resp=$(jb "$r")
touch "$work/erased"; ERASED_EMAIL=$EMAIL
[ "$(jb "$r" | jq -r .keys_deleted)" = 1 ] || e2e_fail "erasure deleted no key: $r"
jb "$r" | jq -e --arg a "$OWNER" '.account_ids | index($a)' >/dev/null || e2e_fail "erasure does not name the account: $r"
er=$(jb "$r" | jq -r .event_id)
[ "$(e2e_psql -F'|' -c "SELECT stream_id, payload_type, actor_id, reason FROM oss.journal WHERE event_id = '$er'")" \
    = "subject-$SID|oss.v1.SubjectErased|$OPR|data subject request (UU PDP art. 8)" ] || e2e_fail "SubjectErased event"
for t in "subject_keys WHERE subject_id = '$SID'" "identity_claims WHERE subject_id = '$SID'" \
         "deliveries WHERE subject_id = '$SID'" "account_lookup WHERE stream_id = 'account-$OWNER'"; do
    [ "$(e2e_psql -c "SELECT count(*) FROM oss.$t")" = 0 ] || e2e_fail "oss.$t survived the erasure"
done
[ "$(snap)" = "$before" ] || e2e_fail "the journal rows of the subject's streams changed"
for s in "account-$OWNER" "access-$OWNER" "subject-$SID"; do
    "$OSS" audit verify "$s" >"$work/out" 2>&1 || { cat "$work/out"; e2e_fail "audit verify $s after erasure"; }
done
e2e_ok "erased: key and look-ups gone, journal rows unchanged, chains verify"

"$OSS" audit history --reveal --reason "e2e check" "account-$OWNER" >"$work/out" 2>&1 || { cat "$work/out"; e2e_fail "audit history after erasure"; }
grep -q "nik: \[erased\]" "$work/out" || { cat "$work/out"; e2e_fail "audit history does not print the NIK as [erased]"; }
for s in "$NIK" "$NAME" "$EMAIL" "$PHONE" "${NIK:0:4}********"; do
    grep -qF -- "$s" "$work/out" && e2e_fail "audit history shows personal data after erasure"
done
e2e_ok "audit history prints the personal fields as [erased]"

# the erased person's access ended in the erasure's transaction: its
# session token is refused, its password is gone, its grants are revoked
OWNER_PW=$PW
r=$(req GET /v1/sessions "" -H "$(auth "$OWNER_TOKEN")")
[ "$(st "$r")" = 401 ] || e2e_fail "the erased subject's session token after erasure: $r"
r=$(req GET "/v1/accounts/$OWNER/personal-data" "" -H "$(auth "$OWNER_TOKEN")")
[ "$(st "$r")" = 401 ] || e2e_fail "owner read after erasure: $r"
r=$(req POST /v1/sessions "$(jq -cn --arg id "$OWNER" --arg p "$OWNER_PW" '{account_id:$id, password:$p}')")
[ "$(st "$r")" = 401 ] || e2e_fail "the erased subject signed in after erasure: $r"
[ "$(e2e_psql -c "SELECT (SELECT count(*) FROM oss.sessions WHERE stream_id = 'access-$OWNER' AND revoked_at IS NULL) + (SELECT count(*) FROM oss.credentials WHERE stream_id = 'access-$OWNER') + (SELECT count(*) FROM oss.grants WHERE principal_id = '$OWNER' AND revoked_at IS NULL)")" = 0 ] \
    || e2e_fail "a session, the password or a grant of the erased subject survived the erasure"
[ "$(jb "$er_resp" | jq -r '[.sessions_ended, .passwords_deleted, (.grants_revoked >= 1)] | map(tostring) | join(",")')" = "1,1,true" ] \
    || e2e_fail "the erasure does not say what access it ended: $er_resp"
e2e_psql -c "SELECT encode(payload, 'hex') FROM oss.journal WHERE event_id = '$er'" | xxd -r -p \
    | protoc --decode=oss.v1.SubjectErased -I "$E2E_ROOT/schemas" "$E2E_ROOT/schemas/oss/v1/privacy.proto" >"$work/erased.txt" \
    || e2e_fail "could not decode SubjectErased"
grep -qx "sessions_ended: 1" "$work/erased.txt" && grep -qx "passwords_deleted: 1" "$work/erased.txt" \
    && grep -q "^grants_revoked: [1-9]" "$work/erased.txt" || e2e_fail "SubjectErased does not record the access it ended: $(cat "$work/erased.txt")"
e2e_ok "the erased subject's session token gets 401, its sign-in 401; its sessions, password and grants ended with the erasure"
r=$(req GET "/v1/accounts/$OWNER/personal-data?reason=x" "" -H "$(auth "$AUD_TOKEN")")
[ "$(st "$r")" = 410 ] || e2e_fail "auditor read after erasure: $r"
[ "$(e2e_psql -c "SELECT count(*) FROM oss.pii_access_log WHERE subject_id = '$SID'")" = 2 ] || e2e_fail "a read of erased data was logged"
r=$(req GET /v1/me/export "" -H "$(auth "$OWNER_TOKEN")")
[ "$(st "$r")" = 401 ] || e2e_fail "export after erasure: $r"
r=$(req POST "/v1/subjects/$SID/erasure" '{"reason":"again"}' -H "$(auth "$OPR_TOKEN")")
[ "$(st "$r")" = 409 ] && [ "$(jb "$r" | jq -r .error.code)" = already_erased ] || e2e_fail "second erasure: $r"
r=$(req POST "/v1/accounts/$OWNER/activation" '{"channel":"email"}')
[ "$(st "$r")" = 409 ] || [ "$(st "$r")" = 404 ] || [ "$(st "$r")" = 410 ] || e2e_fail "resend to an erased subject: $r"
r=$(req POST /v1/password-resets "{\"principal_id\":\"$OWNER\"}")
[ "$(e2e_psql -c "SELECT count(*) FROM oss.deliveries WHERE subject_id = '$SID'")" = 0 ] || e2e_fail "a message was queued for the erased subject"
sleep 3
mails_after=$({ grep -rlF -- "$EMAIL" "$OSS_VAR/mail" 2>/dev/null || true; } | wc -l)
[ "$mails_after" = "$mails_before" ] || e2e_fail "a message reached the erased subject ($mails_before -> $mails_after)"
e2e_ok "after erasure: reads 410, nothing logged, second erasure 409, no message reaches it (mails to it: $mails_before before, $mails_after after)"

# the read models purge the subject (the projector's SubjectErased applier)
rm_purged() { [ "$(e2e_psql -c "SELECT count(*) FROM rm.erased_subjects WHERE subject_id = '$SID'")" = 1 ]; }
e2e_wait 120 rm_purged || e2e_fail "the projector did not apply SubjectErased (rm.erased_subjects)"
[ "$(e2e_psql -c "SELECT count(*) FROM rm.accounts WHERE subject_id = '$SID'")" = 0 ] || e2e_fail "rm.accounts still links the erased subject"
[ "$(e2e_psql -c "SELECT (erased_at IS NOT NULL)::text FROM rm.accounts WHERE account_id = '$OWNER'")" = true ] || e2e_fail "rm.accounts does not mark the account erased"
e2e_ok "read models purged the subject"

# 4. the console: oss subject erase --account
signup
# the notifier has caught up past the erasure once this newer account's
# activation mail arrives: by then nothing may have reached the erased one
mails_since() { find "$OSS_VAR/mail" -maxdepth 1 -name '*.eml' -newer "$work/erased" -print0 | xargs -0 -r grep -liF -- "$1" 2>/dev/null || true; }
has_mail() { [ -n "$(mails_since "$1")" ]; }
# (on a stack loaded by other tests the notifier may be minutes behind:
# then only "nothing so far" is checked, and said so)
if e2e_wait "${E2E_NOTIFIER_WAIT:-120}" has_mail "$EMAIL"; then
    caught_up="the notifier caught up (the next account got its mail)"
else
    caught_up="WARNING: the notifier is behind ($(e2e_psql -c "SELECT count(*) FROM oss.deliveries WHERE delivered_at IS NULL") messages waiting): checked so far only"
fi
[ -z "$(mails_since "$ERASED_EMAIL")" ] || e2e_fail "a message reached the erased subject after its erasure: $(mails_since "$ERASED_EMAIL")"
e2e_ok "no mail reached the erased subject after its erasure; $caught_up"
"$OSS" subject erase --account "$ID" >/dev/null 2>&1 && e2e_fail "oss subject erase without --reason succeeded"
"$OSS" subject erase --account "$ID" --reason "console test" >"$work/out" 2>&1 || { cat "$work/out"; e2e_fail "oss subject erase --account"; }
sid2=$(awk '/erased/ {print $2; exit}' "$work/out")
[ "$(e2e_psql -c "SELECT count(*) FROM oss.subject_keys WHERE subject_id = '$sid2'")" = 0 ] || e2e_fail "console erasure kept the key"
[ "$(e2e_psql -c "SELECT actor_kind || '|' || reason FROM oss.journal WHERE stream_id = 'subject-$sid2'")" = "4|console test" ] \
    || e2e_fail "console erasure event"
st2=0; "$OSS" subject erase "$sid2" --reason again >/dev/null 2>&1 || st2=$?
[ $st2 = 1 ] || e2e_fail "a second console erasure exited $st2 (want 1)"
"$OSS" audit verify "account-$ID" >/dev/null 2>&1 || e2e_fail "audit verify after console erasure"
grep -q "access ended: 1 sessions" "$work/out" || { cat "$work/out"; e2e_fail "console erasure does not say it ended the session"; }
r=$(req GET /v1/sessions "" -H "$(auth "$TOKEN")")
[ "$(st "$r")" = 401 ] || e2e_fail "a token of the subject erased from the console: $r"
r=$(req POST /v1/sessions "$(jq -cn --arg id "$ID" --arg p "$PW" '{account_id:$id, password:$p}')")
[ "$(st "$r")" = 401 ] || e2e_fail "sign-in of the subject erased from the console: $r"
e2e_ok "oss subject erase --account erases from the console (exit 1 when already erased)"
echo "PASS test_privacy"
