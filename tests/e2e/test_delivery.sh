#!/usr/bin/env bash
# e2e: delivery outcome events and the activation message, against the
# running stack (API, relay, notifier, SMTP sink).
#  1. a registration -> the registration mail and the activation mail are
#     each handed to the SMTP sink once; the delivery stream
#     delivery-<account_id> shows DeliveryQueued and DeliveryHanded with
#     reply code 250 (decoded from the payload, and in `oss audit history`);
#     the OTP read out of the delivered mail (as a person would) activates
#     the account; the sealed row in oss.deliveries is marked delivered;
#  2. the SMTP sink stopped: a registration -> DeliveryFailed +
#     DeliveryRetrying events with growing delays; `oss delivery failed`
#     lists the account as retrying; the sink back -> exactly one activation
#     mail, DeliveryHanded, and the listing shows it handed;
#  3. WhatsApp: a resend on the whatsapp channel reaches the HTTP sink
#     (infra/smtp/http_sink.py; started here when nothing listens at
#     notifier.whatsapp_url) once, with DeliveryHanded 202;
#  4. no address, phone or secret (OTP, link token) in any delivery event,
#     the notifier's and sinks' logs, or the oss.delivery topic.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MAIL_DIR=${OSS_MAIL_DIR:?OSS_MAIL_DIR missing from run.env}
LOG_DIR=${OSS_LOG_DIR:?OSS_LOG_DIR missing from run.env}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SCHEMAS=$ROOT/schemas
WORK=$(mktemp -d /tmp/test_delivery.XXXXXX)
SINK_PID=""
cleanup() {
    "$ROOT/infra/run" svc start smtp >/dev/null 2>&1 || true
    [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---- helpers ------------------------------------------------------------
# mails whose Message-ID is <$1@oss.local> (the sink holds many files: find)
mails_with() { find "$MAIL_DIR" -maxdepth 1 -name '*.eml' -newer "$WORK/start" -print0 | xargs -0 -r grep -lF "Message-ID: <$1@oss.local>" | wc -l; }
mails_at_least() { [ "$(mails_with "$1")" -ge "$2" ]; }
# the payload types of stream $1 caused by event $2, one per line
outcomes() { e2e_psql -c "SELECT payload_type FROM oss.journal WHERE stream_id = '$1' AND causation_id = '$2' ORDER BY version"; }
has_outcome() { outcomes "$1" "$2" | grep -qx "oss.v1.$3"; }
count_outcome() { outcomes "$1" "$2" | grep -cx "oss.v1.$3" || true; }
# decodes the payload of the last $3 event of stream $1 caused by $2
decode_last() {
    e2e_psql -c "SELECT encode(payload, 'hex') FROM oss.journal WHERE stream_id = '$1' AND causation_id = '$2' AND payload_type = 'oss.v1.$3' ORDER BY version DESC LIMIT 1" \
        | xxd -r -p | protoc --decode="oss.v1.$3" -I "$SCHEMAS" "$SCHEMAS/oss/v1/delivery.proto"
}
# the latest ActivationIssued of account $1 (on its access stream
# "access-<id>", or on "account-<id>" for older builds)
activation_of() { e2e_psql -c "SELECT event_id FROM oss.journal WHERE stream_id IN ('account-$1', 'access-$1') AND payload_type = 'oss.v1.ActivationIssued' ORDER BY position DESC LIMIT 1"; }
event_of() { e2e_psql -c "SELECT event_id FROM oss.journal WHERE stream_id = '$1' AND payload_type = 'oss.v1.$2' ORDER BY version DESC LIMIT 1"; }
# OTP / link token out of a delivered mail, decoded like a mail client would
read_mail() {
    /usr/bin/python3 - "$1" <<'PY'
import email, re, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"))
text = "".join(p.get_payload(decode=True).decode("utf-8") for p in msg.walk()
               if p.get_content_type() == "text/plain")
otp = re.search(r"Kode OTP Anda: (\d{6})", text)
tok = re.search(r"[?&]token=([A-Za-z0-9_-]+)", text)
print(otp.group(1) if otp else "-", tok.group(1) if tok else "-",
      "en" if "Your OTP code:" in text else "-")
PY
}
register() { # EMAIL PHONE NAME -> prints the account id
    local nik birth resp
    read -r nik birth < <(e2e_nik)
    resp=$(e2e_post /v1/accounts "$(e2e_register_json "$nik" "$birth" "$1" "$2" "$3")")
    [ "${resp%% *}" = 201 ] || e2e_fail "registration answered ${resp}"
    jq -r .account_id <<<"${resp#* }"
}
touch "$WORK/start"
# the logs are swept from here on (older lines cannot hold this run's secrets)
declare -A LOG_FROM
for f in notifier smtp whatsapp; do
    LOG_FROM[$f]=$(( $(wc -l <"$LOG_DIR/$f.log" 2>/dev/null || echo 0) + 1 ))
done
sleep 1
tag=$RANDOM$RANDOM
SECRETS=()

# ---- 1. a registration: two mails, outcome events, a working OTP ---------
email1="dlv.$tag@example.co.id"
phone1="+62857$(printf '%08d' $((RANDOM * RANDOM % 100000000)))"
acc1=$(register "$email1" "$phone1" "Delivery Uji $(tr 0-9 a-j <<<"$tag")")
s1=account-$acc1; d1=delivery-$acc1
reg1=$(event_of "$s1" AccountRegistered)
act1=$(activation_of "$acc1")
[ -n "$reg1" ] || e2e_fail "no AccountRegistered in $s1"
[ -n "$act1" ] || e2e_fail "no ActivationIssued for $acc1 (the API issues one at registration)"
e2e_ok "registered $s1 (registration $reg1, activation $act1)"

e2e_wait 150 has_outcome "$d1" "$reg1" DeliveryHanded || e2e_fail "no DeliveryHanded for the registration mail on $d1: $(outcomes "$d1" "$reg1" | tr '\n' ' ')"
e2e_wait 150 has_outcome "$d1" "$act1" DeliveryHanded || e2e_fail "no DeliveryHanded for the activation mail on $d1: $(outcomes "$d1" "$act1" | tr '\n' ' ')"
for ev in "$reg1" "$act1"; do
    [ "$(outcomes "$d1" "$ev" | head -1)" = oss.v1.DeliveryQueued ] || e2e_fail "the first outcome of $ev is not DeliveryQueued"
    decoded=$(decode_last "$d1" "$ev" DeliveryHanded)
    grep -qx 'reply_code: 250' <<<"$decoded" || e2e_fail "DeliveryHanded of $ev lacks reply code 250: $decoded"
    grep -q '^reply_text: "250 ' <<<"$decoded" || e2e_fail "DeliveryHanded of $ev lacks the server's reply text: $decoded"
    grep -qx 'channel: "email"' <<<"$decoded" || e2e_fail "DeliveryHanded of $ev: channel is not email"
done
hist=$("$OSS_CLI" audit history "$d1")
grep -q "oss.v1.DeliveryHanded  by system_job:notifier" <<<"$hist" || e2e_fail "audit history of $d1 does not show DeliveryHanded by the notifier"
grep -q "causation=$act1 reason=\"activation mail handed to the mail server (attempt 1): 250 " <<<"$hist" \
    || e2e_fail "audit history of $d1 does not say the activation mail was handed over with 250"
grep -q "chain ok" <<<"$hist" || e2e_fail "the hash chain of $d1 does not verify"
e2e_ok "$d1: DeliveryQueued, DeliveryHanded{reply_code 250} for both mails; audit history shows them"

e2e_wait 10 mails_at_least "$act1" 1 || e2e_fail "no activation mail with Message-ID <$act1@oss.local>"
sleep 1
[ "$(mails_with "$act1")" -eq 1 ] || e2e_fail "$(mails_with "$act1") activation mails"
[ "$(mails_with "$reg1")" -eq 1 ] || e2e_fail "$(mails_with "$reg1") registration mails"
f1=$(find "$MAIL_DIR" -maxdepth 1 -name '*.eml' -newer "$WORK/start" -print0 | xargs -0 grep -lF "Message-ID: <$act1@oss.local>" || true)
read -r otp1 token1 en1 < <(read_mail "$f1")
[[ "$otp1" =~ ^[0-9]{6}$ ]] || e2e_fail "no OTP in the activation mail $f1"
[ "$token1" != - ] || e2e_fail "no link token in the activation mail $f1"
[ "$en1" = en ] || e2e_fail "the activation mail has no English part"
grep -q "^Subject: Kode aktivasi akun OSS" "$f1" || e2e_fail "the activation mail's subject is not Indonesian first"
SECRETS+=("$otp1" "$token1")
e2e_secret --for "$acc1" "$otp1"; e2e_secret "$token1"
[ "$(e2e_psql -c "SELECT count(*) FROM oss.deliveries WHERE event_id = '$act1' AND delivered_at IS NULL")" = 0 ] \
    || e2e_fail "the sealed row of $act1 is not marked delivered"
resp=$(e2e_post "/v1/accounts/$acc1/activate" "$(jq -cn --arg otp "$otp1" '{otp:$otp}')")
case ${resp%% *} in 200|201|204) ;; *) e2e_fail "the delivered OTP did not activate the account: $resp" ;; esac
e2e_ok "one activation mail (Indonesian + English), its OTP activates the account, the sealed row is marked delivered"

# ---- 2. the mail server down: failures, retries, one mail once back ------
# The notifier delivers in order: a message queued before ours would be the
# one failing (and holding ours back). Start when it has nothing pending.
idle() { [ "$(e2e_psql -c "SELECT count(*) FROM oss.journal j WHERE j.payload_type IN ('oss.v1.AccountRegistered', 'oss.v1.ActivationIssued') AND j.recorded_at > now() - interval '5 min' AND j.software_version <> 'oss-test-gen' AND j.stream_id LIKE 'account-%' AND NOT EXISTS (SELECT 1 FROM oss.notifications x WHERE x.event_id = j.event_id AND x.status <> 'sending')")" = 0 ]; }
e2e_wait 120 idle || echo "warning: the notifier still has messages pending; ours may wait behind them"
"$ROOT/infra/run" svc stop smtp >/dev/null
email2="dlv2.$tag@example.co.id"
phone2="+62858$(printf '%08d' $((RANDOM * RANDOM % 100000000)))"
acc2=$(register "$email2" "$phone2" "Delivery Dua $(tr 0-9 a-j <<<"$tag")")
s2=account-$acc2; d2=delivery-$acc2
reg2=$(event_of "$s2" AccountRegistered)
act2=$(activation_of "$acc2")
# whichever of the two mails the notifier takes first (they sit on different
# streams, so maybe different partitions) fails and retries, holding the
# other back
retried() { [ "$(count_outcome "$d2" "$1" DeliveryRetrying)" -ge 3 ]; }
retried_any() { retried "$act2" || retried "$reg2"; }
e2e_wait 90 retried_any || e2e_fail "no three DeliveryRetrying on $d2 while the mail server is down: $(outcomes "$d2" "$act2" | tr '\n' ' ') / $(outcomes "$d2" "$reg2" | tr '\n' ' ')"
if retried "$act2"; then ev2=$act2; kind2=activation; else ev2=$reg2; kind2=registration; fi
failed=$(count_outcome "$d2" "$ev2" DeliveryFailed)
[ "$failed" -ge 3 ] || e2e_fail "only $failed DeliveryFailed on $d2"
decoded=$(decode_last "$d2" "$ev2" DeliveryFailed)
grep -q '^reason: "could not send mail' <<<"$decoded" || e2e_fail "DeliveryFailed without the reason: $decoded"
grep -q 'permanent: true' <<<"$decoded" && e2e_fail "a connection failure was recorded as permanent"
# the delays grow (backoff): gaps between successive retries
gaps=$(e2e_psql -c "SELECT string_agg(g::text, ' ' ORDER BY version) FROM (SELECT version, round(extract(epoch FROM lead(recorded_at) OVER (ORDER BY version) - recorded_at)) AS g FROM oss.journal WHERE stream_id = '$d2' AND causation_id = '$ev2' AND payload_type = 'oss.v1.DeliveryRetrying') x WHERE g IS NOT NULL")
read -r g1 g2 _ <<<"$gaps"
[ -n "${g2:-}" ] && [ "$g2" -gt "$g1" ] || e2e_fail "the retries do not back off (gaps: $gaps)"
e2e_ok "mail server down: the $kind2 mail has $failed DeliveryFailed + DeliveryRetrying, backing off (gaps $gaps s)"
listing=$("$OSS_CLI" delivery failed --since 10m)
grep -E "^$acc2 +$kind2 +[0-9]+ +[0-9T:Z-]+ +retrying " <<<"$listing" >/dev/null \
    || e2e_fail "oss delivery failed does not list $acc2 ($kind2) as retrying: $listing"
pending=$("$OSS_CLI" delivery failed --since 10m --pending)
grep -q "^$acc2 " <<<"$pending" || e2e_fail "--pending does not list $acc2"
e2e_ok "oss delivery failed lists the account's $kind2 message as retrying"
[ "$(mails_with "$act2")" -eq 0 ] || e2e_fail "an activation mail arrived while the server was down?"
"$ROOT/infra/run" svc start smtp >/dev/null
e2e_wait 120 has_outcome "$d2" "$act2" DeliveryHanded || e2e_fail "no DeliveryHanded for the activation mail after the server came back: $(outcomes "$d2" "$act2" | tr '\n' ' ')"
e2e_wait 120 has_outcome "$d2" "$reg2" DeliveryHanded || e2e_fail "no DeliveryHanded for the registration mail after the outage"
e2e_wait 10 mails_at_least "$act2" 1 || e2e_fail "no activation mail after the server came back"
sleep 2
[ "$(mails_with "$act2")" -eq 1 ] || e2e_fail "$(mails_with "$act2") activation mails after the outage (want 1)"
[ "$(mails_with "$reg2")" -eq 1 ] || e2e_fail "$(mails_with "$reg2") registration mails after the outage (want 1)"
grep -qx 'reply_code: 250' <<<"$(decode_last "$d2" "$reg2" DeliveryHanded)" || e2e_fail "the handed registration mail has no 250"
listing=$("$OSS_CLI" delivery failed --since 10m)
grep -E "^$acc2 +$kind2 .* handed " <<<"$listing" >/dev/null \
    || e2e_fail "oss delivery failed does not show $acc2 handed after recovery"
pending=$("$OSS_CLI" delivery failed --since 10m --pending)
grep -q "^$acc2 " <<<"$pending" && e2e_fail "--pending still lists $acc2 after recovery"
f2=$(find "$MAIL_DIR" -maxdepth 1 -name '*.eml' -newer "$WORK/start" -print0 | xargs -0 grep -lF "Message-ID: <$act2@oss.local>" || true)
read -r otp2 token2 _ < <(read_mail "$f2")
SECRETS+=("$otp2" "$token2")
e2e_secret --for "$acc2" "$otp2"; e2e_secret "$token2"
e2e_ok "server back: exactly one registration and one activation mail, DeliveryHanded 250"

# ---- 3. WhatsApp through the HTTP gateway --------------------------------
wa_url=$(sed -n 's/^notifier\.whatsapp_url *= *//p' "$OSS_CONFIG" | tail -1)
wa_url=${wa_url:-http://127.0.0.1:8025/messages}
hostport=${wa_url#http://}; hostport=${hostport%%/*}
WA_DIR=${OSS_WHATSAPP_DIR:-}
[ -z "$WA_DIR" ] && [ -d "$ROOT/var/whatsapp" ] && WA_DIR=$ROOT/var/whatsapp
if ! curl -s -m 2 -o /dev/null "http://$hostport/health"; then
    WA_DIR=$WORK/whatsapp
    /usr/bin/python3 "$ROOT/infra/smtp/http_sink.py" --host "${hostport%%:*}" --port "${hostport##*:}" \
        --dir "$WA_DIR" 2>"$WORK/http_sink.log" &
    SINK_PID=$!
    e2e_wait 10 curl -sf -m 1 -o /dev/null "http://$hostport/health" || e2e_fail "could not start the HTTP sink at $hostport"
fi
[ -n "$WA_DIR" ] || e2e_fail "something listens at $wa_url but OSS_WHATSAPP_DIR is not in run.env (nor var/whatsapp)"
email3="dlv3.$tag@example.co.id"
phone3="+62859$(printf '%08d' $((RANDOM * RANDOM % 100000000)))"
acc3=$(register "$email3" "$phone3" "Delivery Tiga $(tr 0-9 a-j <<<"$tag")")
s3=account-$acc3; d3=delivery-$acc3
first3=$(activation_of "$acc3")
resp=$(e2e_post "/v1/accounts/$acc3/activation" '{"channel":"whatsapp"}')
[ "${resp%% *}" = 202 ] || e2e_fail "resend on whatsapp answered $resp"
wa3=$(activation_of "$acc3")
[ "$wa3" != "$first3" ] || e2e_fail "the resend issued no new ActivationIssued"
e2e_wait 60 has_outcome "$d3" "$wa3" DeliveryHanded || e2e_fail "no DeliveryHanded for the WhatsApp message: $(outcomes "$d3" "$wa3" | tr '\n' ' ')"
decoded=$(decode_last "$d3" "$wa3" DeliveryHanded)
grep -qx 'channel: "whatsapp"' <<<"$decoded" && grep -qx 'reply_code: 202' <<<"$decoded" \
    || e2e_fail "the WhatsApp DeliveryHanded is not {whatsapp, 202}: $decoded"
wa_files=$(grep -lF "\"message_id\":\"$wa3\"" "$WA_DIR"/*.json 2>/dev/null | wc -l)
[ "$wa_files" -eq 1 ] || e2e_fail "$wa_files WhatsApp messages for $wa3 in $WA_DIR (want 1)"
waf=$(grep -lF "\"message_id\":\"$wa3\"" "$WA_DIR"/*.json)
[ "$(jq -r .to "$waf")" = "$phone3" ] || e2e_fail "the WhatsApp message is not addressed to the registered phone"
otp3=$(jq -r .text.id "$waf" | sed -n 's/^Kode OTP Anda: \([0-9]\{6\}\)$/\1/p')
token3=$(jq -r .text.en "$waf" | grep -o 'token=[A-Za-z0-9_-]*' | cut -d= -f2)
[[ "$otp3" =~ ^[0-9]{6}$ ]] && [ -n "$token3" ] || e2e_fail "no OTP or link in the WhatsApp message"
SECRETS+=("$otp3" "$token3")
e2e_secret --for "$acc3" "$otp3"; e2e_secret "$token3"
e2e_ok "WhatsApp: one message at the HTTP gateway, DeliveryHanded{whatsapp, 202}"

# ---- 4. no address, phone or secret in events, logs, Kafka ----------------
e2e_psql -c "SELECT stream_id, payload_type, reason, encode(payload, 'escape'), encode(payload, 'hex'), causation_id FROM oss.journal WHERE stream_id IN ('$d1', '$d2', '$d3')" >"$WORK/events.txt"
[ "$(wc -l <"$WORK/events.txt")" -ge 8 ] || e2e_fail "too few delivery events to sweep"
timeout 60 kcat -C -b "$OSS_KAFKA_BOOTSTRAP" -t oss.delivery -o beginning -e -q -f '%k %s\n' 2>/dev/null >"$WORK/kafka.txt" || true
grep -q "$d1" "$WORK/kafka.txt" || e2e_fail "the delivery events did not reach the oss.delivery topic"
logs=()
for f in notifier smtp whatsapp; do
    [ -f "$LOG_DIR/$f.log" ] || continue
    tail -n +"${LOG_FROM[$f]}" "$LOG_DIR/$f.log" >"$WORK/$f.log"
    logs+=("$WORK/$f.log")
done
[ -f "$WORK/http_sink.log" ] && logs+=("$WORK/http_sink.log")
for f in "$WORK/events.txt" "$WORK/kafka.txt" "${logs[@]}"; do
    [ -f "$f" ] || continue
    for s in "$email1" "$email2" "$email3" "$phone1" "$phone2" "$phone3" "${SECRETS[@]}"; do
        # whole words: a 6-digit code must not match inside a longer number
        grep -qwF -- "$s" "$f" && e2e_fail "$(basename "$f") contains an address, a phone number or a secret"
        hex=$(printf '%s' "$s" | xxd -p | tr -d '\n')
        grep -qF -- "$hex" "$f" && e2e_fail "$(basename "$f") contains an address, a phone number or a secret (hex)"
    done
done
e2e_ok "no address, phone, OTP or link token in the delivery events, oss.delivery, or the logs"
echo "PASS test_delivery"
