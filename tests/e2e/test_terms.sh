#!/usr/bin/env bash
# e2e: terms of use as versioned data, over real HTTP against the running
# stack. GET /v1/terms is public and lists every version with the SHA-256
# of its text (checked against infra/data/terms/<version>.txt); a
# registration accepts a published version (TermsAccepted on the account
# stream, right after AccountRegistered) and an unpublished one is 422
# terms_version unknown_version; the owner, signed in (activation OTP read
# from the delivered mail, as a person would), accepts the newer version:
# 201 and a TermsAccepted event whose actor is the owner; again -> 409
# already_accepted; an unpublished version -> 422; no token -> 401; the
# owner of another account -> 404 (not disclosed); nothing written on
# refusals.
source "$(dirname "$0")/lib.sh"
[ -n "${OSS_API_URL_OVERRIDE:-}" ] && OSS_API_URL=$OSS_API_URL_OVERRIDE
MAIL_DIR=${OSS_MAIL_DIR:?OSS_MAIL_DIR missing from run.env}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
touch "$work/start"
sleep 1

req() { # METHOD PATH [BODY] [curl args...]: prints "STATUS BODY"
    local m=$1 p=$2 b=${3:-}
    shift 3 || shift $#
    local args=(-sS -m 30 -o "$work/body" -w '%{http_code}' -X "$m" "$OSS_API_URL$p")
    [ -n "$b" ] && args+=(-H 'Content-Type: application/json' --data-binary "$b")
    curl "${args[@]}" "$@" || echo -n 000
    echo -n " "
    tr -d '\n' <"$work/body"
    echo
}
status() { echo "${1%% *}"; }
jbody() { echo "${1#* }"; }
mail_of() { # EVENT_ID -> the delivered mail's file
    find "$MAIL_DIR" -maxdepth 1 -name '*.eml' -newer "$work/start" -print0 |
        xargs -0 -r grep -lF "Message-ID: <$1@oss.local>" | head -1
}
has_mail() { [ -n "$(mail_of "$1")" ]; }
otp_of() { # MAIL_FILE -> the 6-digit OTP
    /usr/bin/python3 - "$1" <<'PY'
import email, re, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"))
text = "".join(p.get_payload(decode=True).decode("utf-8") for p in msg.walk()
               if p.get_content_type() == "text/plain")
m = re.search(r"Kode OTP Anda: (\d{6})", text)
print(m.group(1) if m else "-")
PY
}
journal_rows() { e2e_psql -c "SELECT count(*) FROM oss.journal WHERE stream_id = 'account-$1'"; }

# ---- 1. GET /v1/terms: public, digests match the shipped texts --------------
r=$(req GET /v1/terms)
[ "$(status "$r")" = 200 ] || e2e_fail "GET /v1/terms: $r"
current=$(jbody "$r" | jq -r .current)
n=0
while read -r v sha; do
    f=$E2E_ROOT/infra/data/terms/$v.txt
    [ -r "$f" ] || e2e_fail "terms version $v has no text at $f"
    [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$sha" ] || e2e_fail "terms $v: sha256 differs from $f"
    n=$((n + 1))
done < <(jbody "$r" | jq -r '.versions[] | "\(.version) \(.sha256)"')
[ "$n" -ge 2 ] || e2e_fail "GET /v1/terms lists $n versions, want at least 2"
[ "$current" = 2026-07 ] || e2e_fail "current terms version is $current"
e2e_ok "GET /v1/terms (public): $n versions, digests match infra/data/terms, current $current"

# ---- 2. registration: a published version is accepted, others refused -------
register() { # TERMS -> prints "STATUS BODY"
    local nik bd
    read -r nik bd < <(e2e_nik)
    req POST /v1/accounts "$(e2e_register_json "$nik" "$bd" "terms.$RANDOM$RANDOM@contoh.co.id" \
        "0812$(printf '%08d' $((RANDOM * RANDOM % 100000000)))" "Uji Syarat Ketentuan" |
        jq -c --arg t "$1" '.terms_version = $t')"
}
r=$(register 1999-01)
[ "$(status "$r")" = 422 ] && [ "$(jbody "$r" | jq -r '.error.fields[] | select(.field == "terms_version") | .reason')" = unknown_version ] ||
    e2e_fail "registration with an unpublished terms version: $r"
r=$(register 2025-06)
[ "$(status "$r")" = 201 ] || e2e_fail "registration: $r"
id=$(jbody "$r" | jq -r .account_id)
types=$(e2e_psql -c "SELECT string_agg(payload_type || '/' || actor_id, ',' ORDER BY version) FROM oss.journal WHERE stream_id = 'account-$id'")
[ "$types" = "oss.v1.AccountRegistered/$id,oss.v1.TermsAccepted/$id" ] || e2e_fail "account stream after registration: $types"
accepted=$(e2e_psql -c "SELECT encode(payload, 'hex') FROM oss.journal WHERE stream_id = 'account-$id' AND version = 2" |
    xxd -r -p | protoc --decode=oss.v1.TermsAccepted -I "$E2E_ROOT/schemas" "$E2E_ROOT/schemas/oss/v1/account.proto")
grep -qx 'version: "2025-06"' <<<"$accepted" || e2e_fail "TermsAccepted does not name 2025-06: $accepted"
grep -q '^sha256: "6bea7112' <<<"$accepted" || e2e_fail "TermsAccepted lacks the text's digest: $accepted"
e2e_ok "unpublished version -> 422 unknown_version; registration writes AccountRegistered + TermsAccepted{2025-06, sha256}"

# a version published for a later date is listed but not in force yet
future="e2e-$(date +%s)-$RANDOM"
psql -X -qtA -v ON_ERROR_STOP=1 "${OSS_PG_ADMIN_URL:?}" -c "INSERT INTO oss.terms_versions VALUES
    ('$future', now() + interval '1 day', 'infra/data/terms/2026-07.txt',
     'a0a141279fdccba4019c54f6b6f4401acf93b98ffa2e7c8b750b8221b532f8a6')" >/dev/null
trap 'psql -X -qtA "$OSS_PG_ADMIN_URL" -c "DELETE FROM oss.terms_versions WHERE version = '"'"'$future'"'"'" >/dev/null; rm -rf "$work"' EXIT
r=$(req GET /v1/terms)
[ "$(jbody "$r" | jq -r --arg v "$future" '.versions[] | select(.version == $v) | .in_force')" = false ] &&
    [ "$(jbody "$r" | jq -r .current)" = 2026-07 ] || e2e_fail "a future version in GET /v1/terms: $r"
sleep 1.1 # the API re-reads the versions on a miss at most once a second
r=$(register "$future")
[ "$(status "$r")" = 422 ] || e2e_fail "registration accepting terms not in force yet: $r"
e2e_ok "a version published for tomorrow is listed (in_force false), not accepted"

# ---- 3. the owner signs in (OTP from the delivered mail) ---------------------
act=$(e2e_psql -c "SELECT event_id FROM oss.journal WHERE stream_id = 'access-$id' AND payload_type = 'oss.v1.ActivationIssued' ORDER BY version DESC LIMIT 1")
e2e_wait 120 has_mail "$act" || e2e_fail "no activation mail for $id (notifier running?)"
otp=$(otp_of "$(mail_of "$act")")
r=$(req POST "/v1/accounts/$id/activate" "{\"otp\":\"$otp\"}")
[ "$(status "$r")" = 200 ] || e2e_fail "activate: $r"
pw="Syarat-$RANDOM$RANDOM-x9!"
r=$(req POST "/v1/accounts/$id/password" "{\"password\":\"$pw\"}")
[ "$(status "$r")" = 204 ] || e2e_fail "password: $r"
r=$(req POST /v1/sessions "{\"account_id\":\"$id\",\"password\":\"$pw\"}")
[ "$(status "$r")" = 201 ] || e2e_fail "sign in: $r"
token=$(jbody "$r" | jq -r .token)
e2e_secret --for "$id" "$otp"; e2e_secret "$pw" "$token"
e2e_ok "owner $id activated with the mailed OTP and signed in"

# ---- 4. POST /v1/accounts/{id}/terms-acceptance ------------------------------
auth=(-H "Authorization: Bearer $token")
before=$(journal_rows "$id")
r=$(req POST "/v1/accounts/$id/terms-acceptance" '{"version":"2026-07"}')
[ "$(status "$r")" = 401 ] || e2e_fail "terms acceptance without a token: $r"
r=$(req POST "/v1/accounts/$id/terms-acceptance" '{"version":"1999-01"}' "${auth[@]}")
[ "$(status "$r")" = 422 ] && [ "$(jbody "$r" | jq -r '.error.fields[0].reason')" = unknown_version ] ||
    e2e_fail "unpublished version: $r"
[ "$(journal_rows "$id")" = "$before" ] || e2e_fail "a refused acceptance wrote an event"
r=$(req POST "/v1/accounts/$id/terms-acceptance" '{"version":"2026-07"}' "${auth[@]}")
[ "$(status "$r")" = 201 ] && [ "$(jbody "$r" | jq -r .terms_version)" = 2026-07 ] || e2e_fail "accept 2026-07: $r"
last=$(e2e_psql -c "SELECT payload_type || '/' || actor_id FROM oss.journal WHERE stream_id = 'account-$id' ORDER BY version DESC LIMIT 1")
[ "$last" = "oss.v1.TermsAccepted/$id" ] || e2e_fail "last event of the account: $last"
before=$(journal_rows "$id")
r=$(req POST "/v1/accounts/$id/terms-acceptance" '{"version":"2026-07"}' "${auth[@]}")
[ "$(status "$r")" = 409 ] && [ "$(jbody "$r" | jq -r .error.code)" = already_accepted ] || e2e_fail "accept twice: $r"
r=$(req POST "/v1/accounts/$id/terms-acceptance" '{"version":"2025-06"}' "${auth[@]}")
[ "$(status "$r")" = 409 ] || e2e_fail "accept the version of the registration again: $r"
[ "$(journal_rows "$id")" = "$before" ] || e2e_fail "a refused acceptance wrote an event"
e2e_ok "owner accepts 2026-07 (201, TermsAccepted by the owner); twice -> 409; unpublished -> 422; no token -> 401"

# another business's owner may not accept for this account (404: hidden)
r=$(register 2025-06)
[ "$(status "$r")" = 201 ] || e2e_fail "second registration: $r"
other=$(jbody "$r" | jq -r .account_id)
r=$(req POST "/v1/accounts/$other/terms-acceptance" '{"version":"2026-07"}' "${auth[@]}")
[ "$(status "$r")" = 404 ] || e2e_fail "owner of $id accepting for $other: $r"
[ "$(journal_rows "$other")" = 2 ] || e2e_fail "the refused acceptance wrote to $other"
e2e_ok "another business's owner -> 404, nothing written"
