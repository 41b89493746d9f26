#!/usr/bin/env bash
# e2e: the authorization matrix. Every operation of producers/api/openapi.yaml
# (by its x-oss-action) x every role (owner, preparer, viewer, officer in
# scope, officer out of scope, the OSS authority's officer, access_admin,
# operator, auditor, no token) x an
# in-scope and an out-of-scope target, expecting the documented status
# (401 / 403 / 404 hidden / allowed). The principals are made for the run:
# registrations, members added by the owner, government principals from
# `oss principal create`; each activates with its OTP and signs in. The work
# is in test_authz_matrix.py; the full table goes to $AUTHZ_MATRIX_OUT
# (default: a temporary file, printed on failure; "!" marks a cell not as
# documented, "?" a status the operation does not document).
source "$(dirname "$0")/lib.sh"

/usr/bin/python3 -c 'import yaml' 2>/dev/null || e2e_fail "python3-yaml missing (infra/lib.sh installs it)"
[ -x "${OSS_CLI:-}" ] || e2e_fail "OSS_CLI ($OSS_CLI) is not executable: build the stack first"
e2e_wait 20 curl -fsS -m 2 "$OSS_API_URL/healthz" || e2e_fail "API not answering at $OSS_API_URL"
out=${AUTHZ_MATRIX_OUT:-$(mktemp)}
: >"$out"   # no stale table from an earlier run
if ! OSS_API_URL=$OSS_API_URL OSS_PG_URL=$OSS_PG_URL OSS_CONFIG=$OSS_CONFIG OSS_CLI=$OSS_CLI \
        E2E_ROOT=$E2E_ROOT AUTHZ_MATRIX_OUT=$out \
        /usr/bin/python3 "$(dirname "$0")/test_authz_matrix.py" "$E2E_ROOT/producers/api/openapi.yaml"; then
    [ -s "$out" ] && { echo "--- the matrix (! = not as documented):"; cat "$out"; }
    [ -n "${AUTHZ_MATRIX_OUT:-}" ] || rm -f "$out"
    e2e_fail "the authorization matrix does not match the documentation"
fi
[ -n "${AUTHZ_MATRIX_OUT:-}" ] || rm -f "$out"
echo "PASS test_authz_matrix"
