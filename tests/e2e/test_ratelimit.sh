#!/usr/bin/env bash
# e2e: the API's rate limits (producers/api/ratelimit.c). Starts its OWN API
# instance (the stack's binary and configuration, a free port, small limits
# through OSS_API_RATELIMIT_* and no exempt IP) against the shared database,
# then checks, per class: requests within the budget pass on to the handler,
# the next one is 429 "rate_limited" in the JSON error shape with a
# Retry-After of the bucket's refill time; per-IP limits count every key,
# per-key limits count every IP-allowed request for that key only.
source "$(dirname "$0")/lib.sh"

API_BIN=${OSS_BUILD_DIR:-$E2E_ROOT/build}/producers/oss-api
[ -x "$API_BIN" ] || e2e_fail "$API_BIN missing: build the stack first"
tmp=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# window 3600 s: a token comes back every 3600/max s, far beyond this test
env OSS_API_PORT="$port" OSS_API_LISTEN=127.0.0.1 OSS_API_WORKERS=2 \
    OSS_API_RATELIMIT_ENABLED=true OSS_API_RATELIMIT_EXEMPT_IPS= \
    OSS_API_RATELIMIT_REGISTER_IP_MAX=4 OSS_API_RATELIMIT_REGISTER_KEY_MAX=2 \
    OSS_API_RATELIMIT_REGISTER_WINDOW_S=3600 \
    OSS_API_RATELIMIT_SIGNIN_IP_MAX=1000 OSS_API_RATELIMIT_SIGNIN_KEY_MAX=2 \
    OSS_API_RATELIMIT_SIGNIN_WINDOW_S=3600 \
    OSS_API_RATELIMIT_OTP_IP_MAX=3 OSS_API_RATELIMIT_OTP_KEY_MAX=0 \
    OSS_API_RATELIMIT_OTP_WINDOW_S=3600 \
    OSS_API_RATELIMIT_RESEND_IP_MAX=1000 OSS_API_RATELIMIT_RESEND_KEY_MAX=1 \
    OSS_API_RATELIMIT_RESEND_WINDOW_S=3600 \
    OSS_API_RATELIMIT_RECOVERY_IP_MAX=1000 OSS_API_RATELIMIT_RECOVERY_KEY_MAX=1 \
    OSS_API_RATELIMIT_RECOVERY_WINDOW_S=3600 \
    "$API_BIN" >"$tmp/api.log" 2>&1 &
pid=$!
API="http://127.0.0.1:$port"
e2e_wait 20 curl -fsS -m 1 "$API/healthz" || { cat "$tmp/api.log" >&2; e2e_fail "own API instance did not start on port $port"; }
e2e_ok "own API instance on port $port"

# req METHOD PATH [BODY]: prints the status; headers in $tmp/h, body in $tmp/b
req() {
    local args=(-sS -m 15 -D "$tmp/h" -o "$tmp/b" -w '%{http_code}' -X "$1" "$API$2")
    [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
    curl "${args[@]}" || echo 000
}
# expect_429 WHAT RETRY_AFTER: the last answer was our 429
expect_429() {
    local ra
    ra=$(tr -d '\r' <"$tmp/h" | sed -n 's/^[Rr]etry-[Aa]fter: *//p')
    jq -e '.error.code == "rate_limited" and (.error.message | type) == "string" and (.error.fields | type) == "array"' \
        "$tmp/b" >/dev/null || e2e_fail "$1: 429 body is not our error shape: $(cat "$tmp/b")"
    [ -n "$ra" ] || e2e_fail "$1: 429 without Retry-After"
    # the bucket refills one token in window/max seconds (+1 for rounding)
    [ "$ra" -ge $(($2 - 1)) ] && [ "$ra" -le $(($2 + 1)) ] \
        || e2e_fail "$1: Retry-After $ra, expected about $2"
}

# ---- registration: per NIK (2) and per IP (4) -----------------------------
read -r nik bd < <(e2e_nik)
body=$(e2e_register_json "$nik" "$bd" "rl-$RANDOM@example.co.id" "+6281234567890" "Uji Batas")
s1=$(req POST /v1/accounts "$body")
[ "$s1" = 201 ] || e2e_fail "first registration: $s1 $(cat "$tmp/b")"
account_id=$(jq -r .account_id "$tmp/b")
s2=$(req POST /v1/accounts "$body")
[ "$s2" = 409 ] || e2e_fail "same NIK again: $s2 (want 409 before the limit)"
s3=$(req POST /v1/accounts "$body")
[ "$s3" = 429 ] || e2e_fail "third registration of one NIK: $s3, want 429"
expect_429 "register per NIK" 1800
e2e_ok "registration: a NIK's third try within the window -> 429 (Retry-After 1800)"
# the NIK was refused without spending an IP token: 2 of 4 are spent
read -r nik2 bd2 < <(e2e_nik)
body2=$(e2e_register_json "$nik2" "$bd2" "rl-$RANDOM@example.co.id" "+6281234567891" "Uji Batas Dua")
s=$(req POST /v1/accounts "$body2")
[ "$s" = 201 ] || e2e_fail "another NIK: $s $(cat "$tmp/b")"
# a malformed body still spends an IP token (no key)
s=$(req POST /v1/accounts '{"nik":')
[ "$s" = 400 ] || e2e_fail "malformed body: $s, want 400"
read -r nik3 bd3 < <(e2e_nik)
s=$(req POST /v1/accounts "$(e2e_register_json "$nik3" "$bd3" "rl3@example.co.id" "+6281234567892" "Uji Tiga")")
[ "$s" = 429 ] || e2e_fail "fifth registration from one IP: $s, want 429"
expect_429 "register per IP" 900
e2e_ok "registration: the fifth request from one IP -> 429 (Retry-After 900)"

# ---- sign-in: per key (2), whatever the outcome ---------------------------
for i in 1 2; do
    s=$(req POST /v1/sessions "{\"account_id\":\"$account_id\",\"password\":\"Wrong-pass-$i\"}")
    [ "$s" != 429 ] || e2e_fail "sign-in $i refused too early"
done
s=$(req POST /v1/sessions "{\"account_id\":\"$account_id\",\"password\":\"Wrong-pass-3\"}")
[ "$s" = 429 ] || e2e_fail "third sign-in for one account: $s, want 429"
expect_429 "sign-in per account" 1800
# the key is case-insensitive for e-mail and independent per account
s=$(req POST /v1/sessions '{"email":"Nobody-RL@example.co.id","password":"x"}')
[ "$s" != 429 ] || e2e_fail "sign-in with another key refused"
e2e_ok "sign-in: an account's third attempt -> 429; other keys unaffected"

# ---- activation OTP: per IP (3), across accounts ----------------------------
for id in 00000000-0000-7000-8000-00000000a001 00000000-0000-7000-8000-00000000a002 "$account_id"; do
    s=$(req POST "/v1/accounts/$id/activate" '{"otp":"000000"}')
    [ "$s" != 429 ] || e2e_fail "OTP try for $id refused too early"
done
s=$(req POST "/v1/accounts/00000000-0000-7000-8000-00000000a003/activate" '{"otp":"000000"}')
[ "$s" = 429 ] || e2e_fail "fourth OTP try from one IP: $s, want 429"
expect_429 "OTP per IP" 1200
e2e_ok "activation OTP: the fourth try from one IP -> 429 (Retry-After 1200)"

# ---- resend: per account (1) ------------------------------------------------
s=$(req POST "/v1/accounts/$account_id/activation" '{"channel":"email"}')
[ "$s" != 429 ] || e2e_fail "first resend refused"
s=$(req POST "/v1/accounts/$account_id/activation" '{"channel":"whatsapp"}')
[ "$s" = 429 ] || e2e_fail "second resend for one account: $s, want 429"
expect_429 "resend per account" 3600
s=$(req POST "/v1/accounts/00000000-0000-7000-8000-00000000a004/activation" '{"channel":"email"}')
[ "$s" != 429 ] || e2e_fail "resend for another account refused"
e2e_ok "resend: an account's second resend -> 429 (Retry-After 3600)"

# ---- recovery: "forgot account" per NIK (1) --------------------------------
# (only when the route exists: helper C's recovery.c)
if "$API_BIN" --routes | grep -qx 'POST /v1/account-recovery'; then
    read -r rnik _ < <(e2e_nik)
    s=$(req POST /v1/account-recovery "{\"has_nib\":false,\"nik\":\"$rnik\"}")
    [ "$s" != 429 ] || e2e_fail "first account recovery for a NIK refused"
    s=$(req POST /v1/account-recovery "{\"has_nib\":true,\"nik\":\"$rnik\"}")
    [ "$s" = 429 ] || e2e_fail "second account recovery for one NIK: $s, want 429"
    expect_429 "recovery per NIK" 3600
    read -r rnik2 _ < <(e2e_nik)
    s=$(req POST /v1/account-recovery "{\"has_nib\":false,\"nik\":\"$rnik2\"}")
    [ "$s" != 429 ] || e2e_fail "account recovery for another NIK refused"
    e2e_ok "account recovery: a NIK's second look-up -> 429 (Retry-After 3600)"
else
    echo "note: POST /v1/account-recovery not served: recovery not checked"
fi

# ---- no key or address in the log line of a refusal -----------------------
grep -q 'rate limited class=register' "$tmp/api.log" || e2e_fail "no log line for a refusal"
if grep -E "$nik|${rnik:-$nik}|127\.0\.0\.1.*rate|$account_id.*rate limited" "$tmp/api.log" >/dev/null; then
    e2e_fail "a NIK, address or account id in a rate-limit log line"
fi
e2e_ok "refusals logged by class only"
echo "PASS test_ratelimit"
