#!/usr/bin/env bash
# e2e: the malformed-request corpus (tests/e2e/corpus/cases.tsv) against the
# running API ($OSS_API_URL from var/run.env): every answer must carry our
# JSON error shape {"error":{"code","message","fields":[{"field","reason"}]}}
# with the documented status, a 405 must carry Allow, every answer must echo
# X-Correlation-Id, and the server must still answer /healthz afterwards.
set -uo pipefail

src=${OSS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
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
corpus=$src/tests/e2e/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 n=0

fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# generated bodies (not committed)
head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 'x' >"$tmp/big"
{ printf '{"nik":'; head -c 60000 /dev/zero | tr '\0' '['; } >"$tmp/deep"
long_path="/v1/$(head -c 6000 /dev/zero | tr '\0' 'a')"
{ printf 'X-Big: '; head -c 100000 /dev/zero | tr '\0' 'v'; echo; } >"$tmp/hdr_big"
for i in $(seq 1 5000); do echo "X-Many-$i: some header value"; done \
    >"$tmp/hdr_many"

if ! curl -sf -m 5 "$api/healthz" >/dev/null; then
    echo "FAIL: $api/healthz does not answer before the corpus" >&2
    exit 1
fi

while IFS=$'\t' read -r name method path ctype body want; do
    [[ -z $name || $name == \#* ]] && continue
    n=$((n + 1))
    args=(-s -m 60 --path-as-is -o "$tmp/body" -D "$tmp/headers"
          -w '%{http_code}' -X "$method")
    [[ $path == gen:long_path ]] && path=$long_path
    [[ $ctype != - ]] && args+=(-H "Content-Type: $ctype")
    case $body in
    -) ;;
    gen:big) args+=(--data-binary "@$tmp/big") ;;
    gen:big_chunked) args+=(-H 'Transfer-Encoding: chunked'
                            --data-binary "@$tmp/big") ;;
    gen:deep) args+=(--data-binary "@$tmp/deep") ;;
    hdr:big) args+=(-H "@$tmp/hdr_big") ;;
    hdr:many) args+=(-H "@$tmp/hdr_many") ;;
    hdr:big_post) args+=(-H "@$tmp/hdr_big"
                         --data-binary "@$corpus/empty_object.json") ;;
    *) args+=(--data-binary "@$corpus/$body") ;;
    esac
    # curl adds a form content type to --data-binary; "-" means none at all
    [[ $ctype == - && $body != - ]] && args+=(-H 'Content-Type:')
    status=$(curl "${args[@]}" "$api$path" 2>"$tmp/curl.err")
    if [[ $status != "$want" ]]; then
        fail "$name: status $status, want $want ($(head -c 200 "$tmp/body"))"
        continue
    fi
    if ! jq -e '
        (.error | type == "object") and
        (.error.code | type == "string" and length > 0) and
        (.error.message | type == "string") and
        (.error.fields | type == "array") and
        all(.error.fields[]; (.field | type == "string") and
                             (.reason | type == "string"))' \
        "$tmp/body" >/dev/null 2>&1; then
        fail "$name: not our JSON error shape: $(head -c 200 "$tmp/body")"
        continue
    fi
    if ! grep -qi '^X-Correlation-Id: ' "$tmp/headers"; then
        fail "$name: no X-Correlation-Id header"
    fi
    if [[ $want == 405 ]] && ! grep -qi '^Allow: ' "$tmp/headers"; then
        fail "$name: 405 without Allow"
    fi
    if [[ $want == 431 ]] && ! grep -qi '^Connection: close' "$tmp/headers"; then
        fail "$name: 431 without Connection: close"
    fi
    if [[ $want == 422 ]] &&
        ! jq -e '.error.fields | length > 0' "$tmp/body" >/dev/null; then
        fail "$name: 422 without fields"
    fi
    echo "ok   $name $status $(jq -c '[.error.code, [.error.fields[].reason]]' "$tmp/body")"
done <"$corpus/cases.tsv"

# the correlation id: a good one is echoed, a bad one replaced
cid=$(curl -s -m 5 -D - -o /dev/null -H 'X-Correlation-Id: e2e.cid-123_ABC' \
      "$api/healthz" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-correlation-id"{print $2}')
[[ $cid == e2e.cid-123_ABC ]] || fail "good correlation id not echoed: $cid"
cid=$(curl -s -m 5 -D - -o /dev/null -H 'X-Correlation-Id: bad id with spaces' \
      "$api/healthz" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-correlation-id"{print $2}')
[[ $cid =~ ^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] ||
    fail "bad correlation id not replaced by a UUIDv7: $cid"

# a connection reused after a 413 and after an unknown method still works
out=$(curl -s -m 30 -o /dev/null -w '%{http_code} ' \
      -X POST -H 'Content-Type: application/json' --data-binary "@$tmp/big" \
      "$api/v1/accounts" --next -s -o /dev/null -w '%{http_code} ' -X BREW \
      "$api/healthz" --next -s -o /dev/null -w '%{http_code}' "$api/healthz")
[[ $out == "413 405 200" ]] || fail "keep-alive sequence answered: $out"

# headers within the limits (an 8,000-byte header, 500 short ones) are served
{ printf 'X-Big: '; head -c 8000 /dev/zero | tr '\0' 'v'; echo; } >"$tmp/hdr_ok"
head -n 500 "$tmp/hdr_many" >>"$tmp/hdr_ok"
out=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H "@$tmp/hdr_ok" \
      "$api/healthz")
[[ $out == 200 ]] || fail "headers within the limits answered $out, want 200"
# the whole corpus for the header cases: every case above must be present
for c in header_100kb headers_many; do
    grep -q "^$c"$'\t' "$corpus/cases.tsv" || fail "corpus lacks case $c"
done

if ! curl -sf -m 5 "$api/healthz" >/dev/null; then
    fail "server no longer answers /healthz after the corpus"
fi
echo "$n cases, $fails failures"
[[ $fails -eq 0 ]]
