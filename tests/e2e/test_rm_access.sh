#!/usr/bin/env bash
# The issue-4 read models and the account's story against the running stack:
# register -> rm.accounts.status "pending" (activation issued) -> activate by
# the OTP read out of the sealed delivery -> "active", in rm.accounts and
# rm.principals; the activation mail's last outcome in rm.delivery_status;
# `oss audit history account-<id>` tells the story (account, access and
# delivery streams merged in time order, one line per event with time,
# actor and reason, personal fields sealed, chains verified); and a journal
# catch-up into a private schema (the rebuild's path) gives the same rows
# for the account as the live projector.
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
schema="rm_e2eq$(date +%s)$RANDOM"
cleanup() {
    psql -X -qtA "$OSS_PG_ADMIN_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
    [ -n "${E2E_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
OSS=${OSS_CLI:-$OSS_BUILD_DIR/consumers/oss}

touch "$work/start"; sleep 1
# 1. register: pending once the projector applied ActivationIssued
read -r nik bd < <(e2e_nik)
email="rmq.$(date +%s%N).$RANDOM@example.co.id"
r=$(e2e_post /v1/accounts "$(e2e_register_json "$nik" "$bd" "$email" "081298765432" "Read Model Tester")")
[ "${r%% *}" = 201 ] || e2e_fail "registration: $r"
id=$(jq -r .account_id <<<"${r#* }")
is_status() { [ "$(e2e_rm_status "$1")" = "$2" ]; }
e2e_wait 60 is_status "$id" pending || e2e_fail "rm.accounts.status of $id is \"$(e2e_rm_status "$id" || true)\", not pending"
e2e_ok "registered $id: rm.accounts.status pending"

# 2. the activation mail reaches the sink: its last outcome in
#    rm.delivery_status; the OTP read out of the mail (as a person would)
#    activates -> active
act=$(e2e_psql -c "SELECT event_id FROM oss.journal WHERE stream_id = 'access-$id' AND payload_type = 'oss.v1.ActivationIssued' ORDER BY version DESC LIMIT 1")
handed() { [ "$(e2e_psql -c "SELECT state || ' ' || reply_code || ' ' || kind FROM rm.delivery_status WHERE trigger_event_id = '$act' AND channel = 'email'")" = "handed 250 activation" ]; }
e2e_wait 90 handed || e2e_fail "rm.delivery_status of $id: $(e2e_psql -c "SELECT kind, state, reply_code, reason FROM rm.delivery_status WHERE account_id = '$id'")"
e2e_ok "rm.delivery_status: the activation mail handed over (250)"
find_mail() { # the sink holds many files: only the ones since the start
    find "${OSS_MAIL_DIR:?OSS_MAIL_DIR missing from run.env}" -maxdepth 1 -name '*.eml' -newer "$work/start" -print0 \
        | xargs -0 -r grep -lF "Message-ID: <$act@oss.local>" | head -1
}
has_mail() { [ -n "$(find_mail)" ]; }
e2e_wait 10 has_mail || e2e_fail "no activation mail <$act@oss.local> in $OSS_MAIL_DIR"
mail=$(find_mail)
otp=$(/usr/bin/python3 - "$mail" <<'PY'
import email, re, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"))
text = "".join(p.get_payload(decode=True).decode("utf-8") for p in msg.walk()
               if p.get_content_type() == "text/plain")
m = re.search(r"Kode OTP Anda: (\d{6})", text)
print(m.group(1) if m else "-")
PY
)
[[ $otp =~ ^[0-9]{6}$ ]] || e2e_fail "no OTP in the activation mail $mail"
e2e_secret --for "$id" "$otp"
r=$(e2e_post "/v1/accounts/$id/activate" "{\"otp\":\"$otp\"}")
[ "${r%% *}" = 200 ] || e2e_fail "activation: $r"
e2e_wait 60 is_status "$id" active || e2e_fail "rm.accounts.status of $id is \"$(e2e_rm_status "$id" || true)\", not active"
p=$(e2e_psql -c "SELECT status FROM rm.principals WHERE principal_id = '$id'")
[ "$p" = active ] || e2e_fail "rm.principals.status of $id is \"$p\""
e2e_ok "activated with the mailed OTP: rm.accounts.status and rm.principals.status active"

# 4. the story
"$OSS" audit history "account-$id" >"$work/story" 2>&1 || { cat "$work/story"; e2e_fail "oss audit history account-$id exited non-zero"; }
for want in "account $id registered (UMK, actor type 02" "nik: \[sealed\]" \
    "activation link and code issued by email" "activation mail handed to the mail server (attempt 1): 250" \
    "activated (by the one-time code)" "| system_job:notifier |" "stream access-$id: chain ok" \
    "stream delivery-$id: chain ok" "chain ok: "; do
    grep -q -- "$want" "$work/story" || { cat "$work/story"; e2e_fail "the story lacks \"$want\""; }
done
reg=$(grep -n "registered (UMK" "$work/story" | head -1 | cut -d: -f1)
act=$(grep -n "activated (by the one-time code)" "$work/story" | head -1 | cut -d: -f1)
[ "$reg" -lt "$act" ] || e2e_fail "the story is not in time order"
n=$(e2e_psql -c "SELECT count(*) FROM oss.journal WHERE stream_id IN ('account-$id', 'access-$id', 'delivery-$id')")
lines=$(grep -c " | reason: " "$work/story")
[ "$lines" -ge "$n" ] || e2e_fail "the story has $lines event lines for $n events"
for secret in "$nik" "$email" "Read Model Tester" "$otp"; do
    grep -qF -- "$secret" "$work/story" && e2e_fail "the story printed personal data or a secret"
done
e2e_ok "oss audit history account-$id: $lines lines, in time order, sealed, chains ok"

# 5. the rebuild's path (journal catch-up into a private schema, from just
#    before the registration) gives the account the same rows
psql -X -qtA -v ON_ERROR_STOP=1 "$OSS_PG_ADMIN_URL" -c "SET client_min_messages = warning; SELECT oss.rm_define('$schema')" >/dev/null
xid=$(e2e_psql -c "SELECT xid::text FROM oss.journal WHERE stream_id = 'account-$id' AND version = 1")
e2e_psql -c "INSERT INTO $schema.catchup (name, xid, position) VALUES ('e2e-rmq', '$((xid - 1))'::xid8, 9223372036854775807)"
OSS_PROJECTOR_SCHEMA=$schema OSS_PROJECTOR_NAME=e2e-rmq timeout 300 "$OSS_BUILD_DIR/consumers/oss-projector" --catch-up >"$work/catchup" 2>&1 \
    || { tail -5 "$work/catchup"; e2e_fail "journal catch-up into $schema failed"; }
cmp_rows() { # TABLE KEYCOL COLS
    local diff
    diff=$(e2e_psql -c "SELECT count(*) FROM ((SELECT $3 FROM rm.$1 WHERE $2 = '$id' EXCEPT SELECT $3 FROM $schema.$1 WHERE $2 = '$id') UNION ALL (SELECT $3 FROM $schema.$1 WHERE $2 = '$id' EXCEPT SELECT $3 FROM rm.$1 WHERE $2 = '$id')) x")
    [ "$diff" = 0 ] || e2e_fail "rm.$1 and $schema.$1 differ for $id"
}
[ "$(e2e_psql -c "SELECT status FROM $schema.accounts WHERE account_id = '$id'")" = active ] || e2e_fail "the catch-up did not make $id active"
cmp_rows accounts account_id "account_id, status, status_at, owner_principal_id, subject_id, terms_version, registered_at"
cmp_rows principals principal_id "principal_id, status, status_at, password_set_at, last_sign_in_at"
cmp_rows delivery_status account_id "trigger_event_id, channel, kind, state, attempt, reply_code, reply_text, permanent"
e2e_ok "a journal catch-up (the rebuild's path) gives $id the same rows as the live projector"
