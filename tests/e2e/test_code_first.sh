#!/usr/bin/env bash
# e2e (exclusive: stops the relay): a code a person waits for is sent from
# the delivery table, not in Kafka order (issue 11, item 6). With the relay
# stopped nothing new reaches Kafka; an owner registers; the activation
# code's mail still arrives within seconds (the notifier's code poll reads
# oss.deliveries and queues it ahead of bulk mail), while the registration
# mail, a bulk message, waits for Kafka or the journal sweep (60 s lag) and
# has not left yet. With the relay started again, the registration mail
# follows, and the code is not sent a second time.
source "$(dirname "$0")/lib.sh"
ROOT=$E2E_ROOT
MAIL_DIR=${OSS_MAIL_DIR:?OSS_MAIL_DIR missing from run.env}
LOG=${OSS_LOG_DIR:?OSS_LOG_DIR missing from run.env}/notifier.log
START=$(mktemp)
restart() { "$ROOT/infra/run" svc start relay >/dev/null 2>&1 || true; }
trap 'restart; rm -f "$START"' EXIT
"$ROOT/infra/run" svc stop relay >/dev/null 2>&1 || e2e_fail "could not stop the relay"

read -r nik bd < <(e2e_nik)
r=$(e2e_post /v1/accounts "$(e2e_register_json "$nik" "$bd" "first.$RANDOM$RANDOM@example.co.id" "081298765433" "Kode Dulu")")
[ "${r%% *}" = 201 ] || e2e_fail "registration: $r"
id=$(jq -r .account_id <<<"${r#* }")
reg=$(e2e_psql -c "SELECT event_id FROM oss.journal WHERE stream_id = 'account-$id' AND payload_type = 'oss.v1.AccountRegistered'")
act=$(e2e_psql -c "SELECT event_id FROM oss.journal WHERE stream_id IN ('account-$id', 'access-$id') AND payload_type = 'oss.v1.ActivationIssued' ORDER BY position LIMIT 1")
[ -n "$reg" ] && [ -n "$act" ] || e2e_fail "registration events not found: '$reg' '$act'"
e2e_ok "registered with the relay stopped: registration $reg, code $act"

e2e_wait 20 e2e_has_mail "$act" "$START" || e2e_fail "the code's mail did not arrive while Kafka had not got its event"
log=$(grep "activation message handed over: event=$act" "$LOG" | tail -1)
case "$log" in *via=code-poll*) ;; *) e2e_fail "the code was not sent by the code poll: $log" ;; esac
[ -z "$(e2e_mails_of "$reg" "$START")" ] || e2e_fail "the registration mail left before Kafka or the sweep could have had it"
e2e_ok "the code's mail arrived from the delivery table (via=code-poll); the bulk registration mail is still waiting"

restart
e2e_wait 150 e2e_has_mail "$reg" "$START" || e2e_fail "the registration mail never followed"
sleep 2
n=$(e2e_mails_of "$act" "$START" | wc -l)
[ "$n" = 1 ] || e2e_fail "the code's mail reached the sink $n times"
e2e_ok "with the relay back, the registration mail followed; the code was sent once"
