#!/usr/bin/env bash
# e2e: migrating OSS 1.1 accounts ("ganti hak akses") against the running
# stack.
#  1. `oss legacy import` loads the shipped synthetic fixture
#     (infra/data/legacy/oss11-accounts.tsv; re-running skips what is there)
#     and keeps no plaintext username, NPWP, director name or NIK; a bad row
#     is rejected naming its line and field, never echoing the value;
#  2. rows made for this run (unique ids, NPWPs, NIKs) are imported;
#  3. POST /v1/legacy-migrations: wrong password or unknown username -> 401;
#     a wrong NPWP, decree number, director name or NIK -> 422
#     legacy_mismatch naming each field; the right data with a new e-mail
#     and phone -> 201: AccountRegistered, TermsAccepted and
#     LegacyAccountMigrated{legacy_id} on the new account's stream (its
#     history links to the legacy account), ActivationIssued on its access
#     stream, the legacy row marked migrated with its old password hash
#     gone, all in one transaction; the activation mail reaches the new
#     e-mail and its OTP activates the account;
#  4. single use: again -> 409 already_migrated, nothing written; two at
#     once for another row -> one 201, one 409;
#  5. a business already registered in OSS-RBA (same NPWP) -> 409
#     one_account_per_business and the legacy row stays unmigrated.
source "$(dirname "$0")/lib.sh"
[ -n "${OSS_API_URL_OVERRIDE:-}" ] && OSS_API_URL=$OSS_API_URL_OVERRIDE
OSS=${OSS_CLI_OVERRIDE:-${OSS_CLI:?OSS_CLI missing from run.env}}
MAIL_DIR=${OSS_MAIL_DIR:?OSS_MAIL_DIR missing from run.env}
FIXTURE=$E2E_ROOT/infra/data/legacy/oss11-accounts.tsv
PASSWORD='Lama-OSS11!2019' # the fixture's documented test password
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
touch "$work/start"
e2e_secret "$PASSWORD" 'Lama-OSS11!2018' # the old password and a wrong one, for the secrets sweep
run=$(date +%s)$RANDOM

req() { # METHOD PATH [BODY]: prints "STATUS BODY"
    curl -sS -m 60 -o "$work/body" -w '%{http_code}' -X "$1" "$OSS_API_URL$2" \
        -H 'Content-Type: application/json' --data-binary "${3:-}" || echo -n 000
    echo -n " "
    tr -d '\n' <"$work/body"
    echo
}
status() { echo "${1%% *}"; }
jbody() { echo "${1#* }"; }
reasons() { jbody "$1" | jq -r '[.error.fields[] | "\(.field)=\(.reason)"] | sort | join(",")'; }
# a legacy 15-digit NPWP new to this run (Luhn over the first 9)
npwp15() {
    local d sum=0 i v
    d=$(printf '%04d%04d' $((RANDOM % 10000)) $((RANDOM % 10000)))
    for i in 0 1 2 3 4 5 6 7; do
        v=${d:i:1}
        ((i % 2 == 1)) && { v=$((v * 2)); ((v > 9)) && v=$((v - 9)); }
        sum=$((sum + v))
    done
    printf '%s%d%03d000' "$d" $(((10 - sum % 10) % 10)) $((RANDOM % 1000))
}
stream_types() { e2e_psql -c "SELECT string_agg(payload_type, ',' ORDER BY version) FROM oss.journal WHERE stream_id = '$1'"; }

# ---- 1. the shipped fixture --------------------------------------------------
"$OSS" legacy import "$FIXTURE" >"$work/out" 2>&1 || e2e_fail "oss legacy import of the fixture: $(cat "$work/out")"
grep -Eq '^imported [0-9]+, already present [0-9]+, rejected 0$' "$work/out" || e2e_fail "import said: $(cat "$work/out")"
"$OSS" legacy import "$FIXTURE" >"$work/out" 2>&1 || e2e_fail "second import: $(cat "$work/out")"
grep -q '^imported 0, already present 5, rejected 0$' "$work/out" || e2e_fail "re-import said: $(cat "$work/out")"
ids=$(cut -f1 "$FIXTURE" | tail -n +2 | sed "s/.*/'&'/" | paste -sd,)
[ "$(e2e_psql -c "SELECT count(*) FROM oss.legacy_accounts WHERE legacy_id IN ($ids)")" = 5 ] || e2e_fail "fixture rows missing"
e2e_psql -c "COPY (SELECT * FROM oss.legacy_accounts WHERE legacy_id IN ($ids)) TO STDOUT" >"$work/dump"
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
while IFS=$'\t' read -r _ user _ npwp _ _ name nik; do
    [ "$user" = username ] && continue
    for s in "$user" "$npwp" "0$npwp" "$name" "$nik"; do
        if grep -qiF -- "$s" "$work/dump" || grep -qF -- "$(hex "$s")" "$work/dump"; then
            e2e_fail "oss.legacy_accounts holds a plaintext value (${s:0:3}...)"
        fi
    done
done <"$FIXTURE"
printf 'legacy_id\tusername\tpassword_argon2id\tnpwp15\tcompany\tdecree_number\tdirector_name\tdirector_nik\nL11-bad-%s\tbad%s\t%s\t012345675011000\tPT X\tAHU-1\tBudi\t3171015403909901\n' \
    "$run" "$run" "$(sed -n 2p "$FIXTURE" | cut -f3)" >"$work/bad.tsv"
set +e
"$OSS" legacy import "$work/bad.tsv" >"$work/out" 2>&1
rc=$?
set -e
[ $rc = 1 ] && grep -q 'line 2 rejected: npwp15 npwp_check_digit' "$work/out" || e2e_fail "bad row: rc $rc, $(cat "$work/out")"
! grep -q 012345675011000 "$work/out" || e2e_fail "the import echoed a rejected NPWP"
e2e_ok "oss legacy import: 5 fixture rows (idempotent), digests only; a bad row named by line and field"

# ---- 2. rows for this run ----------------------------------------------------
hash=$(sed -n 2p "$FIXTURE" | cut -f3) # the test password's Argon2id hash
declare -A U N K D NM
{
    printf 'legacy_id\tusername\tpassword_argon2id\tnpwp15\tcompany\tdecree_number\tdirector_name\tdirector_nik\n'
    for i in 1 2 3; do
        read -r nik _ < <(e2e_nik)
        U[$i]="lama$run$i" N[$i]=$(npwp15) K[$i]=$nik
        D[$i]="AHU-00$((RANDOM % 90000 + 10000)).AH.01.01.TAHUN 2015" NM[$i]="Hendra Wijaya Putra"
        printf 'L11-T%s-%s\t%s\t%s\t%s\tPT Uji Migrasi %s\t%s\t%s\t%s\n' "$run" "$i" "${U[$i]}" "$hash" \
            "${N[$i]}" "$i" "${D[$i]}" "${NM[$i]}" "${K[$i]}"
    done
} >"$work/run.tsv"
"$OSS" legacy import "$work/run.tsv" >"$work/out" 2>&1 || e2e_fail "import of this run's rows: $(cat "$work/out")"
grep -q '^imported 3, ' "$work/out" || e2e_fail "this run's import said: $(cat "$work/out")"
e2e_ok "3 legacy accounts made for this run imported"

body() { # I [jq filter]: a migration request for row I
    jq -cn --arg u "${U[$1]}" --arg pw "$PASSWORD" --arg npwp "${N[$1]}" --arg d "${D[$1]}" \
        --arg name "${NM[$1]}" --arg nik "${K[$1]}" --arg email "baru.$run.$1@contoh.co.id" \
        --arg phone "0813$(printf '%08d' $((RANDOM * RANDOM % 100000000)))" \
        '{username: $u, password: $pw, npwp: $npwp, decree_number: $d,
          director_name: $name, nik: $nik, email: $email, phone: $phone,
          scale: "NON_UMK", terms_version: "2026-07", region_code: "3171000000"}' |
        jq -c "${2:-.}"
}

# ---- 3. the migration ----------------------------------------------------------
r=$(req POST /v1/legacy-migrations "$(body 1 '.password = "Lama-OSS11!2018"')")
[ "$(status "$r")" = 401 ] && [ "$(jbody "$r" | jq -r .error.code)" = invalid_credentials ] || e2e_fail "wrong password: $r"
r=$(req POST /v1/legacy-migrations "$(body 1 '.username = "nobody'"$run"'"')")
[ "$(status "$r")" = 401 ] || e2e_fail "unknown username: $r"
other=$(npwp15)
read -r onik _ < <(e2e_nik)
r=$(req POST /v1/legacy-migrations "$(body 1 ".npwp = \"$other\" | .decree_number = \"AHU-1\" | .director_name = \"Hendra Wijaya\" | .nik = \"$onik\"")")
[ "$(status "$r")" = 422 ] && [ "$(jbody "$r" | jq -r .error.code)" = legacy_mismatch ] &&
    [ "$(reasons "$r")" = "decree_number=does_not_match,director_name=does_not_match,nik=does_not_match,npwp=does_not_match" ] ||
    e2e_fail "mismatching company data: $r"
r=$(req POST /v1/legacy-migrations "$(body 1 'del(.email) | .npwp = "012345675011000"')")
[ "$(status "$r")" = 422 ] && [ "$(reasons "$r")" = "email=required,npwp=npwp_check_digit" ] || e2e_fail "invalid fields: $r"
[ "$(e2e_psql -c "SELECT count(*) FROM oss.legacy_accounts WHERE legacy_id = 'L11-T$run-1' AND migrated_at IS NULL AND password_hash IS NOT NULL")" = 1 ] ||
    e2e_fail "a refused migration changed the legacy row"
e2e_ok "wrong password / unknown username -> 401; wrong NPWP, decree, name, NIK -> 422 legacy_mismatch naming each"

# decree number and director name as typed by a person (case, spaces)
r=$(req POST /v1/legacy-migrations "$(body 1 '.decree_number |= ascii_downcase | .director_name = "  hendra  wijaya putra "')")
[ "$(status "$r")" = 201 ] || e2e_fail "migration: $r"
id=$(jbody "$r" | jq -r .account_id)
[ "$(jbody "$r" | jq -r .legacy_id)" = "L11-T$run-1" ] || e2e_fail "201 does not name the legacy id: $r"
types=$(stream_types "account-$id")
[ "$types" = "oss.v1.AccountRegistered,oss.v1.TermsAccepted,oss.v1.LegacyAccountMigrated" ] || e2e_fail "account stream: $types"
[ "$(stream_types "access-$id")" = "oss.v1.ActivationIssued" ] || e2e_fail "access stream: $(stream_types "access-$id")"
[ "$(e2e_psql -c "SELECT count(DISTINCT xid) FROM oss.journal WHERE stream_id IN ('account-$id', 'access-$id')")" = 1 ] ||
    e2e_fail "the migration was not one transaction"
link=$(e2e_psql -c "SELECT encode(payload, 'hex') FROM oss.journal WHERE stream_id = 'account-$id' AND version = 3" |
    xxd -r -p | protoc --decode=oss.v1.LegacyAccountMigrated -I "$E2E_ROOT/schemas" "$E2E_ROOT/schemas/oss/v1/account.proto")
grep -qx "legacy_id: \"L11-T$run-1\"" <<<"$link" && grep -qx "account_id: \"$id\"" <<<"$link" ||
    e2e_fail "LegacyAccountMigrated does not link the legacy account: $link"
row=$(e2e_psql -c "SELECT migrated_account_id, password_hash IS NULL FROM oss.legacy_accounts WHERE legacy_id = 'L11-T$run-1'")
[ "$row" = "$id|t" ] || e2e_fail "legacy row after migration: $row"
"$OSS" audit history "account-$id" >"$work/hist" 2>&1 || e2e_fail "oss audit history: $(cat "$work/hist")"
grep -q LegacyAccountMigrated "$work/hist" || e2e_fail "the account's history does not show the migration: $(cat "$work/hist")"
e2e_ok "migrated to $id: AccountRegistered, TermsAccepted, LegacyAccountMigrated{L11-T$run-1} + ActivationIssued in one transaction; legacy row closed"

# the activation reaches the new e-mail; its OTP activates
act=$(e2e_psql -c "SELECT event_id FROM oss.journal WHERE stream_id = 'access-$id' AND payload_type = 'oss.v1.ActivationIssued'")
mail_of() { find "$MAIL_DIR" -maxdepth 1 -name '*.eml' -newer "$work/start" -print0 | xargs -0 -r grep -lF "Message-ID: <$act@oss.local>" | head -1; }
has_mail() { [ -n "$(mail_of)" ]; }
e2e_wait 120 has_mail || e2e_fail "no activation mail for the migrated account (notifier running?)"
f=$(mail_of)
grep -qF "baru.$run.1@contoh.co.id" "$f" || e2e_fail "the activation mail did not go to the new e-mail"
otp=$(/usr/bin/python3 - "$f" <<'PY'
import email, re, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"))
text = "".join(p.get_payload(decode=True).decode("utf-8") for p in msg.walk()
               if p.get_content_type() == "text/plain")
m = re.search(r"Kode OTP Anda: (\d{6})", text)
print(m.group(1) if m else "-")
PY
)
e2e_secret --for "$id" "$otp"
r=$(req POST "/v1/accounts/$id/activate" "{\"otp\":\"$otp\"}")
[ "$(status "$r")" = 200 ] || e2e_fail "activation of the migrated account: $r"
e2e_ok "activation mail to the new e-mail; its OTP activates the migrated account"

# ---- 4. single use --------------------------------------------------------------
before=$(e2e_psql -c "SELECT count(*) FROM oss.journal")
r=$(req POST /v1/legacy-migrations "$(body 1)")
[ "$(status "$r")" = 409 ] && [ "$(jbody "$r" | jq -r .error.code)" = already_migrated ] || e2e_fail "second migration: $r"
for i in a b; do
    req POST /v1/legacy-migrations "$(body 2)" >"$work/par.$i" &
done
wait
got=$(cut -d' ' -f1 "$work"/par.? | sort | paste -sd,)
[ "$got" = "201,409" ] || e2e_fail "two simultaneous migrations of one legacy account: $got: $(cat "$work"/par.?)"
grep -q already_migrated "$work"/par.? || e2e_fail "the loser was not told already_migrated: $(cat "$work"/par.?)"
e2e_ok "single use: again -> 409 already_migrated; two at once -> one 201, one 409"

# ---- 5. the business already has an OSS-RBA account --------------------------
read -r nik3 bd3 < <(e2e_nik)
r=$(req POST /v1/accounts "$(e2e_register_json "$nik3" "$bd3" "rba.$run@contoh.co.id" 081377778888 "Pemilik Baru" |
    jq -c --arg npwp "${N[3]}" '.actor_type = "01" | .npwp = $npwp')")
[ "$(status "$r")" = 201 ] || e2e_fail "OSS-RBA registration of business 3: $r"
r=$(req POST /v1/legacy-migrations "$(body 3)")
[ "$(status "$r")" = 409 ] && [ "$(reasons "$r")" = "npwp=one_account_per_business" ] || e2e_fail "migrating a business that has an account: $r"
[ "$(e2e_psql -c "SELECT count(*) FROM oss.legacy_accounts WHERE legacy_id = 'L11-T$run-3' AND migrated_at IS NULL AND password_hash IS NOT NULL")" = 1 ] ||
    e2e_fail "the refused migration changed the legacy row"
e2e_ok "a business already registered (same NPWP) -> 409 one_account_per_business; legacy row untouched"
