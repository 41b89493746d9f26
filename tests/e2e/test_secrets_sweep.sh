#!/usr/bin/env bash
# No plaintext personal data (NIK, name, e-mail, phone) of the test data in a
# dump of the Kafka topics, in the journal, in the read models, or in any log
# file (ours and PostgreSQL's); and no key material in them either.
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
needles=$work/needles
rand_name() { (LC_ALL=C tr -dc 'a-z' </dev/urandom 2>/dev/null || true) | head -c 8; }
ids=()
for i in 1 2 3; do
    read -r nik bd < <(e2e_nik)
    local_part="sweep$(rand_name)"
    name="Sweep $(rand_name | sed 's/./\U&/')"
    national="8$((RANDOM % 90 + 10))$((RANDOM % 9000 + 1000))$((RANDOM % 9000 + 1000))"
    r=$(e2e_post /v1/accounts "$(e2e_register_json "$nik" "$bd" "$local_part@example.co.id" "0$national" "$name")")
    [ "${r%% *}" = 201 ] || e2e_fail "registration $i: $r"
    ids+=("$(echo "${r#* }" | jq -r .account_id)")
    printf '%s\n' "$nik" "$name" "$local_part" "+62$national" "0$national" >>"$needles"
done
for id in "${ids[@]}"; do
    e2e_wait 60 bash -c "curl -fsS -m 2 '$OSS_API_URL/v1/accounts/$id' | grep -q '$id'" || e2e_fail "account $id not projected"
done
# key material must not leak either
for k in master index bus; do head -n1 "$OSS_VAR/keys/$k.key" >>"$needles"; done

# Kafka: every topic, every partition, keys, headers and values.
for t in $(kcat -b "$OSS_KAFKA_BOOTSTRAP" -L -J 2>/dev/null | jq -r '.topics[].topic' | grep -v '^__'); do
    kcat -b "$OSS_KAFKA_BOOTSTRAP" -C -t "$t" -o beginning -e -q -f '%k %h %s\n' >>"$work/kafka.dump" 2>/dev/null || true
done
[ -s "$work/kafka.dump" ] || e2e_fail "the Kafka dump is empty: nothing was published"
# Journal and read models, payload bytes raw.
e2e_psql_super -c "COPY (SELECT * FROM oss.journal) TO STDOUT" >"$work/journal.dump"
e2e_psql_super -c "COPY (SELECT convert_from(payload, 'SQL_ASCII') FROM oss.journal) TO STDOUT" >>"$work/journal.dump" 2>/dev/null || true
for t in $(e2e_psql_super -c "SELECT schemaname||'.'||tablename FROM pg_tables WHERE schemaname IN ('rm','oss')"); do
    e2e_psql_super -c "COPY $t TO STDOUT" >>"$work/tables.dump"
done
hits=0
while IFS= read -r needle; do
    [ -n "$needle" ] || continue
    for f in "$work/kafka.dump" "$work/journal.dump" "$work/tables.dump" "$OSS_VAR"/log/*.log "$OSS_PG_LOG"; do
        [ -r "$f" ] || continue
        if grep -aqF -- "$needle" "$f"; then
            echo "plaintext found in $(basename "$f") (needle #$(grep -nxF -- "$needle" "$needles" | cut -d: -f1))" >&2
            hits=$((hits + 1))
        fi
    done
done <"$needles"
[ $hits -eq 0 ] || e2e_fail "$hits plaintext hits"
e2e_ok "no plaintext NIK, name, e-mail, phone or key in Kafka, journal, tables or logs ($(wc -l <"$needles") needles)"
