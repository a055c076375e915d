#!/usr/bin/env bash
# The main demo on a fresh machine: installs what it needs, starts a local RabbitMQ (loopback only),
# builds the library, and runs two of the C examples against it:
#   - the PrintingListener session from the stomp.py guide (every event and frame printed), and
#   - RabbitMQ's queue (competing consumers) versus topic (fan-out) delivery.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== installing what the build needs (Debian packages, once)"
scripts/deps.sh
echo "== starting RabbitMQ with STOMP on 127.0.0.1:61613"
scripts/broker.sh start rabbitmq
echo "== building libstomp"
cargo build --release
ln -sf libstomp.so target/release/libstomp.so.0

out=build/demo
mkdir -p "$out"
for ex in printing_listener rabbitmq_queue_vs_topic; do
  gcc -std=c11 -Wall -Wextra -Wpedantic -Werror -Iinclude -Iexamples-c \
      "examples-c/$ex.c" examples-c/common.c -Ltarget/release -lstomp -pthread -o "$out/$ex"
done
export LD_LIBRARY_PATH=$PWD/target/release STOMP_SERVER=127.0.0.1 STOMP_PORT=61613

echo
echo "== the PrintingListener session (examples-c/printing_listener.c)"
"$out/printing_listener"
echo
echo "== queue versus topic on RabbitMQ (examples-c/rabbitmq_queue_vs_topic.c)"
"$out/rabbitmq_queue_vs_topic"
echo
echo "demo: done. Every seed example is in examples-c/ (see examples-c/README.md); scripts/test.sh runs the whole suite."
