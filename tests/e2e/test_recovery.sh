#!/usr/bin/env bash
# Account recovery over real HTTP against the running stack, reading every
# code and link out of the delivered mail (the SMTP sink) as a person would:
#  1. an owner registers, activates from the mailed OTP, sets a password and
#     signs in twice (two sessions);
#  2. forgot password: 202 for an unknown address and for the owner's (the
#     same answer); PasswordResetRequested on access-<id> (actor anonymous,
#     reason forgot_password), the token kept only as a keyed hash;
#  3. the reset link read out of the mail; a weak password refused; the new
#     one set: PasswordResetCompleted + PasswordSet + SessionEnded x2 in ONE
#     transaction; both old sessions refused at once (401), the old password
#     refused, the new one signs in; the same link again: 410 (single use);
#  4. forgot account: has_nib + NIK -> the masked username, e-mail
#     (o***@example.co.id) and phone (+62812****432); 422 on bad input;
#     per-NIK rate limit: 429 with Retry-After after 5 lookups;
#  5. help request: wrong NIK 404; filed (202, the new e-mail sealed in
#     HelpRequestFiled); the business owner may not decide (403); an
#     operator (oss principal create) lists and approves it with a reason:
#     HelpRequestDecided + ContactReplaced with the operator as actor and
#     the reason; sign-in by the new e-mail works, by the old one not; the
#     help_decided mail reaches the new address; deciding again is 409;
#  6. no reset token, password or new e-mail in the journal or the logs.
# Expiry of reset links is tested with the core's clock
# (tests/unit/test_core_recovery.c), never by sleeping here.
source "$(dirname "$0")/lib.sh"
MAIL_DIR=${OSS_MAIL_DIR:?OSS_MAIL_DIR missing from run.env}
LOG_DIR=${OSS_LOG_DIR:?OSS_LOG_DIR missing from run.env}
WORK=$(mktemp -d /tmp/test_recovery.XXXXXX)
trap '[ -n "${E2E_KEEP:-}" ] || rm -rf "$WORK"' EXIT
needles=$WORK/needles
: >"$needles"
declare -A LOG_FROM
for f in "$LOG_DIR"/*.log; do
    LOG_FROM[$f]=$(( $(wc -l <"$f") + 1 ))
done
touch "$WORK/start"
sleep 1

# ---- helpers ------------------------------------------------------------
# ax METHOD PATH [BODY] [TOKEN]: prints "STATUS BODY"; headers in $WORK/hdrs
ax() {
    local m=$1 p=$2 b=${3:-} t=${4:-}
    local args=(-sS -m 60 -o "$WORK/body" -D "$WORK/hdrs" -w '%{http_code}' -X "$m" "$OSS_API_URL$p")
    [ -n "$b" ] && args+=(-H 'Content-Type: application/json' --data-binary "$b")
    [ -n "$t" ] && args+=(-H "Authorization: Bearer $t")
    curl "${args[@]}" || echo -n 000
    echo -n " "; tr -d '\n' <"$WORK/body"; echo
}
st() { echo "${1%% *}"; }
jb() { echo "${1#* }"; }
expect() { [ "$(st "$2")" = "$1" ] || e2e_fail "$3: expected $1, got $2"; }
mails_holding() {
    find "$MAIL_DIR" -maxdepth 1 -name '*.eml' -newer "$WORK/start" -print0 \
        | xargs -0 -r grep -liF -- "$1" 2>/dev/null || true
}
mail_arrived() { [ -n "$(mails_holding "$1")" ]; }
# the text/plain parts of a mail, decoded as a mail client would
mail_text() {
    /usr/bin/python3 - "$1" <<'PY'
import email, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"))
print("".join(p.get_payload(decode=True).decode("utf-8") for p in msg.walk()
              if p.get_content_type() == "text/plain"))
PY
}
# the newest mail (file names sort by time) to address $1 holding $2
mail_to() {
    local f best=""
    for f in $(mails_holding "$1"); do
        grep -qF -- "$2" "$f" || continue
        if [ -z "$best" ] || [[ $(basename "$f") > $(basename "$best") ]]; then best=$f; fi
    done
    echo "$best"
}
has_mail_to() { [ -n "$(mail_to "$1" "$2")" ]; }
here=$(cd "$(dirname "$0")" && pwd)
otp_of() { # PRINCIPAL: its activation OTP, from the sealed delivery the
    # notifier reads (open_delivery.py; the notifier may lag behind other
    # tests), else out of the activation mail
    local d ev f otp
    d=$(e2e_psql -c "SELECT delivery_id FROM oss.deliveries WHERE stream_id = 'access-$1' AND kind = 'activation' ORDER BY created_at DESC LIMIT 1")
    if [ -n "$d" ] && otp=$(OSS_PG_URL=$OSS_PG_URL OSS_CONFIG=$OSS_CONFIG /usr/bin/python3 "$here/open_delivery.py" "$d" 2>/dev/null | jq -r .otp) \
        && [[ $otp =~ ^[0-9]{6}$ ]]; then
        e2e_secret --for "$1" "$otp"
        echo "$otp"; return
    fi
    ev=$(e2e_psql -c "SELECT event_id FROM oss.journal WHERE stream_id = 'access-$1' AND payload_type = 'oss.v1.ActivationIssued' ORDER BY version DESC LIMIT 1")
    [ -n "$ev" ] || e2e_fail "no activation issued for $1"
    e2e_wait 240 mail_arrived "Message-ID: <$ev@oss.local>" || e2e_fail "no activation mail for $1 (event $ev)"
    f=$(mails_holding "Message-ID: <$ev@oss.local>" | head -1)
    otp=$(mail_text "$f" | sed -n 's/.*Kode OTP Anda: \([0-9]\{6\}\).*/\1/p' | head -1)
    [[ $otp =~ ^[0-9]{6}$ ]] || e2e_fail "no OTP in the activation mail $f"
    e2e_secret --for "$1" "$otp"
    echo "$otp"
}
sign_in() { # ID PASSWORD -> token
    local r
    r=$(ax POST /v1/sessions "$(jq -cn --arg id "$1" --arg p "$2" '{principal_id:$id, password:$p}')")
    expect 201 "$r" "sign-in of $1"
    e2e_secret "$2" "$(jb "$r" | jq -r .token)"
    jb "$r" | jq -r .token
}
onboard() { # KIND ID PASSWORD -> token
    local otp r
    otp=$(otp_of "$2")
    r=$(ax POST "/v1/$1/$2/activate" "{\"otp\":\"$otp\"}")
    expect 200 "$r" "activation of $2"
    r=$(ax POST "/v1/$1/$2/password" "$(jq -cn --arg p "$3" '{password:$p}')")
    expect 204 "$r" "password of $2"
    sign_in "$2" "$3"
}
newpw() { # a new password, registered for the secrets sweep
    local p; p="Rc-$(head -c 9 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')-$1!"
    e2e_secret "$p"; echo "$p"
}
types_of() { # STREAM FROM_VERSION: payload types after a version, comma-separated
    e2e_psql -c "SELECT string_agg(payload_type, ',' ORDER BY version) FROM oss.journal WHERE stream_id = '$1' AND version > $2"
}
version_of() { e2e_psql -c "SELECT coalesce(max(version), 0) FROM oss.journal WHERE stream_id = '$1'"; }

tag=$RANDOM$RANDOM
# ---- 1. an owner with two sessions -----------------------------------------
read -r nik bd < <(e2e_nik)
email="rcv.$tag@example.co.id"
printf '%s\n' "$nik" "rcv.$tag@" >>"$needles"
r=$(e2e_post /v1/accounts "$(e2e_register_json "$nik" "$bd" "$email" "081298765432" "Pemulihan Uji")")
expect 201 "$r" "registration"
id=$(jb "$r" | jq -r .account_id); access="access-$id"
pw1=$(newpw 1); echo "$pw1" >>"$needles"
tok1=$(onboard accounts "$id" "$pw1")
tok2=$(sign_in "$id" "$pw1")
echo "$tok1" >>"$needles"; echo "$tok2" >>"$needles"
r=$(ax GET /v1/sessions "" "$tok1"); expect 200 "$r" "sessions"
[ "$(jb "$r" | jq '.sessions | length')" = 2 ] || e2e_fail "expected 2 open sessions: $r"
e2e_ok "owner $id activated with its OTP and holds two sessions"

# ---- 2. forgot password: the same answer whatever the address ------------
v0=$(version_of "$access")
r=$(ax POST /v1/password-resets "{\"email\":\"nobody.$tag@example.co.id\"}")
expect 202 "$r" "reset for an unknown address"
unknown_body=$(jb "$r")
r=$(ax POST /v1/password-resets '{"email":"x","principal_id":"y"}')
expect 422 "$r" "reset with both email and principal_id"
r=$(ax POST /v1/password-resets "{\"email\":\"rcv.$tag@EXAMPLE.CO.ID\"}")
expect 202 "$r" "reset for the owner"
[ "$(jb "$r")" = "$unknown_body" ] || e2e_fail "the answer differs for a known address: $(jb "$r") vs $unknown_body"
[ "$(types_of "$access" "$v0")" = "oss.v1.PasswordResetRequested" ] || e2e_fail "after the request $access holds: $(types_of "$access" "$v0")"
[ "$(e2e_psql -c "SELECT actor_id || ' ' || reason FROM oss.journal WHERE stream_id = '$access' AND payload_type = 'oss.v1.PasswordResetRequested' ORDER BY version DESC LIMIT 1")" = "anonymous forgot_password" ] \
    || e2e_fail "PasswordResetRequested does not say who and why"
[ "$(e2e_psql -c "SELECT count(*) FROM oss.reset_secrets WHERE stream_id = '$access' AND length(token_hmac) = 32")" = 1 ] \
    || e2e_fail "no single keyed hash in oss.reset_secrets"
e2e_ok "forgot password: 202 with the same body for an unknown and a known address; PasswordResetRequested (anonymous, forgot_password)"

# ---- 3. the link out of the mail; every session ends; single use ---------
e2e_wait 240 has_mail_to "$email" "Atur ulang kata sandi" || e2e_fail "no password-reset mail reached $email"
f=$(mail_to "$email" "Atur ulang kata sandi")
text=$(mail_text "$f")
token=$(grep -oE '[?&]token=[A-Za-z0-9_-]+' <<<"$text" | head -1 | cut -d= -f2)
[ ${#token} -ge 40 ] || e2e_fail "no reset link in the mail $f"
grep -q "Once the password is changed, every open session is ended" <<<"$text" || e2e_fail "the reset mail has no English part"
echo "$token" >>"$needles"; e2e_secret "$token"
r=$(ax POST /v1/password-resets/confirm "$(jq -cn --arg t "$token" '{token:$t, password:"password"}')")
expect 422 "$r" "a weak new password"
pw2=$(newpw 2); echo "$pw2" >>"$needles"; e2e_secret "$pw2"
v1=$(version_of "$access")
r=$(ax POST /v1/password-resets/confirm "$(jq -cn --arg t "$token" --arg p "$pw2" '{token:$t, password:$p}')")
expect 200 "$r" "reset confirm"
[ "$(jb "$r" | jq -r .sessions_ended)" = 2 ] || e2e_fail "not every session ended: $r"
[ "$(types_of "$access" "$v1")" = "oss.v1.PasswordResetCompleted,oss.v1.PasswordSet,oss.v1.SessionEnded,oss.v1.SessionEnded" ] \
    || e2e_fail "after the reset $access holds: $(types_of "$access" "$v1")"
[ "$(e2e_psql -c "SELECT count(DISTINCT xid) || ' ' || count(*) FILTER (WHERE reason = 'password_reset' AND actor_id = '$id') FROM oss.journal WHERE stream_id = '$access' AND version > $v1")" = "1 4" ] \
    || e2e_fail "the reset events are not one transaction with actor and reason"
[ "$(e2e_psql -c "SELECT count(*) FROM oss.sessions WHERE stream_id = '$access' AND revoked_at IS NULL")" = 0 ] \
    || e2e_fail "session rows left open"
for t in "$tok1" "$tok2"; do
    r=$(ax GET /v1/sessions "" "$t"); expect 401 "$r" "an old session after the reset"
done
r=$(ax POST /v1/sessions "$(jq -cn --arg id "$id" --arg p "$pw1" '{principal_id:$id, password:$p}')")
expect 401 "$r" "the old password"
tok3=$(sign_in "$id" "$pw2"); echo "$tok3" >>"$needles"
r=$(ax POST /v1/password-resets/confirm "$(jq -cn --arg t "$token" --arg p "$(newpw 3)" '{token:$t, password:$p}')")
expect 410 "$r" "the same link twice"
[ "$(e2e_psql -c "SELECT count(*) FROM oss.reset_secrets WHERE stream_id = '$access'")" = 0 ] || e2e_fail "the used link's hash was kept"
r=$(ax POST /v1/password-resets/confirm "$(jq -cn --arg p "$(newpw 4)" '{token:"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", password:$p}')")
expect 410 "$r" "an unknown token"
e2e_ok "reset link read from the mail: new password set, both sessions ended at once (401), old password refused, link single-use (410)"

# ---- 3b. reset asked by phone or username, on the chosen channel ----------
# (issue 10, item 13): by phone with the link on WhatsApp, by username
# (the account id) on e-mail; a channel that is not offered is 422. A second
# owner (each principal may ask for recovery.reset_max links an hour)
read -r nik_b bd_b < <(e2e_nik)
email_b="rcvb.$tag@example.co.id"
printf '%s\n' "$nik_b" "rcvb.$tag@" >>"$needles"
# a phone of this run's own (the recovery rate limit is also per phone)
phone_b="0813$(printf '%08d' $((RANDOM * RANDOM % 100000000)))"
e164_b="+62${phone_b#0}"
r=$(e2e_post /v1/accounts "$(e2e_register_json "$nik_b" "$bd_b" "$email_b" "$phone_b" "Pemulihan Dua")")
expect 201 "$r" "second registration"
id_b=$(jb "$r" | jq -r .account_id); access_b="access-$id_b"
pw_b=$(newpw 5); echo "$pw_b" >>"$needles"
tok_b=$(onboard accounts "$id_b" "$pw_b"); echo "$tok_b" >>"$needles"
WA_DIR=${OSS_WHATSAPP_DIR:-$E2E_ROOT/var/whatsapp}
wa_links() { # (find, not a glob: the sink keeps every run's messages)
    find "$WA_DIR" -maxdepth 1 -name '*.json' -print0 2>/dev/null |
        { xargs -0 -r grep -lF "\"to\":\"$e164_b\"" 2>/dev/null || true; } |
        { xargs -r grep -l 'token=' 2>/dev/null || true; } | wc -l
}
wa_before=$(wa_links)
r=$(ax POST /v1/password-resets "$(jq -cn --arg p "$phone_b" '{phone:$p, channel:"fax"}')")
expect 422 "$r" "reset on an unknown channel"
v2=$(version_of "$access_b")
r=$(ax POST /v1/password-resets "$(jq -cn --arg p "$phone_b" '{phone:$p, channel:"whatsapp"}')")
expect 202 "$r" "reset by phone on WhatsApp"
[ "$(types_of "$access_b" "$v2")" = "oss.v1.PasswordResetRequested" ] || e2e_fail "reset by phone: $access_b holds $(types_of "$access_b" "$v2")"
wa_more() { [ "$(wa_links)" -gt "$wa_before" ]; }
e2e_wait 120 wa_more || e2e_fail "no WhatsApp message with a reset link to the registered phone"
mails_before=$(mails_holding "Atur ulang kata sandi" | wc -l)
r=$(ax POST /v1/password-resets "$(jq -cn --arg id "$id_b" '{principal_id:$id, channel:"email"}')")
expect 202 "$r" "reset by username on e-mail"
mail_more() { [ "$(mails_holding "Atur ulang kata sandi" | wc -l)" -gt "$mails_before" ]; }
e2e_wait 120 mail_more || e2e_fail "no second reset mail after the request by username"
e2e_ok "reset asked by phone (link on WhatsApp) and by username (link by e-mail); an unknown channel 422"

# ---- 4. forgot account: masked contact; per-NIK rate limit ---------------
r=$(ax POST /v1/account-recovery "$(jq -cn --arg n "$nik" '{has_nib:false, nik:$n}')")
expect 200 "$r" "forgot account"
acc=$(jb "$r" | jq -c '.accounts[0]')
want_user="${id:0:4}****${id: -4}"
[ "$(jq -r .username <<<"$acc")" = "$want_user" ] || e2e_fail "masked username: $acc (want $want_user)"
[ "$(jq -r .email <<<"$acc")" = "r***@example.co.id" ] || e2e_fail "masked e-mail: $acc"
[ "$(jq -r .phone <<<"$acc")" = "+62812****432" ] || e2e_fail "masked phone: $acc"
[ "$(jb "$r" | jq -r .has_nib)" = false ] || e2e_fail "has_nib not echoed: $r"
grep -qF "$nik" <<<"$r" && e2e_fail "the NIK was echoed"
r=$(ax POST /v1/account-recovery "$(jq -cn --arg n "$nik" '{nik:$n}')")
expect 422 "$r" "forgot account without has_nib"
r=$(ax POST /v1/account-recovery '{"has_nib":"yes","nik":"3171010101900001"}')
expect 422 "$r" "has_nib not a boolean"
r=$(ax POST /v1/account-recovery '{"has_nib":true,"nik":"12345"}')
expect 422 "$r" "a malformed NIK"
[ "$(jb "$r" | jq -r '.error.fields[0].field')" = nik ] || e2e_fail "the 422 does not name nik: $r"
read -r other _ < <(e2e_nik)
for i in 1 2 3 4 5; do
    r=$(ax POST /v1/account-recovery "$(jq -cn --arg n "$other" '{has_nib:true, nik:$n}')")
    expect 200 "$r" "lookup #$i of an unregistered NIK"
done
[ "$(jb "$r" | jq '.accounts | length')" = 0 ] || e2e_fail "an unregistered NIK matched: $r"
r=$(ax POST /v1/account-recovery "$(jq -cn --arg n "$other" '{has_nib:true, nik:$n}')")
expect 429 "$r" "lookup #6 of the same NIK"
ra=$(grep -i '^Retry-After:' "$WORK/hdrs" | tr -dc '0-9')
[ -n "$ra" ] && [ "$ra" -gt 0 ] || e2e_fail "429 without a positive Retry-After"
e2e_ok "forgot account: $(jq -c . <<<"$acc"); 422 on bad input; 429 (Retry-After $ra) after 5 lookups of one NIK"

# a business whose identity is its NPWP (actor 01): the responsible
# person's NIK still finds it (the registration writes a keyed 'nik'
# look-up row beside the 'business' claim of the NPWP)
read -r bnik bbd < <(e2e_nik)
npwp="09$(printf '%07d%07d' $((RANDOM * RANDOM % 10000000)) $((RANDOM * RANDOM % 10000000)))"
bemail="rcv.npwp.$tag@example.co.id"
r=$(ax POST /v1/accounts "$(jq -cn --arg nik "$bnik" --arg bd "$bbd" --arg email "$bemail" --arg npwp "$npwp" \
    '{scale:"UMK", actor_type:"01", nik:$nik, npwp:$npwp, name:"Badan Pemulihan", birth_date:$bd,
      email:$email, phone:"081298765433", country:"ID", terms_version:"2025-06"}')")
expect 201 "$r" "registration of an NPWP business"
bid=$(jb "$r" | jq -r .account_id)
[ "$(e2e_psql -c "SELECT count(*) FROM oss.identity_claims WHERE stream_id = 'account-$bid' AND kind = 'business'")/$(e2e_psql -c "SELECT count(*) FROM oss.account_lookup WHERE stream_id = 'account-$bid' AND kind = 'nik'")" = "1/1" ] \
    || e2e_fail "account-$bid: no business claim or no NIK look-up row"
r=$(ax POST /v1/account-recovery "$(jq -cn --arg n "$bnik" '{has_nib:true, nik:$n}')")
expect 200 "$r" "forgot account of an NPWP business"
[ "$(jb "$r" | jq -r '.accounts[0].username + " " + .accounts[0].email')" = "${bid:0:4}****${bid: -4} r***@example.co.id" ] \
    || e2e_fail "forgot account by NIK did not find the NPWP business $bid: $r"
e2e_ok "forgot account finds an NPWP business (actor 01) by its responsible person's NIK"

# ---- 5. help request decided by an operator ------------------------------
new_email="rcv.new.$tag@example.co.id"
echo "rcv.new.$tag@" >>"$needles"
read -r wrong _ < <(e2e_nik)
r=$(ax POST /v1/help-requests "$(jq -cn --arg a "$id" --arg n "$wrong" --arg e "$new_email" '{account_id:$a, nik:$n, new_email:$e, evidence_ref:"SURAT-01/2026"}')")
expect 404 "$r" "a help request with another NIK"
r=$(ax POST /v1/help-requests "$(jq -cn --arg a "$id" --arg n "$nik" --arg e "$new_email" '{account_id:$a, nik:$n, new_email:$e}')")
expect 422 "$r" "a help request without evidence"
va=$(version_of "account-$id")
r=$(ax POST /v1/help-requests "$(jq -cn --arg a "$id" --arg n "$nik" --arg e "$new_email" '{account_id:$a, nik:$n, new_email:$e, evidence_ref:"SURAT-01/2026"}')")
expect 202 "$r" "help request"
rid=$(jb "$r" | jq -r .request_id)
[ "$(types_of "account-$id" "$va")" = "oss.v1.HelpRequestFiled" ] || e2e_fail "account-$id holds: $(types_of "account-$id" "$va")"
r=$(ax POST "/v1/help-requests/$rid/decision" '{"decision":"approve","reason":"mine"}' "$tok3")
expect 403 "$r" "the business owner deciding its own help request"
r=$(ax POST "/v1/help-requests/$rid/decision" '{"decision":"approve","reason":"x"}')
expect 401 "$r" "a decision without a session"
read -r onik _ < <(e2e_nik)
op=$("$OSS_CLI" principal create --role operator --institution oss --nik "$onik" \
     --name "Operator Uji" --email "op.$tag@example.go.id" --phone 081311112222 2>"$WORK/cli.err") \
    || e2e_fail "oss principal create: $(cat "$WORK/cli.err")"
[[ $op =~ ^[0-9a-f-]{36}$ ]] || e2e_fail "oss principal create printed \"$op\""
opw=$(newpw 5); echo "$opw" >>"$needles"
optok=$(onboard principals "$op" "$opw"); echo "$optok" >>"$needles"
r=$(ax GET /v1/help-requests "" "$optok"); expect 200 "$r" "operator lists help requests"
jb "$r" | jq -e --arg r "$rid" '.help_requests | map(.request_id) | index($r) != null' >/dev/null || e2e_fail "the request is not listed: $r"
r=$(ax POST "/v1/help-requests/$rid/decision" '{"decision":"approve"}' "$optok")
expect 422 "$r" "a decision without a reason"
r=$(ax POST "/v1/help-requests/$rid/decision" '{"decision":"approve","reason":"KTP and letter SURAT-01/2026 checked"}' "$optok")
expect 200 "$r" "operator approves"
[ "$(types_of "account-$id" "$va")" = "oss.v1.HelpRequestFiled,oss.v1.HelpRequestDecided,oss.v1.ContactReplaced" ] \
    || e2e_fail "account-$id holds: $(types_of "account-$id" "$va")"
[ "$(e2e_psql -c "SELECT string_agg(actor_kind || ' ' || actor_id || ' ' || reason, '|' ORDER BY version) FROM oss.journal WHERE stream_id = 'account-$id' AND version > $((va + 1))")" \
  = "4 $op KTP and letter SURAT-01/2026 checked|4 $op KTP and letter SURAT-01/2026 checked" ] \
    || e2e_fail "the decision events do not carry the operator and the reason"
r=$(ax POST "/v1/help-requests/$rid/decision" '{"decision":"reject","reason":"again"}' "$optok")
expect 409 "$r" "deciding twice"
r=$(ax POST /v1/sessions "$(jq -cn --arg e "$new_email" --arg p "$pw2" '{email:$e, password:$p}')")
expect 201 "$r" "sign-in by the new e-mail"
echo "$(jb "$r" | jq -r .token)" >>"$needles"; e2e_secret "$(jb "$r" | jq -r .token)"
r=$(ax POST /v1/sessions "$(jq -cn --arg e "$email" --arg p "$pw2" '{email:$e, password:$p}')")
expect 401 "$r" "sign-in by the replaced e-mail"
e2e_wait 240 has_mail_to "$new_email" "permohonan bantuan" || e2e_fail "no help_decided mail reached the new address"
r=$(ax POST /v1/account-recovery "$(jq -cn --arg n "$nik" '{has_nib:false, nik:$n}')")
expect 200 "$r" "forgot account after the replacement"
[ "$(jb "$r" | jq -r '.accounts[0].email')" = "r***@example.co.id" ] || e2e_fail "masked new e-mail: $r"
# a rejected request replaces nothing
other_email="rcv.other.$tag@example.co.id"
echo "rcv.other.$tag@" >>"$needles"
r=$(ax POST /v1/help-requests "$(jq -cn --arg a "$id" --arg n "$nik" --arg e "$other_email" '{account_id:$a, nik:$n, new_email:$e, evidence_ref:"SURAT-02/2026"}')")
expect 202 "$r" "second help request"
rid2=$(jb "$r" | jq -r .request_id); vb=$(version_of "account-$id")
r=$(ax POST "/v1/help-requests/$rid2/decision" '{"decision":"reject","reason":"the letter is not signed"}' "$optok")
expect 200 "$r" "operator rejects"
[ "$(jb "$r" | jq -r .status)" = rejected ] || e2e_fail "rejection answered $r"
[ "$(types_of "account-$id" "$vb")" = "oss.v1.HelpRequestDecided" ] || e2e_fail "a rejection wrote: $(types_of "account-$id" "$vb")"
r=$(ax POST /v1/sessions "$(jq -cn --arg e "$other_email" --arg p "$pw2" '{email:$e, password:$p}')")
expect 401 "$r" "sign-in by a rejected e-mail"
# the next reset link goes to the new address
r=$(ax POST /v1/password-resets "{\"principal_id\":\"$id\"}")
expect 202 "$r" "reset after the replacement"
e2e_wait 240 has_mail_to "$new_email" "Atur ulang kata sandi" || e2e_fail "the reset link did not go to the new address"
e2e_ok "help request $rid: filed, refused to the owner (403), approved by operator $op with a reason; sign-in and mail use the new e-mail; $rid2 rejected, nothing replaced"

# ---- 6. no secret or plaintext in the journal or the logs ----------------
e2e_psql_super -c "COPY (SELECT * FROM oss.journal WHERE stream_id IN ('account-$id', '$access')) TO STDOUT" >"$WORK/journal.dump"
e2e_psql_super -c "COPY (SELECT convert_from(payload, 'SQL_ASCII') FROM oss.journal WHERE stream_id IN ('account-$id', '$access')) TO STDOUT" >>"$WORK/journal.dump" 2>/dev/null || true
e2e_psql_super -c "COPY (SELECT * FROM oss.reset_secrets) TO STDOUT" >"$WORK/tables.dump"
e2e_psql_super -c "COPY (SELECT * FROM oss.help_requests) TO STDOUT" >>"$WORK/tables.dump"
hits=0
while IFS= read -r needle; do
    [ -n "$needle" ] || continue
    for f in "$WORK/journal.dump" "$WORK/tables.dump" "${!LOG_FROM[@]}"; do
        from=${LOG_FROM[$f]:-1}
        if tail -n +"$from" "$f" | grep -aqiF -- "$needle"; then
            echo "found in $(basename "$f"): needle #$(grep -nxF -- "$needle" "$needles" | cut -d: -f1)" >&2
            hits=$((hits + 1))
        fi
    done
done <"$needles"
[ $hits -eq 0 ] || e2e_fail "$hits secret or plaintext hits"
e2e_ok "no reset token, password, session token, NIK or e-mail in the journal, the recovery tables or the logs ($(wc -l <"$needles") needles)"
