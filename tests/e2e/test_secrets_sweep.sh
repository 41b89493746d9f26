#!/usr/bin/env bash
# No plaintext personal data (NIK, name, e-mail, phone) of the test data in a
# dump of the Kafka topics, in the journal, in the read models, or in any log
# file (ours and PostgreSQL's); and no key material in them either. Also a
# subject that used every secret (OTP, link, password, session token, reset
# link) and was then shredded: none of it, and none of its personal data,
# anywhere; its streams' hash chains still verify.
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
needles=$work/needles
rand_name() { (LC_ALL=C tr -dc 'a-z' </dev/urandom 2>/dev/null || true) | head -c 8; }
ids=()
for i in 1 2 3; do
    read -r nik bd < <(e2e_nik)
    local_part="sweep$(rand_name)"
    name="Sweep $(rand_name | sed 's/./\U&/')"
    national="8$((RANDOM % 90 + 10))$((RANDOM % 9000 + 1000))$((RANDOM % 9000 + 1000))"
    r=$(e2e_post /v1/accounts "$(e2e_register_json "$nik" "$bd" "$local_part@example.co.id" "0$national" "$name")")
    [ "${r%% *}" = 201 ] || e2e_fail "registration $i: $r"
    ids+=("$(echo "${r#* }" | jq -r .account_id)")
    printf '%s\n' "$nik" "$name" "$local_part" "+62$national" "0$national" >>"$needles"
done
for id in "${ids[@]}"; do
    e2e_wait 60 e2e_rm_status "$id" || e2e_fail "account $id not projected"
done

# A subject that used every secret and was then shredded (D, issue 4 item
# 7): activation OTP + link token, password, session token, a password-reset
# link and the new password; then `oss subject erase`. After the shredding
# its NIK, name, e-mail and phone have zero hits too, and its streams'
# hash chains still verify.
OSS=${OSS_CLI:?OSS_CLI missing from run.env}
here=$(cd "$(dirname "$0")" && pwd)
digits=$work/digits
touch "$work/start"
mail_text() {
    /usr/bin/python3 - "$1" <<'PY'
import email, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"))
print("".join(p.get_payload(decode=True).decode("utf-8") for p in msg.walk()
              if p.get_content_type() == "text/plain"))
PY
}
mail_with() { # ADDRESS TEXT: the newest mail since the start holding both
    find "$OSS_VAR/mail" -maxdepth 1 -name '*.eml' -newer "$work/start" -print0 \
        | xargs -0 -r grep -lF -- "$1" 2>/dev/null | xargs -r grep -lF -- "$2" 2>/dev/null | sort | tail -1 || true
}
sreq() { # METHOD PATH BODY [curl args]: "STATUS BODY"
    local m=$1 p=$2 b=$3; shift 3
    curl -sS -m 30 -o "$work/sbody" -w '%{http_code}' -X "$m" "$OSS_API_URL$p" \
        -H 'Content-Type: application/json' --data-binary "$b" "$@" || echo -n 000
    echo -n " "; tr -d '\n' <"$work/sbody"; echo
}
read -r snik sbd < <(e2e_nik)
slocal="shred$(rand_name)"; semail="$slocal@example.co.id"
sname="Hapus $(rand_name | sed 's/./\U&/')"
snational="8$((RANDOM % 90 + 10))$((RANDOM % 9000 + 1000))$((RANDOM % 9000 + 1000))"
r=$(e2e_post /v1/accounts "$(e2e_register_json "$snik" "$sbd" "$semail" "0$snational" "$sname")")
[ "${r%% *}" = 201 ] || e2e_fail "registration of the subject to shred: $r"
sid_acc=$(echo "${r#* }" | jq -r .account_id)
printf '%s\n' "$snik" "$sname" "$slocal" "+62$snational" "0$snational" >>"$needles"
d=$(e2e_psql -c "SELECT delivery_id FROM oss.deliveries WHERE stream_id = 'access-$sid_acc' AND kind = 'activation' ORDER BY created_at DESC LIMIT 1")
plain=$(OSS_PG_URL=$OSS_PG_URL OSS_CONFIG=$OSS_CONFIG /usr/bin/python3 "$here/open_delivery.py" "$d") || e2e_fail "could not open the activation delivery"
sotp=$(jq -r .otp <<<"$plain"); stoken=$(jq -r .token <<<"$plain")
echo "$sotp" >>"$digits"; echo "$stoken" >>"$needles"
r=$(sreq POST "/v1/accounts/$sid_acc/activate" "{\"otp\":\"$sotp\"}"); [ "${r%% *}" = 200 ] || e2e_fail "activate: $r"
spw="Sw-$(rand_name)-7a!"; echo "$spw" >>"$needles"
r=$(sreq POST "/v1/accounts/$sid_acc/password" "{\"password\":\"$spw\"}"); [ "${r%% *}" = 204 ] || e2e_fail "password: $r"
r=$(sreq POST /v1/sessions "{\"account_id\":\"$sid_acc\",\"password\":\"$spw\"}"); [ "${r%% *}" = 201 ] || e2e_fail "sign in: $r"
echo "${r#* }" | jq -r .token >>"$needles"
r=$(sreq POST /v1/password-resets "{\"email\":\"$semail\"}"); [ "${r%% *}" = 202 ] || e2e_fail "password reset: $r"
has_mail_with() { [ -n "$(mail_with "$1" "$2")" ]; }
e2e_wait 300 has_mail_with "$semail" "Atur ulang kata sandi" || e2e_fail "no password-reset mail reached $semail"
rtoken=$(mail_text "$(mail_with "$semail" "Atur ulang kata sandi")" | grep -oE '[?&]token=[A-Za-z0-9_-]+' | head -1 | cut -d= -f2)
[ ${#rtoken} -ge 40 ] || e2e_fail "no reset link in the reset mail"
echo "$rtoken" >>"$needles"
spw2="Sw-$(rand_name)-8b!"; echo "$spw2" >>"$needles"
r=$(sreq POST /v1/password-resets/confirm "$(jq -cn --arg t "$rtoken" --arg p "$spw2" '{token:$t, password:$p}')")
[ "${r%% *}" = 200 ] || e2e_fail "reset confirm: $r"
"$OSS" subject erase --account "$sid_acc" --reason "secrets sweep: shredded subject" >"$work/erase" 2>&1 || { cat "$work/erase"; e2e_fail "oss subject erase"; }
ssubj=$(awk '/erased/ {print $2; exit}' "$work/erase")
for s in "account-$sid_acc" "access-$sid_acc" "subject-$ssubj"; do
    "$OSS" audit verify "$s" >/dev/null 2>&1 || e2e_fail "audit verify $s after shredding"
done
# what the relay publishes after the erasure is in the dump below
e2e_wait 60 bash -c "kcat -b '$OSS_KAFKA_BOOTSTRAP' -C -t oss.account -o -2000 -e -q -f '%k\n' 2>/dev/null | grep -q 'subject-$ssubj'" \
    || e2e_fail "SubjectErased never reached Kafka"
e2e_ok "subject $ssubj used OTP, link, password, session, reset link; shredded; its chains verify"

# key material must not leak either
for k in master index bus; do head -n1 "$OSS_VAR/keys/$k.key" >>"$needles"; done

# Kafka: every topic, every partition, keys, headers and values.
for t in $(kcat -b "$OSS_KAFKA_BOOTSTRAP" -L -J 2>/dev/null | jq -r '.topics[].topic' | grep -v '^__'); do
    kcat -b "$OSS_KAFKA_BOOTSTRAP" -C -t "$t" -o beginning -e -q -f '%k %h %s\n' >>"$work/kafka.dump" 2>/dev/null || true
done
[ -s "$work/kafka.dump" ] || e2e_fail "the Kafka dump is empty: nothing was published"
# Journal and read models, payload bytes raw.
e2e_psql_super -c "COPY (SELECT * FROM oss.journal) TO STDOUT" >"$work/journal.dump"
e2e_psql_super -c "COPY (SELECT convert_from(payload, 'SQL_ASCII') FROM oss.journal) TO STDOUT" >>"$work/journal.dump" 2>/dev/null || true
for t in $(e2e_psql_super -c "SELECT schemaname||'.'||tablename FROM pg_tables WHERE schemaname IN ('rm','oss')"); do
    e2e_psql_super -c "COPY $t TO STDOUT" >>"$work/tables.dump"
done
hits=0
# one pass per file for all needles (the dumps are large); an empty
# pattern would match everything
grep -v '^$' "$needles" >"$work/needles.set"
for f in "$work/kafka.dump" "$work/journal.dump" "$work/tables.dump" "$OSS_VAR"/log/*.log "$OSS_PG_LOG"; do
    [ -r "$f" ] || continue
    while IFS= read -r found; do
        [ -n "$found" ] || continue
        echo "plaintext found in $(basename "$f") (needle #$(grep -nxF -- "$found" "$needles" | head -1 | cut -d: -f1))" >&2
        hits=$((hits + 1))
    done < <({ grep -aoF -f "$work/needles.set" -- "$f" || true; } | sort -u)
done
# 6-digit OTPs collide by chance with numbers in a big shared dump: looked
# for standing alone in the shredded subject's own rows and in the logs
grep -aF -- "$sid_acc" "$work/kafka.dump" >"$work/kafka.mine" || true
e2e_psql_super -c "COPY (SELECT * FROM oss.journal WHERE stream_id IN ('account-$sid_acc', 'access-$sid_acc')) TO STDOUT" >"$work/journal.mine"
while IFS= read -r otp; do
    for f in "$work/kafka.mine" "$work/journal.mine" "$OSS_VAR"/log/*.log "$OSS_PG_LOG"; do
        [ -r "$f" ] || continue
        if grep -aqP -- "(?<![0-9a-fA-F.x:-])$otp(?![0-9a-fA-F])" "$f"; then
            echo "OTP found in $(basename "$f")" >&2
            hits=$((hits + 1))
        fi
    done
done <"$digits"
[ $hits -eq 0 ] || e2e_fail "$hits plaintext hits"
e2e_ok "no plaintext NIK, name, e-mail, phone (a shredded subject's too), password, OTP, token, reset link or key in Kafka, journal, tables or logs ($(wc -l <"$needles") needles)"
