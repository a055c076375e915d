#!/usr/bin/env bash
# scripts/soak.sh - the zero-loss soak of issue 9 (a benchmark, not part of the suite; its figures
# are in the README): publishers with receipts and consumers with client-individual acks while
# fault proxies drop and stall the links and a broker goes away; prints messages sent, delivered,
# duplicated, lost and reconnects, and fails if any sent message was lost. See examples/soak.rs.
#
# Usage: scripts/soak.sh [--minutes N] [--single|--cluster] [--quick] [--keep-cluster] [-- SOAK_ARGS]
#
#   --minutes N     how long to publish (default 10; may be fractional)
#   --single        against the shared RabbitMQ on 127.0.0.1:61613, which is never restarted: a
#                   proxy refusing connections stands in for its restarts (default)
#   --cluster       against the soak's own RabbitMQ cluster (scripts/broker.sh cluster, started
#                   here and stopped at the end): nodes a and b in the failover list, a quorum
#                   queue, the node the consumers are on stopped and started again
#   --quick         (with --cluster) the suite's failover check: stop the clients' node once,
#                   require failover, re-subscription and zero loss; about a minute plus the
#                   cluster's start
#   --keep-cluster  leave the cluster running at the end (it is stopped otherwise)
#   SOAK_ARGS       passed on: --publishers N (4), --consumers N (2), --chaos-every S (5)
#
# Exit status: 0 nothing lost; 1 messages lost; 2 no failover (--quick); 3 the soak could not run.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
minutes=10 mode=--single quick="" keep=0 extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) [ $# -ge 2 ] || { echo "soak.sh: --minutes needs a value" >&2; exit 64; }
                   minutes=$2; shift ;;
        --single|--cluster) mode=$1 ;;
        --quick) quick=--quick ;;
        --keep-cluster) keep=1 ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "soak.sh: unknown argument $1 (try --help)" >&2; exit 64 ;;
    esac
    shift
done
seconds=$(awk -v m="$minutes" 'BEGIN { if (m !~ /^[0-9]*\.?[0-9]+$/) exit 1; printf "%d", m * 60 }') \
    || { echo "soak.sh: --minutes wants a number, not '$minutes'" >&2; exit 64; }
if [ -n "$quick" ] && [ "$mode" != --cluster ]; then
    echo "soak.sh: --quick is the cluster failover check: add --cluster" >&2; exit 64
fi

cd "$root"
t0=$SECONDS
echo "soak.sh: building the soak (cargo build --release --example soak)"
cargo build --release --quiet --example soak

if [ "$mode" = --cluster ]; then
    scripts/broker.sh cluster start
    if [ "$keep" = 0 ]; then trap 'scripts/broker.sh cluster stop' EXIT; fi
else
    scripts/broker.sh status rabbitmq >/dev/null || scripts/broker.sh start rabbitmq
fi
echo "soak.sh: ready after $((SECONDS - t0)) s"

rc=0
target/release/examples/soak "$mode" $quick --seconds "$seconds" "${extra[@]}" || rc=$?
echo "soak.sh: done in $((SECONDS - t0)) s (exit status $rc)"
exit "$rc"
