#!/usr/bin/env bash
# scripts/services.sh - the script behind `make services`.
#
# Finds or starts the servers the integration suites run against, all on loopback:
#   shared, normally already running (restarted with the CI commands if down, never stopped):
#     PostgreSQL :5432, MariaDB :3306, Redis :6379, NATS + JetStream :4222
#   started here when down (state under .kit/):
#     Memcached :11211 (installed from Debian if missing),
#     versitygw :7070 (S3, posix backend over .kit/s3/data), Mailpit :1025 SMTP / :8025 API;
#     the two Go programs are built into .kit/bin at the pinned versions below;
#   and GNU gettext, the tools kit/i18n's tests compare against (installed from Debian if missing).
# It then writes .kit/test.env with `export KIT_TEST_...` lines for every service that answered,
# and prints one line per service: ok, started or UNAVAILABLE (reason).
#
# A KIT_TEST_* address already set in the environment is checked and passed through; nothing
# is started for it. Exit status is 1 only under CI=true when some service is unavailable.
# Idempotent: a second run finds everything up and starts nothing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KIT=$ROOT/.kit
BIN=$KIT/bin
LOG=$KIT/log
RUN=$KIT/run
VERSITYGW_PKG=github.com/versity/versitygw/cmd/versitygw
VERSITYGW_VERSION=v1.8.0
MAILPIT_PKG=github.com/axllent/mailpit
MAILPIT_VERSION=v1.27.11
WAIT_SECONDS=30
mkdir -p "$BIN" "$LOG" "$RUN"

# Addresses: the developer's own (from the environment) or the loopback defaults.
PG_URL=${KIT_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
MYSQL_URL=${KIT_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}
REDIS_URL=${KIT_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
MEMCACHED_ADDR=${KIT_TEST_MEMCACHED_ADDR:-127.0.0.1:11211}
NATS_URL=${KIT_TEST_NATS_URL:-nats://127.0.0.1:4222}
S3_ENDPOINT=${KIT_TEST_S3_ENDPOINT:-http://127.0.0.1:7070}
S3_ACCESS_KEY=${KIT_TEST_S3_ACCESS_KEY:-kitaccess}
S3_SECRET_KEY=${KIT_TEST_S3_SECRET_KEY:-kitsecret123}
S3_REGION=${KIT_TEST_S3_REGION:-us-east-1}
SMTP_ADDR=${KIT_TEST_SMTP_ADDR:-127.0.0.1:1025}
if [[ -n ${KIT_TEST_SMTP_ADDR:-} ]]; then MAILPIT_API=${KIT_TEST_MAILPIT_API:-}
else MAILPIT_API=${KIT_TEST_MAILPIT_API:-http://127.0.0.1:8025}; fi

ENV_LINES=()  # export lines for test.env
UNAVAILABLE=0
REASON=''     # why the last check/start failed, for the summary

# redact URL: the URL with its userinfo password replaced, for messages (CI logs are public).
redact() { sed -E 's#(://[^:/@]*):[^@/]*@#\1:xxxxx@#' <<<"$1"; }
LAST_PID=''   # pid of the last process launched, so waits end early if it dies
LAST_NAME='' LAST_LOG=''  # its name and log

have() { command -v "$1" >/dev/null 2>&1; }
# export_var NAME VALUE: plain `export NAME=value` (also valid make syntax); quoted only if it must be.
export_var() {
  local v=$2 safe='^[[:alnum:]_./:@?=&%+,-]*$'
  [[ $v =~ $safe ]] || v="'${v//\'/\'\\\'\'}'"
  ENV_LINES+=("export $1=$v")
}

# hostport URL-OR-ADDR DEFAULT-PORT: sets HOST and PORT (user info, scheme and path dropped).
hostport() {
  local a=${1#*://}
  a=${a##*@}; a=${a%%[/?]*}
  if [[ $a == *:* ]]; then HOST=${a%:*} PORT=${a##*:}; else HOST=$a PORT=$2; fi
  HOST=${HOST#[}; HOST=${HOST%]}
}

# TCP probes in subshells so the descriptor and any connect error stay contained.
tcp_open() ( hostport "$1" "$2"; exec 2>/dev/null; exec 3<>"/dev/tcp/$HOST/$PORT" || exit 1 )
# tcp_greets ADDR PORT PREFIX [REQUEST]: the first line the server sends starts with PREFIX.
tcp_greets() (
  hostport "$1" "$2"; exec 2>/dev/null; exec 3<>"/dev/tcp/$HOST/$PORT" || exit 1
  [[ -z ${4:-} ]] || printf '%s\r\n' "$4" >&3
  IFS= read -r -t 3 line <&3 && [[ $line == "$3"* ]]
)

# launch NAME CMD...: start CMD fully detached, appending its output to .kit/log/NAME.log;
# `up` records the pid in .kit/run/NAME.pid once it answers.
launch() {
  LAST_NAME=$1 LAST_LOG=$LOG/$1.log; shift
  echo "--- $(date '+%F %T') $*" >>"$LAST_LOG"
  setsid nohup "$@" >>"$LAST_LOG" 2>&1 </dev/null &
  LAST_PID=$!
}

# run_logged NAME CMD...: run a start command, appending its output to .kit/log/NAME-start.log.
run_logged() {
  local log=$LOG/$1-start.log; shift
  "$@" >>"$log" 2>&1 || { REASON="'$1' failed: $(tail -n 1 "$log")"; return 1; }
}

# wait_ready PID CHECK...: poll CHECK until it passes, PID (if any) exits, or WAIT_SECONDS pass.
wait_ready() {
  local pid=$1 deadline=$((SECONDS + WAIT_SECONDS)); shift
  until "$@" >/dev/null 2>&1; do
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then REASON="exited"; return 1; fi
    if ((SECONDS >= deadline)); then REASON="not ready after ${WAIT_SECONDS}s"; return 1; fi
    sleep 0.2
  done
}

# ensure_go_bin NAME PKG VERSION: build PKG@VERSION into .kit/bin unless already there at VERSION.
ensure_go_bin() {
  local bin=$BIN/$1 have_version=''
  have go || { REASON="go not found"; return 1; }
  [[ -x $bin ]] && have_version=$(go version -m "$bin" 2>/dev/null | awk '$1 == "mod" { print $3; exit }' || true)
  [[ $have_version == "$3" ]] && return 0
  echo "building $1 $3 into .kit/bin (a few minutes on a cold cache) ..." >&2
  if ! (cd "$KIT" && GOWORK=off GOBIN=$BIN go install "$2@$3") >"$LOG/build-$1.log" 2>&1; then
    REASON="go install $2@$3 failed, see .kit/log/build-$1.log"; return 1
  fi
}

# --- readiness checks, start commands and post-start verification, one set per service ---

ready_postgres() {
  have pg_isready || { tcp_open "$PG_URL" 5432; return; }
  PGCONNECT_TIMEOUT=3 pg_isready -q -d "$PG_URL"
}
start_postgres() { run_logged postgres pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start; }
verify_postgres() {
  have psql || return 0
  [[ $(PGCONNECT_TIMEOUT=3 psql -d "$PG_URL" -XAtqc \
    'SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user' 2>/dev/null) == t ]] ||
    { REASON="the role in $(redact "$PG_URL") cannot log in or CREATE DATABASE"; return 1; }
}

# mysql_cli TOOL ARGS...: run a MariaDB client against MYSQL_URL over TCP.
mysql_cli() {
  local tool=$1 a=${MYSQL_URL#*://} user=root pass=''; shift
  if [[ $a == *@* ]]; then user=${a%%@*}; [[ $user == *:* ]] && pass=${user#*:}; user=${user%%:*}; fi
  hostport "$MYSQL_URL" 3306
  MYSQL_PWD=$pass "$tool" --protocol=tcp -h "$HOST" -P "$PORT" -u "$user" --connect-timeout=3 "$@"
}
ready_mysql() {
  have mariadb-admin || { tcp_open "$MYSQL_URL" 3306; return; }
  mysql_cli mariadb-admin ping
}
start_mysql() { run_logged mysql start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd; }
verify_mysql() {
  have mariadb || return 0
  local db=${MYSQL_URL##*/}; db=${db%%\?*}
  mysql_cli mariadb -e "CREATE DATABASE IF NOT EXISTS \`${db:-test}\`" >/dev/null 2>&1 ||
    { REASON="the user in $(redact "$MYSQL_URL") cannot log in or CREATE DATABASE"; return 1; }
}

ready_redis() {
  have redis-cli || { tcp_open "$REDIS_URL" 6379; return; }
  [[ $(redis-cli -u "$REDIS_URL" ping 2>/dev/null) == PONG ]]
}
start_redis() {
  run_logged redis redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
}

ready_nats() { tcp_greets "$NATS_URL" 4222 INFO; }
start_nats() {
  run_logged nats start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
}

ready_memcached() { tcp_greets "$MEMCACHED_ADDR" 11211 VERSION version; }
start_memcached() {
  if ! have memcached; then
    [[ $(id -u) == 0 ]] || { REASON="memcached not installed (apt-get install memcached)"; return 1; }
    echo "installing memcached from Debian ..." >&2
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y memcached; } \
      >>"$LOG/apt.log" 2>&1 || { REASON="apt-get install memcached failed, see .kit/log/apt.log"; return 1; }
    ready_memcached && return 0  # the package's own service may have come up
  fi
  local as=()
  if [[ $(id -u) == 0 ]]; then
    if id memcache >/dev/null 2>&1; then as=(-u memcache); else as=(-u nobody); fi
  fi
  launch memcached memcached "${as[@]}" -l 127.0.0.1 -p 11211 -U 0 -m 64 -I 2m  # -I: items up to 2 MiB (the conformance suite stores 1 MiB values)
}

# S3 requests are signed (curl >= 7.75), so readiness also proves the credentials.
ready_s3() {
  [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 3 \
    --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$S3_ENDPOINT/") == 200 ]]
}
start_s3() {
  if tcp_open "$S3_ENDPOINT" 7070; then REASON="$S3_ENDPOINT rejects the configured credentials"; return 1; fi
  ensure_go_bin versitygw "$VERSITYGW_PKG" "$VERSITYGW_VERSION" || return 1
  mkdir -p "$KIT/s3/data" "$KIT/s3/meta"
  local gw=("$BIN/versitygw" --port 127.0.0.1:7070 --access kitaccess --secret kitsecret123
    --region us-east-1 --quiet)
  # The posix backend keeps object metadata in user xattrs and refuses to start where the
  # filesystem has none (tmpfs on old kernels, some overlays); then keep it in a sidecar dir.
  launch versitygw "${gw[@]}" posix "$KIT/s3/data"
  wait_ready "$LAST_PID" ready_s3 && return 0
  tail -n 2 "$LAST_LOG" | grep -q 'xattr check failed' || return 1
  launch versitygw "${gw[@]}" posix --sidecar "$KIT/s3/meta" "$KIT/s3/data"
}

ready_mailpit() {
  tcp_greets "$SMTP_ADDR" 1025 220 || return 1
  [[ -z $MAILPIT_API ]] || curl -fs -o /dev/null --max-time 3 "$MAILPIT_API/api/v1/info"
}
start_mailpit() {
  ensure_go_bin mailpit "$MAILPIT_PKG" "$MAILPIT_VERSION" || return 1
  mkdir -p "$KIT/mailpit"
  launch mailpit "$BIN/mailpit" --smtp 127.0.0.1:1025 --listen 127.0.0.1:8025 \
    --database "$KIT/mailpit/mailpit.db" --smtp-auth-accept-any --smtp-auth-allow-insecure \
    --disable-version-check --smtp-disable-rdns --quiet
}

# up NAME OVERRIDE-VAR: check NAME, start it if down (unless its address came from OVERRIDE-VAR),
# wait for it, verify it, and print its summary line. Returns 0 when the service is usable.
up() {
  local name=$1 override=$2 status=ok
  REASON='' LAST_PID='' LAST_NAME='' LAST_LOG=''
  if ! "ready_$name" >/dev/null 2>&1; then
    if [[ -n ${!override:-} ]]; then
      REASON="$override=$(redact "${!override}") is not answering"
    elif "start_$name" && wait_ready "$LAST_PID" "ready_$name"; then
      status=started REASON=""
      [[ -z $LAST_PID ]] || echo "$LAST_PID" >"$RUN/$LAST_NAME.pid"
    else
      REASON=${REASON:-start failed}
      # A server that died usually says why on the last line of its log.
      if [[ -n $LAST_LOG && -s $LAST_LOG ]]; then REASON="$REASON: $(tail -n 1 "$LAST_LOG")"; fi
    fi
  fi
  if [[ -z $REASON ]] && declare -F "verify_$name" >/dev/null; then "verify_$name" || true; fi
  if [[ -n $REASON ]]; then
    printf '%-10s UNAVAILABLE (%s)\n' "$name" "$REASON"
    UNAVAILABLE=$((UNAVAILABLE + 1))
    return 1
  fi
  [[ -z ${!override:-} ]] || status="ok (from $override)"
  printf '%-10s %s\n' "$name" "$status"
}

# binary NAME CANDIDATE...: export KIT_TEST_<NAME>_BIN for outage tests that run private instances.
binary() {
  local var=KIT_TEST_$1_BIN path; shift
  if [[ -n ${!var:-} ]]; then export_var "$var" "${!var}"; return; fi
  for path in "$@"; do
    if [[ -n $path && -x $path ]]; then export_var "$var" "$path"; return; fi
  done
}

if up postgres KIT_TEST_POSTGRES_URL; then export_var KIT_TEST_POSTGRES_URL "$PG_URL"; fi
if up mysql KIT_TEST_MYSQL_URL; then export_var KIT_TEST_MYSQL_URL "$MYSQL_URL"; fi
if up redis KIT_TEST_REDIS_URL; then export_var KIT_TEST_REDIS_URL "$REDIS_URL"; fi
if up memcached KIT_TEST_MEMCACHED_ADDR; then export_var KIT_TEST_MEMCACHED_ADDR "$MEMCACHED_ADDR"; fi
if up nats KIT_TEST_NATS_URL; then export_var KIT_TEST_NATS_URL "$NATS_URL"; fi
if up s3 KIT_TEST_S3_ENDPOINT; then
  export_var KIT_TEST_S3_ENDPOINT "$S3_ENDPOINT"
  export_var KIT_TEST_S3_ACCESS_KEY "$S3_ACCESS_KEY"
  export_var KIT_TEST_S3_SECRET_KEY "$S3_SECRET_KEY"
  export_var KIT_TEST_S3_REGION "$S3_REGION"
fi
if up mailpit KIT_TEST_SMTP_ADDR; then
  export_var KIT_TEST_SMTP_ADDR "$SMTP_ADDR"
  [[ -z $MAILPIT_API ]] || export_var KIT_TEST_MAILPIT_API "$MAILPIT_API"
fi
binary MEMCACHED "$(command -v memcached || true)"
binary REDIS_SERVER "$(command -v redis-server || true)"
binary NATS_SERVER "$(command -v nats-server || true)" /usr/sbin/nats-server
binary VERSITYGW "$BIN/versitygw"
binary MAILPIT "$BIN/mailpit"

# GNU gettext is no server, but kit/i18n's tests hold its PO and MO code against it (msgcat,
# msgfmt, msgunfmt, msgmerge, ngettext): installed from Debian when missing, like memcached.
if ! have msgfmt || ! have ngettext; then
  if [[ $(id -u) == 0 ]]; then
    echo "installing gettext from Debian ..." >&2
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y gettext; } >>"$LOG/apt.log" 2>&1 || true
  fi
fi
if have msgfmt && have ngettext; then printf '%-10s %s\n' gettext ok
else printf '%-10s UNAVAILABLE (%s)\n' gettext "apt-get install gettext failed or not root, see .kit/log/apt.log"; UNAVAILABLE=$((UNAVAILABLE + 1)); fi

{
  echo "# Written by scripts/services.sh; only services that answered are listed."
  printf '%s\n' "${ENV_LINES[@]}"
} >"$KIT/test.env.tmp"
mv "$KIT/test.env.tmp" "$KIT/test.env"
echo "wrote .kit/test.env"

if ((UNAVAILABLE > 0)) && [[ ${CI:-} == true ]]; then
  echo "CI=true: $UNAVAILABLE service(s) unavailable" >&2
  exit 1
fi
