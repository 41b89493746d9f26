#!/usr/bin/env bash
# The account lifecycle over real HTTP against the running stack:
# register (activation issued in the same transaction) -> the OTP and link
# read out of the sealed delivery as the notifier would (open_delivery.py,
# with the subject's key; the mail sink once the notifier sends activation
# mail) -> wrong OTP x N -> locked (423) -> resend x K -> 429 with
# Retry-After -> activate by link -> set password (policy, common list) ->
# sign in (Argon2id) -> list sessions -> end sessions -> ended token refused.
# The events on the stream tell that story; none carries a secret, and no
# OTP, link token, password or session token appears in the journal, Kafka,
# the tables or the logs. Assumes the default limits (activation.
# max_attempts 5, activation.resend_max 3 per hour).
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
trap '[ -n "${E2E_KEEP:-}" ] || rm -rf "$work"' EXIT
needles=$work/needles   # fixed strings
digits=$work/digits     # 6-digit OTPs (matched as whole words)
here=$(cd "$(dirname "$0")" && pwd)
MAX_ATTEMPTS=5 RESEND_MAX=3

req() { # METHOD PATH [BODY] [curl args...]: prints "STATUS BODY"
    local m=$1 p=$2 b=${3:-}; shift 3 || shift $#
    local args=(-sS -m 30 -o "$work/body" -D "$work/hdrs" -w '%{http_code}' -X "$m" "$OSS_API_URL$p")
    [ -n "$b" ] && args+=(-H 'Content-Type: application/json' --data-binary "$b")
    curl "${args[@]}" "$@" || echo -n 000
    echo -n " "; tr -d '\n' <"$work/body"; echo
}
status() { echo "${1%% *}"; }
jbody() { echo "${1#* }"; }
latest_delivery() {
    e2e_psql -c "SELECT delivery_id FROM oss.deliveries WHERE stream_id = 'access-$1' AND kind = 'activation' ORDER BY created_at DESC LIMIT 1"
}
open_latest() { # ACCOUNT -> sets OTP and TOKEN
    local d; d=$(latest_delivery "$1")
    [ -n "$d" ] || e2e_fail "no delivery waiting for account $1"
    local plain; plain=$(OSS_PG_URL=$OSS_PG_URL OSS_CONFIG=$OSS_CONFIG /usr/bin/python3 "$here/open_delivery.py" "$d") || e2e_fail "could not open delivery $d"
    OTP=$(jq -r .otp <<<"$plain"); TOKEN=$(jq -r .token <<<"$plain")
    [[ $OTP =~ ^[0-9]{6}$ ]] || e2e_fail "delivery $d holds no 6-digit OTP"
    [ ${#TOKEN} -ge 40 ] || e2e_fail "delivery $d holds no link token"
    echo "$OTP" >>"$digits"; echo "$TOKEN" >>"$needles"
    e2e_secret --for "$1" "$OTP"; e2e_secret "$TOKEN"
}

# 1. register: AccountRegistered (v1 of account-<id>, as before) and, in the
#    same transaction, ActivationIssued on the access stream access-<id>
read -r nik bd < <(e2e_nik)
lc_start=$work/start
touch "$lc_start"
email="lc.$(date +%s%N).$RANDOM@Example.co.id"
echo "${email%@*}@" >>"$needles" # personal data too (local part, any domain case)
r=$(e2e_post /v1/accounts "$(e2e_register_json "$nik" "$bd" "$email" "081298765432" "Lifecycle Tester")")
[ "$(status "$r")" = 201 ] || e2e_fail "registration: $r"
id=$(jbody "$r" | jq -r .account_id); stream="access-$id"
[ "$(jbody "$r" | jq -r .version)" = 2 ] || e2e_fail "registration answered version != 2: $r"
types=$(e2e_psql -c "SELECT string_agg(payload_type, ',' ORDER BY version) FROM oss.journal WHERE stream_id = 'account-$id'")
[ "$types" = "oss.v1.AccountRegistered,oss.v1.TermsAccepted" ] || e2e_fail "after registration the account stream holds: $types"
types=$(e2e_psql -c "SELECT string_agg(payload_type, ',' ORDER BY version) FROM oss.journal WHERE stream_id = '$stream'")
[ "$types" = "oss.v1.ActivationIssued" ] || e2e_fail "after registration the access stream holds: $types"
[ "$(e2e_psql -c "SELECT count(DISTINCT xid) FROM oss.journal WHERE stream_id IN ('account-$id', '$stream')")" = 1 ] \
    || e2e_fail "registration and activation were not one transaction"
open_latest "$id"; first_otp=$OTP
e2e_ok "registration issued an activation; OTP and link opened from the sealed delivery"

# 2. wrong OTP x N -> locked; then even the right one is refused
wrong=$(printf '%06d' $(( (10#$first_otp + 1) % 1000000 )))
for i in $(seq 1 $MAX_ATTEMPTS); do
    r=$(req POST "/v1/accounts/$id/activate" "{\"otp\":\"$wrong\"}")
    if [ "$i" -lt $MAX_ATTEMPTS ]; then
        [ "$(status "$r")" = 422 ] && [ "$(jbody "$r" | jq -r .error.code)" = wrong_code ] || e2e_fail "wrong OTP #$i: $r"
    else
        [ "$(status "$r")" = 423 ] || e2e_fail "wrong OTP #$i did not lock: $r"
    fi
done
r=$(req POST "/v1/accounts/$id/activate" "{\"otp\":\"$first_otp\"}")
[ "$(status "$r")" = 423 ] || e2e_fail "the right OTP was accepted while locked: $r"
[ "$(e2e_psql -c "SELECT count(*) FROM oss.journal WHERE stream_id = '$stream' AND payload_type = 'oss.v1.ActivationLocked'")" = 1 ] \
    || e2e_fail "no single ActivationLocked event"
e2e_ok "$MAX_ATTEMPTS wrong OTPs lock activation (423), with an ActivationLocked event"

# 3. resend: K allowed (the first lifts the lock), then 429 + Retry-After
for i in $(seq 1 $RESEND_MAX); do
    ch=email; [ "$i" = 2 ] && ch=whatsapp
    r=$(req POST "/v1/accounts/$id/activation" "{\"channel\":\"$ch\"}")
    [ "$(status "$r")" = 202 ] || e2e_fail "resend #$i: $r"
done
r=$(req POST "/v1/accounts/$id/activation" '{"channel":"email"}')
[ "$(status "$r")" = 429 ] || e2e_fail "resend #$((RESEND_MAX + 1)) not rate limited: $r"
ra=$(grep -i '^Retry-After:' "$work/hdrs" | tr -dc '0-9')
[ -n "$ra" ] && [ "$ra" -gt 0 ] || e2e_fail "429 without a positive Retry-After"
# at most the newest delivery may still wait for the notifier (it may have
# been handed over already): every superseded undelivered one is gone
[ "$(e2e_psql -c "SELECT count(*) FROM oss.deliveries WHERE stream_id = '$stream' AND delivered_at IS NULL")" -le 1 ] \
    || e2e_fail "superseded deliveries were not removed"
e2e_ok "resend rate limit: $RESEND_MAX resends, then 429 with Retry-After: $ra"

# 4. the first OTP is void now; the newest link activates
open_latest "$id"
r=$(req POST "/v1/accounts/$id/activate" "{\"token\":\"$TOKEN\"}")
[ "$(status "$r")" = 200 ] && [ "$(jbody "$r" | jq -r .status)" = active ] || e2e_fail "activation by link: $r"
r=$(req POST "/v1/accounts/$id/activate" "{\"token\":\"$TOKEN\"}")
[ "$(status "$r")" = 409 ] || e2e_fail "the link worked twice: $r"
[ "$(e2e_psql -c "SELECT count(*) FROM oss.activation_secrets WHERE stream_id = '$stream'") $(e2e_psql -c "SELECT count(*) FROM oss.deliveries WHERE stream_id = '$stream' AND kind = 'activation'")" = "0 0" ] \
    || e2e_fail "activation secrets or deliveries left after activation"
e2e_ok "activated by the single-use link; secrets and deliveries removed"
# the owner is told its login data (issue 10, item 12): one account_activated
# mail naming the username (the account id) and the login e-mail
# (queued sealed in the activation's own transaction; the mail follows
# through the notifier, behind whatever else its partition holds)
[ "$(e2e_psql -c "SELECT count(*) FROM oss.deliveries d JOIN oss.journal j ON j.event_id = d.event_id WHERE d.stream_id = '$stream' AND d.kind = 'account_activated' AND j.payload_type = 'oss.v1.ActivationSucceeded'") $(e2e_psql -c "SELECT count(*) FROM oss.journal WHERE stream_id = '$stream' AND payload_type = 'oss.v1.ActivationSucceeded'")" = "1 1" ] \
    || [ "$(e2e_psql -c "SELECT count(*) FROM oss.journal WHERE stream_id = 'delivery-$id' AND payload_type = 'oss.v1.DeliveryHanded'")" -ge 1 ] \
    || e2e_fail "no account_activated notice queued with ActivationSucceeded"
# (the sink holds every mail of every run: search this run's only)
login_mails() {
    find "$OSS_MAIL_DIR" -maxdepth 1 -name '*.eml' -newer "$lc_start" -print0 |
        { xargs -0 -r grep -l "Username: $id" 2>/dev/null || true; }
}
login_mail() { login_mails | head -1; }
has_login_mail() { [ -n "$(login_mail)" ]; }
e2e_wait 300 has_login_mail || true
m=$(login_mail)
[ -n "$m" ] || e2e_fail "no login-data mail (account_activated) for $id"
grep -qi "Subject: Akun OSS Anda sudah aktif" "$m" && grep -qi "^To: <${email%@*}@example.co.id>" "$m" \
    || e2e_fail "login-data mail: wrong subject or recipient: $(head -8 "$m")"
[ "$(login_mails | wc -l)" = 1 ] \
    || e2e_fail "login-data mail sent more than once"
e2e_ok "after activation the owner gets its login data (username, login e-mail) once"

# 5. password policy, then the first password without a session
pw="Lc-$(head -c 9 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')-7!"
echo "$pw" >>"$needles"; e2e_secret "$pw" "$pw-2" "$pw-wrong"
for bad in 'short1!' 'nodigits-here' 'n0special4u' 'Password1!'; do
    r=$(req POST "/v1/accounts/$id/password" "{\"password\":\"$bad\"}")
    [ "$(status "$r")" = 422 ] || e2e_fail "weak password \"$bad\" accepted: $r"
done
[ "$(jbody "$r" | jq -r '.error.fields[0].reason')" = common ] || e2e_fail "a common password was not refused as common: $r"
r=$(req POST "/v1/accounts/$id/password" "{\"password\":\"$pw\"}")
[ "$(status "$r")" = 204 ] || e2e_fail "set password: $r"
r=$(req POST "/v1/accounts/$id/password" "{\"password\":\"$pw-2\"}")
[ "$(status "$r")" = 401 ] || e2e_fail "a second password without a session: $r"
hash=$(e2e_psql -c "SELECT password_hash FROM oss.credentials WHERE stream_id = '$stream'")
[[ $hash == '$argon2id$'* ]] || e2e_fail "the stored credential is not Argon2id"
e2e_ok "password policy enforced; the first password set (Argon2id)"

# 6. sign in: wrong password 401 (SignInFailed), right one 201 twice
r=$(req POST /v1/sessions "{\"account_id\":\"$id\",\"password\":\"$pw-wrong\"}")
[ "$(status "$r")" = 401 ] || e2e_fail "wrong password: $r"
r=$(req POST /v1/sessions "{\"account_id\":\"$id\",\"password\":\"$pw\"}")
[ "$(status "$r")" = 201 ] || e2e_fail "sign in: $r"
t1=$(jbody "$r" | jq -r .token); s1=$(jbody "$r" | jq -r .session_id)
# the second by e-mail (domain in any case; found by its keyed hash)
r=$(req POST /v1/sessions "{\"email\":\"${email%@*}@EXAMPLE.CO.ID\",\"password\":\"$pw\"}")
[ "$(status "$r")" = 201 ] && [ "$(jbody "$r" | jq -r .account_id)" = "$id" ] || e2e_fail "second sign in, by e-mail: $r"
t2=$(jbody "$r" | jq -r .token); s2=$(jbody "$r" | jq -r .session_id)
printf '%s\n' "$t1" "$t2" >>"$needles"; e2e_secret "$t1" "$t2"
# a password change needs the account's session
pw2="$pw-Baru9"; echo "$pw2" >>"$needles"; e2e_secret "$pw2"
r=$(req POST "/v1/accounts/$id/password" "{\"password\":\"$pw2\"}" -H "Authorization: Bearer $t1")
[ "$(status "$r")" = 204 ] || e2e_fail "password change with a session: $r"
r=$(req POST /v1/sessions "{\"account_id\":\"$id\",\"password\":\"$pw\"}")
[ "$(status "$r")" = 401 ] || e2e_fail "the old password still signs in: $r"
r=$(req POST /v1/sessions "{\"email\":\"nobody.$RANDOM.$(date +%s%N)@example.co.id\",\"password\":\"$pw\"}")
[ "$(status "$r")" = 401 ] || e2e_fail "sign in with an unknown e-mail: $r"
e2e_ok "sign-in by account id and by e-mail: wrong password 401, right 201 with a token; password changed with a session"

# 7. list, end the other session, end our own; ended tokens are refused
r=$(req GET /v1/sessions "" -H "Authorization: Bearer $t1")
[ "$(status "$r")" = 200 ] || e2e_fail "list sessions: $r"
[ "$(jbody "$r" | jq '.sessions | length')" = 2 ] || e2e_fail "expected 2 sessions: $r"
[ "$(jbody "$r" | jq -r ".sessions[] | select(.current) | .session_id")" = "$s1" ] || e2e_fail "current session not marked: $r"
r=$(req DELETE "/v1/sessions/$s2" "" -H "Authorization: Bearer $t1")
[ "$(status "$r")" = 204 ] || e2e_fail "end the other session: $r"
r=$(req GET /v1/sessions "" -H "Authorization: Bearer $t2")
[ "$(status "$r")" = 401 ] || e2e_fail "an ended session's token still works: $r"
r=$(req DELETE "/v1/sessions/$s2" "" -H "Authorization: Bearer $t1")
[ "$(status "$r")" = 404 ] || e2e_fail "ending an ended session: $r"
r=$(req DELETE "/v1/sessions/$s1" "" -H "Authorization: Bearer $t1")
[ "$(status "$r")" = 204 ] || e2e_fail "end own session: $r"
r=$(req GET /v1/sessions "" -H "Authorization: Bearer $t1")
[ "$(status "$r")" = 401 ] || e2e_fail "own ended token still works: $r"
r=$(req GET /v1/sessions "")
[ "$(status "$r")" = 401 ] || e2e_fail "no token: $r"
e2e_ok "sessions listed and ended; ended tokens refused at once"

# 8. repeated failures: the threshold (signin.threshold, default 5; one
#    failure already counted above) appends SignInThrottled once, then this
#    source waits (429 + Retry-After, no password check); afterwards the
#    right password works again
for i in 1 2 3 4; do
    r=$(req POST /v1/sessions "{\"account_id\":\"$id\",\"password\":\"wrong-$i-X!\"}")
    [ "$(status "$r")" = 401 ] || e2e_fail "failed sign-in #$i: $r"
done
r=$(req POST /v1/sessions "{\"account_id\":\"$id\",\"password\":\"$pw2\"}")
[ "$(status "$r")" = 429 ] || e2e_fail "no throttling after the threshold: $r"
ra=$(grep -i '^Retry-After:' "$work/hdrs" | tr -dc '0-9')
[ -n "$ra" ] && [ "$ra" -ge 1 ] && [ "$ra" -le 60 ] || e2e_fail "throttled without a sane Retry-After ($ra)"
sleep "$ra"
r=$(req POST /v1/sessions "{\"account_id\":\"$id\",\"password\":\"$pw2\"}")
[ "$(status "$r")" = 201 ] || e2e_fail "right password after the delay: $r"
t3=$(jbody "$r" | jq -r .token); echo "$t3" >>"$needles"; e2e_secret "$t3"
e2e_ok "sign-in throttled after the threshold (SignInThrottled, 429 Retry-After $ra), then allowed"

# 9. the story on the stream, and a sound hash chain
types=$(e2e_psql -c "SELECT string_agg(replace(payload_type, 'oss.v1.', ''), ',' ORDER BY version) FROM oss.journal WHERE stream_id = '$stream'")
want="ActivationIssued$(printf ',ActivationFailed%.0s' $(seq 1 $MAX_ATTEMPTS)),ActivationLocked"
for i in $(seq 1 $RESEND_MAX); do want+=",ActivationResent,ActivationIssued"; done
want+=",ActivationSucceeded,PasswordSet,SignInFailed,SignInSucceeded,SignInSucceeded,PasswordSet,SignInFailed"
want+=",SessionEnded,SessionEnded,SignInFailed,SignInFailed,SignInFailed,SignInFailed,SignInThrottled,SignInSucceeded"
[ "$types" = "$want" ] || e2e_fail "stream story differs:
 got  $types
 want $want"
"$OSS_CLI" audit verify "$stream" >"$work/verify" 2>&1 || { cat "$work/verify"; e2e_fail "hash chain of $stream does not verify"; }
e2e_ok "the stream tells the story ($(tr ',' '\n' <<<"$types" | wc -l) events), chain verifies"

# 10. secrets sweep: journal, Kafka, tables, logs
e2e_wait 30 bash -c "[ \$(psql -X -qtA '$OSS_PG_URL' -c \"SELECT coalesce(max(version),0) FROM rm.applied_streams WHERE stream_id = '$stream'\") -ge $(tr ',' '\n' <<<"$types" | wc -l) ]" \
    || echo "note: projector has not applied the whole stream yet" >&2
for t in $(kcat -b "$OSS_KAFKA_BOOTSTRAP" -L -J 2>/dev/null | jq -r '.topics[].topic' | grep -v '^__'); do
    kcat -b "$OSS_KAFKA_BOOTSTRAP" -C -t "$t" -o beginning -e -q -f '%k %h %s\n' >>"$work/kafka.dump" 2>/dev/null || true
done
e2e_psql_super -c "COPY (SELECT * FROM oss.journal WHERE stream_id = '$stream') TO STDOUT" >"$work/journal.dump"
e2e_psql_super -c "COPY (SELECT convert_from(payload, 'SQL_ASCII') FROM oss.journal WHERE stream_id = '$stream') TO STDOUT" >>"$work/journal.dump" 2>/dev/null || true
for t in $(e2e_psql_super -c "SELECT schemaname||'.'||tablename FROM pg_tables WHERE schemaname IN ('rm','oss')"); do
    e2e_psql_super -c "COPY $t TO STDOUT" >>"$work/tables.dump"
done
# A 6-digit OTP collides by chance with numbers in a big shared database
# (hex, offsets): it is looked for in what concerns this account only (its
# journal rows, its Kafka messages, the lifecycle tables, its read-model
# rows) and in the logs; long secrets are looked for everywhere.
touch "$work/kafka.dump"
for i in $(seq 1 20); do # the relay may lag: look at the topic's tail again
    grep -aF -- "$stream" "$work/kafka.dump" >"$work/kafka.mine" && break
    sleep 1
    kcat -b "$OSS_KAFKA_BOOTSTRAP" -C -t oss.account -o -5000 -e -q -f '%k %h %s\n' >>"$work/kafka.dump" 2>/dev/null || true
done
[ -s "$work/kafka.mine" ] || e2e_fail "the relay never published the access stream to Kafka"
grep -aqF -- "$stream" "$work/journal.dump" || e2e_fail "the journal dump lacks the stream"
for t in oss.credentials oss.activation_secrets oss.sessions oss.deliveries; do
    e2e_psql_super -c "COPY $t TO STDOUT" >>"$work/tables.mine"
done
e2e_psql_super -c "COPY (SELECT * FROM rm.accounts WHERE stream_id = '$stream') TO STDOUT" >>"$work/tables.mine"
logs=("$OSS_VAR"/log/*.log "$OSS_PG_LOG" ${E2E_EXTRA_LOGS:-})
hits=0 n=0
sweep() { # MODE NEEDLE-FILE; MODE -F: fixed string; otp: 6 digits standing
          # alone (not the microseconds of a timestamp, "...:07.123456")
    while IFS= read -r needle; do
        [ -n "$needle" ] || continue
        n=$((n + 1))
        local flags=(-F -- "$needle")
        local files=("$work/kafka.dump" "$work/journal.dump" "$work/tables.dump" "${logs[@]}")
        if [ "$1" = otp ]; then
            flags=(-P -- "(?<![0-9a-fA-F.x])$needle(?![0-9a-fA-F])")
            files=("$work/kafka.mine" "$work/journal.dump" "$work/tables.mine" "${logs[@]}")
        fi
        for f in "${files[@]}"; do
            [ -r "$f" ] || continue
            if grep -aq "${flags[@]}" "$f"; then
                echo "secret #$n found in $(basename "$f")" >&2; hits=$((hits + 1))
            fi
        done
    done <"$2"
}
sweep -F "$needles"
sweep otp "$digits"
[ $hits -eq 0 ] || e2e_fail "$hits secret hits"
e2e_ok "no OTP, link token, password or session token in journal, Kafka, tables or logs ($n needles)"
