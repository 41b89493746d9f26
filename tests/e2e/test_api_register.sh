#!/usr/bin/env bash
# e2e: registering accounts through the running API ($OSS_API_URL) with the
# shared fixtures: 201 for a fixture business (NIK made unique per run, since
# the database is shared and persistent), 409 one_account_per_business
# naming "nik" for the same individual's NIK (no event), 409 naming "npwp"
# for a second account of the same business entity (NPWP), the same NIK
# again, 422 with the reason code for every NIK row of invalid.tsv, an
# Idempotency-Key retry answered with the same body and no new journal row,
# the correlation id in the journal row, the account in rm.accounts once
# relay + projector applied it (GET /v1/accounts/{id} 401 without a
# session), and no plaintext
# NIK, name, e-mail or phone in the journal rows.
set -uo pipefail

src=${OSS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
shared=$src/../shared/fixtures
keep_url=${OSS_API_URL:-}
run_env=${OSS_RUN_ENV:-$src/var/run.env}
if [[ ! -r $run_env ]]; then
    echo "FAIL: $run_env missing: start the stack with infra/run --detach" >&2
    exit 1
fi
# shellcheck disable=SC1090
source "$run_env"
[[ -n $keep_url ]] && OSS_API_URL=$keep_url
api=${OSS_API_URL:?OSS_API_URL unset}
pg=${OSS_PG_URL:?OSS_PG_URL unset}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
run=$(date +%s)-$RANDOM

fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}
psqlq() { psql "$pg" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }

# post BODY [extra curl args...] -> sets $status and $tmp/body, $tmp/headers
post() {
    local body=$1
    shift
    status=$(curl -s -m 30 -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' \
        -H 'Content-Type: application/json' --data-binary "$body" "$@" \
        "$api/v1/accounts")
}

# A structurally valid NIK unique to this run: the fixture's province and
# regency, a random district, the fixture's date field, a random serial.
unique_nik() {
    local nik=$1
    printf '%s%02d%s%04d' "${nik:0:4}" $((RANDOM % 99 + 1)) "${nik:6:6}" \
        $((RANDOM % 9999 + 1))
}

registration() { # nik name birth_date email phone
    jq -cn --arg nik "$1" --arg name "$2" --arg bd "$3" --arg email "$4" \
        --arg phone "$5" '{scale: "UMK", actor_type: "02", nik: $nik,
        name: $name, birth_date: $bd, email: $email, phone: $phone,
        terms_version: "2025-06", website: "https://contoh.co.id"}'
}

# ---- 1. a fixture business registers: 201 -----------------------------------
IFS=$'\t' read -r _ _ _ _ fnik _ fbirth _ < <(awk -F'\t' 'NR==2' "$shared/businesses.tsv")
nik=$(unique_nik "$fnik")
# DD-MM-YYYY as OSS sends it
bd="${fbirth:8:2}-${fbirth:5:2}-${fbirth:0:4}"
name="Siti Aminah Ujicoba"
email="siti.$run@contoh.co.id"
phone="08$((RANDOM % 9 + 1))$(printf '%09d' $((RANDOM * RANDOM % 1000000000)))"
cid1="e2e-reg-$run"
post "$(registration "$nik" "$name" "$bd" "$email" "$phone")" -H "X-Correlation-Id: $cid1"
if [[ $status != 201 ]]; then
    fail "register fixture: status $status: $(cat "$tmp/body")"
    echo "cannot continue without an account" >&2
    exit 1
fi
account_id=$(jq -r .account_id "$tmp/body")
stream_id=$(jq -r .stream_id "$tmp/body")
# AccountRegistered + TermsAccepted
[[ $(jq -r .version "$tmp/body") == 2 ]] || fail "201 body version is not 2"
[[ $(jq -r .correlation_id "$tmp/body") == "$cid1" ]] || fail "201 body lacks our correlation id"
grep -qi "^Location: /v1/accounts/$account_id" "$tmp/headers" || fail "201 without Location"
echo "ok   registered $account_id"

# the correlation id reached the event envelope (journal row)
row_cid=$(psqlq "SELECT correlation_id FROM oss.journal WHERE stream_id = '$stream_id' AND version = 1")
[[ $row_cid == "$cid1" ]] || fail "journal correlation_id is '$row_cid', want '$cid1'"

# ---- 2. one account per business: 409 naming the field, no event ------------
# an individual (actor 02) is identified by the NIK
post "$(registration "$nik" "Someone Else" "$bd" "other.$run@contoh.co.id" "081234567890")" \
    -H "X-Correlation-Id: $cid1-dup"
if [[ $status != 409 || $(jq -r .error.code "$tmp/body") != one_account_per_business ]] ||
    ! jq -e '.error.fields | any(.field == "nik" and .reason == "one_account_per_business")' "$tmp/body" >/dev/null; then
    fail "duplicate NIK: status $status, body $(cat "$tmp/body")"
else
    echo "ok   duplicate NIK -> 409 one_account_per_business naming nik"
fi
[[ $(psqlq "SELECT count(*) FROM oss.journal WHERE correlation_id = '$cid1-dup'") == 0 ]] ||
    fail "the refused registration wrote events"
# a business entity (actor 01) by its NPWP: another director, same NPWP ->
# 409 naming npwp; the same director with another NPWP -> another business
npwp15() { # a legacy 15-digit NPWP new to this run (Luhn over the first 9)
    local d sum=0 i v
    d=$(printf '%04d%04d' $((RANDOM % 10000)) $((RANDOM % 10000)))
    for i in 0 1 2 3 4 5 6 7; do
        v=${d:i:1}
        ((i % 2 == 1)) && { v=$((v * 2)); ((v > 9)) && v=$((v - 9)); }
        sum=$((sum + v))
    done
    printf '%s%d%06d' "$d" $(((10 - sum % 10) % 10)) $((RANDOM * 7 % 1000000))
}
entity() { # NIK NPWP
    registration "$1" "$name" "$bd" "pt.$RANDOM.$run@contoh.co.id" "081355556666" |
        jq -c --arg npwp "$2" '.actor_type = "01" | .npwp = $npwp'
}
np=$(npwp15)
post "$(entity "$(unique_nik "$fnik")" "$np")"
[[ $status == 201 ]] || fail "business entity with NPWP: $status $(cat "$tmp/body")"
post "$(entity "$(unique_nik "$fnik")" "0$np")"
if [[ $status != 409 ]] || ! jq -e '.error.fields | any(.field == "npwp" and .reason == "one_account_per_business")' "$tmp/body" >/dev/null; then
    fail "second account for the same NPWP (15 and 16-digit forms): status $status, body $(cat "$tmp/body")"
else
    echo "ok   second account for the same NPWP -> 409 one_account_per_business naming npwp"
fi

# one person, several businesses (issue 10, item 10): a director registers
# two companies without an NPWP (each known by its company e-mail), and the
# same director again with another NPWP; a second account for the same
# company e-mail is refused naming email
director=$(unique_nik "$fnik")
co_mail() { echo "pt.$1.$run@contoh.co.id"; }
company() { # NIK EMAIL
    registration "$1" "$name" "$bd" "$2" "081355556666" | jq -c '.actor_type = "01"'
}
post "$(company "$director" "$(co_mail satu)")"
[[ $status == 201 ]] || fail "director's first company: $status $(cat "$tmp/body")"
post "$(company "$director" "$(co_mail dua)")"
[[ $status == 201 ]] || fail "director's second company: $status $(cat "$tmp/body")"
post "$(company "$director" "$(co_mail tiga)" | jq -c --arg npwp "$(npwp15)" '.npwp = $npwp')"
[[ $status == 201 ]] || fail "director's third company (with an NPWP): $status $(cat "$tmp/body")"
post "$(company "$(unique_nik "$fnik")" "$(co_mail dua)")"
if [[ $status != 409 ]] || ! jq -e '.error.fields | any(.field == "email" and .reason == "one_account_per_business")' "$tmp/body" >/dev/null; then
    fail "second account for one company e-mail: status $status, body $(cat "$tmp/body")"
else
    echo "ok   a director registers three companies; one company e-mail twice -> 409 naming email"
fi
# foreign actors (issue 10, item 11): a foreign business entity (04) with a
# passport and a Singapore number; an individual (02) still needs an
# Indonesian one
post "$(registration "" "Tan Ah Kow" "01-02-1970" "sg.$run@contoh.com.sg" "+65 6123 4567" |
    jq -c '.actor_type = "04" | del(.nik) | .passport = "E'$((RANDOM % 9000000 + 1000000))'" | .passport_country = "SG" | .country = "SG"')"
[[ $status == 201 ]] || fail "foreign actor with a Singapore number: $status $(cat "$tmp/body")"
post "$(registration "$(unique_nik "$fnik")" "$name" "$bd" "sg2.$run@contoh.co.id" "+65 6123 4567")"
if [[ $status != 422 ]] || ! jq -e '.error.fields | any(.field == "phone" and .reason == "phone_not_indonesian")' "$tmp/body" >/dev/null; then
    fail "individual with a Singapore number: status $status, body $(cat "$tmp/body")"
else
    echo "ok   foreign actor registers with +65; an individual's +65 -> 422 phone_not_indonesian"
fi

# ---- 3. every NIK row of invalid.tsv: 422 with its reason code ---------------
code_for() { # prose reason -> our code (same mapping as test_core_nik.c)
    case $1 in
    *digits*) echo nik_not_16_digits ;;
    *province*) echo nik_unknown_province ;;
    *serial*) echo nik_serial_zero ;;
    *date* | *day*) echo nik_invalid_date ;;
    *) echo unknown ;;
    esac
}
ninvalid=0
while IFS=$'\t' read -r kind value reason; do
    [[ $kind == nik ]] || continue
    want=$(code_for "$reason")
    post "$(registration "$value" "$name" "$bd" "$email" "$phone")"
    got=$(jq -r '.error.fields[]? | select(.field == "nik") | .reason' "$tmp/body" 2>/dev/null)
    if [[ $status != 422 || $got != "$want" ]]; then
        fail "invalid NIK $value ($reason): status $status reason '$got', want 422 $want"
    else
        ninvalid=$((ninvalid + 1))
    fi
done <"$shared/invalid.tsv"
((ninvalid >= 4)) || fail "only $ninvalid invalid NIK rows checked"
echo "ok   $ninvalid invalid NIK rows -> 422 with their reason"

# several bad fields at once: one entry per field
post '{"scale":"BIG","actor_type":"07","nik":"317101540390990","name":"B0b","birth_date":"1990-02-30","email":"nope","phone":"+62 0812","terms_version":"2025-06"}'
nf=$(jq '[.error.fields[].field] | unique | length' "$tmp/body" 2>/dev/null)
[[ $status == 422 && $nf == 7 ]] || fail "multi-field 422: status $status, $nf fields: $(cat "$tmp/body")"

# a NIK whose date disagrees with the birth date is accepted with a warning
nik2=$(unique_nik "$fnik")
post "$(registration "$nik2" "$name" "01-01-1970" "w.$run@contoh.co.id" "081298765432")"
if [[ $status != 201 ]] ||
    ! jq -e '.warnings | any(.reason == "nik_birth_date_mismatch")' "$tmp/body" >/dev/null; then
    fail "date mismatch: status $status body $(cat "$tmp/body")"
else
    echo "ok   NIK/birth-date mismatch accepted with a warning"
fi
stream_ids=("$stream_id" "$(jq -r .stream_id "$tmp/body")")

# ---- 4. Idempotency-Key: same body back, no new journal row ------------------
key="e2e-idem-$run"
nik3=$(unique_nik "$fnik")
body3=$(registration "$nik3" "$name" "$bd" "i.$run@contoh.co.id" "081311112222")
post "$body3" -H "Idempotency-Key: $key" -H "X-Correlation-Id: $key-a"
first_status=$status
cp "$tmp/body" "$tmp/first"
stream3=$(jq -r .stream_id "$tmp/first")
post "$body3" -H "Idempotency-Key: $key" -H "X-Correlation-Id: $key-b"
if [[ $first_status != 201 || $status != 201 ]] || ! cmp -s "$tmp/first" "$tmp/body"; then
    fail "idempotent retry: $first_status/$status, bodies $(cat "$tmp/first") vs $(cat "$tmp/body")"
fi
n_b=$(psqlq "SELECT count(*) FROM oss.journal WHERE correlation_id = '$key-b'")
n_s=$(psqlq "SELECT count(*) FROM oss.journal WHERE stream_id = '$stream3'")
[[ $n_b == 0 && $n_s == 2 ]] || fail "idempotent retry wrote rows: retry $n_b, stream $n_s"
# the same key with another body is refused
post "${body3/Aminah/Aminah X}" -H "Idempotency-Key: $key"
[[ $status == 409 ]] || fail "reused Idempotency-Key with another body: status $status"
echo "ok   Idempotency-Key retry -> same body, no new row"
stream_ids+=("$stream3")

# ---- 5. the read model holds the account ------------------------------------
# (GET /v1/accounts/{id} needs a session allowed account.read: anonymous
# callers get 401; the row itself is read from rm.accounts)
got=""
for _ in $(seq 1 100); do
    got=$(psqlq "SELECT row_to_json(a) FROM rm.accounts a WHERE account_id = '$account_id'")
    [[ -n $got ]] && break
    sleep 0.2
done
if [[ -z $got ]]; then
    fail "account $account_id not in rm.accounts after 20 s (relay + projector running?)"
else
    echo "$got" >"$tmp/acct"
    # "pending" once the projector applied the ActivationIssued as well
    jq -e --arg id "$account_id" '.account_id == $id and (.status == "registered" or .status == "pending")' \
        "$tmp/acct" >/dev/null || fail "account row: $(cat "$tmp/acct")"
    if grep -qiF -e "$nik" -e "$email" -e "${phone:1}" -e "$name" "$tmp/acct"; then
        fail "rm.accounts holds personal data"
    fi
    got=$(curl -s -m 5 -w '%{http_code}' -o "$tmp/acct" "$api/v1/accounts/$account_id")
    [[ $got == 401 ]] || fail "anonymous GET /v1/accounts/$account_id: $got, want 401"
    echo "ok   account in the read model; anonymous GET -> 401"
fi

# ---- 6. no plaintext personal data in the journal rows -----------------------
ids=$(printf "'%s'," "${stream_ids[@]}")
psqlq "COPY (SELECT * FROM oss.journal WHERE stream_id IN (${ids%,})) TO STDOUT" >"$tmp/dump"
psqlq "COPY (SELECT encode(payload, 'escape') FROM oss.journal WHERE stream_id IN (${ids%,})) TO STDOUT" >>"$tmp/dump"
[[ $(grep -c . "$tmp/dump") -ge 3 ]] || fail "journal dump is empty"
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
for secret in "$nik" "$nik2" "$nik3" "$email" "siti.$run" "+62${phone:1}" "${phone:1}" "$name"; do
    if grep -qF -- "$secret" "$tmp/dump" || grep -qF -- "$(hex "$secret")" "$tmp/dump"; then
        fail "plaintext personal data in the journal: ${secret:0:4}..."
    fi
done
echo "ok   no plaintext NIK/e-mail/phone/name in the journal rows"

# ---- 7. /metrics: Prometheus text with the pipeline gauges --------------------
ct=$(curl -s -m 10 -o "$tmp/metrics" -w '%{content_type}' "$api/metrics")
[[ $ct == "text/plain; version=0.0.4"* ]] || fail "/metrics content type: $ct"
for m in 'oss_http_requests_total{route="/v1/accounts",method="POST",status="201"}' \
    'oss_http_request_duration_seconds_bucket{route="/v1/accounts",method="POST",le="+Inf"}' \
    'oss_http_request_duration_seconds_count{' oss_relay_lag_events \
    oss_relay_horizon_age_seconds oss_projector_lag_events oss_dead_letters; do
    grep -qF -- "$m" "$tmp/metrics" || fail "/metrics lacks $m"
done
# every sample line is "name{labels} number" or "name number"
bad=$(grep -v '^#' "$tmp/metrics" | grep -Evc '^oss_[a-z_]+(\{([a-z_]+="[^"]*",?)*\})? -?[0-9.e+-]+$')
[[ $bad == 0 ]] || fail "/metrics has $bad malformed sample lines"
echo "ok   /metrics"

echo "$fails failures"
[[ $fails -eq 0 ]]
