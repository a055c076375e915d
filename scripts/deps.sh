#!/usr/bin/env bash
# Installs what the build, the tests and the demo use, when it is missing. Idempotent; needs root
# (or sudo) on Debian/Ubuntu. The brokers are installed by scripts/broker.sh.
set -euo pipefail

need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

for p in iproute2 cmake pkg-config gcc g++ make python3-stomp ruby ruby-stomp ruby-ffi valgrind socat libclang-rt-14-dev clang-14 libedit-dev; do
  have_pkg "$p" || need+=("$p")
done

if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "deps: installing ${need[*]}"
  # Another apt may hold the lock (a broker install in parallel): wait for it.
  for _ in $(seq 1 120); do
    if ! fuser /var/lib/dpkg/lock-frontend >/dev/null 2>&1 && ! pgrep -x apt-get >/dev/null; then break; fi
    sleep 2
  done
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! have_cmd cargo; then
  echo "deps: cargo is missing; install a Rust toolchain (rustup) first" >&2
  exit 1
fi
echo "deps: ready"
