#!/usr/bin/env bash
# e2e: targeted notices (producers/api/notice.c -> consumers/notifier) against
# the running stack (API, relay, notifier, SMTP and WhatsApp sinks).
#  1. a person registers through the API; a notice of kind member_added is
#     queued for them on e-mail and WhatsApp by api_notice_queue() inside a
#     trigger event's transaction (the integration test binary's "queue"
#     mode: api_contact_load_pg() opens the real registration's contact);
#  2. each reaches its sink exactly once: the mail (Message-ID
#     <delivery-id@oss.local>) with an Indonesian and an English part saying
#     what happened, when (WIB / UTC) and what next, no placeholder left; the
#     WhatsApp JSON with both texts;
#  3. delivery-<account_id> holds DeliveryQueued and DeliveryHanded (250 /
#     202) per channel, caused by the trigger; the ledger says sent, once;
#  4. a notifier restart that re-reads the trigger from Kafka (positions
#     rewound) sends no duplicate and appends no second outcome;
#  5. a subject erased after its notice was queued (data key deleted in the
#     same transaction) gets nothing: ledger 'skipped', DeliveryFailed
#     "erased", no mail; a notice can no longer be queued for it at all;
#  6. a government principal created with `oss principal create` gets its
#     activation mail at its own address (PrincipalCreated contact), with
#     the outcomes on delivery-<principal_id>;
#  7. no address, phone or name in the delivery events or the notifier log.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MAIL_DIR=${OSS_MAIL_DIR:?OSS_MAIL_DIR missing from run.env}
WA_DIR=${OSS_WHATSAPP_DIR:?OSS_WHATSAPP_DIR missing from run.env}
LOG=${OSS_LOG_DIR:?OSS_LOG_DIR missing from run.env}/notifier.log
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SCHEMAS=$ROOT/schemas
HELPER=${NOTICES_HELPER:-${OSS_BUILD_DIR:-$ROOT/build}/tests/integration_test_notices}
[ -x "$HELPER" ] || e2e_fail "$HELPER missing: build the tests (cmake --build)"
WORK=$(mktemp -d /tmp/test_notices.XXXXXX)
trap '"$ROOT/infra/run" svc start notifier >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
touch "$WORK/start"

mails_with() { find "$MAIL_DIR" -maxdepth 1 -name '*.eml' -newer "$WORK/start" -print0 | xargs -0 -r grep -lF "Message-ID: <$1@oss.local>" | wc -l; }
wa_with() { find "$WA_DIR" -maxdepth 1 -name '*.json' -newer "$WORK/start" -print0 | xargs -0 -r grep -lF "\"message_id\":\"$1\"" | wc -l; }
mails_at_least() { [ "$(mails_with "$1")" -ge "$2" ]; }
wa_at_least() { [ "$(wa_with "$1")" -ge "$2" ]; }
outcomes() { e2e_psql -c "SELECT payload_type FROM oss.journal WHERE stream_id = 'delivery-$1' AND causation_id = '$2' ORDER BY version"; }
count_outcome() { outcomes "$1" "$2" | grep -cx "oss.v1.$3" || true; }
outcomes_at_least() { [ "$(count_outcome "$1" "$2" "$3")" -ge "$4" ]; }
ledger() { e2e_psql -c "SELECT status || ' ' || attempts FROM oss.notifications WHERE event_id = '$1'"; }
ledger_is() { [ "$(ledger "$1")" = "$2" ]; }
decode_all() {
    local t
    for t in $(e2e_psql -c "SELECT payload_type || ':' || encode(payload, 'hex') FROM oss.journal WHERE stream_id = 'delivery-$1' AND causation_id = '$2' ORDER BY version"); do
        xxd -r -p <<<"${t#*:}" | protoc --decode="${t%%:*}" -I "$SCHEMAS" "$SCHEMAS/oss/v1/delivery.proto"
        echo "--"
    done
}
register() { # EMAIL PHONE NAME -> account id
    local nik birth resp
    read -r nik birth < <(e2e_nik)
    resp=$(e2e_post /v1/accounts "$(e2e_register_json "$nik" "$birth" "$1" "$2" "$3")")
    [ "${resp%% *}" = 201 ] || e2e_fail "registration answered ${resp%% *}: ${resp#* }"
    jq -r '.account_id' <<<"${resp#* }"
}

# ---- 1. register, queue a notice on both channels -------------------------
tag=$RANDOM$RANDOM
email="notice.$tag@example.co.id"
phone="+62857$(printf '%08d' $((RANDOM * RANDOM % 100000000)))"
name="Notis Uji $(tr 0-9 k-t <<<"$tag")"
acc=$(register "$email" "$phone" "$name")
[ -n "$acc" ] && [ "$acc" != null ] || e2e_fail "no account id"
e2e_ok "registered $acc"
# the notifier's Kafka positions now: a rewind to them re-reads the trigger
before=$(e2e_psql -c "SELECT string_agg(format('(%s,%s)', part, next_offset), ',') FROM oss.notifier_offsets WHERE consumer = 'notifier'")
vars=$(jq -cn --arg n "$name" --arg a "$acc" '{name:$n, account_id:$a, role:"preparer"}')
ev=$("$HELPER" queue "$acc" "$acc" member_added email,whatsapp "$vars") || e2e_fail "could not queue the notice"
del_mail=$(e2e_psql -c "SELECT delivery_id FROM oss.deliveries WHERE event_id = '$ev' AND channel = 'email'")
del_wa=$(e2e_psql -c "SELECT delivery_id FROM oss.deliveries WHERE event_id = '$ev' AND channel = 'whatsapp'")
[ -n "$del_mail" ] && [ -n "$del_wa" ] || e2e_fail "the notice rows of $ev are missing"
[ "$(e2e_psql -c "SELECT count(*) FROM oss.deliveries WHERE event_id = '$ev' AND account_id = '$acc' AND kind = 'member_added'")" = 2 ] \
    || e2e_fail "the notice rows lack their account or kind"
rows=$(e2e_psql -c "SELECT encode(sealed_secret, 'escape') FROM oss.deliveries WHERE event_id = '$ev'")
grep -qF "$email" <<<"$rows" && e2e_fail "the address is readable in oss.deliveries"
e2e_ok "queued trigger $ev: rows $del_mail (email), $del_wa (whatsapp), sealed"

# ---- 2. once in each sink, both languages --------------------------------
e2e_wait 60 mails_at_least "$del_mail" 1 || e2e_fail "no mail for delivery $del_mail"
e2e_wait 60 wa_at_least "$del_wa" 1 || e2e_fail "no WhatsApp message for delivery $del_wa"
f=$(find "$MAIL_DIR" -maxdepth 1 -name '*.eml' -newer "$WORK/start" -print0 | xargs -0 grep -lF "Message-ID: <$del_mail@oss.local>")
grep -q "^To: <$email>" "$f" || e2e_fail "the mail is not addressed to the person"
grep -q "^Subject: Anda ditambahkan pada akun OSS / You were added to an OSS account" "$f" \
    || e2e_fail "the subject is not the member_added one, Indonesian first"
text=$(/usr/bin/python3 - "$f" <<'PY'
import email, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"))
for p in msg.walk():
    if p.get_content_type() == "text/plain":
        print("[" + p.get("Content-Language", "?") + "]")
        print(p.get_payload(decode=True).decode("utf-8"))
PY
)
for want in "[id]" "[en]" "Yth. $name," "Dear $name," "sebagai penyusun pada akun OSS $acc" \
            "as preparer to the OSS account $acc" "Langkah berikutnya" "Next step" " WIB" " UTC"; do
    grep -qF -- "$want" <<<"$text" || e2e_fail "the mail lacks \"$want\""
done
grep -qF "{{" <<<"$text" && e2e_fail "the mail has an unreplaced variable"
w=$(find "$WA_DIR" -maxdepth 1 -name '*.json' -newer "$WORK/start" -print0 | xargs -0 grep -lF "\"message_id\":\"$del_wa\"")
[ "$(jq -r .type "$w")" = member_added ] || e2e_fail "WhatsApp type is not member_added"
[ "$(jq -r .to "$w")" = "$phone" ] || e2e_fail "WhatsApp message not addressed to the phone"
grep -qF "sebagai penyusun" <<<"$(jq -r .text.id "$w")" || e2e_fail "WhatsApp Indonesian text missing"
grep -qF "as preparer" <<<"$(jq -r .text.en "$w")" || e2e_fail "WhatsApp English text missing"
e2e_ok "mail and WhatsApp message delivered once each, Indonesian + English"

# ---- 3. outcome events and ledger ------------------------------------------
e2e_wait 30 outcomes_at_least "$acc" "$ev" DeliveryHanded 2 || e2e_fail "no DeliveryHanded x2 on delivery-$acc: $(outcomes "$acc" "$ev" | tr '\n' ' ')"
[ "$(count_outcome "$acc" "$ev" DeliveryQueued)" = 2 ] || e2e_fail "DeliveryQueued is not once per channel: $(outcomes "$acc" "$ev" | tr '\n' ' ')"
decoded=$(decode_all "$acc" "$ev")
grep -qx 'kind: "member_added"' <<<"$decoded" || e2e_fail "DeliveryQueued does not name the kind: $decoded"
grep -qx 'reply_code: 250' <<<"$decoded" || e2e_fail "no 250 for the mail: $decoded"
grep -qx 'reply_code: 202' <<<"$decoded" || e2e_fail "no 202 for WhatsApp: $decoded"
grep -qF "message_id: \"<$del_mail@oss.local>\"" <<<"$decoded" || e2e_fail "DeliveryHanded lacks the Message-ID"
e2e_wait 10 ledger_is "$del_mail" "sent 1" || e2e_fail "ledger of the mail: $(ledger "$del_mail")"
e2e_wait 10 ledger_is "$del_wa" "sent 1" || e2e_fail "ledger of WhatsApp: $(ledger "$del_wa")"
e2e_ok "delivery-$acc: DeliveryQueued + DeliveryHanded per channel; ledger sent once"

# ---- 4. restart with a Kafka re-read: no duplicate -------------------------
marker=$(wc -l <"$LOG")
"$ROOT/infra/run" svc stop notifier >/dev/null
if [ -n "$before" ]; then
    e2e_psql -c "UPDATE oss.notifier_offsets o SET next_offset = least(o.next_offset, v.off)
                 FROM (VALUES $before) AS v(part, off) WHERE o.consumer = 'notifier' AND o.part = v.part" >/dev/null
fi
"$ROOT/infra/run" svc start notifier >/dev/null
e2e_wait 60 bash -c "tail -n +$((marker + 1)) '$LOG' | grep -q 'consuming topic='" \
    || e2e_fail "the notifier did not come back after the restart"
sleep 8   # Kafka re-read and several notice polls
[ "$(mails_with "$del_mail")" = 1 ] || e2e_fail "a restart sent a duplicate mail ($(mails_with "$del_mail"))"
[ "$(wa_with "$del_wa")" = 1 ] || e2e_fail "a restart sent a duplicate WhatsApp message ($(wa_with "$del_wa"))"
[ "$(count_outcome "$acc" "$ev" DeliveryHanded)" = 2 ] || e2e_fail "a restart appended outcomes again"
e2e_ok "notifier restart (positions rewound): no duplicate"

# ---- 5. an erased subject gets nothing ------------------------------------
tag2=$RANDOM$RANDOM
email2="notice.erased.$tag2@example.co.id"
acc2=$(register "$email2" "+62857$(printf '%08d' $((RANDOM * RANDOM % 100000000)))" "Notis Hapus")
# the notifier is held while the row is read: a fast one skips and removes
# it at once
"$ROOT/infra/run" svc stop notifier >/dev/null
ev2=$(NOTICE_TEST_ERASE=1 "$HELPER" queue "$acc2" "$acc2" access_terminated email \
      "$(jq -cn --arg a "$acc2" '{name:"Notis Hapus", account_id:$a, reason_code:"law"}')") \
    || e2e_fail "could not queue the notice for the soon-erased subject"
del2=$(e2e_psql -c "SELECT delivery_id FROM oss.deliveries WHERE event_id = '$ev2'")
"$ROOT/infra/run" svc start notifier >/dev/null
[ -n "$del2" ] || e2e_fail "no notice row for $ev2"
e2e_wait 60 ledger_is "$del2" "skipped 0" || e2e_fail "ledger of the erased subject's notice: $(ledger "$del2")"
e2e_wait 20 outcomes_at_least "$acc2" "$ev2" DeliveryFailed 1 || e2e_fail "no DeliveryFailed for the erased subject"
decoded2=$(decode_all "$acc2" "$ev2")
grep -q 'reason: ".*erased' <<<"$decoded2" || e2e_fail "DeliveryFailed does not say the subject was erased: $decoded2"
[ "$(mails_with "$del2")" = 0 ] || e2e_fail "a message reached an erased subject"
set +e
"$HELPER" queue "$acc2" "$acc2" access_terminated email '{}' >/dev/null 2>&1
rc=$?
set -e
[ "$rc" = 3 ] || e2e_fail "a notice could be queued for an erased subject (exit $rc)"
e2e_ok "erased subject: skipped, DeliveryFailed, nothing sent, nothing queueable"

# ---- 6. a government principal's activation reaches its own contact -------
# (PrincipalCreated on access-<pid>, contact via oss.principals; outcomes on
# delivery-<pid>: it holds no account)
email3="notice.officer.$tag@example.co.id"
read -r nik3 birth3 < <(e2e_nik)
phone3="+62857$(printf '%08d' $((RANDOM * RANDOM % 100000000)))"
pid=""
for try in 1 2 3 4 5; do   # the shared build may be relinking the CLI
    if pid=$("$OSS_CLI" principal create --role auditor --institution oss --nik "$nik3" \
             --name "Auditor Notis" --email "$email3" --phone "$phone3" \
             --birth-date "$birth3" 2>"$WORK/cli.err" | tail -1) && [ -n "$pid" ]; then
        break
    fi
    pid=""
    sleep 3
done
[ -n "$pid" ] || e2e_fail "oss principal create failed: $(cat "$WORK/cli.err")"
act=$(e2e_psql -c "SELECT event_id FROM oss.journal WHERE stream_id = 'access-$pid' AND payload_type = 'oss.v1.ActivationIssued' ORDER BY version DESC LIMIT 1")
[ -n "$act" ] || e2e_fail "no ActivationIssued on access-$pid"
e2e_wait 60 mails_at_least "$act" 1 || e2e_fail "the principal's activation mail did not arrive"
f3=$(find "$MAIL_DIR" -maxdepth 1 -name '*.eml' -newer "$WORK/start" -print0 | xargs -0 grep -lF "Message-ID: <$act@oss.local>")
grep -q "^To: <$email3>" "$f3" || e2e_fail "the activation mail is not addressed to the principal"
grep -q "Kode OTP Anda" "$f3" || e2e_fail "the activation mail has no OTP"
e2e_wait 30 outcomes_at_least "$pid" "$act" DeliveryHanded 1 || e2e_fail "no DeliveryHanded on delivery-$pid"
[ "$(mails_with "$act")" = 1 ] || e2e_fail "the activation mail arrived more than once"
e2e_ok "principal $pid: activation mail to its own contact, outcomes on delivery-$pid"

# ---- 7. no personal data in events or the log ------------------------------
events=$(e2e_psql -c "SELECT encode(payload, 'escape') || coalesce(reason, '') FROM oss.journal WHERE stream_id IN ('delivery-$acc', 'delivery-$acc2', 'delivery-$pid')")
for s in "$email" "$phone" "$name" "$email2" "$email3"; do
    grep -qF -- "$s" <<<"$events" && e2e_fail "a delivery event holds personal data"
    grep -qF -- "$s" "$LOG" && e2e_fail "the notifier log holds personal data"
done
e2e_ok "no address, phone or name in delivery events or the notifier log"
echo "PASS test_notices"
