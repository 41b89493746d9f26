#!/usr/bin/env bash
# e2e (exclusive: stops the notifier): once an activation code is resent,
# the superseded code never reaches the sink (issue 11, item 6). With the
# notifier stopped, an owner registers (code 1 queued) and asks for a new
# code (code 2 supersedes it: its sealed delivery is removed in the resend's
# transaction); the notifier starts with both events waiting on Kafka; code
# 2's mail arrives, code 1's never does (neither from Kafka nor from the
# journal sweep), and the notifier says why it skipped code 1.
source "$(dirname "$0")/lib.sh"
ROOT=$E2E_ROOT
MAIL_DIR=${OSS_MAIL_DIR:?OSS_MAIL_DIR missing from run.env}
LOG=${OSS_LOG_DIR:?OSS_LOG_DIR missing from run.env}/notifier.log
START=$(mktemp)
restart() { "$ROOT/infra/run" svc start notifier >/dev/null 2>&1 || true; }
trap 'restart; rm -f "$START"' EXIT
"$ROOT/infra/run" svc stop notifier >/dev/null 2>&1 || e2e_fail "could not stop the notifier"

read -r nik bd < <(e2e_nik)
r=$(e2e_post /v1/accounts "$(e2e_register_json "$nik" "$bd" "sup.$RANDOM$RANDOM@example.co.id" "081298765432" "Kode Lama")")
[ "${r%% *}" = 201 ] || e2e_fail "registration: $r"
id=$(jq -r .account_id <<<"${r#* }")
ev1=$(e2e_psql -c "SELECT event_id FROM oss.journal WHERE stream_id = 'access-$id' AND payload_type = 'oss.v1.ActivationIssued' ORDER BY version LIMIT 1")
r=$(e2e_post "/v1/accounts/$id/activation" '{"channel":"email"}')
[ "${r%% *}" = 202 ] || e2e_fail "resend: $r"
ev2=$(e2e_psql -c "SELECT event_id FROM oss.journal WHERE stream_id = 'access-$id' AND payload_type = 'oss.v1.ActivationIssued' ORDER BY version DESC LIMIT 1")
[ -n "$ev1" ] && [ -n "$ev2" ] && [ "$ev1" != "$ev2" ] || e2e_fail "two activation codes expected: $ev1 $ev2"
[ "$(e2e_psql -c "SELECT count(*) FROM oss.deliveries WHERE event_id = '$ev1'")" = 0 ] || e2e_fail "code 1's delivery survived the resend"
e2e_ok "with the notifier stopped: code 1 ($ev1) superseded by code 2 ($ev2)"

restart
e2e_wait 180 e2e_has_mail "$ev2" "$START" || e2e_fail "code 2's mail did not arrive"
skipped() { grep -q "activation not sent: event=$ev1" "$LOG"; }
e2e_wait 60 skipped || e2e_fail "the notifier never said it skipped code 1"
sleep 2
[ -z "$(e2e_mails_of "$ev1" "$START")" ] || e2e_fail "the superseded code 1 reached the sink"
e2e_ok "code 2's mail arrived; code 1 never reached the sink (skipped: no sealed code left)"
