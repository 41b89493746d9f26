#!/usr/bin/env bash
# The issue's story, end to end over real HTTP, the real broker and the real
# mail and WhatsApp sinks, every code read out of the delivered message as a
# person would:
#   register -> activate (OTP from the mail) -> set password -> sign in ->
#   add a delegate (preparer) -> the delegate activates and signs in ->
#   the owner leaves -> the delegate files a written hand-over (evidence:
#   the deed of change) naming itself as the new owner -> the owner is told
#   by e-mail and WhatsApp -> an officer of the OSS authority (bootstrapped
#   with `oss principal create`, activated from its mail) approves -> the
#   new owner signs in and acts as owner; the old owner's token and password
#   are refused -> `oss audit history account-<id>` tells that story line by
#   line, each line with time, actor and reason.
# The embedded stack runs with access.cooling_off_working_days = 0 (infra/
# lib.sh) so the approval may follow at once; the working-day period is
# tested with the core's clock in tests/unit/test_core_access.c and on a
# second API instance in test_access.sh.
source "$(dirname "$0")/lib.sh"
WORK=$(mktemp -d /tmp/test_story.XXXXXX)
trap '[ -n "${E2E_KEEP:-}" ] || rm -rf "$WORK"' EXIT
touch "$WORK/start"
sleep 1
source "$(dirname "$0")/access_lib.sh"
WA_DIR=${OSS_WHATSAPP_DIR:?OSS_WHATSAPP_DIR missing from run.env}

# 1. register -> activate -> password -> sign in (the owner)
new_owner "Budi Santoso"
ACC=$OWNER_ID; OLD_TOK=$OWNER_TOKEN; OLD_PW=$OWNER_PW
r=$(ax GET /v1/sessions "" "$OLD_TOK")
expect 200 "$r" "the owner lists its sessions"
e2e_ok "1. account $ACC registered, activated with the OTP from the mail, password set, owner signed in"

# 2. the owner adds a delegate, who activates from its own mail and signs in
r=$(ax POST "/v1/accounts/$ACC/members" "$(person_json "" "Siti Rahayu" "siti.$RANDOM$RANDOM@example.co.id" | jq -c '.role="preparer" | .reason="Siti prepares our licence applications"')" "$OLD_TOK")
expect 201 "$r" "the owner adds a delegate"
DEL=$(jb "$r" | jq -r .principal_id)
DEL_PW="Siti-$(head -c 9 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')-7!"
DEL_TOK=$(activate_and_sign_in principals "$DEL" "$DEL_PW")
r=$(ax GET "/v1/accounts/$ACC/members" "" "$DEL_TOK")
expect 200 "$r" "the delegate reads the account's members"
[ "$(jb "$r" | jq -r --arg d "$DEL" '.members[] | select(.principal_id == $d) | .role')" = preparer ] || e2e_fail "the delegate is not a preparer: $r"
e2e_ok "2. delegate $DEL (preparer) added; activated with the OTP from its mail; signed in"

# 3. the owner leaves (no longer reachable); the delegate files a written
#    hand-over naming itself as the new owner, with the deed of change
EVIDENCE="AHU-0031337.AH.01.02.TAHUN2026"
REASON="Budi left the company; the deed of change names Siti as director"
r=$(ax POST "/v1/accounts/$ACC/handover-requests" "$(jq -cn --arg d "$DEL" --arg e "$EVIDENCE" --arg why "$REASON" '{evidence_ref:$e, reason:$why, new_owner_principal_id:$d}')" "$DEL_TOK")
expect 201 "$r" "the delegate files the hand-over"
RID=$(jb "$r" | jq -r .request_id)
e2e_ok "3. the owner left; written hand-over $RID filed by the delegate (evidence $EVIDENCE)"

# 4. the owner is told on every channel: e-mail and WhatsApp
e2e_wait 120 mail_says "$RID" || e2e_fail "no mail about hand-over $RID reached the owner"
txt=$(mail_text "$(mails_saying "$RID" | sed -n 1p)")
grep -q "Budi Santoso" <<<"$txt" && grep -qF "$EVIDENCE" <<<"$txt" && grep -q "object" <<<"$txt" \
    || e2e_fail "the hand-over mail does not greet the owner, name the evidence and say how to object"
wa_says() { [ -n "$(find "$WA_DIR" -maxdepth 1 -name '*.json' -newer "$WORK/start" -print0 | xargs -0 -r grep -lF -- "$RID")" ]; }
e2e_wait 60 wa_says || e2e_fail "no WhatsApp message about hand-over $RID reached the owner"
e2e_ok "4. the owner was told by e-mail and WhatsApp (request, evidence, how to object)"

# 5. an officer of the OSS authority approves
read -r OFF OFF_TOK < <(gov_principal officer oss "Rina Officer OSS")
[ -n "${OFF_TOK:-}" ] || e2e_fail "could not bootstrap the officer"
APPROVAL="deed $EVIDENCE checked against AHU online"
r=$(ax POST "/v1/accounts/$ACC/handover-requests/$RID/decision" "$(jq -cn --arg why "$APPROVAL" '{decision:"approve", reason:$why}')" "$OFF_TOK")
expect 200 "$r" "the officer approves"
[ "$(jb "$r" | jq -r .previous_owner)" = "$ACC" ] || e2e_fail "approval: $r"
xids=$(e2e_psql -c "SELECT count(DISTINCT xid) FROM oss.journal WHERE (stream_id = 'account-$ACC' AND payload_type = 'oss.v1.HandoverApproved') OR (stream_id = 'access-$ACC' AND payload_type = 'oss.v1.SessionEnded' AND reason = '$APPROVAL')")
[ "$xids" = 1 ] || e2e_fail "the approval and the old owner's SessionEnded were not one transaction"
e2e_ok "5. officer $OFF (institution oss, activated from its mail) approved"

# 6. the new owner signs in and acts as owner; the old owner cannot
NEW_TOK=$(sign_in "$DEL" "$DEL_PW")
r=$(ax GET "/v1/accounts/$ACC/members" "" "$NEW_TOK")
expect 200 "$r" "the new owner reads the account"
[ "$(jb "$r" | jq -r .owner)" = "$DEL" ] || e2e_fail "the delegate is not the owner: $r"
r=$(ax POST "/v1/accounts/$ACC/members" "$(person_json "" "Agus Viewer" "agus.$RANDOM$RANDOM@example.co.id" | jq -c '.role="viewer" | .reason="the new owner adds a viewer"')" "$NEW_TOK")
expect 201 "$r" "the new owner adds a delegate (an owner's action)"
r=$(ax GET "/v1/accounts/$ACC/members" "" "$OLD_TOK")
expect 401 "$r" "the old owner's token"
r=$(ax POST /v1/sessions "$(jq -cn --arg id "$ACC" --arg p "$OLD_PW" '{principal_id:$id, password:$p}')")
expect 401 "$r" "the old owner's sign-in"
[ "$(e2e_psql -c "SELECT count(*) FROM oss.grants WHERE principal_id = '$ACC' AND revoked_at IS NULL")" = 0 ] \
    || e2e_fail "the old owner still holds a grant"
e2e_ok "6. the new owner signs in and acts as owner; the old owner's token and password are refused"

# 7. the account's history tells the story: one line per event with time,
#    actor and reason
hist=$("$OSS_CLI" audit history "account-$ACC") || e2e_fail "oss audit history failed"
echo "$hist" >"$WORK/history.txt"
line_of() { # PAYLOAD_TYPE [MUST_CONTAIN...]: the first line with all of them
    local l; l=$(grep -F "oss.v1.$1" <<<"$hist") || e2e_fail "history has no $1 line"
    shift
    for s in "$@"; do l=$(grep -F -- "$s" <<<"$l") || e2e_fail "history: no $1 line with \"$s\":"$'\n'"$hist"; done
    head -1 <<<"$l"
}
TS='^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}'
story=(
    "$(line_of AccountRegistered "$ACC")"
    "$(line_of ActivationSucceeded "access-$ACC")"
    "$(line_of PasswordSet "access-$ACC")"
    "$(line_of SignInSucceeded "access-$ACC")"
    "$(line_of MemberAdded "$DEL" "Siti prepares our licence applications")"
    "$(line_of PrincipalCreated "access-$DEL")"
    "$(line_of ActivationSucceeded "access-$DEL")"
    "$(line_of HandoverFiled "$RID" "$DEL" "$EVIDENCE" "$REASON")"
    "$(line_of DeliveryHanded "handover" "filed" "250")"
    "$(line_of HandoverApproved "$RID" "$OFF" "$APPROVAL")"
    "$(line_of SessionEnded "access-$ACC" "$APPROVAL")"
)
for l in "${story[@]}"; do
    [[ $l =~ $TS ]] || e2e_fail "a story line does not start with its time: $l"
    grep -qE '\| (business_user|officer|operator|system_job):[A-Za-z0-9]' <<<"$l" || e2e_fail "a story line names no actor: $l"
    grep -q 'reason' <<<"$l" || e2e_fail "a story line has no reason: $l"
done
# the actors: the owner registered, the delegate filed, the officer approved
grep -q "business_user:$ACC" <<<"${story[0]}" || e2e_fail "registration not by the owner: ${story[0]}"
grep -q "business_user:$DEL" <<<"${story[7]}" || e2e_fail "hand-over not filed by the delegate: ${story[7]}"
grep -q "officer:$OFF" <<<"${story[9]}" || e2e_fail "approval not by the officer: ${story[9]}"
# in time order: registered < delegate added < filed < approved, and the
# new owner's sign-in after the approval
pos() { grep -m1 -nF -- "$1" "$WORK/history.txt" | cut -d: -f1; }
p_reg=$(pos "oss.v1.AccountRegistered"); p_add=$(pos "oss.v1.MemberAdded")
p_file=$(pos "oss.v1.HandoverFiled"); p_ok=$(pos "oss.v1.HandoverApproved")
p_new=$(grep -nF "access-$DEL" "$WORK/history.txt" | grep -F oss.v1.SignInSucceeded | tail -1 | cut -d: -f1)
[ "$p_reg" -lt "$p_add" ] && [ "$p_add" -lt "$p_file" ] && [ "$p_file" -lt "$p_ok" ] && [ "$p_ok" -lt "${p_new:-0}" ] \
    || e2e_fail "the history is not in story order ($p_reg $p_add $p_file $p_ok ${p_new:-none})"
grep -q "chain ok" <<<"$hist" || e2e_fail "the history's hash chains do not verify"
for l in "${story[@]}"; do echo "  $l" | cut -c1-220; done
e2e_ok "7. oss audit history account-$ACC tells the story with time, actor and reason on each line"
echo "PASS test_story"
