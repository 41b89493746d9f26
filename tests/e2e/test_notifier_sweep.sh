#!/usr/bin/env bash
# e2e: the notifier does not depend on Kafka keeping history. With the
# notifier stopped, an account is registered and published; the notifier's
# stored positions are then moved past it (as if the broker had dropped the
# message), and the notifier restarted: its journal sweep finds the event
# without a ledger row and sends the mail, exactly once.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MAIL_DIR=${OSS_MAIL_DIR:?OSS_MAIL_DIR missing from run.env}
LOG=${OSS_LOG_DIR:?OSS_LOG_DIR missing from run.env}/notifier.log
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# whatever happens, leave the notifier running with its normal settings
trap '"$ROOT/infra/run" svc stop notifier >/dev/null 2>&1; "$ROOT/infra/run" svc start notifier >/dev/null 2>&1 || true' EXIT

# recent mails only, through find: the sink may hold more files than one
# command line can name
recent_mails() { find "$MAIL_DIR" -maxdepth 1 -name '*.eml' -mmin -30 -print0; }
mails_with() { { recent_mails | xargs -0 -r grep -lF "Message-ID: <$1@oss.local>" 2>/dev/null || true; } | wc -l; }
mails_at_least() { [ "$(mails_with "$1")" -ge "$2" ]; }
published() {
    [ "$(e2e_psql -c "SELECT (j.xid, j.position) <= (c.xid, c.position) FROM oss.journal j, oss.relay_checkpoint c WHERE j.event_id = '$1'")" = t ]
}

"$ROOT/infra/run" svc stop notifier >/dev/null

read -r nik birth < <(e2e_nik)
tag=$RANDOM$RANDOM
email="sweep.$tag@example.co.id"
resp=$(e2e_post /v1/accounts "$(e2e_register_json "$nik" "$birth" "$email" "+62857$(printf '%08d' $((RANDOM * RANDOM % 100000000)))" "Sapu Uji $(tr 0-9 a-j <<<"$tag")")")
status=${resp%% *}; body=${resp#* }
[ "$status" = 201 ] || e2e_fail "registration answered $status: $body"
stream=$(jq -r '.stream_id // (if .account_id then "account-" + .account_id else empty end)' <<<"$body")
event=$(e2e_psql -c "SELECT event_id FROM oss.journal WHERE stream_id = '$stream' AND version = 1")
[ -n "$event" ] || e2e_fail "no journal event for $stream"
e2e_wait 60 published "$event" || e2e_fail "the relay did not publish $event within 60 s"
e2e_ok "registered and published $event while the notifier was stopped"

# move every stored position to the partition's end: the message is "lost"
cluster=$(e2e_psql -c "SELECT cluster_id FROM oss.notifier_offsets WHERE consumer = 'notifier' ORDER BY updated_at DESC LIMIT 1")
[ -n "$cluster" ] || e2e_fail "the notifier has stored no positions yet"
parts=$(timeout 20 kcat -b "$OSS_KAFKA_BOOTSTRAP" -L -t oss.account 2>/dev/null | grep -c 'partition [0-9]*,' || true)
[ "${parts:-0}" -gt 0 ] || e2e_fail "could not list the partitions of oss.account"
for ((p = 0; p < parts; p++)); do
    end=$(timeout 20 kcat -b "$OSS_KAFKA_BOOTSTRAP" -Q -t "oss.account:$p:-1" 2>/dev/null | awk '{print $NF}')
    [[ $end =~ ^[0-9]+$ ]] || e2e_fail "no end offset for partition $p"
    e2e_psql -c "INSERT INTO oss.notifier_offsets (consumer, topic, part, cluster_id, next_offset)
                 VALUES ('notifier', 'oss.account', $p, '$cluster', $end)
                 ON CONFLICT (consumer, topic, part) DO UPDATE SET next_offset = EXCLUDED.next_offset,
                 cluster_id = EXCLUDED.cluster_id" >/dev/null
done
marker=$(wc -l <"$LOG")
OSS_NOTIFIER_SWEEP_LAG_S=1 OSS_NOTIFIER_SWEEP_INTERVAL_S=2 "$ROOT/infra/run" svc start notifier >/dev/null
e2e_wait 90 mails_at_least "$event" 1 || e2e_fail "the journal sweep sent no mail for $event within 90 s"
tail -n +$((marker + 1)) "$LOG" | grep -q "registration mail sent: event=$event .*via=journal-sweep" \
    || e2e_fail "the mail did not come from the journal sweep"
sleep 3
[ "$(mails_with "$event")" -eq 1 ] || e2e_fail "$(mails_with "$event") mails for one registration"
[ "$(e2e_psql -c "SELECT status FROM oss.notifications WHERE event_id = '$event' AND channel = 'email'")" = sent ] \
    || e2e_fail "the ledger does not say sent"
grep -qF "$email" "$LOG" && e2e_fail "the notifier's log contains the address"
e2e_ok "the journal sweep delivered the event Kafka lost, once"
echo "PASS test_notifier_sweep"
