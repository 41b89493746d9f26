#!/usr/bin/env bash
# Business access rights over real HTTP against the running stack, each
# person activated with the OTP read out of the delivered mail:
#  1. delegates: the owner adds a preparer and a viewer (each a new
#     principal with its own activation), lists them, removes the viewer
#     (grant revoked at once); refusals: no token 401, a delegate 403,
#     another business 404, bad role 422, unknown member 404;
#  2. transfer: the owner offers the account to a new person, who confirms
#     with its own session; someone else cannot; the old owner's token and
#     password stop working at once;
#  3. written hand-over: filed by the delegate (the owner gets a
#     handover_filed message by e-mail AND WhatsApp), a second filing 409,
#     the owner objects, the officer's approval is 409 objected, rejection
#     works, the owner may not decide (403);
#  4. the cooling-off: an API instance with access.cooling_off_working_days
#     = 5 answers an early approval 409 cooling_off with Retry-After;
#  5. termination by an operator: 422 without the written request's
#     evidence, one delegate's access ends (its token refused at once),
#     then the whole account's (law); 409 terminated afterwards; a business
#     user may not terminate (403).
source "$(dirname "$0")/lib.sh"
WORK=$(mktemp -d /tmp/test_access.XXXXXX)
API2_PID=""
cleanup() {
    [ -n "$API2_PID" ] && kill "$API2_PID" 2>/dev/null || true
    [ -n "${E2E_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
touch "$WORK/start"
sleep 1
source "$(dirname "$0")/access_lib.sh"
grant_active() { # PRINCIPAL ACCOUNT ROLE -> count of active grants
    e2e_psql -c "SELECT count(*) FROM oss.grants WHERE principal_id = '$1' AND account_id = '$2' AND role = '$3' AND revoked_at IS NULL"
}
types_of() { e2e_psql -c "SELECT string_agg(payload_type, ',' ORDER BY version) FROM oss.journal WHERE stream_id = 'account-$1' AND version > 2"; }

# ---- 1. delegates ---------------------------------------------------------
new_owner "Access Owner A"; A=$OWNER_ID; A_TOK=$OWNER_TOKEN
new_owner "Access Owner B"; B=$OWNER_ID; B_TOK=$OWNER_TOKEN; B_PW=$OWNER_PW
e2e_ok "two owners registered, activated from the mail, signed in"

r=$(ax POST "/v1/accounts/$A/members" "$(person_json "" "Delegate Preparer" "prep.$RANDOM@example.co.id" | jq -c '.role="preparer"')")
expect 401 "$r" "add a member without a token"
r=$(ax POST "/v1/accounts/$A/members" "$(person_json "" "Delegate Bad" "bad.$RANDOM@example.co.id" | jq -c '.role="owner"')" "$A_TOK")
expect 422 "$r" "add a member with role owner"
[ "$(jb "$r" | jq -r '.error.fields[0].field')" = role ] || e2e_fail "role refusal does not name the field: $r"
r=$(ax POST "/v1/accounts/$A/members" "$(person_json "" "Delegate Preparer" "prep.$RANDOM@example.co.id" | jq -c '.role="preparer"')" "$B_TOK")
expect 404 "$r" "another business adds a member"
r=$(ax POST "/v1/accounts/$A/members" "$(person_json "" "Delegate Preparer" "prep.$RANDOM@example.co.id" | jq -c '.role="preparer" | .reason="prepares the licence applications"')" "$A_TOK")
expect 201 "$r" "the owner adds a preparer"
P=$(jb "$r" | jq -r .principal_id)
[ "$(jb "$r" | jq -r .new_principal)" = true ] || e2e_fail "the preparer is not a new principal: $r"
r=$(ax POST "/v1/accounts/$A/members" "$(person_json "" "Delegate Viewer" "view.$RANDOM@example.co.id" | jq -c '.role="viewer"')" "$A_TOK")
expect 201 "$r" "the owner adds a viewer"
V=$(jb "$r" | jq -r .principal_id)
[ "$(grant_active "$P" "$A" preparer) $(grant_active "$V" "$A" viewer)" = "1 1" ] || e2e_fail "the delegates' grants are not active"
xa=$(e2e_psql -c "SELECT xid FROM oss.journal WHERE stream_id = 'account-$A' AND payload_type = 'oss.v1.MemberAdded' ORDER BY version LIMIT 1")
xp=$(e2e_psql -c "SELECT xid FROM oss.journal WHERE stream_id = 'access-$P' AND version = 1")
[ -n "$xa" ] && [ "$xa" = "$xp" ] || e2e_fail "MemberAdded and the preparer's PrincipalCreated were not one transaction"
P_PW="Prep-$RANDOM$RANDOM-7!"
P_TOK=$(activate_and_sign_in principals "$P" "$P_PW")
V_PW="Vw-$RANDOM$RANDOM-7!"
V_TOK=$(activate_and_sign_in principals "$V" "$V_PW")
r=$(ax GET "/v1/accounts/$A/members" "" "$P_TOK")
expect 200 "$r" "the preparer lists the members"
[ "$(jb "$r" | jq -r '[.members[] | .role] | sort | join(",")')" = "owner,preparer,viewer" ] || e2e_fail "members: $r"
r=$(ax DELETE "/v1/accounts/$A/members/$V" "" "$P_TOK")
expect 403 "$r" "a preparer removes a member"
r=$(ax GET "/v1/accounts/$A/members" "" "$B_TOK")
expect 404 "$r" "another business lists the members"
r=$(ax DELETE "/v1/accounts/$A/members/$V" '{"reason":"left the company"}' "$A_TOK")
expect 204 "$r" "the owner removes the viewer"
[ "$(grant_active "$V" "$A" viewer)" = 0 ] || e2e_fail "the removed viewer's grant is still active"
r=$(ax GET "/v1/accounts/$A/members" "" "$V_TOK")
expect 401 "$r" "the removed viewer's session"
r=$(ax DELETE "/v1/accounts/$A/members/$V" "" "$A_TOK")
expect 404 "$r" "remove a member twice"
[ "$(e2e_psql -c "SELECT count(*) FROM oss.journal WHERE stream_id = 'access-$V' AND payload_type = 'oss.v1.SessionEnded' AND reason = 'left the company'")" -ge 1 ] \
    || e2e_fail "the removed viewer's session did not end with an event"
# an existing principal added again (by principal_id): told by mail
r=$(ax POST "/v1/accounts/$A/members" "$(jq -cn --arg v "$V" '{principal_id:$v, role:"viewer", reason:"back from leave"}')" "$A_TOK")
expect 201 "$r" "the owner adds the viewer back by principal_id"
[ "$(jb "$r" | jq -r '.new_principal // false')" = false ] || e2e_fail "re-adding created a principal: $r"
[ "$(grant_active "$V" "$A" viewer)" = 1 ] || e2e_fail "the re-added viewer has no active grant"
r=$(ax POST "/v1/accounts/$A/members" "$(jq -cn --arg v "$V" '{principal_id:$v, role:"viewer"}')" "$A_TOK")
expect 409 "$r" "adding a member twice"
r=$(ax POST "/v1/accounts/$A/members" '{"principal_id":"no-such-principal","role":"viewer"}' "$A_TOK")
expect 422 "$r" "adding an unknown principal"
V_TOK=$(sign_in "$V" "$V_PW")
r=$(ax GET "/v1/accounts/$A/members" "" "$V_TOK")
expect 200 "$r" "the re-added viewer reads the members"
ev=$(e2e_psql -c "SELECT event_id FROM oss.journal WHERE stream_id = 'account-$A' AND payload_type = 'oss.v1.MemberAdded' AND reason = 'back from leave'")
handed() { [ "$(e2e_psql -c "SELECT count(*) FROM oss.journal WHERE stream_id = 'delivery-$A' AND payload_type = 'oss.v1.DeliveryHanded' AND causation_id = '$1'")" -ge 2 ]; }
e2e_wait 120 handed "$ev" || e2e_fail "the member_added notice of $ev was not handed over on e-mail and WhatsApp"
e2e_ok "delegates: added (new principals, one transaction), listed, removed (grant and session revoked at once); 401/403/404/422 refusals"

# ---- 2. transfer to a new person ------------------------------------------
r=$(ax POST "/v1/accounts/$B/transfer" "$(person_json new_owner_ "New Owner N" "newn.$RANDOM@example.co.id" | jq -c '.reason="the business was sold"')" "$B_TOK")
expect 201 "$r" "the owner offers the account to a new person"
N=$(jb "$r" | jq -r .principal_id)
N_TOK=$(activate_and_sign_in principals "$N" "Newn-$RANDOM$RANDOM-7!")
r=$(ax POST "/v1/accounts/$B/transfer/accept" "" "$P_TOK")
expect 403 "$r" "someone else accepts the transfer"
r=$(ax POST "/v1/accounts/$B/transfer/accept" "" "$N_TOK")
expect 200 "$r" "the offered person accepts"
r=$(ax GET "/v1/accounts/$B/members" "" "$N_TOK")
expect 200 "$r" "the new owner lists the members"
[ "$(jb "$r" | jq -r .owner)" = "$N" ] || e2e_fail "the new owner is not the owner: $r"
r=$(ax GET "/v1/accounts/$B/members" "" "$B_TOK")
expect 401 "$r" "the old owner's token after the transfer"
r=$(ax POST /v1/sessions "$(jq -cn --arg id "$B" --arg p "$B_PW" '{principal_id:$id, password:$p}')")
expect 401 "$r" "the old owner's sign-in after the transfer"
[ "$(grant_active "$N" "$B" owner) $(grant_active "$B" "$B" owner)" = "1 0" ] || e2e_fail "owner grants after the transfer"
types=$(types_of "$B")
[ "$types" = "oss.v1.OwnershipTransferOffered,oss.v1.OwnershipTransferAccepted" ] || e2e_fail "account B stream: $types"
e2e_ok "transfer: offered to a new person who confirmed; the old owner's token and password refused at once"

# ---- 3. hand-over with an objection -----------------------------------------
read -r OFF OFF_TOK < <(gov_principal officer oss "Officer OSS Satu")
read -r OPR OPR_TOK < <(gov_principal operator oss "Operator OSS Satu")
[ -n "${OFF_TOK:-}" ] && [ -n "${OPR_TOK:-}" ] || e2e_fail "could not bootstrap the officer and the operator"
e2e_ok "an officer and an operator of institution oss bootstrapped with the CLI and signed in"
r=$(ax POST "/v1/accounts/$A/handover-requests" '{"evidence_ref":"AHU-0001","reason":"owner left"}' "$P_TOK")
expect 422 "$r" "a hand-over without a new owner"
r=$(ax POST "/v1/accounts/$A/handover-requests" "$(jq -cn --arg p "$P" '{reason:"owner left", new_owner_principal_id:$p}')" "$P_TOK")
expect 422 "$r" "a hand-over without evidence"
r=$(ax POST "/v1/accounts/$A/handover-requests" "$(jq -cn --arg p "$P" '{evidence_ref:"AHU-0042.AH.01.02.2026", reason:"the owner left the company", new_owner_principal_id:$p}')" "$P_TOK")
expect 201 "$r" "the preparer files a hand-over"
RID=$(jb "$r" | jq -r .request_id)
r=$(ax POST "/v1/accounts/$A/handover-requests" "$(jq -cn --arg p "$P" '{evidence_ref:"AHU-0043", reason:"again", new_owner_principal_id:$p}')" "$P_TOK")
expect 409 "$r" "a second filing"
[ "$(jb "$r" | jq -r .error.code)" = handover_pending ] || e2e_fail "second filing: $r"
chans=$(e2e_psql -c "SELECT string_agg(d.channel, ',' ORDER BY d.channel) FROM oss.deliveries d JOIN oss.journal j ON j.event_id = d.event_id WHERE j.stream_id = 'account-$A' AND j.payload_type = 'oss.v1.HandoverFiled' AND d.kind = 'handover_filed'")
if [ "$chans" != "email,whatsapp" ]; then
    # the notifier may have delivered (and purged) them already: the mail
    # below is the proof then
    [ -z "$chans" ] || e2e_fail "handover_filed notices queued on: $chans"
fi
e2e_wait 120 mail_says "$RID" || e2e_fail "no handover_filed mail naming request $RID reached the owner"
f=$(mails_saying "$RID" | sed -n 1p)
txt=$(mail_text "$f")
grep -qF "AHU-0042.AH.01.02.2026" <<<"$txt" || e2e_fail "the handover_filed mail does not name the evidence"
e2e_ok "hand-over filed by the delegate; the owner was told (notices on e-mail and WhatsApp, mail received); a second filing is 409"

r=$(ax POST "/v1/accounts/$A/handover-requests/$RID/decision" '{"decision":"approve","reason":"x"}' "$A_TOK")
expect 403 "$r" "the owner decides its own hand-over"
r=$(ax POST "/v1/accounts/$A/handover-requests/$RID/objection" '{"reason":"I did not leave"}' "$P_TOK")
expect 403 "$r" "the preparer objects"
r=$(ax POST "/v1/accounts/$A/handover-requests/$RID/objection" '{"reason":"I did not leave; the deed is forged"}' "$A_TOK")
expect 201 "$r" "the owner objects"
r=$(ax POST "/v1/accounts/$A/handover-requests/$RID/decision" '{"decision":"approve","reason":"deed checked"}' "$OFF_TOK")
expect 409 "$r" "approval after an objection"
[ "$(jb "$r" | jq -r .error.code)" = objected ] || e2e_fail "approval after an objection: $r"
r=$(ax POST "/v1/accounts/$A/handover-requests/$RID/decision" '{"decision":"maybe","reason":"x"}' "$OFF_TOK")
expect 422 "$r" "an unknown decision"
r=$(ax POST "/v1/accounts/$A/handover-requests/$RID/decision" '{"decision":"reject","reason":"the owner objected"}' "$OFF_TOK")
expect 200 "$r" "the officer rejects"
r=$(ax POST "/v1/accounts/$A/handover-requests/$RID/decision" '{"decision":"reject","reason":"again"}' "$OFF_TOK")
expect 409 "$r" "a second decision"
r=$(ax GET "/v1/accounts/$A/members" "" "$A_TOK")
expect 200 "$r" "the owner still signs in and reads"
[ "$(jb "$r" | jq -r .owner)" = "$A" ] || e2e_fail "the owner changed after a rejection: $r"
e2e_ok "objection: approval refused 409 objected, rejection recorded, the owner keeps the account"

# ---- 3b. hand-over to a new person (account B, owned by N now) --------------
r=$(ax POST "/v1/accounts/$B/handover-requests" "$(person_json new_owner_ "New Person M" "newm.$RANDOM@example.co.id" | jq -c '.evidence_ref="AHU-0077" | .reason="N sold the business to M"')" "$N_TOK")
expect 201 "$r" "a hand-over naming a new person"
M=$(jb "$r" | jq -r .principal_id); RIDB=$(jb "$r" | jq -r .request_id)
[ "$(jb "$r" | jq -r .new_principal)" = true ] || e2e_fail "the new person is not a new principal: $r"
r=$(ax POST "/v1/accounts/$B/handover-requests/$RIDB/decision" '{"decision":"approve","reason":"deed AHU-0077 checked"}' "$OFF_TOK")
expect 200 "$r" "the officer approves the hand-over to the new person"
M_TOK=$(activate_and_sign_in principals "$M" "Newm-$RANDOM$RANDOM-7!")
r=$(ax GET "/v1/accounts/$B/members" "" "$M_TOK")
expect 200 "$r" "the new person reads the account"
[ "$(jb "$r" | jq -r .owner)" = "$M" ] || e2e_fail "the new person is not the owner: $r"
r=$(ax GET "/v1/accounts/$B/members" "" "$N_TOK")
expect 401 "$r" "the previous owner's token after the hand-over"
e2e_ok "hand-over to a new person: created with the request, approved, activated from its mail, owner; the previous owner refused"

# ---- 4. the cooling-off, on an API instance counting 5 working days ---------
port=$(head -n1 "$OSS_VAR/api.port")
port2=$((port + 1000 + RANDOM % 1000))
sed -e "s/^api.port = .*/api.port = $port2/" -e '/^access.cooling_off_working_days/d' "$OSS_CONFIG" >"$WORK/api2.conf"
echo "access.cooling_off_working_days = 5" >>"$WORK/api2.conf"
(cd "$E2E_ROOT" && exec "$OSS_BUILD_DIR/producers/oss-api" --config "$WORK/api2.conf" >"$WORK/api2.log" 2>&1) &
API2_PID=$!
API_SAVE=$API; API="http://127.0.0.1:$port2"
e2e_wait 20 curl -sf "$API/healthz" || e2e_fail "the second API instance did not start: $(tail -3 "$WORK/api2.log")"
r=$(ax POST "/v1/accounts/$A/handover-requests" "$(jq -cn --arg p "$P" '{evidence_ref:"AHU-0050", reason:"the owner left (second request)", new_owner_principal_id:$p}')" "$P_TOK")
expect 201 "$r" "a hand-over with a 5-working-day cooling-off"
RID2=$(jb "$r" | jq -r .request_id)
until=$(jb "$r" | jq -r .cooling_off_until)
[ "$(date -u -d "$until" +%s)" -ge $(( $(date +%s) + 5 * 86400 )) ] || e2e_fail "the cooling-off ends too soon: $until"
r=$(ax POST "/v1/accounts/$A/handover-requests/$RID2/decision" '{"decision":"approve","reason":"deed checked"}' "$OFF_TOK")
expect 409 "$r" "an approval during the cooling-off"
[ "$(jb "$r" | jq -r .error.code)" = cooling_off ] || e2e_fail "early approval: $r"
ra=$(grep -i '^Retry-After:' "$WORK/hdrs" | tr -dc '0-9')
[ -n "$ra" ] && [ "$ra" -ge $((5 * 86400)) ] || e2e_fail "cooling_off without a Retry-After of at least 5 days: ${ra:-none}"
r=$(ax POST "/v1/accounts/$A/handover-requests/$RID2/decision" '{"decision":"reject","reason":"withdrawn by the business"}' "$OFF_TOK")
expect 200 "$r" "a rejection during the cooling-off"
API=$API_SAVE
kill "$API2_PID" 2>/dev/null || true; API2_PID=""
e2e_ok "cooling-off of 5 working days: early approval 409 cooling_off with Retry-After ${ra}s (until $until)"

# ---- 5. termination -----------------------------------------------------------
r=$(ax POST "/v1/accounts/$A/terminations" "$(jq -cn --arg p "$P" '{reason_code:"misuse_request", principal_id:$p}')" "$A_TOK")
expect 403 "$r" "a business owner terminates"
r=$(ax POST "/v1/accounts/$A/terminations" "$(jq -cn --arg p "$P" '{reason_code:"misuse_request", principal_id:$p}')" "$OPR_TOK")
expect 422 "$r" "a misuse request without evidence"
[ "$(jb "$r" | jq -r '.error.fields[0].field')" = evidence_ref ] || e2e_fail "misuse without evidence: $r"
r=$(ax POST "/v1/accounts/$A/terminations" '{"reason_code":"whim"}' "$OPR_TOK")
expect 422 "$r" "an unknown reason code"
r=$(ax POST "/v1/accounts/$A/terminations" "$(jq -cn --arg p "$P" '{reason_code:"misuse_request", principal_id:$p, evidence_ref:"SURAT-2026-117", reason:"the owner reported misuse by the preparer"}')" "$OPR_TOK")
expect 201 "$r" "the operator ends the preparer's access"
r=$(ax GET "/v1/accounts/$A/members" "" "$P_TOK")
expect 401 "$r" "the terminated preparer's token"
[ "$(grant_active "$P" "$A" preparer)" = 0 ] || e2e_fail "the terminated preparer's grant is active"
r=$(ax POST "/v1/accounts/$A/terminations" '{"reason_code":"law","evidence_ref":"PN-JKT-2026-9","reason":"court order"}' "$OPR_TOK")
expect 201 "$r" "the operator ends the account's access by law"
r=$(ax GET "/v1/accounts/$A/members" "" "$A_TOK")
expect 401 "$r" "the owner's token after the account's termination"
r=$(ax POST "/v1/accounts/$A/terminations" '{"reason_code":"authority_finding"}' "$OPR_TOK")
expect 409 "$r" "a second termination"
[ "$(jb "$r" | jq -r .error.code)" = terminated ] || e2e_fail "second termination: $r"
r=$(ax GET "/v1/accounts/$A/members" "" "$OFF_TOK")
expect 200 "$r" "the officer reads the terminated account"
[ "$(jb "$r" | jq -r '.terminated, .termination' | tr '\n' ' ')" = "true law " ] || e2e_fail "termination not shown: $r"
types=$(types_of "$A")
for t in MemberAdded MemberRemoved HandoverFiled HandoverObjected HandoverRejected AccessTerminated; do
    grep -q "oss.v1.$t" <<<"$types" || e2e_fail "account A has no $t: $types"
done
[ "$(e2e_psql -c "SELECT count(*) FROM oss.journal WHERE stream_id = 'account-$A' AND payload_type LIKE 'oss.v1.%' AND version > 2 AND (actor_id = '' OR reason IS NULL OR reason = '')")" = 0 ] \
    || e2e_fail "an access event of account A lacks its actor or reason"
e2e_ok "termination: written requests need evidence; a delegate's then the account's access ended (tokens refused at once); 409 afterwards"
echo "PASS test_access"
