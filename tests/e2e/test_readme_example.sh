#!/usr/bin/env bash
# The example infra/run prints (and the README shows) works as printed: the
# curl command answers 201, the account reaches the read model, and
# `source var/run.env; $OSS_CLI audit history` works in a clean shell.
# The time to the read model is printed, not asserted (timing belongs in
# tests/bench).
source "$(dirname "$0")/lib.sh"
out=$("$E2E_ROOT/infra/run" --detach 2>&1) || e2e_fail "infra/run --detach failed: $out"
cmd=$(echo "$out" | grep -E "^ +curl -sS -X POST .*/v1/accounts" | head -n1)
[ -n "$cmd" ] || e2e_fail "infra/run printed no curl example: $out"
# the README shows the same request shape
echo "$cmd" | grep -o "{.*}" | jq -e '.nik and .name and .birth_date and .email and .phone' >/dev/null \
    || e2e_fail "the example body is not a registration: $cmd"
readme_keys=$(grep -o '{"scale".*' "$E2E_ROOT/README.md" | head -n1 | grep -o '"[a-z_]*":' | sort | tr -d '\n')
run_keys=$(echo "$cmd" | grep -o "{.*}" | grep -o '"[a-z_]*":' | sort | tr -d '\n')
[ "$readme_keys" = "$run_keys" ] || e2e_fail "README and infra/run show different fields: $readme_keys vs $run_keys"
resp=$(eval "$cmd -w ' %{http_code}'")
[ "${resp##* }" = 201 ] || e2e_fail "the printed example answered: $resp"
id=$(echo "${resp% *}" | jq -r .account_id)
start=$(date +%s%N)
e2e_wait 30 e2e_rm_status "$id" || e2e_fail "account $id never reached the read model"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
hist=$(env -i PATH="$PATH" bash -c "source '$RUN_ENV' && \$OSS_CLI audit history account-$id" 2>&1) \
    || e2e_fail "oss audit history in a clean shell: $hist"
echo "$hist" | grep -q "AccountRegistered" || e2e_fail "history does not show the registration: $hist"
e2e_ok "printed example: 201, in the read model after ${ms} ms; audit history works from run.env"
