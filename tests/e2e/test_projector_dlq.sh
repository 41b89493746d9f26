#!/usr/bin/env bash
# Dead letters: a plain kcat message (no signature) carrying a well-formed
# envelope is dead-lettered, not applied; a forged signature and a signed
# value that is not an envelope are dead-lettered with their reason; a
# correctly signed envelope produced the same way is applied, so the
# projector kept going; a redrive leaves the bad ones open.
source "$(dirname "$0")/projector_lib.sh"

PY=/usr/bin/python3
BS=$(head -1 "$OSS_VAR/kafka.bootstrap")
TOPIC=oss.account
LOG=$WORK/projector.log
KEYFILE=$(sed -n 's/^bus.signing_key_file *= *//p' "$OSS_CONFIG")
[ -r "$KEYFILE" ] || fail "cannot read the bus key file"

# envelope STREAM ACCOUNT OUT: a valid oss.v1.Envelope (protobuf by hand)
envelope() {
    $PY - "$1" "$2" "$3" <<'PY'
import sys, uuid, time
def varint(n):
    out = b""
    while True:
        b = n & 0x7f; n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n: return out
def fld(num, data):
    if isinstance(data, str): data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data
def num(n, v): return varint(n << 3) + varint(v)
stream, account, out = sys.argv[1:4]
payload = fld(1, account) + num(2, 1) + fld(3, "02") + fld(4, str(uuid.uuid4())) \
    + fld(11, "2025-06") + fld(12, "ID")
us = int(time.time() * 1e6)
env = fld(1, str(uuid.uuid4())) + fld(2, stream) + fld(3, "account") + num(4, 1) \
    + num(6, us) + num(7, us) + fld(8, num(1, 3) + fld(2, "kcat")) \
    + fld(14, "oss.v1.AccountRegistered") + num(15, 1) + fld(16, payload) \
    + fld(17, bytes(32)) + fld(18, bytes(32))
open(out, "wb").write(env)
PY
}
# sign CE_ID KEY VALUE_FILE: the oss_signature of (ce_id, key, value)
sign() {
    $PY - "$1" "$2" "$3" "$KEYFILE" <<'PY'
import sys, hmac, hashlib, struct
ce_id, key, vf, kf = sys.argv[1:5]
k = bytes.fromhex(open(kf).readline().strip())
val = open(vf, "rb").read()
msg = b"".join(struct.pack(">I", len(x)) + x for x in (ce_id.encode(), key.encode(), val))
print(hmac.new(k, msg, hashlib.sha256).hexdigest())
PY
}
produce() { # KEY FILE [headers...]
    local key=$1 file=$2; shift 2
    timeout 30 kcat -P -b "$BS" -t "$TOPIC" -k "$key" "$@" "$file" || fail "kcat could not produce"
}
dl() { app -c "SELECT kind || '|' || reason FROM oss.dead_letters WHERE consumer = '$NAME' AND msg_key = convert_to('$1', 'UTF8') ORDER BY id LIMIT 1"; }

pid=$(start_projector "$LOG"); PIDS+=("$pid")
for i in $(seq 1 120); do
    [ -n "$(app -c "SELECT 1 FROM $SCHEMA.positions LIMIT 1")" ] && break
    sleep 1
done
[ -n "$(app -c "SELECT 1 FROM $SCHEMA.positions LIMIT 1")" ] || fail "projector never positioned: $(tail -3 "$LOG")"

A=account-dlq-$TAG-unsigned; B=account-dlq-$TAG-forged
C=account-dlq-$TAG-garbage; D=account-dlq-$TAG-signed
envelope "$A" "dlq-$TAG-unsigned-1" "$WORK/a"
envelope "$B" "dlq-$TAG-forged-1" "$WORK/b"
printf 'this is not a protobuf envelope \377\000\001' >"$WORK/c"
envelope "$D" "dlq-$TAG-signed-1" "$WORK/d"

produce "$A" "$WORK/a" -H ce_id=kcat-a -H ce_type=oss.v1.AccountRegistered
produce "$B" "$WORK/b" -H ce_id=kcat-b -H oss_signature="$(printf '%064d' 0)"
produce "$C" "$WORK/c" -H ce_id=kcat-c -H oss_signature="$(sign kcat-c "$C" "$WORK/c")"
produce "$D" "$WORK/d" -H ce_id=kcat-d -H oss_signature="$(sign kcat-d "$D" "$WORK/d")"

wait_count "$SCHEMA" "dlq-$TAG-signed" 1 60 || fail "the signed envelope was not applied: $(tail -3 "$LOG")"
for i in $(seq 1 30); do [ -n "$(dl "$C")" ] && break; sleep 1; done
ra=$(dl "$A"); rb=$(dl "$B"); rc=$(dl "$C"); rd=$(dl "$D")
say "unsigned: $ra"; say "forged:   $rb"; say "garbage:  $rc"
case $ra in signature\|*oss_signature*) ;; *) fail "unsigned message not dead-lettered with its reason: '$ra'" ;; esac
case $rb in signature\|*verify*) ;; *) fail "forged signature not dead-lettered: '$rb'" ;; esac
case $rc in decode\|*envelope*) ;; *) fail "signed garbage not dead-lettered as undecodable: '$rc'" ;; esac
[ -z "$rd" ] || fail "the signed envelope was dead-lettered: $rd"
n=$(app -c "SELECT count(*) FROM $SCHEMA.accounts WHERE account_id IN ('dlq-$TAG-unsigned-1', 'dlq-$TAG-forged-1')")
[ "$n" = 0 ] || fail "an unsigned or forged message reached the read model"
kill -0 "$pid" || fail "projector died"

# the dead letters are listed, and a redrive keeps them open (still bad)
CLI=$BUILD/consumers/oss
if [ -x "$CLI" ]; then
    OSS_PROJECTOR_NAME=$NAME OSS_PROJECTOR_SCHEMA=$SCHEMA "$CLI" dlq list >"$WORK/list" 2>&1 || fail "oss dlq list failed: $(cat "$WORK/list")"
    grep -q "$A" "$WORK/list" || fail "oss dlq list does not show the dead letter"
    OSS_PROJECTOR_NAME=$NAME OSS_PROJECTOR_SCHEMA=$SCHEMA "$CLI" dlq redrive --all >"$WORK/redrive" 2>&1 || true
    open=$(app -c "SELECT count(*) FROM oss.dead_letters WHERE consumer = '$NAME' AND resolved_at IS NULL AND attempts >= 1")
    [ "$open" = 3 ] || fail "after a redrive, $open bad dead letters are open (want 3): $(cat "$WORK/redrive")"
else
    say "note: $CLI not built; dlq CLI not exercised"
fi
app -c "UPDATE oss.dead_letters SET resolved_at = now() WHERE consumer = '$NAME'" >/dev/null
say "PASS"
