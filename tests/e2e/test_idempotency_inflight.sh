#!/usr/bin/env bash
# e2e: retries in flight (issue 10, item 5). Five rounds of 16 concurrent
# POST /v1/accounts with ONE Idempotency-Key and ONE body (16 clients that
# retry while the first attempt still runs): every answer is the first
# answer byte for byte (status and body; a 429 from the rate limit is the
# only other answer allowed), and the journal holds one registration per
# round. Before the fix, callers whose attempt overlapped the first got 409
# one_account_per_business instead and never learnt their account id.
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=16
run=$(date +%s%N)
# one round: n clients at once; sets ok, limited, first
inflight_round() {
    local round=$1 key=$2 body=$3 i p st
    local -a pids=()
    for i in $(seq 1 $n); do
        curl -sS -m 30 -o "$work/$round.$i.body" -w '%{http_code}' \
            -X POST "$OSS_API_URL/v1/accounts" -H 'Content-Type: application/json' \
            -H "Idempotency-Key: $key" -H "X-Correlation-Id: $key-$i" \
            --data-binary "$body" >"$work/$round.$i.status" 2>"$work/$round.$i.err" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || true; done
    first=""
    ok=0 limited=0
    for i in $(seq 1 $n); do
        st=$(cat "$work/$round.$i.status")
        case $st in
        429) limited=$((limited + 1)); continue ;;
        201) ;;
        *) e2e_fail "round $round request $i: status $st: $(cat "$work/$round.$i.body" "$work/$round.$i.err")" ;;
        esac
        ok=$((ok + 1))
        if [ -z "$first" ]; then
            first=$i
        elif ! cmp -s "$work/$round.$first.body" "$work/$round.$i.body"; then
            e2e_fail "round $round: answers differ: $(cat "$work/$round.$first.body") vs $(cat "$work/$round.$i.body")"
        fi
    done
}

for round in 1 2 3 4 5; do
    read -r nik bd < <(e2e_nik)
    body=$(e2e_register_json "$nik" "$bd" "inflight.$run.$round@contoh.co.id" \
        "0812$((RANDOM % 9000 + 1000))$((RANDOM % 9000 + 1000))" "Dewi Inflight")
    key="e2e-inflight-$run-$round"
    for try in 1 2 3; do
        inflight_round "$round" "$key" "$body"
        [ "$ok" -ge 1 ] && break
        sleep 2 # every request rate-limited (other tests share the limit)
    done
    [ "$ok" -ge 1 ] || e2e_fail "round $round: no request got through ($limited rate-limited)"
    account=$(jq -r .account_id "$work/$round.$first.body")
    streams=$(psql "$OSS_PG_URL" -XAtqc "SELECT count(DISTINCT stream_id) FROM oss.journal
        WHERE correlation_id LIKE '$key-%' AND payload_type = 'oss.v1.AccountRegistered'")
    [ "$streams" = 1 ] || e2e_fail "round $round: $streams registrations for one key"
    e2e_ok "round $round: $ok answers identical (account $account), $limited rate-limited, one registration"
done
