# Shared helpers for the e2e tests (bash): find the running stack, make valid
# unique registrations, wait with a bound, fail loudly. Sourced.
set -euo pipefail
E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUN_ENV=${OSS_RUN_ENV:-$E2E_ROOT/var/run.env}
[ -r "$RUN_ENV" ] || { echo "FAIL: $RUN_ENV missing: is the stack running (infra/run --detach)?" >&2; exit 1; }
# shellcheck disable=SC1090
source "$RUN_ENV"
export OSS_CONFIG

e2e_fail() { echo "FAIL: $*" >&2; exit 1; }
e2e_ok() { echo "ok: $*"; }

# A structurally valid NIK, unique enough for a test run: province 31 (DKI),
# regency 71, district 01, a random birth date (women +40 half the time), a
# random serial 0001-9999. Prints "NIK BIRTHDATE".
e2e_nik() {
    local d=$((RANDOM % 28 + 1)) m=$((RANDOM % 12 + 1)) y=$((RANDOM % 40 + 60))
    local s=$((RANDOM % 9999 + 1)) dd=$d
    [ $((RANDOM % 2)) -eq 0 ] && dd=$((d + 40))
    printf '317101%02d%02d%02d%04d 19%02d-%02d-%02d\n' "$dd" "$m" "$y" "$s" "$y" "$m" "$d"
}

# e2e_register_json NIK BIRTH EMAIL PHONE NAME: a registration body.
e2e_register_json() {
    jq -cn --arg nik "$1" --arg bd "$2" --arg email "$3" --arg phone "$4" --arg name "$5" \
        '{scale:"UMK", actor_type:"02", nik:$nik, name:$name, birth_date:$bd,
          email:$email, phone:$phone, country:"ID", terms_version:"2025-06"}'
}

# e2e_post PATH BODY [curl args...]: prints "STATUS BODY" (body on one line).
e2e_post() {
    local path=$1 body=$2; shift 2
    curl -sS -m 15 -o /tmp/e2e.$$.body -w '%{http_code}' -X POST "$OSS_API_URL$path" \
        -H 'Content-Type: application/json' "$@" --data-binary "$body" || echo -n 000
    echo -n " "; tr -d '\n' </tmp/e2e.$$.body 2>/dev/null; echo
    rm -f /tmp/e2e.$$.body
}

# e2e_wait SECONDS CMD...: retries CMD every 0.2 s until it succeeds.
e2e_wait() {
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

# e2e_mails_of ID MARKER: the sink's mail files newer than the file MARKER
# whose Message-ID is <ID@oss.local>, one path a line (none: empty). The sink
# holds many thousands of files: found with find, never a glob.
e2e_mails_of() {
    find "${OSS_MAIL_DIR:?}" -maxdepth 1 -name '*.eml' -newer "$2" -print0 2>/dev/null |
        { xargs -0 -r grep -lF "Message-ID: <$1@oss.local>" 2>/dev/null || true; }
}
# e2e_has_mail ID MARKER: whether such a mail exists.
e2e_has_mail() { [ -n "$(e2e_mails_of "$1" "$2")" ]; }

# The topics the embedded broker creates, one "name:partitions" a line, sorted
# (infra/lib.sh OSS_TOPICS, the one definition).
e2e_topics() { bash -c 'source "$1/infra/lib.sh"; echo "$OSS_TOPICS"' _ "$E2E_ROOT" | tr ',' '\n' | sort; }
e2e_psql() { psql -X -qtA -v ON_ERROR_STOP=1 "$OSS_PG_URL" "$@"; }

# e2e_rm_status ID: prints the account's status in the read model rm.accounts
# (what the projector made of it; GET /v1/accounts/{id} needs a session) and
# succeeds, or fails when the projector has not written the account yet.
# Poll it with e2e_wait: e2e_wait 30 e2e_rm_status "$id".
e2e_rm_status() {
    local st
    # the id goes in as a psql variable (quoted by psql), read from stdin
    st=$(psql -X -qtA -v ON_ERROR_STOP=1 "$OSS_PG_URL" -v id="$1" 2>/dev/null \
        <<<"SELECT status FROM rm.accounts WHERE account_id = :'id'") || return 1
    [ -n "$st" ] || return 1
    echo "$st"
}
e2e_psql_super() { psql -X -qtA -v ON_ERROR_STOP=1 "$OSS_PG_SUPER_URL" "$@"; }

# ---- the run-wide secrets registry ----------------------------------------
# e2e_secret [--for PRINCIPAL_ID] VALUE...: registers each secret this test
# used (password, OTP, activation link token, session token, reset token,
# legacy password) in $E2E_SECRETS (one "TEST<TAB>PRINCIPAL<TAB>VALUE" line
# each, created 0600). tests/e2e/test_secrets_sweep.sh, run after every
# other e2e test (tests/CMakeLists.txt), looks for every entry in the
# journal, the tables, Kafka and the logs: zero hits. A fresh stack starts
# with an empty registry; on a dev stack older entries stay and must still
# be absent. A 6-digit OTP collides by chance with numbers in big dumps: it
# is looked for only beside its principal (give --for: the rows of its
# streams, Kafka messages and log lines naming it, log lines saying "otp").
# Empty values, "null" (a jq miss) and "-" (nothing found) are ignored.
export E2E_SECRETS=${E2E_SECRETS:-$OSS_VAR/e2e-secrets.txt}
e2e_secret() {
    local ctx="" v
    if [ "${1:-}" = --for ]; then ctx=$2; shift 2; fi
    for v in "$@"; do
        [ -n "$v" ] && [ "$v" != null ] && [ "$v" != - ] || continue
        case $v in *$'\t'* | *$'\n'*) e2e_fail "e2e_secret: a secret with a tab or a newline" ;; esac
        if [[ $v =~ ^[0-9]{6}$ ]]; then
            [ -n "$ctx" ] || e2e_fail "e2e_secret: an OTP needs --for PRINCIPAL_ID"
        elif [ ${#v} -lt 8 ]; then
            e2e_fail "e2e_secret: \"${v:0:2}...\" is too short to be looked for"
        fi
        (umask 077; printf '%s\t%s\t%s\n' "${0##*/}" "$ctx" "$v" >>"$E2E_SECRETS")
    done
}
