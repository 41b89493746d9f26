#!/usr/bin/env bash
# Master-key rotation (issue 4, item 7): `oss keys rotate` writes a new
# master key at the top of crypto.master_key_file (old keys kept below it)
# and re-wraps every oss.subject_keys row under it, without touching an
# event: a journal checkpoint taken before still verifies after (`oss audit
# verify --against`), the subject's rows are byte for byte the same, and its
# personal data still decrypts - through the RUNNING api (not restarted: it
# re-reads the key file when it meets the new key id) and the console. A
# registration after the rotation is wrapped under the new key. `oss keys
# retire` then drops the old key from the file.
# Rotation re-wraps EVERY row and rewrites the key file, so this test runs on
# a stack of its own: a scratch database (all infra/sql migrations) on the
# running PostgreSQL, its own key files and its own oss-api from the build;
# all removed on exit. Needs the running stack's PostgreSQL (var/run.env).
source "$(dirname "$0")/lib.sh"
OSS=${E2E_OSS_CLI:-${OSS_CLI:?OSS_CLI missing from run.env}}
API_BIN=${E2E_API_BIN:-$(dirname "$OSS")/../producers/oss-api}
[ -x "$API_BIN" ] || e2e_fail "$API_BIN is not built"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
db="oss_rot_$$_$RANDOM"
api_pid=
cleanup() {
    [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null
    psql -X -q "$OSS_PG_SUPER_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    [ -n "${E2E_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
with_db() { sed -E "s|/[A-Za-z0-9_]+(\?.*)?$|/$db\1|" <<<"$1"; }
psql -X -q -v ON_ERROR_STOP=1 "$OSS_PG_SUPER_URL" -c "CREATE DATABASE $db OWNER oss_owner" >/dev/null || e2e_fail "could not create database $db"
psql -X -q -v ON_ERROR_STOP=1 "$(with_db "$OSS_PG_SUPER_URL")" -c "REVOKE ALL ON SCHEMA public FROM PUBLIC; GRANT USAGE ON SCHEMA public TO oss_app" >/dev/null
for f in "$E2E_ROOT"/infra/sql/[0-9]*.sql "$E2E_ROOT"/infra/sql/read_models.sql; do
    psql -X -q -v ON_ERROR_STOP=1 --single-transaction "$(with_db "$OSS_PG_ADMIN_URL")" -f "$f" >"$work/migrate.log" 2>&1 \
        || { cat "$work/migrate.log"; e2e_fail "migration $(basename "$f") failed on $db"; }
done
mkdir -m 700 "$work/keys"
for k in otp; do (umask 077; openssl rand -hex 32 >"$work/keys/$k.key"); done
port=$((20000 + RANDOM % 20000))
cfg=$work/oss.conf
cat >"$cfg" <<CONF
pg.url = $(with_db "$OSS_PG_URL")
pg.admin_url = $(with_db "$OSS_PG_ADMIN_URL")
crypto.master_key_file = $work/keys/master.key
crypto.index_key_file = $work/keys/index.key
bus.signing_key_file = $work/keys/bus.key
crypto.otp_key_file = $work/keys/otp.key
api.port = $port
api.ratelimit.exempt_ips = 127.0.0.1,::1
CONF
export OSS_CONFIG=$cfg OSS_PG_URL=$(with_db "$OSS_PG_URL")
OSS_API_URL=http://127.0.0.1:$port
"$OSS" --config "$cfg" keys init >/dev/null || e2e_fail "oss keys init for the scratch stack"
"$API_BIN" --config "$cfg" >"$work/api.log" 2>&1 &
api_pid=$!
e2e_wait 20 curl -fsS -m 1 "$OSS_API_URL/healthz" || { cat "$work/api.log"; e2e_fail "the scratch api did not start"; }
ossc() { "$OSS" --config "$cfg" "$@"; }
keyfile=$work/keys/master.key
req() { # METHOD PATH [BODY] [curl args...]: prints "STATUS BODY"
    local m=$1 p=$2 b=${3:-}; shift 3 || shift $#
    local args=(-sS -m 30 -o "$work/body" -w '%{http_code}' -X "$m" "$OSS_API_URL$p")
    [ -n "$b" ] && args+=(-H 'Content-Type: application/json' --data-binary "$b")
    curl "${args[@]}" "$@" || echo -n 000
    echo -n " "; tr -d '\n' <"$work/body"; echo
}
st() { echo "${1%% *}"; }
jb() { echo "${1#* }"; }
key_id() { xxd -r -p <<<"$1" | sha256sum | cut -c1-16; }
keys_in_file() { grep -E '^[0-9a-f]{64}$' "$keyfile"; }

# an owner, signed in
read -r nik bd < <(e2e_nik)
tag=$(date +%s%N | tail -c 9)$RANDOM
email="rot.$tag@example.co.id" pw="Rt-$tag-x9!"
r=$(e2e_post /v1/accounts "$(e2e_register_json "$nik" "$bd" "$email" "+62857$(printf '%08d' $((RANDOM * RANDOM % 100000000)))" "Rotasi Uji")")
[ "$(st "$r")" = 201 ] || e2e_fail "registration: $r"
id=$(jb "$r" | jq -r .account_id)
has_delivery() { [ -n "$(e2e_psql -c "SELECT 1 FROM oss.deliveries WHERE stream_id = 'access-$1' AND kind = 'activation' LIMIT 1")" ]; }
e2e_wait 20 has_delivery "$id" || e2e_fail "no activation delivery"
d=$(e2e_psql -c "SELECT delivery_id FROM oss.deliveries WHERE stream_id = 'access-$id' AND kind = 'activation' ORDER BY created_at DESC LIMIT 1")
otp=$(OSS_PG_URL=$OSS_PG_URL OSS_CONFIG=$OSS_CONFIG /usr/bin/python3 "$here/open_delivery.py" "$d" | jq -r .otp)
r=$(req POST "/v1/accounts/$id/activate" "{\"otp\":\"$otp\"}"); [ "$(st "$r")" = 200 ] || e2e_fail "activate: $r"
r=$(req POST "/v1/accounts/$id/password" "{\"password\":\"$pw\"}"); [ "$(st "$r")" = 204 ] || e2e_fail "password: $r"
r=$(req POST /v1/sessions "{\"account_id\":\"$id\",\"password\":\"$pw\"}"); [ "$(st "$r")" = 201 ] || e2e_fail "sign in: $r"
tok=$(jb "$r" | jq -r .token)
e2e_secret --for "$id" "$otp"; e2e_secret "$pw" "$tok"
r=$(req GET "/v1/accounts/$id/personal-data" "" -H "Authorization: Bearer $tok")
[ "$(st "$r")" = 200 ] && [ "$(jb "$r" | jq -r .personal_data.nik)" = "$nik" ] || e2e_fail "read before rotation: $r"
sid=$(jb "$r" | jq -r .subject_id)
e2e_ok "account $id (subject $sid) reads its NIK before the rotation"

# two more subjects, so that the re-wrap runs in more than one batch
for i in 1 2; do
    read -r n b < <(e2e_nik)
    r=$(e2e_post /v1/accounts "$(e2e_register_json "$n" "$b" "rot$i.$tag@example.co.id" "+6285700000$i$i$i" "Rotasi Ke $(tr 12 ab <<<"$i")")")
    [ "$(st "$r")" = 201 ] || e2e_fail "registration $i: $r"
done
nrows=$(e2e_psql -c "SELECT count(*) FROM oss.subject_keys")
[ "$nrows" -ge 3 ] || e2e_fail "expected at least 3 data keys, found $nrows"
# before: a journal checkpoint, the subject's rows, the key row
cp=$(ossc audit checkpoint) || e2e_fail "audit checkpoint"
rows() { e2e_psql -c "SELECT md5(string_agg(encode(payload, 'hex') || encode(hash, 'hex'), ',' ORDER BY position)) FROM oss.journal WHERE stream_id IN ('account-$id', 'access-$id')"; }
rows_before=$(rows)
old_row=$(e2e_psql -F'|' -c "SELECT master_key_id, encode(wrapped_key, 'hex') FROM oss.subject_keys WHERE subject_id = '$sid'")
old_id=${old_row%%|*}
[ "$old_id" = "$(key_id "$(keys_in_file | head -1)")" ] || e2e_fail "the subject's key is not under the current master key before the rotation"
nkeys_before=$(keys_in_file | wc -l)
ossc keys status >"$work/status" || { cat "$work/status"; e2e_fail "keys status before"; }

# rotate
ossc keys rotate --batch 2 >"$work/out" 2>&1 || { cat "$work/out"; e2e_fail "oss keys rotate"; }
grep -q "^re-wrapped $nrows data keys" "$work/out" || { cat "$work/out"; e2e_fail "not every one of the $nrows data keys was re-wrapped"; }
cat "$work/out"
new_id=$(awk '/^new master key/ {print $4}' "$work/out")
[[ $new_id =~ ^[0-9a-f]{16}$ ]] || e2e_fail "no new key id printed"
[ "$(stat -c %a "$keyfile")" = 600 ] || e2e_fail "key file mode is $(stat -c %a "$keyfile")"
[ "$(keys_in_file | wc -l)" = $((nkeys_before + 1)) ] || e2e_fail "the old keys were not kept"
[ "$(key_id "$(keys_in_file | head -1)")" = "$new_id" ] || e2e_fail "the new key is not first in the file"
keys_in_file | while read -r k; do key_id "$k"; done | grep -qx "$old_id" || e2e_fail "the old key is gone from the file"
new_row=$(e2e_psql -F'|' -c "SELECT master_key_id, encode(wrapped_key, 'hex') FROM oss.subject_keys WHERE subject_id = '$sid'")
[ "${new_row%%|*}" = "$new_id" ] || e2e_fail "the subject's key was not re-wrapped: $new_row"
[ "${new_row#*|}" != "${old_row#*|}" ] || e2e_fail "wrapped key bytes unchanged"
[ "$(e2e_psql -c "SELECT count(*) FROM oss.subject_keys WHERE master_key_id <> '$new_id'")" = 0 ] \
    || e2e_fail "rows left under an old key"
ossc keys status >"$work/status" || { cat "$work/status"; e2e_fail "keys status after"; }
grep -q "key $new_id current" "$work/status" || e2e_fail "status does not show the new current key"
e2e_ok "rotated to $new_id: every data key re-wrapped, old key kept in the file"

# no event touched
[ "$(rows)" = "$rows_before" ] || e2e_fail "the subject's journal rows changed"
ossc audit verify --against "$cp" >"$work/out" 2>&1 || { cat "$work/out"; e2e_fail "the journal checkpoint from before the rotation does not verify"; }
ossc audit verify "account-$id" >/dev/null 2>&1 || e2e_fail "audit verify account-$id"
e2e_ok "journal unchanged: checkpoint $cp still verifies"

# still readable: the running api (not restarted) and the console
r=$(req GET "/v1/accounts/$id/personal-data" "" -H "Authorization: Bearer $tok")
[ "$(st "$r")" = 200 ] && [ "$(jb "$r" | jq -r .personal_data.nik)" = "$nik" ] || e2e_fail "read after rotation through the running api: $r"
r=$(req GET /v1/me/export "" -H "Authorization: Bearer $tok")
[ "$(st "$r")" = 200 ] && [ "$(jb "$r" | jq -r .personal_data.email)" = "$email" ] || e2e_fail "export after rotation: $r"
ossc audit history --reveal --reason "e2e check" "account-$id" >"$work/out" 2>&1 || e2e_fail "audit history --reveal after rotation"
grep -qF "${nik:0:4}********${nik:12:4}" "$work/out" || { cat "$work/out"; e2e_fail "audit history cannot open the NIK after rotation"; }
# a new registration is wrapped under the new key by the running api
read -r nik2 bd2 < <(e2e_nik)
r=$(e2e_post /v1/accounts "$(e2e_register_json "$nik2" "$bd2" "rot2.$tag@example.co.id" "+6285711112222" "Rotasi Dua")")
[ "$(st "$r")" = 201 ] || e2e_fail "registration after rotation: $r"
id2=$(jb "$r" | jq -r .account_id)
sid2=$(e2e_psql -c "SELECT subject_id FROM oss.principals WHERE principal_id = '$id2' UNION SELECT subject_id FROM oss.identity_claims WHERE stream_id = 'account-$id2' AND subject_id IS NOT NULL LIMIT 1")
[ -n "$sid2" ] || e2e_fail "no subject recorded for account $id2"
[ "$(e2e_psql -c "SELECT master_key_id FROM oss.subject_keys WHERE subject_id = '$sid2'")" = "$new_id" ] \
    || e2e_fail "a registration after the rotation was wrapped under an old key"
e2e_ok "after rotation: the running api and the console decrypt; new subjects use the new key"

# retire the old key(s)
ossc keys retire >"$work/out" 2>&1 || { cat "$work/out"; e2e_fail "oss keys retire"; }
[ "$(keys_in_file | wc -l)" -lt $((nkeys_before + 1)) ] || e2e_fail "retire dropped nothing"
[ "$(key_id "$(keys_in_file | head -1)")" = "$new_id" ] || e2e_fail "retire changed the current key"
ossc keys status >"$work/status" || { cat "$work/status"; e2e_fail "keys status after retire (a row's key is missing?)"; }
r=$(req GET "/v1/accounts/$id/personal-data" "" -H "Authorization: Bearer $tok")
[ "$(st "$r")" = 200 ] || e2e_fail "read after retire: $r"
e2e_ok "$(cat "$work/out")"
echo "PASS test_key_rotation"
