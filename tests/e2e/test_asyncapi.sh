#!/usr/bin/env bash
# schemas/asyncapi.yaml against the tools and the topics that exist: the
# AsyncAPI CLI validates it with no error, warning or governance issue; its
# channels are exactly the topics the embedded broker creates (infra/lib.sh
# OSS_TOPICS, read back from the running broker with their partition
# counts) and the topics infra/deploy/compose.yaml creates on a real
# cluster; the ce_dataschema it documents is the one the messages carry.
source "$(dirname "$0")/lib.sh"
source "$E2E_ROOT/tests/tools/env.sh"
doc=$E2E_ROOT/schemas/asyncapi.yaml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

asyncapi validate "$doc" >"$tmp/validate" 2>&1 || { cat "$tmp/validate"; e2e_fail "asyncapi validate failed"; }
grep -q "don't have governance issues" "$tmp/validate" || { cat "$tmp/validate"; e2e_fail "the AsyncAPI CLI reports issues"; }
e2e_ok "asyncapi validate: valid, no governance issues"

want=$(e2e_topics)
python3 - "$doc" "$E2E_ROOT/infra/deploy/compose.yaml" "$E2E_ROOT/src/bus/bus.h" >"$tmp/docs" <<'PY' || e2e_fail "could not read the documents"
import re, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
print("asyncapi", " ".join(sorted(c["address"] for c in doc["channels"].values())))
cmd = " ".join(yaml.safe_load(open(sys.argv[2]))["services"]["topics"]["command"])
print("compose", " ".join(sorted(f"{t}:{p}" for t, p in re.findall(r"--topic (\S+) --partitions (\d+)", cmd))))
hdr = doc["components"]["messages"]["Envelope"]["headers"]["properties"]["ce_dataschema"]["const"]
code = re.search(r'#define OSS_BUS_DATASCHEMA "([^"]+)"', open(sys.argv[3]).read()).group(1)
print("dataschema", "same" if hdr == code else f"differ: {hdr} vs {code}")
PY
cat "$tmp/docs"
names=$(echo "$want" | sed 's/:.*//' | tr '\n' ' ' | sed 's/ $//')
[ "$(sed -n 's/^asyncapi //p' "$tmp/docs")" = "$names" ] || e2e_fail "asyncapi.yaml channels differ from OSS_TOPICS ($names)"
[ "$(sed -n 's/^compose //p' "$tmp/docs")" = "$(echo "$want" | tr '\n' ' ' | sed 's/ $//')" ] || e2e_fail "compose.yaml topics differ from OSS_TOPICS ($want)"
[ "$(sed -n 's/^dataschema //p' "$tmp/docs")" = same ] || e2e_fail "ce_dataschema documented differs from the code's"
e2e_ok "channels = OSS_TOPICS = compose.yaml topics: $names"

kcat -b "$OSS_KAFKA_BOOTSTRAP" -L >"$tmp/meta" 2>/dev/null || e2e_fail "kcat -L failed"
for tp in $want; do
    t=${tp%%:*} p=${tp##*:}
    grep -q "^  topic \"$t\" with $p partitions:" "$tmp/meta" || e2e_fail "the embedded broker has no topic $t with $p partitions"
done
e2e_ok "the running broker has every documented topic with its partitions"
