#!/usr/bin/env bash
# PostgreSQL stopped while requests arrive: the API answers 503 with
# Retry-After and our error shape, nothing crashes, and everything resumes
# when it is back (the account registered after the outage is projected).
source "$(dirname "$0")/lib.sh"
RUN="$E2E_ROOT/infra/run"
api_pid=$(cat "$OSS_VAR/run/api.pid")
restore() { "$RUN" svc start postgres >/dev/null 2>&1 || true; }
trap restore EXIT

read -r nik bd < <(e2e_nik)
r=$(e2e_post /v1/accounts "$(e2e_register_json "$nik" "$bd" "pgdown$RANDOM@example.co.id" "0857$((RANDOM % 9000 + 1000))$((RANDOM % 9000 + 1000))" "Dewi Lestari")")
[ "${r%% *}" = 201 ] || e2e_fail "registration before the outage: $r"
e2e_ok "registered before the outage"

"$RUN" svc stop postgres
for i in $(seq 1 20); do
    read -r nik bd < <(e2e_nik)
    body=$(e2e_register_json "$nik" "$bd" "down$i.$RANDOM@example.co.id" "08571234$((RANDOM % 9000 + 1000))" "Budi Santoso")
    hdr=$(mktemp)
    status=$(curl -sS -m 15 -D "$hdr" -o /tmp/pgdown.$$ -w '%{http_code}' -X POST "$OSS_API_URL/v1/accounts" \
        -H 'Content-Type: application/json' --data-binary "$body")
    [ "$status" = 503 ] || e2e_fail "request $i while PostgreSQL is down: status $status"
    grep -qi '^retry-after: [0-9]' "$hdr" || e2e_fail "request $i: no Retry-After header"
    jq -e '.error.code and .error.message' /tmp/pgdown.$$ >/dev/null || e2e_fail "request $i: not our error shape: $(cat /tmp/pgdown.$$)"
    rm -f "$hdr"
done
e2e_ok "20 registrations answered 503 with Retry-After while PostgreSQL was down"
curl -fsS -m 5 "$OSS_API_URL/healthz" >/dev/null || e2e_fail "liveness failed while PostgreSQL was down"
rs=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$OSS_API_URL/readyz")
[ "$rs" = 503 ] || e2e_fail "readiness said $rs while PostgreSQL was down"

"$RUN" svc start postgres
e2e_wait 60 curl -fsS -m 2 "$OSS_API_URL/readyz" || e2e_fail "API not ready after PostgreSQL came back"
kill -0 "$api_pid" || e2e_fail "the API process died"
read -r nik bd < <(e2e_nik)
r=$(e2e_post /v1/accounts "$(e2e_register_json "$nik" "$bd" "pgback$RANDOM@example.co.id" "0812$((RANDOM % 9000 + 1000))$((RANDOM % 9000 + 1000))" "Rina Wati")")
[ "${r%% *}" = 201 ] || e2e_fail "registration after the outage: $r"
id=$(echo "${r#* }" | jq -r .account_id)
e2e_wait 60 e2e_rm_status "$id" \
    || e2e_fail "account $id not in the read model after recovery"
e2e_ok "resumed: account registered after the outage is in the read model; API pid unchanged"
