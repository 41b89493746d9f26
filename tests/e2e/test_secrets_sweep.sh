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
e2e_secret --for "$sid_acc" "$sotp"; e2e_secret "$stoken"
r=$(sreq POST "/v1/accounts/$sid_acc/activate" "{\"otp\":\"$sotp\"}"); [ "${r%% *}" = 200 ] || e2e_fail "activate: $r"
spw="Sw-$(rand_name)-7a!"; e2e_secret "$spw"
r=$(sreq POST "/v1/accounts/$sid_acc/password" "{\"password\":\"$spw\"}"); [ "${r%% *}" = 204 ] || e2e_fail "password: $r"
r=$(sreq POST /v1/sessions "{\"account_id\":\"$sid_acc\",\"password\":\"$spw\"}"); [ "${r%% *}" = 201 ] || e2e_fail "sign in: $r"
e2e_secret "$(echo "${r#* }" | jq -r .token)"
r=$(sreq POST /v1/password-resets "{\"email\":\"$semail\"}"); [ "${r%% *}" = 202 ] || e2e_fail "password reset: $r"
has_mail_with() { [ -n "$(mail_with "$1" "$2")" ]; }
e2e_wait 300 has_mail_with "$semail" "Atur ulang kata sandi" || e2e_fail "no password-reset mail reached $semail"
rtoken=$(mail_text "$(mail_with "$semail" "Atur ulang kata sandi")" | grep -oE '[?&]token=[A-Za-z0-9_-]+' | head -1 | cut -d= -f2)
[ ${#rtoken} -ge 40 ] || e2e_fail "no reset link in the reset mail"
e2e_secret "$rtoken"
spw2="Sw-$(rand_name)-8b!"; e2e_secret "$spw2"
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

# ---- the sweep ------------------------------------------------------------
# Needles: every secret any e2e test of this run (and, on a dev stack, of
# earlier runs) registered with e2e_secret (lib.sh), plus this test's own
# personal data and key material. Long needles are looked for as fixed
# strings everywhere, in one grep -F -f pass per source; a 6-digit OTP only
# standing alone beside its principal (the rows of its streams, the Kafka
# messages and log lines naming it, log lines saying "otp"). A hit prints
# the source, what the needle is and who registered it, and the needle's
# first characters only.
export LC_ALL=C
reg=$E2E_SECRETS
[ -s "$reg" ] || e2e_fail "the secrets registry $reg is empty"
[ "$(stat -c %a "$reg")" = 600 ] || e2e_fail "the secrets registry $reg is not 0600"
long=$work/long.tsv        # LABEL<TAB>NEEDLE
six='^[0-9][0-9][0-9][0-9][0-9][0-9]$' # (mawk has no {6})
awk -F'\t' -v six="$six" 'NF >= 3 && $3 !~ six && length($3) >= 8 { print "secret registered by " $1 "\t" $3 }' "$reg" >"$long"
grep -v '^$' "$needles" | sed 's/^/personal datum or key (test_secrets_sweep.sh)\t/' >>"$long"
cut -f2- "$long" | sort -u >"$work/long.pat"
otps=$work/otp.tsv         # PRINCIPAL<TAB>OTP<TAB>TEST
awk -F'\t' -v six="$six" 'NF >= 3 && $3 ~ six && $2 != "" { print $2 "\t" $3 "\t" $1 }' "$reg" | sort -u >"$otps"
cut -f2 "$otps" | sort -u >"$work/otp.set"
{ cut -f1 "$otps"; printf '%s\n' otp OTP Otp; } | sort -u >"$work/otp.ctx"
# the principals' streams, for the journal (ids checked: they go into SQL)
cut -f1 "$otps" | sort -u | { grep -E '^[0-9a-f-]{36}$' || true; } \
    | awk '{ printf "%s%s", (NR > 1 ? "," : ""), "access-" $1 ",account-" $1 ",delivery-" $1 }' >"$work/otp.streams"
nlong=$(wc -l <"$work/long.pat"); notp=$(wc -l <"$work/otp.set")
hits=$work/hits
: >"$hits"
# long_hits SOURCE: the long needles in stdin, one line per needle found
long_hits() {
    { grep -aoF -f "$work/long.pat" || true; } | sort | uniq -c | sed -E 's/^ *([0-9]+) /\1\t/' \
    | while IFS=$'\t' read -r n v; do
        printf '%s hit(s) in %s: %s "%s..." (%d chars)\n' "$n" "$1" \
            "$(awk -F'\t' -v v="$v" '$2 == v { print $1; exit }' "$long")" "${v:0:4}" "${#v}" >>"$hits"
    done
}
# otp_hits SOURCE [any]: registered OTPs standing alone in stdin (lines
# already narrowed to those naming an OTP's principal or saying "otp"): an
# OTP counts on a line that names its own principal or says "otp"; with
# "any" (rows of the principals' own streams) wherever it stands alone
otp_hits() {
    /usr/bin/python3 -c '
import re, sys
pairs = {}
for l in open(sys.argv[1]):
    ctx, otp, _ = l.rstrip("\n").split("\t")
    pairs.setdefault(otp, set()).add(ctx.encode())
num = re.compile(rb"(?<![0-9a-fA-F.x:+-])([0-9]{6})(?![0-9a-fA-F])")
kw = re.compile(rb"otp", re.I)
found = set()
for line in sys.stdin.buffer:
    for m in num.finditer(line):
        o = m.group(1).decode()
        if o in pairs and (sys.argv[2] == "any" or kw.search(line)
                           or any(c in line for c in pairs[o])):
            found.add(o)
print("\n".join(sorted(found)))
' "$otps" "${2:-lines}" | { grep -v '^$' || true; } | while read -r v; do
        printf 'OTP in %s: registered by %s for principal %s ("%s...")\n' "$1" \
            "$(awk -F'\t' -v v="$v" '$2 == v { print $3; exit }' "$otps")" \
            "$(awk -F'\t' -v v="$v" '$2 == v { print $1; exit }' "$otps")" "${v:0:2}" >>"$hits"
    done
}
t0=$SECONDS

# 1. the journal: every row, every column, payload bytes raw (binary COPY)
e2e_psql_super -c "COPY (SELECT * FROM oss.journal) TO STDOUT (FORMAT binary)" | long_hits "oss.journal"
[ "${PIPESTATUS[0]}" = 0 ] || e2e_fail "could not dump oss.journal"
if [ -s "$work/otp.streams" ]; then
    psql -X -qtA -v ON_ERROR_STOP=1 "$OSS_PG_SUPER_URL" -v s="$(cat "$work/otp.streams")" \
        <<<"COPY (SELECT * FROM oss.journal WHERE stream_id = ANY (string_to_array(:'s', ','))) TO STDOUT (FORMAT binary)" \
        | otp_hits "oss.journal (the OTP principals' streams)" any
fi
t_journal=$((SECONDS - t0))

# 2. every other table of every schema (read models rm.*, oss.*, ...):
#    binary for the long needles, text rows naming a principal for OTPs
ntables=0
for t in $(e2e_psql_super -c "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND NOT (schemaname = 'oss' AND tablename = 'journal') ORDER BY 1"); do
    e2e_psql_super -c "COPY $t TO STDOUT (FORMAT binary)" | long_hits "table $t"
    e2e_psql_super -c "COPY $t TO STDOUT" | { grep -aF -f "$work/otp.ctx" || true; } | otp_hits "table $t"
    ntables=$((ntables + 1))
done
[ $ntables -gt 10 ] || e2e_fail "only $ntables tables dumped"
t_tables=$((SECONDS - t0))

# 3. Kafka: every topic, every partition, keys, headers and values
ntopics=0 kbytes=0
for t in $(kcat -b "$OSS_KAFKA_BOOTSTRAP" -L -J 2>/dev/null | jq -r '.topics[].topic' | grep -v '^__'); do
    kcat -b "$OSS_KAFKA_BOOTSTRAP" -C -t "$t" -o beginning -e -q -f '%k %h %s\n' >"$work/topic.dump" 2>/dev/null || true
    kbytes=$((kbytes + $(stat -c %s "$work/topic.dump")))
    long_hits "Kafka topic $t" <"$work/topic.dump"
    { grep -aF -f "$work/otp.ctx" "$work/topic.dump" || true; } | otp_hits "Kafka topic $t"
    ntopics=$((ntopics + 1))
done
rm -f "$work/topic.dump"
[ $kbytes -gt 0 ] || e2e_fail "the Kafka dump is empty: nothing was published"
t_kafka=$((SECONDS - t0))

# 4. every log file: ours (var/log) and PostgreSQL's
[ -r "$OSS_PG_LOG" ] || e2e_fail "cannot read PostgreSQL's log $OSS_PG_LOG"
nlogs=0
for f in "$OSS_VAR"/log/* "$(dirname "$OSS_PG_LOG")"/*; do
    [ -f "$f" ] || continue
    long_hits "log $f" <"$f"
    { grep -aF -f "$work/otp.ctx" "$f" || true; } | otp_hits "log $f"
    nlogs=$((nlogs + 1))
done
t_logs=$((SECONDS - t0))

if [ -s "$hits" ]; then
    { grep '^OTP' "$hits" | head -20; grep -v '^OTP' "$hits" | sort -t' ' -k1,1nr | head -30; } >&2
    e2e_fail "$(wc -l <"$hits") needles found ($(awk '{ n += $1 } END { print n + 0 }' "$hits") hits) in the journal, tables, Kafka or logs"
fi
e2e_ok "swept $nlong long needles ($(grep -c '^secret' "$long") registered secrets from $(cut -f1 "$reg" | sort -u | wc -l) tests) and $notp OTPs: zero hits in oss.journal (${t_journal}s), $ntables tables ($((t_tables - t_journal))s), $ntopics Kafka topics, $((kbytes / 1048576)) MiB ($((t_kafka - t_tables))s), $nlogs log files ($((t_logs - t_kafka))s)"
