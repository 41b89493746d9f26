#!/usr/bin/env bash
# e2e: the OSS authority restricts (suspends) an account and lifts it (issue
# 10, item 14), over real HTTP, each person activated with the OTP read out
# of the mail:
#  - the owner cannot restrict (403); the operator restricts with a reason
#    (201 AccessRestricted on the account stream, actor and reason on the
#    event); a second restriction is 409 already_restricted;
#  - the owner's open session ended (401), the right password no longer
#    signs in (403 account_restricted naming the help desk), and the owner
#    is told why by mail (access_restricted, naming the help desk);
#  - `oss audit history` shows who restricted it and why;
#  - the operator lifts it (200 AccessRestrictionLifted); lifting again 409
#    not_restricted; the owner signs in again with the same password.
source "$(dirname "$0")/lib.sh"
WORK=$(mktemp -d /tmp/test_restriction.XXXXXX)
trap '[ -n "${E2E_KEEP:-}" ] || rm -rf "$WORK"' EXIT
touch "$WORK/start"
sleep 1
source "$(dirname "$0")/access_lib.sh"
OSS=${OSS_CLI:?OSS_CLI missing from run.env}

new_owner "Pemilik Dibatasi"
A=$OWNER_ID
read -r OPR OPR_TOK < <(gov_principal operator oss "Operator Pembatasan")
[ -n "${OPR_TOK:-}" ] || e2e_fail "could not bootstrap the operator"

reason="dugaan penyalahgunaan akses: laporan 2026-451"
r=$(ax POST "/v1/accounts/$A/restrictions" '{"reason":"self"}' "$OWNER_TOKEN")
expect 403 "$r" "the owner restricts its own account"
r=$(ax POST "/v1/accounts/$A/restrictions" '{}' "$OPR_TOK")
expect 422 "$r" "a restriction without a reason"
r=$(ax POST "/v1/accounts/$A/restrictions" "$(jq -cn --arg r "$reason" '{reason:$r, evidence_ref:"SK-OSS-2026-451"}')" "$OPR_TOK")
expect 201 "$r" "the operator restricts the account"
[ "$(jb "$r" | jq -r .event)" = AccessRestricted ] || e2e_fail "restriction answer: $r"
[ "$(e2e_psql -c "SELECT actor_id || '|' || reason FROM oss.journal WHERE stream_id = 'account-$A' AND payload_type = 'oss.v1.AccessRestricted'")" = "$OPR|$reason" ] \
    || e2e_fail "AccessRestricted does not carry the operator and the reason"
r=$(ax GET "/v1/accounts/$A/members" "" "$OPR_TOK")
expect 200 "$r" "the operator reads the restricted account"
[ "$(jb "$r" | jq -r '.restricted, .restriction.restricted_by' | tr '\n' ' ')" = "true $OPR " ] || e2e_fail "restriction not shown to the authority: $r"
r=$(ax POST "/v1/accounts/$A/restrictions" '{"reason":"again"}' "$OPR_TOK")
expect 409 "$r" "a second restriction"
[ "$(jb "$r" | jq -r .error.code)" = already_restricted ] || e2e_fail "second restriction: $r"
e2e_ok "the operator restricted $A with a reason; the owner cannot; twice is 409"

r=$(ax GET "/v1/accounts/$A/members" "" "$OWNER_TOKEN")
expect 401 "$r" "the owner's session after the restriction"
r=$(ax POST /v1/sessions "$(jq -cn --arg id "$A" --arg p "$OWNER_PW" '{principal_id:$id, password:$p}')")
expect 403 "$r" "sign-in to a restricted account"
[ "$(jb "$r" | jq -r .error.code)" = account_restricted ] && jb "$r" | grep -q "helpdesk.oss@insw.go.id" \
    || e2e_fail "the refused sign-in does not say why and where to turn: $r"
r=$(ax POST /v1/sessions "$(jq -cn --arg id "$A" '{principal_id:$id, password:"wrong-Password-1!"}')")
expect 401 "$r" "a wrong password on a restricted account (the restriction is not disclosed)"
e2e_wait 120 mail_says "membatasi akses ke akun OSS $A" || e2e_fail "no access_restricted mail"
f=$(mails_saying "membatasi akses ke akun OSS $A" | sed -n 1p)
text=$(mail_text "$f") # whole, then searched (grep -q on a pipe under pipefail races the writer)
grep -qF "$reason" <<<"$text" && grep -qF "helpdesk.oss@insw.go.id" <<<"$text" \
    || e2e_fail "the restriction mail does not give the reason and the help desk"
e2e_ok "restricted: session ended (401), sign-in refused 403 account_restricted with the help desk, owner told why by mail"

"$OSS" audit history "account-$A" >"$WORK/history" 2>&1 || { cat "$WORK/history"; e2e_fail "audit history failed"; }
grep "AccessRestricted" "$WORK/history" | grep -q "$OPR" || { cat "$WORK/history"; e2e_fail "history does not show who restricted the account"; }
grep -q "$reason" "$WORK/history" || { cat "$WORK/history"; e2e_fail "history does not show why"; }
rm_restricted() { [ "$(e2e_psql -c "SELECT status || '|' || coalesce(restricted_by, '') FROM rm.accounts WHERE account_id = '$A'")" = "restricted|$OPR" ]; }
e2e_wait 60 rm_restricted || e2e_fail "rm.accounts does not show the restriction: $(e2e_psql -c "SELECT status, restricted_by FROM rm.accounts WHERE account_id = '$A'")"
e2e_ok "oss audit history shows AccessRestricted by $OPR with its reason; rm.accounts says restricted by whom"

r=$(ax POST "/v1/accounts/$A/restrictions/lift" '{"reason":"klarifikasi diterima"}' "$OPR_TOK")
expect 200 "$r" "the operator lifts the restriction"
r=$(ax POST "/v1/accounts/$A/restrictions/lift" '{"reason":"again"}' "$OPR_TOK")
expect 409 "$r" "lifting twice"
[ "$(jb "$r" | jq -r .error.code)" = not_restricted ] || e2e_fail "second lift: $r"
rm_lifted() { [ "$(e2e_psql -c "SELECT status || '|' || (restricted_by IS NULL) FROM rm.accounts WHERE account_id = '$A'")" = "active|true" ]; }
e2e_wait 60 rm_lifted || e2e_fail "rm.accounts still restricted after the lift"
tok=$(sign_in "$A" "$OWNER_PW")
r=$(ax GET "/v1/accounts/$A/members" "" "$tok")
expect 200 "$r" "the owner after the lift"
e2e_ok "lifted: the owner signs in again with the same password; lifting twice is 409"
