#!/usr/bin/env bash
# e2e: the running API against producers/api/openapi.yaml (OpenAPI 3.1):
# every documented operation is served (oss-api --routes and the live
# server: neither 405 nor 404 "no such resource") and answers a documented
# status in the JSON error shape; every served route is documented; every
# operation says its x-oss-action. The work is in test_openapi.py
# (python3-yaml from Debian: /usr/bin/python3).
source "$(dirname "$0")/lib.sh"

API_BIN=${OSS_BUILD_DIR:-$E2E_ROOT/build}/producers/oss-api
[ -x "$API_BIN" ] || e2e_fail "$API_BIN missing: build the stack first"
/usr/bin/python3 -c 'import yaml' 2>/dev/null || e2e_fail "python3-yaml missing (infra/lib.sh installs it)"
e2e_wait 20 curl -fsS -m 2 "$OSS_API_URL/healthz" || e2e_fail "API not answering at $OSS_API_URL"
/usr/bin/python3 "$(dirname "$0")/test_openapi.py" \
    "$E2E_ROOT/producers/api/openapi.yaml" "$API_BIN" "$OSS_API_URL" \
    "$E2E_ROOT/src/core/authz.c" || e2e_fail "the server does not match its OpenAPI file"
echo "PASS test_openapi"
