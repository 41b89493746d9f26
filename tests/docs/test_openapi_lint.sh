#!/usr/bin/env bash
# producers/api/openapi.yaml against an outside linter: Redocly CLI (the
# version pinned in tests/tools/package.json, its recommended rules, no
# rule switched off) reports no error and no warning; and the document's
# own conventions hold: every operation has an operationId and an
# x-oss-action, and an operation needs no token (security: []) exactly when
# its action is "public" (every other one inherits the bearer scheme).
# Needs the node tools (infra/lib.sh oss_node_tools; infra/test installs
# them first). Label unit: no server is involved.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
doc=${1:-$root/producers/api/openapi.yaml}
source "$root/tests/tools/env.sh"
redocly=$root/tests/tools/node_modules/.bin/redocly
[ -x "$redocly" ] || { echo "FAIL: $redocly missing: run infra/lib.sh oss_node_tools (infra/test does)" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$redocly" lint "$doc" --format=summary >"$out" 2>&1
rc=$?
if [ $rc -ne 0 ] || grep -qE '^(error|warning) ' "$out"; then
    cat "$out" >&2
    echo "FAIL: redocly lint reports problems in $doc" >&2
    exit 1
fi
echo "ok: redocly lint: no error, no warning"
python3 - "$doc" <<'PY' || exit 1
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
bad = []
assert doc.get("security") == [{"bearer": []}], "no global bearer security"
for path, ops in doc["paths"].items():
    for m, op in ops.items():
        if m not in ("get", "post", "put", "patch", "delete"):
            continue
        act = op.get("x-oss-action")
        if not op.get("operationId") or not act:
            bad.append(f"{m} {path}: operationId or x-oss-action missing")
        public = op.get("security") == []
        if public != (act == "public"):
            bad.append(f"{m} {path}: x-oss-action {act} but security {op.get('security')}")
for b in bad:
    print("FAIL:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
echo "ok: every operation has an operationId; security [] exactly on the public ones"
