# Helpers for the access-rights e2e tests (test_access.sh, test_story.sh):
# HTTP with a bearer token, the activation OTP read out of the delivered
# mail as a person would, and a person taken from registration (or
# creation) to a signed-in session. Sourced after lib.sh; needs $WORK.
MAIL_DIR=${OSS_MAIL_DIR:?OSS_MAIL_DIR missing from run.env}
API=${P2_API_URL:-$OSS_API_URL}

# ax METHOD PATH [BODY] [TOKEN]: prints "STATUS BODY"; headers in $WORK/hdrs
ax() {
    local m=$1 p=$2 b=${3:-} t=${4:-}
    local args=(-sS -m 30 -o "$WORK/body" -D "$WORK/hdrs" -w '%{http_code}' -X "$m" "$API$p")
    [ -n "$b" ] && args+=(-H 'Content-Type: application/json' --data-binary "$b")
    [ -n "$t" ] && args+=(-H "Authorization: Bearer $t")
    curl "${args[@]}" || echo -n 000
    echo -n " "; tr -d '\n' <"$WORK/body"; echo
}
st() { echo "${1%% *}"; }
jb() { echo "${1#* }"; }
# expect WANT RESPONSE WHAT: fails unless the status is WANT
expect() { [ "$(st "$2")" = "$1" ] || e2e_fail "$3: expected $1, got $2"; }

# mails newer than $WORK/start whose text holds the fixed string $1
mails_holding() {
    find "$MAIL_DIR" -maxdepth 1 -name '*.eml' -newer "$WORK/start" -print0 \
        | xargs -0 -r grep -lF -- "$1" 2>/dev/null || true
}
mail_arrived() { [ -n "$(mails_holding "$1")" ]; }
# mails newer than $WORK/start whose DECODED text holds $1 (bodies are
# quoted-printable: a long line may be split in the raw file)
mails_saying() {
    find "$MAIL_DIR" -maxdepth 1 -name '*.eml' -newer "$WORK/start" -print0 \
        | /usr/bin/python3 -c '
import email, sys
needle = sys.argv[1]
for path in sys.stdin.buffer.read().split(b"\0"):
    if not path:
        continue
    try:
        msg = email.message_from_binary_file(open(path, "rb"))
        text = "".join(p.get_payload(decode=True).decode("utf-8", "replace")
                       for p in msg.walk() if p.get_content_type() == "text/plain")
    except OSError:
        continue
    if needle in text:
        print(path.decode())
' "$1"
}
mail_says() { [ -n "$(mails_saying "$1")" ]; }

# The text of a mail, decoded as a mail client would (quoted-printable,
# base64), text/plain parts only.
mail_text() {
    /usr/bin/python3 - "$1" <<'PY'
import email, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"))
print("".join(p.get_payload(decode=True).decode("utf-8") for p in msg.walk()
              if p.get_content_type() == "text/plain"))
PY
}

# otp_of PRINCIPAL: the OTP of the newest activation mail of principal
# (stream access-<principal>), read from the mail sink.
otp_of() {
    local ev f otp
    ev=$(e2e_psql -c "SELECT event_id FROM oss.journal WHERE stream_id = 'access-$1' AND payload_type = 'oss.v1.ActivationIssued' ORDER BY version DESC LIMIT 1")
    [ -n "$ev" ] || e2e_fail "no activation issued for $1"
    e2e_wait 120 mail_arrived "Message-ID: <$ev@oss.local>" || e2e_fail "no activation mail for $1 (event $ev)"
    f=$(mails_holding "Message-ID: <$ev@oss.local>" | sed -n 1p)
    otp=$(mail_text "$f" | sed -n 's/.*Kode OTP Anda: \([0-9]\{6\}\).*/\1/p' | sed -n 1p)
    [[ $otp =~ ^[0-9]{6}$ ]] || e2e_fail "no OTP in the activation mail $f"
    e2e_secret --for "$1" "$otp"
    echo "$otp"
}

# activate_and_sign_in KIND ID PASSWORD: activates (OTP from the mail), sets
# the password and signs in; KIND is accounts or principals. Prints the
# session token.
activate_and_sign_in() {
    local kind=$1 id=$2 pw=$3 otp r
    e2e_secret "$pw"
    otp=$(otp_of "$id")
    r=$(ax POST "/v1/$kind/$id/activate" "{\"otp\":\"$otp\"}")
    expect 200 "$r" "activation of $id"
    r=$(ax POST "/v1/$kind/$id/password" "$(jq -cn --arg p "$pw" '{password:$p}')")
    expect 204 "$r" "password of $id"
    sign_in "$id" "$pw"
}

# sign_in ID PASSWORD: prints the session token (both registered with
# e2e_secret for the secrets sweep)
sign_in() {
    local r tok
    e2e_secret "$2"
    r=$(ax POST /v1/sessions "$(jq -cn --arg id "$1" --arg p "$2" '{principal_id:$id, password:$p}')")
    expect 201 "$r" "sign-in of $1"
    tok=$(jb "$r" | jq -r .token)
    e2e_secret "$tok"
    echo "$tok"
}

# person_json PREFIX NAME EMAIL: the person fields of a new principal
person_json() {
    local nik bd
    read -r nik bd < <(e2e_nik)
    jq -cn --arg p "$1" --arg nik "$nik" --arg bd "$bd" --arg name "$2" --arg email "$3" \
        '{($p+"nik"):$nik, ($p+"name"):$name, ($p+"birth_date"):$bd,
          ($p+"email"):$email, ($p+"phone"):"081234567890"}'
}

# new_owner NAME: registers an account, activates it from the mail, sets a
# password and signs in. Sets OWNER_ID, OWNER_PW, OWNER_TOKEN.
new_owner() {
    local nik bd r
    read -r nik bd < <(e2e_nik)
    OWNER_PW="Own-$(head -c 9 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')-7!"
    r=$(e2e_post /v1/accounts "$(e2e_register_json "$nik" "$bd" "own.$RANDOM$RANDOM@example.co.id" "081298765432" "$1")")
    expect 201 "$r" "registration"
    OWNER_ID=$(jb "$r" | jq -r .account_id)
    OWNER_TOKEN=$(activate_and_sign_in accounts "$OWNER_ID" "$OWNER_PW")
}

# gov_principal ROLE INSTITUTION NAME: bootstraps a government principal
# with the CLI, activates it from the mail, sets a password and signs in.
# Prints "PRINCIPAL_ID TOKEN".
gov_principal() {
    local nik bd out pid pw tok
    read -r nik bd < <(e2e_nik)
    pw="Gov-$(head -c 9 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')-7!"
    out=$("$OSS_CLI" principal create --role "$1" --institution "$2" --nik "$nik" \
          --name "$3" --email "gov.$RANDOM$RANDOM@example.go.id" --phone 081311112222 2>&1) \
        || e2e_fail "oss principal create: $out"
    pid=$(grep -oE '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' <<<"$out" | sed -n 1p)
    [ -n "$pid" ] || e2e_fail "oss principal create printed no principal id: $out"
    tok=$(activate_and_sign_in principals "$pid" "$pw")
    echo "$pid $tok"
}
