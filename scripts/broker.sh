#!/usr/bin/env bash
# scripts/broker.sh - install, start, stop and inspect the STOMP brokers used by
# libstomp's tests: RabbitMQ (Debian `rabbitmq-server`, STOMP plugin) and
# ActiveMQ Classic (Debian `activemq`). Everything is bound to 127.0.0.1 only.
#
# Usage: scripts/broker.sh start|stop|status|restart [rabbitmq|activemq|all]
#        scripts/broker.sh cluster start|stop|status
#        scripts/broker.sh cluster stop-node|kill-node|start-node a|b|c
#
#   start    install the package if missing, configure, start, and return once
#            the broker answers a STOMP CONNECT (0 if already running)
#   stop     stop the broker and wait until its STOMP port is closed
#   status   print running/stopped per broker; exit 0 if all requested are
#            running, 3 otherwise
#   restart  stop, then start
#   cluster  a RabbitMQ cluster of its own for scripts/soak.sh (nodes soak-a,
#            soak-b, soak-c@localhost; STOMP 127.0.0.1:61633, :61634, :61635),
#            never touching the main node: `start` makes it (from nothing unless
#            it is already whole and running), `stop` stops every node of it,
#            `stop-node`/`start-node` one node, keeping its data, `kill-node`
#            SIGKILLs one (a crash)
#
# Environment (all optional):
#   STOMP_RABBITMQ_PORT       RabbitMQ STOMP port            (default 61613)
#   STOMP_RABBITMQ_AMQP_PORT  RabbitMQ AMQP port             (default 5672;
#                             Erlang distribution uses this + 20000)
#   STOMP_ACTIVEMQ_PORT       ActiveMQ STOMP port            (default 61623)
#   STOMP_RABBITMQ_TLS_PORT   RabbitMQ STOMP over TLS        (default 61614; asks for a client
#                             certificate and checks one that is given, but needs none)
#   STOMP_ACTIVEMQ_TLS_PORT   ActiveMQ stomp+ssl             (default 61624; no client certificate)
#   STOMP_ACTIVEMQ_MTLS_PORT  ActiveMQ stomp+ssl, client certificate required (default 61625)
#   STOMP_TLS_CERT_DIR        certificates (scripts/certs.sh) (default /var/lib/libstomp-test/certs)
#   STOMP_CLUSTER_PORT        first cluster STOMP port       (default 61633)
#   STOMP_CLUSTER_AMQP_PORT   first cluster AMQP port        (default 5682;
#                             distribution uses this + 20000)
#   STOMP_BROKER_TIMEOUT      seconds to wait for a start    (default 120)
#   STOMP_BROKER_STATE_DIR    logs, lock, ActiveMQ instance  (default /var/tmp/libstomp-brokers)
#   STOMP_BROKER_VERBOSE=1    also show the detailed log on stderr
#
# Broker facts this relies on: see /work/shared/BROKERS.md (RabbitMQ wants the
# STOMP `host` header to be a vhost, e.g. `host:/`; guest/guest on both).
set -uo pipefail

# --------------------------------------------------------------------------
# settings
RABBIT_PORT=${STOMP_RABBITMQ_PORT:-61613}
RABBIT_AMQP_PORT=${STOMP_RABBITMQ_AMQP_PORT:-5672}
RABBIT_DIST_PORT=$((RABBIT_AMQP_PORT + 20000))
AMQ_PORT=${STOMP_ACTIVEMQ_PORT:-61623}
RABBIT_TLS_PORT=${STOMP_RABBITMQ_TLS_PORT:-61614}
AMQ_TLS_PORT=${STOMP_ACTIVEMQ_TLS_PORT:-61624}
AMQ_MTLS_PORT=${STOMP_ACTIVEMQ_MTLS_PORT:-61625}
CERT_DIR=${STOMP_TLS_CERT_DIR:-/var/lib/libstomp-test/certs}
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)   # before the `cd /` below
START_TIMEOUT=${STOMP_BROKER_TIMEOUT:-120}
STATE_DIR=${STOMP_BROKER_STATE_DIR:-/var/tmp/libstomp-brokers}
VERBOSE=${STOMP_BROKER_VERBOSE:-0}
APT_WAIT=${STOMP_BROKER_APT_WAIT:-1800}   # max seconds to wait for a foreign apt/dpkg

LOG=$STATE_DIR/broker.log
LOCK=$STATE_DIR/lock

RABBIT_NODE=rabbit@localhost          # resolvable to loopback on any machine
RABBIT_ETC=/etc/rabbitmq
RABBIT_LOGDIR=/var/log/rabbitmq

AMQ_DIR=$STATE_DIR/activemq           # private ActiveMQ instance (activemq.base)
AMQ_PIDFILE=$AMQ_DIR/activemq.pid
AMQ_CONSOLE=$AMQ_DIR/console.log
AMQ_STOCK_CONF=/etc/activemq/instances-available/main
AMQ_HOME=/usr/share/activemq


# --------------------------------------------------------------------------
# output helpers: one line per action on stdout, details in $LOG
ts() { date '+%F %T'; }
log() { printf '%s %s\n' "$(ts)" "$*" >>"$LOG"; [ "$VERBOSE" = 1 ] && printf '  %s\n' "$*" >&2; return 0; }
say() { printf '%s\n' "$*"; printf '%s %s\n' "$(ts)" "$*" >>"$LOG"; }
warn() { printf 'broker.sh: %s\n' "$*" >&2; printf '%s WARNING %s\n' "$(ts)" "$*" >>"$LOG"; }
# run CMD...: run with output appended to $LOG
run() {
    log "+ $*"
    if [ "$VERBOSE" = 1 ]; then "$@" 2>&1 | tee -a "$LOG" >&2; return "${PIPESTATUS[0]}"; fi
    "$@" >>"$LOG" 2>&1
}
die() { printf 'broker.sh: error: %s\n' "$*" >&2; printf '%s ERROR %s\n' "$(ts)" "$*" >>"$LOG" 2>/dev/null; exit 1; }
show_tail() { # FILE [N]: print the tail of a log to stderr
    local f=$1 n=${2:-40}
    [ -s "$f" ] || return 0
    printf -- '----- last %s lines of %s -----\n' "$n" "$f" >&2
    tail -n "$n" "$f" >&2
    printf -- '-----\n' >&2
}

usage() {
    sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0" >&2
    exit 2
}

# --------------------------------------------------------------------------
# process and socket helpers (no procps/iproute2 needed: fresh machines may lack them)

# pids_with_arg ARG [COMM]: pids whose argv contains ARG exactly (and comm == COMM)
pids_with_arg() {
    local want=$1 comm=${2:-} d pid
    for d in /proc/[0-9]*; do
        pid=${d#/proc/}
        [ "$pid" = "$$" ] && continue
        if [ -n "$comm" ]; then
            [ "$(cat "$d/comm" 2>/dev/null)" = "$comm" ] || continue
        fi
        if { tr '\0' '\n' <"$d/cmdline"; } 2>/dev/null | grep -qxF -- "$want"; then
            echo "$pid"
        fi
    done
}
# pids_by_comm COMM [USER]
pids_by_comm() {
    local comm=$1 user=${2:-} uid="" d
    [ -n "$user" ] && { uid=$(id -u "$user" 2>/dev/null) || return 0; }
    for d in /proc/[0-9]*; do
        [ "$(cat "$d/comm" 2>/dev/null)" = "$comm" ] || continue
        if [ -n "$uid" ]; then
            [ "$(awk '/^Uid:/{print $2}' "$d/status" 2>/dev/null)" = "$uid" ] || continue
        fi
        echo "${d#/proc/}"
    done
}
# alive PID: the process exists and is not a zombie
alive() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
    ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT
port_open() {
    timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}
# stomp_ping PORT: a STOMP CONNECT (guest/guest, host:/) gets CONNECTED back.
# (The frames are printf formats: a NUL cannot live in a bash variable.)
stomp_ping() {
    timeout 6 bash -c '
        exec 3<>/dev/tcp/127.0.0.1/'"$1"' || exit 1
        printf "CONNECT\naccept-version:1.0,1.1,1.2\nhost:/\nlogin:guest\npasscode:guest\n\n\0" >&3
        IFS= read -r -t 5 line <&3 || exit 1
        printf "DISCONNECT\n\n\0" >&3
        [[ $line == CONNECTED* ]]
    ' 2>/dev/null
}
# listening_non_loopback PORT: does anything listen on PORT on a non-loopback address?
listening_non_loopback() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p="$hex" 'NR > 1 && $4 == "0A" {
            split($2, a, ":"); if (a[2] != p) next
            ip = a[1]
            if (length(ip) == 8 && ip ~ /7F$/) next                          # 127.x.x.x (v4)
            if (ip == "00000000000000000000000001000000") next               # ::1
            if (ip ~ /^0000000000000000FFFF0000......7F$/) next              # ::ffff:127.x
            found = 1 }
         END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# wait_port_closed PORT SECONDS
wait_port_closed() {
    local port=$1 limit=$2 t0=$SECONDS
    while port_open "$port"; do
        [ $((SECONDS - t0)) -ge "$limit" ] && return 1
        sleep 1
    done
    return 0
}
# wait_gone SECONDS PID...: wait for processes to exit
wait_gone() {
    local limit=$1 t0=$SECONDS p left; shift
    while :; do
        left=""
        for p in "$@"; do alive "$p" && left="$left $p"; done
        [ -z "$left" ] && return 0
        [ $((SECONDS - t0)) -ge "$limit" ] && return 1
        sleep 1
    done
}
# kill_pids NAME PID...: TERM, wait, then KILL
kill_pids() {
    local name=$1; shift
    [ $# -eq 0 ] && return 0
    log "$name: sending TERM to $*"
    kill -TERM "$@" 2>/dev/null
    if ! wait_gone 30 "$@"; then
        log "$name: still alive after 30 s, sending KILL to $*"
        kill -KILL "$@" 2>/dev/null
        wait_gone 10 "$@" || warn "$name: could not kill $*"
    fi
}

raise_fd_limit() {
    local hard
    hard=$(ulimit -Hn)
    if [ "$hard" = unlimited ]; then ulimit -n 1048576 2>/dev/null || ulimit -n 65536 2>/dev/null
    else ulimit -n "$hard" 2>/dev/null
    fi
    log "fd limit for the broker: $(ulimit -n) (hard $(ulimit -Hn))"
}

# write_if_changed FILE CONTENT: returns 0 if the file was (re)written
write_if_changed() {
    local f=$1 content=$2
    if [ -f "$f" ] && [ "$(cat "$f")" = "$content" ]; then return 1; fi
    mkdir -p "$(dirname "$f")"
    printf '%s\n' "$content" >"$f.tmp.$$" && chmod 0644 "$f.tmp.$$" && mv -f "$f.tmp.$$" "$f"
    log "wrote $f"
    return 0
}

# --------------------------------------------------------------------------
# Debian packages (waits for any other apt/dpkg, e.g. one running in the background)

APT_UPDATED=0
apt_busy() {
    local c
    for c in apt apt-get aptitude dpkg unattended-upgr; do
        [ -n "$(pids_by_comm "$c")" ] && return 0
    done
    if command -v fuser >/dev/null 2>&1; then
        fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock >/dev/null 2>&1 && return 0
    fi
    return 1
}
wait_for_apt() {
    local t0=$SECONDS said=0
    while apt_busy; do
        [ "$said" = 0 ] && { say "waiting for another apt-get/dpkg to finish..."; said=1; }
        [ $((SECONDS - t0)) -ge "$APT_WAIT" ] && die "apt/dpkg still busy after ${APT_WAIT}s"
        sleep 3
    done
}
pkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}
# ensure_pkgs PKG...: install whatever is missing
ensure_pkgs() {
    local missing=() p attempt
    # a background install may be half-way through one of them: let it finish first
    for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    wait_for_apt
    missing=()
    for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0

    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install ${missing[*]} by hand"
    say "installing ${missing[*]} (apt-get, log: $LOG)"
    local t0=$SECONDS
    for attempt in 1 2 3 4 5; do
        wait_for_apt
        if [ "$APT_UPDATED" = 0 ]; then
            if run apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 update; then
                APT_UPDATED=1
            else
                warn "apt-get update failed (attempt $attempt)"
                sleep 5; continue
            fi
        fi
        wait_for_apt
        if DEBIAN_FRONTEND=noninteractive run apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 \
                -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
                install -y "${missing[@]}"; then
            break
        fi
        warn "apt-get install ${missing[*]} failed (attempt $attempt), retrying"
        # an interrupted dpkg (e.g. a killed background install) needs this
        wait_for_apt
        DEBIAN_FRONTEND=noninteractive run dpkg --force-confdef --force-confold --configure -a
        sleep 5
    done
    for p in "${missing[@]}"; do
        pkg_installed "$p" || { show_tail "$LOG" 30; die "could not install $p"; }
    done
    say "installed ${missing[*]} in $((SECONDS - t0))s"
}

# --------------------------------------------------------------------------
# TLS listeners (certificates from scripts/certs.sh, made before a broker starts)

tls_certs() {
    run bash "$SCRIPT_DIR/certs.sh" "$CERT_DIR" ||
        { show_tail "$LOG" 20; die "could not make the TLS certificates in $CERT_DIR"; }
}
# RabbitMQ 3.10 has one set of ssl_options for all its TLS listeners, so mutual TLS is asked but
# not required here (verify_peer, fail_if_no_peer_cert false): a client certificate that is given
# must chain to the test CA. Required client certificates are ActiveMQ's second connector.
# A file of its own in conf.d (read after rabbitmq.conf), so the main file stays as it was.
RABBIT_TLS_CONF=$RABBIT_ETC/conf.d/20-libstomp-tls.conf
rabbit_tls_conf_text() {
    cat <<EOF
# Written by libstomp scripts/broker.sh: STOMP over TLS on loopback only.
stomp.listeners.ssl.1 = 127.0.0.1:$RABBIT_TLS_PORT
ssl_options.cacertfile = $CERT_DIR/ca.pem
ssl_options.certfile = $CERT_DIR/server.pem
ssl_options.keyfile = $CERT_DIR/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
EOF
}
# ActiveMQ: the sslContext element and the two stomp+ssl connectors (the second needs a client
# certificate).
amq_tls_context() {
    cat <<EOF
        <sslContext>
            <sslContext keyStore="file:$CERT_DIR/server.p12" keyStorePassword="changeit" keyStoreType="pkcs12"
                        trustStore="file:$CERT_DIR/truststore.p12" trustStorePassword="changeit" trustStoreType="pkcs12"/>
        </sslContext>
EOF
}
amq_tls_connectors() {
    cat <<EOF
            <transportConnector name="stomp+ssl" uri="stomp+ssl://127.0.0.1:$AMQ_TLS_PORT"/>
            <transportConnector name="stomp+mtls" uri="stomp+ssl://127.0.0.1:$AMQ_MTLS_PORT?needClientAuth=true"/>
EOF
}

# ==========================================================================
# RabbitMQ

export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_NODENAME=$RABBIT_NODE RABBITMQ_NODE_PORT=$RABBIT_AMQP_PORT RABBITMQ_DIST_PORT=$RABBIT_DIST_PORT

# Erlang schedulers that run out of work spin before they sleep. On these 2-core machines that spin
# takes CPU from the clients under test (the I/O and dispatch threads of libstomp, the peers): off,
# as deployments that share cores with other work set it.
RABBIT_SCHED_ARGS="+sbwt none +sbwtdcpu none +sbwtdio none"
rabbit_conf_text() {
    cat <<EOF
# Written by libstomp scripts/broker.sh: everything on loopback only.
listeners.tcp.1 = 127.0.0.1:$RABBIT_AMQP_PORT
stomp.listeners.tcp.1 = 127.0.0.1:$RABBIT_PORT
stomp.tcp_listen_options.backlog = 4096
distribution.listener.interface = 127.0.0.1
distribution.listener.port_range.min = $RABBIT_DIST_PORT
distribution.listener.port_range.max = $RABBIT_DIST_PORT
loopback_users.guest = true
EOF
}
# Read by rabbitmq-server and by the CLI tools (rabbitmqctl, rabbitmq-plugins).
rabbit_env_text() {
    cat <<EOF
# Written by libstomp scripts/broker.sh: everything on loopback only.
NODENAME=$RABBIT_NODE
NODE_IP_ADDRESS=127.0.0.1
NODE_PORT=$RABBIT_AMQP_PORT
DIST_PORT=$RABBIT_DIST_PORT
export ERL_EPMD_ADDRESS=127.0.0.1
SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} $RABBIT_SCHED_ARGS"
CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
# su(1) resets the soft fd limit to 1024: raise it to the hard limit again
ulimit -n "\$(ulimit -Hn)" 2>/dev/null || true
EOF
}
RABBIT_CONF_CHANGED=0
rabbit_write_config() {
    mkdir -p "$RABBIT_ETC"
    tls_certs
    write_if_changed "$RABBIT_ETC/rabbitmq.conf" "$(rabbit_conf_text)" && RABBIT_CONF_CHANGED=1
    write_if_changed "$RABBIT_ETC/rabbitmq-env.conf" "$(rabbit_env_text)" && RABBIT_CONF_CHANGED=1
    write_if_changed "$RABBIT_TLS_CONF" "$(rabbit_tls_conf_text)" && RABBIT_CONF_CHANGED=1
    return 0
}
rabbit_enable_stomp() {
    local f=$RABBIT_ETC/enabled_plugins
    if [ -f "$f" ] && grep -q 'rabbitmq_stomp' "$f"; then return 0; fi
    log "enabling rabbitmq_stomp (offline)"
    run rabbitmq-plugins enable --offline rabbitmq_stomp || {
        show_tail "$LOG" 20; die "rabbitmq: rabbitmq-plugins enable --offline rabbitmq_stomp failed"; }
    RABBIT_CONF_CHANGED=1
}
# pids of RabbitMQ server nodes (any node name, so a stale/foreign one is found too)
rabbit_pids() {
    local p
    for p in $(pids_by_comm beam.smp rabbitmq); do
        # server nodes boot with `-s rabbit boot`; CLI tools run `-hidden` escripts
        if { tr '\0' '\n' <"/proc/$p/cmdline"; } 2>/dev/null | grep -qx -- 'rabbit'; then echo "$p"; fi
    done
}
# rabbit_is_ours: the node answering is $RABBIT_NODE (not a stale one with another name)
rabbit_is_ours() {
    [ "$(id -u)" = 0 ] || return 0   # rabbitmqctl needs root; status as a user trusts the pid
    command -v rabbitmqctl >/dev/null 2>&1 || return 1
    (cd / && timeout 30 rabbitmqctl -q -n "$RABBIT_NODE" ping) >/dev/null 2>&1 9>&-
}
# rabbit_loopback_only: none of the node's ports listens beyond loopback
rabbit_loopback_only() {
    local p
    for p in "$RABBIT_PORT" "$RABBIT_AMQP_PORT" "$RABBIT_DIST_PORT" 4369 15672 15674 1883 5671 61614 "$RABBIT_TLS_PORT"; do
        if listening_non_loopback "$p"; then
            log "rabbitmq: port $p listens on a non-loopback address"
            return 1
        fi
    done
    return 0
}

# epmd must listen on loopback only; one started earlier without ERL_EPMD_ADDRESS
# (or left over) is killed when no node is registered with it.
epmd_cleanup() {
    local pids
    pids=$(pids_by_comm epmd)
    [ -z "$pids" ] && return 0
    if [ -n "$(rabbit_pids)" ] || [ -n "$(pids_by_comm beam.smp)" ]; then return 0; fi
    log "stopping idle epmd ($pids)"
    command -v epmd >/dev/null 2>&1 && run epmd -kill
    wait_gone 5 $pids || kill_pids epmd $pids
}

rabbit_stop() {
    local quiet=${1:-} pids t0=$SECONDS
    pids=$(rabbit_pids)
    if [ -z "$pids" ]; then
        port_open "$RABBIT_PORT" && warn "rabbitmq: no RabbitMQ node found, but 127.0.0.1:$RABBIT_PORT is open (another program?)"
        epmd_cleanup
        [ -z "$quiet" ] && say "rabbitmq: not running"
        return 0
    fi
    log "rabbitmq: stopping node(s) $pids"
    # `shutdown` waits for the node's OS process to exit; a node with another
    # name (stale, started by hand) does not answer and gets SIGTERM instead.
    if rabbit_is_ours; then
        (cd / && timeout 90 rabbitmqctl -n "$RABBIT_NODE" shutdown) >>"$LOG" 2>&1 9>&- || log "rabbitmqctl shutdown failed"
        # shellcheck disable=SC2086
        wait_gone 10 $pids || kill_pids rabbitmq $pids
    else
        log "rabbitmq: node(s) $pids are not $RABBIT_NODE: killing them"
        # shellcheck disable=SC2086
        kill_pids rabbitmq $pids
    fi
    wait_port_closed "$RABBIT_PORT" 30 || die "rabbitmq: port $RABBIT_PORT still open after stopping"
    epmd_cleanup
    [ -z "$quiet" ] && say "rabbitmq: stopped in $((SECONDS - t0))s"
    return 0
}

rabbit_start() {
    local t0=$SECONDS pids t
    rabbit_write_config     # before installing: a package-started node then binds loopback too
    ensure_pkgs rabbitmq-server
    rabbit_write_config     # in case the package replaced anything
    rabbit_enable_stomp

    pids=$(rabbit_pids)
    if [ -n "$pids" ]; then
        if [ "$RABBIT_CONF_CHANGED" = 0 ] && stomp_ping "$RABBIT_PORT" && rabbit_is_ours && rabbit_loopback_only; then
            say "rabbitmq: already running (stomp 127.0.0.1:$RABBIT_PORT)"
            rabbit_test_user
            return
        fi
        say "rabbitmq: restarting a stale or reconfigured node (pid $(echo $pids))"
        rabbit_stop quiet
    fi
    if port_open "$RABBIT_PORT"; then
        die "rabbitmq: 127.0.0.1:$RABBIT_PORT is taken by another program (not a RabbitMQ node)"
    fi
    if port_open "$RABBIT_AMQP_PORT"; then
        die "rabbitmq: AMQP port 127.0.0.1:$RABBIT_AMQP_PORT is taken by another program (set STOMP_RABBITMQ_AMQP_PORT)"
    fi
    epmd_cleanup

    raise_fd_limit
    log "rabbitmq: rabbitmq-server -detached (node $RABBIT_NODE)"
    (cd / && setsid rabbitmq-server -detached) </dev/null >>"$LOG" 2>&1 9>&- \
        || { show_tail "$LOG" 20; die "rabbitmq: rabbitmq-server -detached failed"; }

    t=$SECONDS
    until stomp_ping "$RABBIT_PORT"; do
        if [ $((SECONDS - t)) -ge "$START_TIMEOUT" ]; then
            show_tail "$RABBIT_LOGDIR/$RABBIT_NODE.log" 40
            show_tail "$LOG" 20
            die "rabbitmq: no STOMP answer on 127.0.0.1:$RABBIT_PORT after ${START_TIMEOUT}s (logs: $RABBIT_LOGDIR/$RABBIT_NODE.log, $LOG)"
        fi
        if [ $((SECONDS - t)) -ge 20 ] && [ -z "$(rabbit_pids)" ]; then
            show_tail "$RABBIT_LOGDIR/$RABBIT_NODE.log" 40
            show_tail "$LOG" 20
            die "rabbitmq: the node exited during start (logs: $RABBIT_LOGDIR/$RABBIT_NODE.log, $LOG)"
        fi
        sleep 1
    done
    say "rabbitmq: started in $((SECONDS - t0))s (stomp 127.0.0.1:$RABBIT_PORT, pid $(echo $(rabbit_pids)))"
    rabbit_loopback_only || warn "rabbitmq: some port listens beyond loopback (see $LOG)"
    rabbit_test_user
}

# The suite's own user (tests/secret.env): its distinctive passcode lets scripts/test.sh check that
# no output shows it. Idempotent; the passcode goes to rabbitmqctl only, never to the log.
SECRET_ENV=$(dirname "$(readlink -f "$0")")/../tests/secret.env
rabbit_test_user() {
    local login pass
    [ -f "$SECRET_ENV" ] || { warn "rabbitmq: $SECRET_ENV is missing: no test user"; return 0; }
    login=$(sed -n 's/^STOMP_TEST_LOGIN=//p' "$SECRET_ENV")
    pass=$(sed -n 's/^STOMP_TEST_PASSCODE=//p' "$SECRET_ENV")
    if (cd / && timeout 60 rabbitmqctl -q -n "$RABBIT_NODE" authenticate_user "$login" "$pass") >/dev/null 2>&1 9>&-; then
        return 0
    fi
    log "rabbitmq: adding the test user $login"
    (cd / && timeout 60 rabbitmqctl -q -n "$RABBIT_NODE" delete_user "$login") >/dev/null 2>&1 9>&-
    (cd / && timeout 60 rabbitmqctl -q -n "$RABBIT_NODE" add_user "$login" "$pass") >/dev/null 2>&1 9>&- \
        || { warn "rabbitmq: could not add the test user $login"; return 1; }
    run timeout 60 rabbitmqctl -q -n "$RABBIT_NODE" set_permissions -p / "$login" '.*' '.*' '.*' \
        || { warn "rabbitmq: could not set the permissions of $login"; return 1; }
    say "rabbitmq: test user $login added (vhost /)"
}

rabbit_status() {
    local pids
    pids=$(rabbit_pids)
    if [ -n "$pids" ] && stomp_ping "$RABBIT_PORT" && ! rabbit_is_ours; then
        echo "rabbitmq: a node other than $RABBIT_NODE answers on 127.0.0.1:$RABBIT_PORT (pid $(echo $pids)); 'start' replaces it"
    elif [ -n "$pids" ] && stomp_ping "$RABBIT_PORT"; then
        echo "rabbitmq: running (stomp 127.0.0.1:$RABBIT_PORT, node $RABBIT_NODE, pid $(echo $pids))"
        return 0
    elif [ -n "$pids" ]; then
        echo "rabbitmq: not answering (node pid $(echo $pids), no STOMP on 127.0.0.1:$RABBIT_PORT)"
    else
        echo "rabbitmq: stopped"
    fi
    return 3
}

# ==========================================================================
# ActiveMQ Classic

amq_write_config() {
    local src=$AMQ_STOCK_CONF/activemq.xml xml changed=1
    [ -f "$src" ] || die "activemq: $src not found (is the activemq package installed?)"
    tls_certs
    mkdir -p "$AMQ_DIR/conf" "$AMQ_DIR/data" "$AMQ_DIR/tmp"
    # The stock config with its transport connectors replaced by one STOMP
    # connector on loopback (no OpenWire), no JMX, and no web console imports.
    xml=$(TLSCONN=$(amq_tls_connectors) TLSCTX=$(amq_tls_context) \
          awk -v conn="            <transportConnector name=\"stomp\" uri=\"stomp://127.0.0.1:$AMQ_PORT\"/>" '
        /<transportConnectors>/   { print ENVIRON["TLSCTX"]; print; print conn; print ENVIRON["TLSCONN"]
                                    skip = 1; done = 1; next }
        /<\/transportConnectors>/ { skip = 0 }
        /<import .*jetty/         { next }
        !skip                     { print }
        END                       { if (!done) exit 1 }' "$src" | sed 's/useJmx="true"/useJmx="false"/') \
        || die "activemq: no <transportConnectors> in $src"
    write_if_changed "$AMQ_DIR/conf/activemq.xml" "$xml" || changed=0
    if [ -f "$AMQ_STOCK_CONF/log4j2.properties" ]; then
        write_if_changed "$AMQ_DIR/conf/log4j2.properties" "$(cat "$AMQ_STOCK_CONF/log4j2.properties")"
    fi
    return $((1 - changed))   # 0 = activemq.xml changed
}
# pid of our ActiveMQ java (pid file, checked against the process; else by argv)
amq_pid() {
    local pid=""
    if [ -f "$AMQ_PIDFILE" ]; then
        pid=$(cat "$AMQ_PIDFILE" 2>/dev/null)
        if ! { alive "$pid" && { tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qxF -- "-Dactivemq.base=$AMQ_DIR"; }; then
            log "activemq: stale pid file ($pid), removing"
            rm -f "$AMQ_PIDFILE"
            pid=""
        fi
    fi
    [ -z "$pid" ] && pid=$(pids_with_arg "-Dactivemq.base=$AMQ_DIR" java | head -n 1)
    echo "$pid"
}
amq_running() { [ -n "$(amq_pid)" ] && stomp_ping "$AMQ_PORT"; }

amq_stop() {
    local quiet=${1:-} pids t0=$SECONDS
    pids=$( { amq_pid; pids_with_arg "-Dactivemq.base=$AMQ_DIR" java; } | sort -u)
    if [ -z "$pids" ]; then
        port_open "$AMQ_PORT" && warn "activemq: no instance of ours found, but 127.0.0.1:$AMQ_PORT is open (another program?)"
        rm -f "$AMQ_PIDFILE"
        [ -z "$quiet" ] && say "activemq: not running"
        return 0
    fi
    # shellcheck disable=SC2086
    kill_pids activemq $pids
    rm -f "$AMQ_PIDFILE"
    wait_port_closed "$AMQ_PORT" 30 || die "activemq: port $AMQ_PORT still open after stopping"
    [ -z "$quiet" ] && say "activemq: stopped in $((SECONDS - t0))s"
    return 0
}

amq_start() {
    local t0=$SECONDS pid changed=0 t java
    ensure_pkgs activemq
    amq_write_config && changed=1

    pid=$(amq_pid)
    if [ -n "$pid" ]; then
        if [ "$changed" = 0 ] && stomp_ping "$AMQ_PORT"; then
            echo "$pid" >"$AMQ_PIDFILE"
            say "activemq: already running (stomp 127.0.0.1:$AMQ_PORT)"
            return 0
        fi
        say "activemq: restarting a stale or reconfigured instance (pid $pid)"
        amq_stop quiet
    fi
    if port_open "$AMQ_PORT"; then
        die "activemq: 127.0.0.1:$AMQ_PORT is taken by another program (not our ActiveMQ)"
    fi

    java=java
    [ -x /usr/lib/jvm/default-java/bin/java ] && java=/usr/lib/jvm/default-java/bin/java
    command -v "$java" >/dev/null 2>&1 || die "activemq: java not found"
    [ -f "$AMQ_HOME/bin/activemq.jar" ] || die "activemq: $AMQ_HOME/bin/activemq.jar not found"

    raise_fd_limit
    rm -rf "$AMQ_DIR/tmp" && mkdir -p "$AMQ_DIR/tmp"
    : >"$AMQ_CONSOLE"
    log "activemq: starting java (instance $AMQ_DIR)"
    (
        cd "$AMQ_DIR" || exit 1
        exec setsid "$java" -Xms64M -Xmx512M -Djava.awt.headless=true \
            -Dactivemq.home="$AMQ_HOME" -Dactivemq.base="$AMQ_DIR" \
            -Dactivemq.conf="$AMQ_DIR/conf" -Dactivemq.data="$AMQ_DIR/data" \
            -Djava.io.tmpdir="$AMQ_DIR/tmp" \
            -Dlog4j2.configurationFile="$AMQ_DIR/conf/log4j2.properties" \
            -jar "$AMQ_HOME/bin/activemq.jar" start "xbean:file:$AMQ_DIR/conf/activemq.xml"
    ) </dev/null >>"$AMQ_CONSOLE" 2>&1 9>&- &
    pid=$!
    echo "$pid" >"$AMQ_PIDFILE"
    log "activemq: java pid $pid"

    t=$SECONDS
    until stomp_ping "$AMQ_PORT"; do
        if [ $((SECONDS - t)) -ge "$START_TIMEOUT" ] || ! alive "$pid"; then
            show_tail "$AMQ_DIR/data/activemq.log" 30
            show_tail "$AMQ_CONSOLE" 30
            if alive "$pid"; then
                kill_pids activemq "$pid"
                rm -f "$AMQ_PIDFILE"
                die "activemq: no STOMP answer on 127.0.0.1:$AMQ_PORT after ${START_TIMEOUT}s (logs: $AMQ_DIR/data/activemq.log, $AMQ_CONSOLE)"
            fi
            rm -f "$AMQ_PIDFILE"
            die "activemq: java exited during start (logs: $AMQ_DIR/data/activemq.log, $AMQ_CONSOLE)"
        fi
        sleep 1
    done
    say "activemq: started in $((SECONDS - t0))s (stomp 127.0.0.1:$AMQ_PORT, pid $pid)"
    for t in "$AMQ_PORT" "$AMQ_TLS_PORT" "$AMQ_MTLS_PORT"; do
        if listening_non_loopback "$t"; then warn "activemq: port $t listens on a non-loopback address"; fi
    done
}

amq_status() {
    local pid
    pid=$(amq_pid)
    if [ -n "$pid" ] && stomp_ping "$AMQ_PORT"; then
        echo "activemq: running (stomp 127.0.0.1:$AMQ_PORT, pid $pid)"
        return 0
    elif [ -n "$pid" ]; then
        echo "activemq: not answering (pid $pid, no STOMP on 127.0.0.1:$AMQ_PORT)"
    else
        echo "activemq: stopped"
    fi
    return 3
}

# ==========================================================================
# A RabbitMQ cluster for the soak (scripts/soak.sh), apart from the main node
#
# Three nodes soak-a, soak-b and soak-c @localhost, run as root straight from
# /usr/lib/rabbitmq/bin (not as the rabbitmq user), each with its own data, log,
# config (conf.d included) and plugin files under $CLUSTER_DIR, and one Erlang
# cookie of their own ($CLUSTER_DIR/.erlang.cookie, found through HOME): the
# main node's pids, config and cookie are never touched. Clients use a and b (the failover list);
# c only votes. A quorum queue needs a majority of its members: with two
# members, stopping either node leaves it without a leader until that node is
# back, so a third member is what keeps the queue available while the node a
# client is on is down.
#
# Ports (all 127.0.0.1): STOMP $CLUSTER_STOMP_BASE+i, AMQP $CLUSTER_AMQP_BASE+i,
# Erlang distribution AMQP+20000, for i = 0, 1, 2 (a, b, c); epmd 4369 is shared.

CLUSTER_NODES=(a b c)
CLUSTER_STOMP_BASE=${STOMP_CLUSTER_PORT:-61633}
CLUSTER_AMQP_BASE=${STOMP_CLUSTER_AMQP_PORT:-5682}
CLUSTER_DIR=$STATE_DIR/cluster
RABBIT_BIN=/usr/lib/rabbitmq/bin

cnode_index() { case "$1" in a) echo 0 ;; b) echo 1 ;; c) echo 2 ;; *) return 1 ;; esac; }
cnode_name() { echo "soak-$1@localhost"; }
cnode_stomp_port() { echo $((CLUSTER_STOMP_BASE + $(cnode_index "$1"))); }
cnode_amqp_port() { echo $((CLUSTER_AMQP_BASE + $(cnode_index "$1"))); }
cnode_dist_port() { echo $((CLUSTER_AMQP_BASE + 20000 + $(cnode_index "$1"))); }

# cnode_env X: the environment node X runs in, and its CLI tools with it
cnode_env() {
    local x=$1 d=$CLUSTER_DIR/$1
    CNODE_ENV=(HOME="$CLUSTER_DIR" ERL_EPMD_ADDRESS=127.0.0.1
        RABBITMQ_NODENAME="$(cnode_name "$x")" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
        RABBITMQ_NODE_PORT="$(cnode_amqp_port "$x")" RABBITMQ_DIST_PORT="$(cnode_dist_port "$x")"
        RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log"
        RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config"
        RABBITMQ_CONFIG_FILES="$d/conf.d"
        RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" RABBITMQ_CONF_ENV_FILE="$d/rabbitmq-env.conf"
        RABBITMQ_PID_FILE="$d/pid"
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} $RABBIT_SCHED_ARGS"
        RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}")
}
# cnode_ctl X ARGS...: rabbitmqctl against node X (output to $LOG)
cnode_ctl() {
    local x=$1; shift
    cnode_env "$x"
    log "+ rabbitmqctl -n $(cnode_name "$x") $*"
    (cd "$CLUSTER_DIR" && timeout 120 env "${CNODE_ENV[@]}" "$RABBIT_BIN/rabbitmqctl" -n "$(cnode_name "$x")" "$@") \
        </dev/null >>"$LOG" 2>&1 9>&-
}
# cnode_ctl_out X ARGS...: the same, printing the output
cnode_ctl_out() {
    local x=$1; shift
    cnode_env "$x"
    (cd "$CLUSTER_DIR" && timeout 60 env "${CNODE_ENV[@]}" "$RABBIT_BIN/rabbitmqctl" -q -n "$(cnode_name "$x")" "$@") \
        </dev/null 2>>"$LOG" 9>&-
}

# cnode_pids X: the server beam of node X, found by the environment it was started with (its CLI
# tools share that environment, but not the `-s rabbit boot` of a server)
cnode_pids() {
    local want p
    want="RABBITMQ_NODENAME=$(cnode_name "$1")"
    for p in $(pids_by_comm beam.smp); do
        { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qxF -- "$want" || continue
        if { tr '\0' '\n' <"/proc/$p/cmdline"; } 2>/dev/null | grep -qx -- 'rabbit'; then echo "$p"; fi
    done
}
cnode_up() { [ -n "$(cnode_pids "$1")" ] && stomp_ping "$(cnode_stomp_port "$1")"; }

# cnode_loopback_only X: nothing node X (or epmd) listens on is beyond loopback
cnode_loopback_only() {
    local x=$1 p
    for p in "$(cnode_stomp_port "$x")" "$(cnode_amqp_port "$x")" "$(cnode_dist_port "$x")" 4369; do
        if listening_non_loopback "$p"; then log "cluster: port $p listens beyond loopback"; return 1; fi
    done
    if command -v ss >/dev/null 2>&1; then
        for p in $(cnode_pids "$x"); do
            if ss -Hltnp 2>/dev/null | grep -F "pid=$p," | awk '{print $4}' \
                    | grep -Ev '^(127\.[0-9.]+|\[::1\]|\[::ffff:127\.[0-9.]+\]):[0-9]+$' >>"$LOG"; then
                log "cluster: node $x (pid $p) listens beyond loopback (above)"
                return 1
            fi
        done
    fi
    return 0
}

cluster_write_config() {
    local x d
    [ -s "$CLUSTER_DIR/.erlang.cookie" ] || {
        mkdir -p "$CLUSTER_DIR"
        (umask 077; tr -dc 'A-Z' </dev/urandom | head -c 32 >"$CLUSTER_DIR/.erlang.cookie")
    }
    chmod 0400 "$CLUSTER_DIR/.erlang.cookie"
    for x in "${CLUSTER_NODES[@]}"; do
        d=$CLUSTER_DIR/$x
        # conf.d: its own, empty (the default, /etc/rabbitmq/conf.d, is the main node's)
        mkdir -p "$d/mnesia" "$d/log" "$d/conf.d"
        write_if_changed "$d/rabbitmq.conf" "# Written by libstomp scripts/broker.sh (soak cluster node $x): loopback only.
listeners.tcp.1 = 127.0.0.1:$(cnode_amqp_port "$x")
stomp.listeners.tcp.1 = 127.0.0.1:$(cnode_stomp_port "$x")
distribution.listener.interface = 127.0.0.1
distribution.listener.port_range.min = $(cnode_dist_port "$x")
distribution.listener.port_range.max = $(cnode_dist_port "$x")
loopback_users.guest = true" || true
        write_if_changed "$d/enabled_plugins" "[rabbitmq_stomp]." || true
        write_if_changed "$d/rabbitmq-env.conf" "# Written by libstomp scripts/broker.sh: the environment is set by the script." || true
    done
}

# cnode_launch X: start node X's beam in the background (returns at once)
cnode_launch() {
    local x=$1
    cnode_env "$x"
    log "cluster: starting $(cnode_name "$x")"
    raise_fd_limit
    (cd "$CLUSTER_DIR" && exec setsid env "${CNODE_ENV[@]}" "$RABBIT_BIN/rabbitmq-server") \
        </dev/null >>"$CLUSTER_DIR/$x/console.log" 2>&1 9>&- &
}
# cnode_wait_up X: wait for node X's STOMP answer
cnode_wait_up() {
    local x=$1 t=$SECONDS port
    port=$(cnode_stomp_port "$x")
    until stomp_ping "$port"; do
        if [ $((SECONDS - t)) -ge "$START_TIMEOUT" ] || { [ $((SECONDS - t)) -ge 20 ] && [ -z "$(cnode_pids "$x")" ]; }; then
            show_tail "$CLUSTER_DIR/$x/log/$(cnode_name "$x").log" 30
            show_tail "$CLUSTER_DIR/$x/console.log" 20
            die "cluster: node $x gave no STOMP answer on 127.0.0.1:$port (logs in $CLUSTER_DIR/$x)"
        fi
        sleep 1
    done
    cnode_loopback_only "$x" || die "cluster: node $x listens beyond loopback (see $LOG)"
}

cnode_start() {
    local x=$1 t0=$SECONDS
    if cnode_up "$x"; then say "cluster: node $x already running"; return 0; fi
    [ -d "$CLUSTER_DIR/$x/mnesia" ] || die "cluster: node $x has no data: run 'cluster start' first"
    port_open "$(cnode_stomp_port "$x")" && die "cluster: 127.0.0.1:$(cnode_stomp_port "$x") is taken by another program"
    cnode_launch "$x"
    cnode_wait_up "$x"
    say "cluster: node $x started in $((SECONDS - t0))s (stomp 127.0.0.1:$(cnode_stomp_port "$x"))"
}

cnode_stop() {
    local x=$1 pids t0=$SECONDS
    pids=$(cnode_pids "$x")
    if [ -z "$pids" ]; then say "cluster: node $x not running"; return 0; fi
    # SIGTERM is RabbitMQ's orderly shutdown (what `rabbitmqctl shutdown` does, without its boot)
    # shellcheck disable=SC2086
    kill_pids "cluster node $x" $pids
    wait_port_closed "$(cnode_stomp_port "$x")" 30 || die "cluster: node $x's STOMP port still open"
    say "cluster: node $x stopped in $((SECONDS - t0))s"
}

# cnode_kill X: SIGKILL node X (a crash: no orderly shutdown, its data as it was on disk)
cnode_kill() {
    local x=$1 pids
    pids=$(cnode_pids "$x")
    if [ -z "$pids" ]; then say "cluster: node $x not running"; return 0; fi
    log "cluster: node $x: sending KILL to $pids"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    # shellcheck disable=SC2086
    wait_gone 10 $pids || die "cluster: node $x (pid $pids) survived SIGKILL"
    say "cluster: node $x killed"
}

# cluster_members: the running nodes node a sees in its cluster, one per line
cluster_members() {
    cnode_ctl_out a eval 'rabbit_nodes:all_running().' | tr -d '[]' | tr ',' '\n' | sed "s/[ ']//g" | grep -v '^$'
}
cluster_whole() {
    local x members
    for x in "${CLUSTER_NODES[@]}"; do cnode_up "$x" || return 1; done
    members=$(cluster_members) || return 1
    for x in "${CLUSTER_NODES[@]}"; do grep -qxF "$(cnode_name "$x")" <<<"$members" || return 1; done
}

cluster_start() {
    local t0=$SECONDS x
    ensure_pkgs rabbitmq-server
    if [ -d "$CLUSTER_DIR" ] && cluster_whole; then
        say "cluster: already running (stomp 127.0.0.1:$(cnode_stomp_port a) and :$(cnode_stomp_port b))"
        return 0
    fi
    # A half-made or stopped cluster is made again from nothing: its queues are the soak's only.
    cluster_stop quiet
    rm -rf "${CLUSTER_DIR:?}/a" "${CLUSTER_DIR:?}/b" "${CLUSTER_DIR:?}/c"
    cluster_write_config
    for x in "${CLUSTER_NODES[@]}"; do
        port_open "$(cnode_stomp_port "$x")" && die "cluster: 127.0.0.1:$(cnode_stomp_port "$x") is taken by another program"
        port_open "$(cnode_amqp_port "$x")" && die "cluster: 127.0.0.1:$(cnode_amqp_port "$x") is taken by another program"
    done
    for x in "${CLUSTER_NODES[@]}"; do cnode_launch "$x"; done
    for x in "${CLUSTER_NODES[@]}"; do cnode_wait_up "$x"; done
    # stop_app, join_cluster, start_app for b then c, in one CLI call (each call costs an Erlang
    # boot, 10-20 s on a busy machine): rpc from node a, one node at a time.
    cnode_ctl a eval "[begin
            ok = rpc:call(N, rabbit, stop, []),
            J = rpc:call(N, rabbit_mnesia, join_cluster, ['$(cnode_name a)', disc]),
            true = (J =:= ok) orelse (J =:= {ok, already_member}),
            ok = rpc:call(N, rabbit, start, [])
        end || N <- ['$(cnode_name b)', '$(cnode_name c)']]." \
        || { show_tail "$LOG" 20; die "cluster: nodes b and c could not join $(cnode_name a) (see $LOG)"; }
    for x in "${CLUSTER_NODES[@]:1}"; do cnode_wait_up "$x"; done
    cluster_whole || { show_tail "$LOG" 20; die "cluster: the nodes did not form one cluster (see $LOG)"; }
    say "cluster: started in $((SECONDS - t0))s: $(echo $(cluster_members)); stomp 127.0.0.1:$(cnode_stomp_port a) (a), :$(cnode_stomp_port b) (b), :$(cnode_stomp_port c) (c)"
}

cluster_stop() {
    local quiet=${1:-} t0=$SECONDS x pids=""
    for x in "${CLUSTER_NODES[@]}"; do pids="$pids $(cnode_pids "$x")"; done
    if [ -z "${pids// /}" ]; then [ -z "$quiet" ] && say "cluster: not running"; return 0; fi
    # Stopped together (SIGTERM: an orderly shutdown) so that none waits for the others.
    # shellcheck disable=SC2086
    kill_pids "cluster" $pids
    epmd_cleanup
    [ -z "$quiet" ] && say "cluster: stopped in $((SECONDS - t0))s"
    return 0
}

cluster_status() {
    local x rc=0 state
    for x in "${CLUSTER_NODES[@]}"; do
        if cnode_up "$x"; then state="running (pid $(echo $(cnode_pids "$x")))"
        elif [ -n "$(cnode_pids "$x")" ]; then state="not answering (pid $(echo $(cnode_pids "$x")))"; rc=3
        else state=stopped; rc=3
        fi
        echo "cluster: node $x $(cnode_name "$x"): $state, stomp 127.0.0.1:$(cnode_stomp_port "$x")"
    done
    if cnode_up a; then echo "cluster: running members: $(echo $(cluster_members))"; fi
    return "$rc"
}

cluster_main() { # SUBCOMMAND [NODE]
    local sub=${1:-} x=${2:-}
    case "$sub" in
        start) cluster_start ;;
        stop) cluster_stop ;;
        status) cluster_status ;;
        stop-node) cnode_stop "$x" ;;
        kill-node) cnode_kill "$x" ;;
        start-node) cnode_start "$x" ;;
        *) usage ;;
    esac
}

# ==========================================================================
# main

action=${1:-}
target=${2:-all}
case "$action" in start|stop|status|restart|cluster) ;; -h|--help|help|"") usage ;; *) usage ;; esac
if [ "$action" = cluster ]; then
    case "$target" in start|stop|status) [ $# -eq 2 ] || usage ;;
        stop-node|kill-node|start-node) [ $# -eq 3 ] && [[ $3 == [abc] ]] || usage ;; *) usage ;; esac
    LOCK=$STATE_DIR/cluster.lock   # the cluster never waits for, nor holds up, the main brokers
else
    case "$target" in rabbitmq|rabbit) targets=(rabbitmq) ;; activemq|amq) targets=(activemq) ;;
        all) targets=(rabbitmq activemq) ;; *) usage ;; esac
    [ $# -le 2 ] || usage
fi

if [ "$(id -u)" != 0 ]; then
    if [ "$action" != status ] && command -v sudo >/dev/null 2>&1; then
        exec sudo -n --preserve-env=STOMP_RABBITMQ_PORT,STOMP_RABBITMQ_AMQP_PORT,STOMP_ACTIVEMQ_PORT,STOMP_RABBITMQ_TLS_PORT,STOMP_ACTIVEMQ_TLS_PORT,STOMP_ACTIVEMQ_MTLS_PORT,STOMP_TLS_CERT_DIR,STOMP_CLUSTER_PORT,STOMP_CLUSTER_AMQP_PORT,STOMP_BROKER_TIMEOUT,STOMP_BROKER_STATE_DIR,STOMP_BROKER_VERBOSE,STOMP_BROKER_APT_WAIT \
            bash "$(readlink -f "$0")" "$@"
    fi
    [ "$action" = status ] || die "must run as root (or with passwordless sudo)"
fi

cd / || exit 1
if [ "$action" != status ] && [ "$action $target" != "cluster status" ]; then
    mkdir -p "$STATE_DIR" || die "cannot create $STATE_DIR"
    : >>"$LOG" || die "cannot write $LOG"
    # one broker.sh at a time (fd 9 is closed for the brokers themselves)
    exec 9>"$LOCK"
    if ! flock -n 9; then
        say "waiting for another broker.sh to finish..."
        flock -w 900 9 || die "another broker.sh holds $LOCK"
    fi
    log "=== broker.sh $action $target (pid $$)"
else
    [ -w "$STATE_DIR" ] || LOG=/dev/null
fi

if [ "$action" = cluster ]; then
    cluster_main "$target" "${3:-}"
    exit $?
fi

rc=0
for b in "${targets[@]}"; do
    case "$b:$action" in
        rabbitmq:start)   rabbit_start ;;
        rabbitmq:stop)    rabbit_stop ;;
        rabbitmq:restart) rabbit_stop && rabbit_start ;;
        rabbitmq:status)  rabbit_status || rc=3 ;;
        activemq:start)   amq_start ;;
        activemq:stop)    amq_stop ;;
        activemq:restart) amq_stop && amq_start ;;
        activemq:status)  amq_status || rc=3 ;;
    esac
done
exit "$rc"
