#!/usr/bin/env bash
# A third-party client reads our topics: an account registered through the
# API reaches oss.account; kcat fetches it with its CloudEvents binary-mode
# headers (ce_*), and `protoc --decode` with schemas/ decodes its value. The
# message carries no plaintext personal data of the registration.
source "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

prefix=$(sed -n 's/^[[:space:]]*bus\.topic_prefix[[:space:]]*=[[:space:]]*//p' "$OSS_CONFIG" | tail -n1)
topic=${prefix:-oss.}account

read -r nik bd < <(e2e_nik)
email="interop$RANDOM$RANDOM@example.co.id"
phone="0813$((RANDOM % 9000 + 1000))$((RANDOM % 9000 + 1000))"
r=$(e2e_post /v1/accounts "$(e2e_register_json "$nik" "$bd" "$email" "$phone" "Dewi Lestari")")
[ "${r%% *}" = 201 ] || e2e_fail "registration answered $r"
stream=$(echo "${r#* }" | jq -r .stream_id)
[ -n "$stream" ] && [ "$stream" != null ] || e2e_fail "no stream_id in $r"
e2e_ok "registered $stream"

# find the message (key = stream id) and its partition/offset
find_it() {
    kcat -b "$OSS_KAFKA_BOOTSTRAP" -C -t "$topic" -o beginning -e -q -f '%k %p %o\n' 2>/dev/null \
        | awk -v k="$stream" '$1 == k { print $2, $3; exit }' >"$tmp/where"
    [ -s "$tmp/where" ]
}
e2e_wait 30 find_it || e2e_fail "no message with key $stream on $topic"
read -r part off <"$tmp/where"
e2e_ok "found on $topic [$part] at offset $off"

kcat -b "$OSS_KAFKA_BOOTSTRAP" -C -t "$topic" -p "$part" -o "$off" -c 1 -e -q -f '%h' >"$tmp/headers"
kcat -b "$OSS_KAFKA_BOOTSTRAP" -C -t "$topic" -p "$part" -o "$off" -c 1 -e -q -f '%s' >"$tmp/value"
echo "headers: $(cat "$tmp/headers")"
hdr() { tr ',' '\n' <"$tmp/headers" | sed -n "s/^$1=//p" | head -n1; }
[ "$(hdr ce_specversion)" = 1.0 ] || e2e_fail "ce_specversion is '$(hdr ce_specversion)'"
ceid=$(hdr ce_id)
[[ $ceid =~ ^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] || e2e_fail "ce_id '$ceid' is not a UUIDv7"
[ -n "$(hdr ce_source)" ] || e2e_fail "no ce_source"
[ "$(hdr ce_type)" = oss.v1.AccountRegistered ] || e2e_fail "ce_type is '$(hdr ce_type)'"
[[ $(hdr ce_time) =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$ ]] || e2e_fail "ce_time '$(hdr ce_time)' is not RFC 3339 UTC"
[ "$(hdr ce_subject)" = "$stream" ] || e2e_fail "ce_subject is '$(hdr ce_subject)'"
[ "$(hdr ce_dataschema)" = urn:oss:proto:oss.v1.Envelope ] || e2e_fail "ce_dataschema is '$(hdr ce_dataschema)'"
[ "$(hdr content-type)" = application/protobuf ] || e2e_fail "content-type is '$(hdr content-type)'"
[[ $(hdr oss_signature) =~ ^[0-9a-f]{64}$ ]] || e2e_fail "no oss_signature"
e2e_ok "CloudEvents headers present"

protoc --decode=oss.v1.Envelope -I "$E2E_ROOT/schemas" "$E2E_ROOT/schemas/oss/v1/envelope.proto" \
    <"$tmp/value" >"$tmp/decoded" || e2e_fail "protoc could not decode the value"
head -n 12 "$tmp/decoded"
grep -q "^event_id: \"$ceid\"" "$tmp/decoded" || e2e_fail "decoded event_id differs from ce_id"
grep -q "^stream_id: \"$stream\"" "$tmp/decoded" || e2e_fail "decoded stream_id differs"
grep -q '^stream_type: "account"' "$tmp/decoded" || e2e_fail "decoded stream_type is not account"
grep -q '^payload_type: "oss.v1.AccountRegistered"' "$tmp/decoded" || e2e_fail "decoded payload_type differs"
grep -q '^stream_version: 1$' "$tmp/decoded" || e2e_fail "decoded stream_version is not 1"
grep -q '^global_position: [1-9]' "$tmp/decoded" || e2e_fail "no global_position"
[ "$(grep -c '^hash: ' "$tmp/decoded")" = 1 ] || e2e_fail "no hash"
e2e_ok "protoc decoded the envelope"

for secret in "$nik" "$email" "$phone" "Dewi Lestari"; do
    if grep -aqF -- "$secret" "$tmp/value" "$tmp/headers" "$tmp/decoded"; then
        e2e_fail "plaintext personal data in the Kafka message"
    fi
done
e2e_ok "no plaintext personal data in the message"
