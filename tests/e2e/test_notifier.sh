#!/usr/bin/env bash
# e2e: the notifier against the running stack. A registration leads to
# exactly one mail in the SMTP sink (OSS_MAIL_DIR) with Message-ID
# <event-id@oss.local>; the address appears only in the delivery headers;
# restarting the notifier, even made to re-read its last messages, sends no
# duplicate; the notifier's log holds no personal data. Finally, a ledger row
# left 'sending' (a crash between send and record) is re-sent with the same
# Message-ID, which is what lets a receiver drop the repeat.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MAIL_DIR=${OSS_MAIL_DIR:?OSS_MAIL_DIR missing from run.env}
LOG=${OSS_LOG_DIR:?OSS_LOG_DIR missing from run.env}/notifier.log
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# whatever happens, leave the notifier running
trap '"$ROOT/infra/run" svc start notifier >/dev/null 2>&1 || true' EXIT

# recent mails only, through find: the sink may hold more files than one
# command line can name
recent_mails() { find "$MAIL_DIR" -maxdepth 1 -name '*.eml' -mmin -30 -print0; }
mails_with() { { recent_mails | xargs -0 -r grep -lF "Message-ID: <$1@oss.local>" 2>/dev/null || true; } | wc -l; }
ledger() { e2e_psql -c "SELECT status || ' ' || attempts FROM oss.notifications WHERE event_id = '$1' AND channel = 'email'"; }
# re-evaluated on every try of e2e_wait
mails_at_least() { [ "$(mails_with "$1")" -ge "$2" ]; }
ledger_is() { [ "$(ledger "$1")" = "$2" ]; }

# the notifier's stored positions before the registration: rewinding to
# them later makes it re-read our event whatever else flows meanwhile
before=$(e2e_psql -c "SELECT string_agg(format('(%s,%s)', part, next_offset), ',') FROM oss.notifier_offsets WHERE consumer = 'notifier'")
rewind() {
    if [ -n "$before" ]; then
        e2e_psql -c "UPDATE oss.notifier_offsets o SET next_offset = least(o.next_offset, v.off)
                     FROM (VALUES $before) AS v(part, off) WHERE o.consumer = 'notifier' AND o.part = v.part" >/dev/null
        e2e_psql -c "DELETE FROM oss.notifier_offsets WHERE consumer = 'notifier'
                     AND part NOT IN (SELECT part FROM (VALUES $before) AS v(part, off))" >/dev/null
    else
        e2e_psql -c "DELETE FROM oss.notifier_offsets WHERE consumer = 'notifier'" >/dev/null
    fi
}

# 1. register
read -r nik birth < <(e2e_nik)
tag=$RANDOM$RANDOM
email="notif.$tag@example.co.id"
name="Notif Uji $(tr 0-9 a-j <<<"$tag")"
phone="+62857$(printf '%08d' $((RANDOM * RANDOM % 100000000)))"
resp=$(e2e_post /v1/accounts "$(e2e_register_json "$nik" "$birth" "$email" "$phone" "$name")")
status=${resp%% *}; body=${resp#* }
[ "$status" = 201 ] || e2e_fail "registration answered $status: $body"
stream=$(jq -r '.stream_id // (if .account_id then "account-" + .account_id else empty end)' <<<"$body")
event=$(e2e_psql -c "SELECT event_id FROM oss.journal WHERE stream_id = '$stream' AND version = 1")
[ -n "$event" ] || e2e_fail "no journal event for $stream"
e2e_ok "registered $stream (event $event)"

# 2. exactly one mail, with the event's Message-ID, recorded as sent
e2e_wait 60 mails_at_least "$event" 1 || e2e_fail "no mail with Message-ID <$event@oss.local> within 60 s"
e2e_wait 10 ledger_is "$event" "sent 1" || e2e_fail "ledger says \"$(ledger "$event")\", want \"sent 1\""
sleep 2
[ "$(mails_with "$event")" -eq 1 ] || e2e_fail "$(mails_with "$event") mails for one registration"
file=$(recent_mails | xargs -0 -r grep -lF "Message-ID: <$event@oss.local>" || true)
e2e_ok "one mail: $file"

# 3. the address only in the delivery headers; both languages; the greeting
bad=$(grep -nF "$email" "$file" | grep -vE '^[0-9]+:(To: <|Delivered-To: )' || true)
[ -z "$bad" ] || e2e_fail "the address appears outside the To/Delivered-To headers: $bad"
grep -q "^To: <$email>" "$file" || e2e_fail "no To header with the address"
grep -q "Content-Language: id" "$file" && grep -q "Content-Language: en" "$file" \
    || e2e_fail "the mail lacks its Indonesian or English part"
grep -qF "Yth. $name," "$file" || e2e_fail "the Indonesian greeting does not name the person"
e2e_ok "address only in the envelope/To headers, Indonesian + English parts"

# where the event sits on Kafka (partition, offset): found by its key
where=""
if [ -n "$before" ]; then
    for pair in $(tr -d '()' <<<"$before" | tr ',' ' ' | xargs -n2 | tr ' ' ':'); do
        p=${pair%%:*}; o=${pair#*:}
        hit=$(timeout 60 kcat -C -b "$OSS_KAFKA_BOOTSTRAP" -t oss.account -p "$p" -o "$o" -e -q -f '%p %o %k\n' 2>/dev/null | grep " $stream\$" | head -1 || true)
        [ -n "$hit" ] && { where=$hit; break; }
    done
fi
[ -z "$where" ] && where=$(timeout 60 kcat -C -b "$OSS_KAFKA_BOOTSTRAP" -t oss.account -o beginning -e -q -f '%p %o %k\n' 2>/dev/null | grep " $stream\$" | head -1 || true)
[ -n "$where" ] || e2e_fail "event $event not found on Kafka"
read -r wp wo _ <<<"$where"
consumed_past() { [ "$(e2e_psql -c "SELECT next_offset > $wo FROM oss.notifier_offsets WHERE consumer = 'notifier' AND part = $wp")" = t ]; }
e2e_ok "the event is at oss.account partition $wp offset $wo"

# 4. restart, re-reading the last messages of every partition: no duplicate
# (stopped first: a stopping notifier stores its own positions)
marker=$(wc -l <"$LOG")
"$ROOT/infra/run" svc stop notifier >/dev/null
rewind
# (no row = from the beginning)
e2e_psql -c "SELECT coalesce((SELECT next_offset <= $wo FROM oss.notifier_offsets WHERE consumer = 'notifier' AND part = $wp), true)" | grep -qx t \
    || e2e_fail "the rewind did not move partition $wp before offset $wo"
"$ROOT/infra/run" svc start notifier >/dev/null
e2e_wait 30 bash -c "tail -n +$((marker + 1)) '$LOG' | grep -q 'consuming topic='" \
    || e2e_fail "the notifier did not come back after the restart"
e2e_wait 90 consumed_past || e2e_fail "the restarted notifier did not re-read partition $wp past offset $wo"
tail -n +$((marker + 1)) "$LOG" | grep -q "re-read [0-9]* event(s) already handled" \
    || e2e_fail "the restarted notifier logged no re-read of handled events"
sleep 2
[ "$(mails_with "$event")" -eq 1 ] || e2e_fail "a restart sent a duplicate ($(mails_with "$event") mails)"
[ "$(ledger "$event")" = "sent 1" ] || e2e_fail "ledger after restart: $(ledger "$event")"
e2e_ok "restart + redelivery sent no duplicate"

# 5. no personal data in the notifier's (or the sink's) log
for f in "$LOG" "$OSS_LOG_DIR/smtp.log"; do
    [ -f "$f" ] || continue
    for secret in "$email" "$nik" "$name" "$phone"; do
        grep -qF "$secret" "$f" && e2e_fail "$f contains personal data"
    done
done
e2e_ok "no address, name, NIK or phone in the logs"

# 6. a row left 'sending' is re-sent with the same Message-ID
"$ROOT/infra/run" svc stop notifier >/dev/null
e2e_psql -c "UPDATE oss.notifications SET status = 'sending' WHERE event_id = '$event' AND channel = 'email'" >/dev/null
rewind
"$ROOT/infra/run" svc start notifier >/dev/null
e2e_wait 60 mails_at_least "$event" 2 || e2e_fail "the 'sending' row was not re-sent"
e2e_wait 10 ledger_is "$event" "sent 2" || e2e_fail "ledger after the resend: $(ledger "$event")"
e2e_ok "a row left 'sending' is re-sent with the same Message-ID (receivers drop the repeat)"
echo "PASS test_notifier"
