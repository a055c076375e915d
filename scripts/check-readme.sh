#!/usr/bin/env bash
# Keeps the README honest: compiles every complete C and C++ program in README.md with the
# project's warning flags and runs them against the local RabbitMQ. The resilient consumer of "Staying connected" is
# checked for what it claims: RabbitMQ itself closes its connection (with an ERROR frame), the
# library reconnects and re-subscribes, and the messages sent after the drop are handled too.
# Assumes target/release holds the built library and RabbitMQ runs (scripts/test.sh does both).
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/readme
rm -rf "$out" && mkdir -p "$out"
export LD_LIBRARY_PATH=$PWD/target/release
PY=/usr/bin/python3   # Debian's python with python3-stomp, not a pyenv one first on PATH

# Extract the ```c blocks that are whole programs (hold a main) as quickstart.c, resilient.c, ...
"$PY" - README.md "$out" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
blocks = [b for b in re.findall(r"```c\n(.*?)```", text, re.S) if "int main(" in b]
names = ["quickstart", "resilient"]
assert len(blocks) == len(names), f"README has {len(blocks)} C programs, expected {len(names)}"
for name, b in zip(names, blocks):
    open(f"{sys.argv[2]}/{name}.c", "w").write(b)
cpp = [b for b in re.findall(r"```cpp\n(.*?)```", text, re.S) if "int main(" in b]
assert len(cpp) == 1, f"README has {len(cpp)} C++ programs, expected 1"
open(f"{sys.argv[2]}/quickstart_cpp.cpp", "w").write(cpp[0])
EOF
for p in quickstart resilient; do
  gcc -std=c11 -Wall -Wextra -Wpedantic -Werror -Iinclude "$out/$p.c" -Ltarget/release -lstomp -pthread -o "$out/$p"
done
g++ -std=c++17 -Wall -Wextra -Wpedantic -Werror -Iinclude "$out/quickstart_cpp.cpp" -Ltarget/release -lstomp -pthread \
  -o "$out/quickstart_cpp"
echo "readme: both C programs and the C++ one compile with -Wall -Wextra -Wpedantic -Werror"

timeout 30 "$out/quickstart" >"$out/quickstart.log"
echo "readme: the quick start ran"
timeout 30 "$out/quickstart_cpp" >"$out/quickstart_cpp.log"
grep -q '^pulled: a test message$' "$out/quickstart_cpp.log"
echo "readme: the C++ program ran and pulled its message"

# wait_for FILE PATTERN COUNT SECONDS: until FILE has COUNT lines matching PATTERN.
wait_for() {
  local deadline=$((SECONDS + $4))
  until [ "$(grep -c -- "$2" "$1" 2>/dev/null || true)" -ge "$3" ]; do
    if [ $SECONDS -ge $deadline ]; then
      echo "readme: timed out waiting for $3 x '$2' in $1:" >&2; cat "$1" >&2; return 1
    fi
    sleep 0.1
  done
}
send() { # BODY: one message to /queue/work through stomp.py, confirmed by a receipt
  "$PY" - "$1" <<'EOF'
import sys, stomp
c = stomp.Connection([("127.0.0.1", 61613)], vhost="/")
c.connect("guest", "guest", wait=True)
c.send("/queue/work", sys.argv[1], receipt="r")
c.disconnect(receipt="bye")
EOF
}

# Leftovers from an earlier run would be counted as handled: empty the queue first.
(cd / && rabbitmqctl -q -n rabbit@localhost purge_queue work >/dev/null 2>&1) || true
log="$out/resilient.log"
stdbuf -oL "$out/resilient" 3 >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
wait_for "$log" "connected to RabbitMQ" 1 20
send "one"
wait_for "$log" "handled: one" 1 20
port=$(ss -tnpH state established "( dport = :61613 )" | grep "pid=$pid," | awk '{print $3}' | sed 's/.*://' | head -1)
[ -n "$port" ] || { echo "readme: no connection of the consumer found" >&2; exit 1; }
# RabbitMQ lists STOMP connections apart; killing the AMQP connection behind one makes RabbitMQ send
# an ERROR ("AMQP connection died") and close the socket: a real broker-side drop. (close_connection
# does not reach STOMP connections in RabbitMQ 3.10.)
conn=$(cd / && rabbitmqctl -q -s -n rabbit@localhost list_stomp_connections peer_port connection |
       awk -v p="$port" '$1 == p {print $2}' | sed -E 's/.*\.([0-9]+)\.([0-9]+)>$/<0.\1.\2>/')
[ -n "$conn" ] || { echo "readme: RabbitMQ does not list the consumer's connection (port $port)" >&2; exit 1; }
(cd / && rabbitmqctl -q -n rabbit@localhost eval "exit(list_to_pid(\"$conn\"), kill).") >/dev/null
wait_for "$log" "^disconnected" 1 20
wait_for "$log" "connected to RabbitMQ" 2 30
send "two"
send "three"
deadline=$((SECONDS + 30))
while kill -0 $pid 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || { echo "readme: the consumer did not finish" >&2; cat "$log" >&2; exit 1; }
  sleep 0.1
done
trap - EXIT
wait $pid
for m in one two three; do grep -q "handled: $m" "$log"; done
echo "readme: the resilient consumer survived a broker-side close and handled all three messages"
