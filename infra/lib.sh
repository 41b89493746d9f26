# Shared shell functions of infra/run, infra/test and tests/bench: packages,
# build, the project-local PostgreSQL cluster, key files, configuration.
# Sourced, never run. Everything runtime lives under $OSS_VAR (var/).
set -euo pipefail

OSS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export OSS_VAR=${OSS_VAR:-$OSS_ROOT/var}
export OSS_BUILD_DIR=${OSS_BUILD_DIR:-$OSS_ROOT/build}
# The topics the embedded broker creates (name:partitions): one per stream
# type that reaches Kafka. infra/deploy/compose.yaml creates the same on a
# real cluster, and schemas/asyncapi.yaml documents each
# (tests/e2e/test_asyncapi.sh checks all three agree).
OSS_TOPICS=${OSS_TOPICS:-oss.account:24,oss.delivery:8}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
OSS_PACKAGES="build-essential cmake pkg-config git librdkafka-dev libpq-dev
  libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libprotobuf-dev libssl-dev
  libevent-dev libjansson-dev libargon2-dev libcurl4-openssl-dev libcmocka-dev
  postgresql postgresql-contrib kcat python3 python3-aiosmtpd python3-cryptography python3-yaml jq curl clang
  libclang-rt-14-dev clang-format procps iproute2 openssl"

oss_say() { printf '%s\n' "oss: $*" >&2; }
oss_die() { printf '%s\n' "oss: error: $*" >&2; exit 1; }

# Installs the Debian packages that are missing (apt-get update first).
oss_install_deps() {
    local missing=() p
    for p in $OSS_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    oss_say "installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The outside tools that judge our documents and messages in the tests
# (tests/tools/package.json, versions pinned by its package-lock.json): Node.js
# from Debian when the machine has none, then `npm ci` when the lock file
# changed since the last install.
oss_node_tools() {
    local dir=$OSS_ROOT/tests/tools stamp
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        OSS_PACKAGES="nodejs npm" oss_install_deps
    fi
    stamp=$dir/node_modules/.oss-lock.sha
    if [ "$(cat "$stamp" 2>/dev/null)" != "$(sha256sum <"$dir/package-lock.json")" ]; then
        oss_say "installing the test tools (npm ci in tests/tools)"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) \
            || oss_die "npm ci failed in tests/tools"
        sha256sum <"$dir/package-lock.json" >"$stamp"
    fi
}

# Configures and builds into $1 (default $OSS_BUILD_DIR) with extra cmake args.
# OSS_WERROR=ON (infra/test, hence CI, sets it) makes every warning an error.
oss_build() {
    local dir=${1:-$OSS_BUILD_DIR}; shift || true
    local log
    cmake -S "$OSS_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DOSS_WERROR="${OSS_WERROR:-OFF}" "$@" >/dev/null \
        || oss_die "cmake could not configure $dir"
    log=$(mktemp)
    if ! flock "$dir/.build.lock" cmake --build "$dir" -j"$(nproc)" >"$log" 2>&1; then
        grep -E "error|Error" "$log" | head -n 40 >&2
        rm -f "$log"
        oss_die "build failed in $dir"
    fi
    grep -E "warning:" "$log" >&2 || true
    rm -f "$log"
}

# A free TCP port on 127.0.0.1 at or above $1.
oss_free_port() {
    local p=$1
    while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
    echo "$p"
}

oss_rand_hex() { od -An -tx1 -N"${1:-16}" /dev/urandom | tr -d ' \n'; }

# Runs a command as the PostgreSQL owner: the unprivileged `postgres` user when
# we are root (PostgreSQL refuses root), else ourselves.
oss_as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Where the cluster lives. As root, var/ may sit under a directory the
# postgres user cannot reach, so the cluster goes to /var/tmp/oss-pg-<hash>
# (owned by postgres) and var/pg is a link to it.
oss_pg_home() {
    if [ "$(id -u)" -eq 0 ]; then
        echo "/var/tmp/oss-pg-$(printf '%s' "$OSS_ROOT" | sha1sum | cut -c1-10)"
    else
        echo "$OSS_VAR/pg.d"
    fi
}

oss_pg_env() {
    PG_HOME=$(oss_pg_home)
    PGDATA=$PG_HOME/data
    PG_PORT=$(cat "$OSS_VAR/pg.port")
    PG_SUPER_PW=$(cat "$OSS_VAR/secrets/pg-super.pw")
    PG_OWNER_PW=$(cat "$OSS_VAR/secrets/pg-owner.pw")
    PG_APP_PW=$(cat "$OSS_VAR/secrets/pg-app.pw")
    OSS_PG_URL="postgresql://oss_app:$PG_APP_PW@127.0.0.1:$PG_PORT/oss"
    OSS_PG_ADMIN_URL="postgresql://oss_owner:$PG_OWNER_PW@127.0.0.1:$PG_PORT/oss"
    OSS_PG_SUPER_URL="postgresql://oss_super:$PG_SUPER_PW@127.0.0.1:$PG_PORT/oss"
}

# Creates the cluster once: scram-sha-256 on loopback (never trust), roles
# oss_super (superuser), oss_owner (owns the database), oss_app (application).
oss_pg_init() {
    mkdir -p "$OSS_VAR/secrets" "$OSS_VAR/log"
    chmod 700 "$OSS_VAR/secrets"
    local f stale=0
    for f in pg-super pg-owner pg-app; do
        [ -s "$OSS_VAR/secrets/$f.pw" ] && continue
        stale=1
        (umask 077; oss_rand_hex 16 >"$OSS_VAR/secrets/$f.pw")
    done
    [ -s "$OSS_VAR/pg.port" ] || oss_free_port 55432 >"$OSS_VAR/pg.port"
    oss_pg_env
    if [ $stale -eq 1 ] && [ -e "$PG_HOME" ]; then
        # a cluster left by an earlier checkout at this path whose var/ is
        # gone: its passwords are lost with it, so it cannot be ours
        oss_say "removing the stale cluster in $PG_HOME (its var/ is gone)"
        [ -s "$PGDATA/postmaster.pid" ] && oss_as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$PG_HOME"
    fi
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        oss_say "initialising PostgreSQL cluster in $PGDATA"
        mkdir -p "$PG_HOME"
        [ "$(id -u)" -eq 0 ] && chown postgres: "$PG_HOME"
        chmod 700 "$PG_HOME"
        local pw="$PG_HOME/.pw"
        printf '%s\n' "$PG_SUPER_PW" >"$pw"
        [ "$(id -u)" -eq 0 ] && chown postgres: "$pw"
        chmod 600 "$pw"
        oss_as_pg "$PGBIN/initdb" -D "$PGDATA" -U oss_super --pwfile="$pw" \
            --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C >/dev/null
        rm -f "$pw"
        oss_as_pg sh -c "cat >>'$PGDATA/postgresql.conf'" <<CONF
# oss: project-local cluster
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_HOME'
max_connections = 300
shared_buffers = 256MB
idle_in_transaction_session_timeout = '60s'
logging_collector = on
log_directory = 'log'
log_filename = 'postgresql.log'
log_min_messages = warning
log_min_error_statement = error
password_encryption = 'scram-sha-256'
CONF
    fi
    ln -sfn "$PG_HOME" "$OSS_VAR/pg"
}

oss_pg_running() { oss_as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }

oss_pg_start() {
    oss_pg_env
    if ! oss_pg_running && (exec 3<>"/dev/tcp/127.0.0.1/$PG_PORT") 2>/dev/null; then
        # our port was taken (by another checkout's cluster) while we were
        # stopped: move to a free one; the last `port =` line wins
        oss_free_port $((PG_PORT + 1)) >"$OSS_VAR/pg.port"
        oss_say "port $PG_PORT is taken; PostgreSQL moves to $(cat "$OSS_VAR/pg.port")"
        oss_as_pg sh -c "echo 'port = $(cat "$OSS_VAR/pg.port")' >>'$PGDATA/postgresql.conf'"
        oss_pg_env
    fi
    # 9>&-: the server must not inherit infra/run's service lock
    oss_pg_running || oss_as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -w -t 60 -l "$PG_HOME/startup.log" start >/dev/null 9>&-
}

oss_pg_stop() {
    oss_pg_env
    oss_pg_running && oss_as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -w -m fast stop >/dev/null || true
}

oss_psql_super() { PGPASSWORD=$PG_SUPER_PW psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U oss_super "$@"; }

# Roles, database, migrations (each infra/sql/NNN_*.sql once, in order, as
# the owner, in one transaction each).
oss_pg_migrate() {
    oss_pg_env
    oss_psql_super -d postgres <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'oss_owner') THEN
    CREATE ROLE oss_owner LOGIN PASSWORD '$PG_OWNER_PW';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'oss_app') THEN
    CREATE ROLE oss_app LOGIN PASSWORD '$PG_APP_PW';
  END IF;
END \$\$;
SQL
    if ! oss_psql_super -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='oss'" | grep -q 1; then
        oss_psql_super -d postgres -c "CREATE DATABASE oss OWNER oss_owner"
        oss_psql_super -d oss -c "REVOKE ALL ON SCHEMA public FROM PUBLIC; GRANT USAGE ON SCHEMA public TO oss_app;"
    fi
    local psql_owner="psql -X -q -v ON_ERROR_STOP=1 $OSS_PG_ADMIN_URL"
    $psql_owner -c "CREATE TABLE IF NOT EXISTS public.oss_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    # migrations renamed to give every number one file (tests/arch/check.py
    # migrations): a database that applied them under the old name keeps them
    $psql_owner -c "UPDATE public.oss_migrations m SET name = r.new FROM (VALUES
        ('020_relay.sql', '021_relay.sql'), ('051_terms.sql', '052_terms.sql')) AS r(old, new)
      WHERE m.name = r.old AND NOT EXISTS (SELECT FROM public.oss_migrations WHERE name = r.new)" >/dev/null
    local f name
    for f in "$OSS_ROOT"/infra/sql/[0-9]*.sql; do
        name=$(basename "$f")
        if [ -z "$($psql_owner -tAc "SELECT 1 FROM public.oss_migrations WHERE name = '$name'")" ]; then
            oss_say "migrating $name"
            $psql_owner --single-transaction -f "$f" -c "INSERT INTO public.oss_migrations (name) VALUES ('$name')" \
                || oss_die "migration $name failed"
        fi
    done
    # the read models are defined once (infra/sql/read_models.sql): applied
    # after the numbered migrations whenever the file changed
    f=$OSS_ROOT/infra/sql/read_models.sql
    name="read_models.sql@$(sha256sum "$f" | cut -c1-16)"
    if [ -z "$($psql_owner -tAc "SELECT 1 FROM public.oss_migrations WHERE name = '$name'")" ]; then
        oss_say "defining the read models ($name)"
        $psql_owner --single-transaction -c "SET client_min_messages = warning" -f "$f" \
            -c "INSERT INTO public.oss_migrations (name) VALUES ('$name')" \
            || oss_die "read model definition $name failed"
    fi
}

# Key files (0600): master (wraps data keys), index (keyed hashes for
# look-ups), bus (message signatures), otp (keyed hashes of activation codes
# and session tokens). A new master or index key is refused once the journal
# holds sealed data: that data would become unreadable or unfindable.
oss_keys_init() {
    oss_pg_env
    local dir="$OSS_VAR/keys" k sealed
    mkdir -p "$dir"; chmod 700 "$dir"
    sealed=$(psql -X -tA "$OSS_PG_URL" -c "SELECT count(*) FROM oss.subject_keys" 2>/dev/null || echo 0)
    for k in master index bus otp; do
        [ -s "$dir/$k.key" ] && continue
        if { [ "$k" = master ] || [ "$k" = index ]; } && [ "${sealed:-0}" -gt 0 ]; then
            oss_die "refusing to create a new $k key: the journal already holds sealed data of $sealed subjects; restore $dir/$k.key"
        fi
        (umask 077; oss_rand_hex 32 >"$dir/$k.key"; echo >>"$dir/$k.key")
    done
}

# Writes var/oss.conf (0600): what every program reads (OSS_CONFIG).
oss_write_conf() {
    oss_pg_env
    [ -s "$OSS_VAR/api.port" ] || oss_free_port 8080 >"$OSS_VAR/api.port"
    [ -s "$OSS_VAR/smtp.port" ] || oss_free_port 2525 >"$OSS_VAR/smtp.port"
    [ -s "$OSS_VAR/whatsapp.port" ] || oss_free_port 8025 >"$OSS_VAR/whatsapp.port"
    (umask 077; cat >"$OSS_VAR/oss.conf" <<CONF
# written by infra/run; edit infra/lib.sh, not this file
pg.url = $OSS_PG_URL
pg.admin_url = $OSS_PG_ADMIN_URL
crypto.master_key_file = $OSS_VAR/keys/master.key
crypto.index_key_file = $OSS_VAR/keys/index.key
bus.signing_key_file = $OSS_VAR/keys/bus.key
bus.bootstrap_file = $OSS_VAR/kafka.bootstrap
api.port = $(cat "$OSS_VAR/api.port")
notifier.smtp_url = smtp://127.0.0.1:$(cat "$OSS_VAR/smtp.port")
notifier.whatsapp_url = http://127.0.0.1:$(cat "$OSS_VAR/whatsapp.port")/messages
crypto.otp_key_file = $OSS_VAR/keys/otp.key
# every test client is on loopback: no per-IP limit there (per-key limits
# stay; tests/e2e/test_ratelimit.sh checks both on its own API instance)
api.ratelimit.exempt_ips = 127.0.0.1,::1
# hand-overs may be approved at once here (tests/e2e/test_story.sh runs in
# real time); the working-day period is tested by tests/unit/test_core_access.c
access.cooling_off_working_days = 0
CONF
)
}

# Writes var/run.env: where tests and tools find the running stack.
oss_write_run_env() {
    oss_pg_env
    local bs=""
    [ -s "$OSS_VAR/kafka.bootstrap" ] && bs=$(head -n1 "$OSS_VAR/kafka.bootstrap")
    (umask 077; cat >"$OSS_VAR/run.env.tmp" <<ENV
export OSS_API_URL='http://127.0.0.1:$(cat "$OSS_VAR/api.port")'
export OSS_PG_URL='$OSS_PG_URL'
export OSS_PG_ADMIN_URL='$OSS_PG_ADMIN_URL'
export OSS_PG_SUPER_URL='$OSS_PG_SUPER_URL'
export OSS_CLI='$OSS_BUILD_DIR/consumers/oss'
export OSS_CONFIG='$OSS_VAR/oss.conf'
export OSS_BUILD_DIR='$OSS_BUILD_DIR'
export OSS_VAR='$OSS_VAR'
export OSS_MAIL_DIR='$OSS_VAR/mail'
export OSS_WHATSAPP_DIR='$OSS_VAR/whatsapp'
export OSS_LOG_DIR='$OSS_VAR/log'
export OSS_PG_LOG='$OSS_VAR/pg/data/log/postgresql.log'
export OSS_KAFKA_BOOTSTRAP='$bs'
ENV
    mv "$OSS_VAR/run.env.tmp" "$OSS_VAR/run.env")
}
