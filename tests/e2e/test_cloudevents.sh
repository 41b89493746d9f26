#!/usr/bin/env bash
# Every message the run left on our topics is read by an outside
# CloudEvents SDK (the JavaScript SDK, tests/tools) through its own Kafka
# protocol binding and validated against CloudEvents 1.0: ce_* headers in
# binary mode, ce_dataschema an absolute URI, ce_time RFC 3339. Exclusive:
# it reads what the whole e2e run produced (the broker keeps about 5 MiB per
# partition, so that is every message it still holds).
source "$(dirname "$0")/lib.sh"
tools=$E2E_ROOT/tests/tools
[ -d "$tools/node_modules/cloudevents" ] || e2e_fail "the CloudEvents SDK is not installed (infra/lib.sh oss_node_tools)"

prefix=$(sed -n 's/^[[:space:]]*bus\.topic_prefix[[:space:]]*=[[:space:]]*//p' "$OSS_CONFIG" | tail -n1)
prefix=${prefix:-oss.}  # the topics below carry it already

# a registration now, so at least one message of this run is there
read -r nik bd < <(e2e_nik)
r=$(e2e_post /v1/accounts "$(e2e_register_json "$nik" "$bd" "ce$RANDOM$RANDOM@example.co.id" "0813$((RANDOM % 9000 + 1000))$((RANDOM % 9000 + 1000))" "Rina Wati")")
[ "${r%% *}" = 201 ] || e2e_fail "registration answered $r"
stream=$(echo "${r#* }" | jq -r .stream_id)
seen() { kcat -b "$OSS_KAFKA_BOOTSTRAP" -C -t "${prefix}account" -o beginning -e -q -f '%k\n' 2>/dev/null | grep -cxF "$stream" >/dev/null; }
e2e_wait 30 seen || e2e_fail "the registration's message did not reach ${prefix}account"

# the topics the embedded broker creates (infra/lib.sh OSS_TOPICS)
topics=$(e2e_topics | sed 's/:.*//')
[ -n "$topics" ] || e2e_fail "no topics in OSS_TOPICS"
total=0
for t in $topics; do
    out=$(kcat -b "$OSS_KAFKA_BOOTSTRAP" -C -t "$t" -o beginning -e -q -J 2>/dev/null \
        | node "$tools/cloudevents_check.js") && st=0 || st=$?
    echo "$t: $out" | tail -n 21
    n=$(echo "$out" | tail -n1 | awk '{print $1}')
    if [ "$st" -ne 0 ] && [ "${n:-0}" -gt 0 ]; then
        e2e_fail "the CloudEvents SDK rejected messages on $t"
    fi
    total=$((total + ${n:-0}))
done
[ "$total" -gt 0 ] || e2e_fail "no message read"
e2e_ok "$total message(s) on $(echo $topics | wc -w) topic(s) are valid CloudEvents (SDK Kafka binding)"
