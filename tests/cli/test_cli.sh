#!/usr/bin/env bash
# test_cli.sh STOMP - the `stomp` command-line client end to end against RabbitMQ on 127.0.0.1
# (vhost /, guest/guest; STOMP_RABBITMQ_PORT overrides 61613): the one-shot modes and their exit
# codes, the formats, and the interactive shell fed from a pipe. The "silent listener" is a local
# fixture that accepts TCP and never answers (for the connect timeout); everything else is the
# real broker. Every run of the client has a time limit; each check prints one "ok" line.
set -euo pipefail
stomp=${1:?usage: test_cli.sh PATH-TO-stomp}
port=${STOMP_RABBITMQ_PORT:-61613}
py=/usr/bin/python3
work=$(mktemp -d /tmp/stomp-cli-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
checks=0
n=0

ok() { checks=$((checks + 1)); echo "  ok  $*"; }
fail() { echo "test_cli.sh: FAILED: $*" >&2; exit 1; }
queue() { n=$((n + 1)); echo "/queue/cli-test-$$-$n"; }
# run EXPECTED-STATUS ARGS...: the client with the broker's address, its stdout in $work/out and
# stderr in $work/err, its exit status checked.
run() {
    local want=$1 got=0
    shift
    timeout 60 "$stomp" -H 127.0.0.1 -P "$port" -U guest -W guest --vhost / "$@" >"$work/out" 2>"$work/err" </dev/null || got=$?
    [ "$got" = "$want" ] || { cat "$work/out" "$work/err" >&2; fail "stomp $* exited $got, expected $want"; }
}
# run_in EXPECTED-STATUS INPUT-FILE ARGS...: the same with standard input from a file.
run_in() {
    local want=$1 input=$2 got=0
    shift 2
    timeout 60 "$stomp" -H 127.0.0.1 -P "$port" -U guest -W guest --vhost / "$@" >"$work/out" 2>"$work/err" <"$input" || got=$?
    [ "$got" = "$want" ] || { cat "$work/out" "$work/err" >&2; fail "stomp $* < $input exited $got, expected $want"; }
}
expect_out() { [ "$(cat "$work/out")" = "$1" ] || { printf 'got:\n%s\n' "$(cat "$work/out")" >&2; fail "$2"; }; ok "$2"; }
expect_grep() { grep -E -- "$2" "$work/$1" >/dev/null || { cat "$work/out" "$work/err" >&2; fail "$3"; }; ok "$3"; }

echo "== help and usage"
for mode in "" send subscribe shell; do
    status=0
    timeout 10 "$stomp" $mode --help >"$work/out" || status=$?
    [ "$status" = 0 ] && grep -q '^usage: stomp' "$work/out" || fail "stomp $mode --help"
    ok "stomp $mode --help: usage, status 0"
done
grep -q -- '--count N' <("$stomp" subscribe --help) && ok "subscribe --help lists --count"
run 2 --no-such-option
ok "an unknown option: status 2"
run 2 frobnicate
ok "an unknown mode: status 2"
run 2 subscribe /queue/x --ack sometimes
ok "a bad --ack: status 2"
run 2 send
ok "send without a destination: status 2"

echo "== TLS (RabbitMQ's TLS port, the certificates of scripts/certs.sh)"
certs=${STOMP_TLS_CERT_DIR:-/var/lib/libstomp-test/certs}
tls_port=${STOMP_RABBITMQ_TLS_PORT:-61614}
q=$(queue)
run 0 -P "$tls_port" --ssl-ca "$certs/ca.pem" send "$q" "over TLS" --receipt
ok "send over TLS (--ssl-ca implies --ssl): status 0"
run 0 -P "$tls_port" --ssl --ssl-ca "$certs/ca.pem" subscribe "$q" --count 1
expect_out "over TLS" "subscribe --count 1 over TLS prints the body"
run 3 -P "$tls_port" --ssl-ca "$certs/other-ca.pem" send "$q" "never"
expect_grep err "TLS|certificate" "a broker certificate from another CA: status 3, saying why"
run 2 -P "$tls_port" --ssl-ca "$work/no-such-ca.pem" send "$q" "never"
expect_grep err "no-such-ca.pem" "a CA file that does not exist: status 2, naming it"
run 3 -P "$port" --ssl-ca "$certs/ca.pem" --timeout 3 send "$q" "never"
ok "TLS to a plain STOMP port: status 3"

echo "== send, then subscribe --count"
q=$(queue)
run 0 send "$q" "first message" --receipt
ok "send --receipt: status 0"
printf 'second\nwith a newline' >"$work/body"
run_in 0 "$work/body" send "$q" - --header x-kind:stdin --content-type text/plain
ok "send - (body from standard input): status 0"
run 0 send "$q" "third" --header "x-colon:a:b"
run 0 subscribe "$q" --count 3
expect_out "$(printf 'first message\nsecond\nwith a newline\nthird')" "subscribe --count 3 --format body prints the three bodies in order"

echo "== --format json and frame"
q=$(queue)
run 0 send "$q" 'say "hi"' --header x-kind:json --header "x-colon:a:b" --receipt
printf '\000\377binary' >"$work/binary"
run_in 0 "$work/binary" send "$q" --receipt
run 0 subscribe "$q" --count 2 --format json
"$py" - "$work/out" <<'PY' || fail "--format json"
import base64, json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 2, lines
a, b = (json.loads(l) for l in lines)
assert a["command"] == "MESSAGE", a
assert a["headers"]["x-kind"] == "json" and a["headers"]["x-colon"] == "a:b", a
assert a["body"] == 'say "hi"', a
assert "body" not in b and base64.b64decode(b["body_base64"]) == b"\0\xffbinary", b
PY
ok "--format json: one object per line; headers; a body that is not UTF-8 as body_base64"
q=$(queue)
run 0 send "$q" "framed" --header x-kind:frame
run 0 subscribe "$q" --count 1 --format frame
expect_grep out '^MESSAGE$' "--format frame: the command line"
expect_grep out '^x-kind:frame$' "--format frame: headers as NAME:VALUE"
expect_grep out '^framed$' "--format frame: the body after the headers"

echo "== --ack client-individual with --count leaves the rest with the broker"
q=$(queue)
run 0 send "$q" one
run 0 send "$q" two --receipt
run 0 subscribe "$q" --count 1 --ack client-individual
expect_out "one" "the first subscriber got one message"
run 0 subscribe "$q" --count 1 --ack client-individual
expect_out "two" "the second got the next; the first took no more than it printed"

echo "== exit codes"
closed=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
status=0
timeout 30 "$stomp" -H 127.0.0.1 -P "$closed" send /queue/x body >"$work/out" 2>"$work/err" || status=$?
[ "$status" = 3 ] || { cat "$work/err" >&2; fail "a closed port exited $status, expected 3"; }
expect_grep err "127.0.0.1:$closed" "a closed port: status 3, the address in the message"

# The fixture: a loopback listener that accepts connections (the kernel does) and never answers.
coproc SILENT { "$py" -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
sys.stdin.read()'; }
read -r silent <&"${SILENT[0]}"
status=0
start=$(date +%s%N)
timeout 30 "$stomp" -H 127.0.0.1 -P "$silent" --timeout 1 send /queue/x body >"$work/out" 2>"$work/err" || status=$?
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
kill "$SILENT_PID" 2>/dev/null || true
[ "$status" = 4 ] || { cat "$work/err" >&2; fail "a silent listener exited $status, expected 4"; }
[ "$elapsed" -lt 5000 ] || fail "the connect timeout of 1 s took $elapsed ms"
ok "a listener that never answers: status 4 after $elapsed ms (--timeout 1)"

run 3 -W wrong send /queue/x body
expect_grep err "Access refused" "a refused login: status 3, the broker's reason"
run 5 send /nonsense/x body
expect_grep err "Unknown destination" "a broker ERROR (an invalid destination): status 5 with its message"
run 5 send /nonsense/x body --receipt
ok "the same while waiting for a receipt: status 5 (not a 10 s timeout)"
q=$(queue)
run 4 subscribe "$q" --count 1 --wait 1
expect_grep err "0 of 1 messages within 1 s" "subscribe --count 1 --wait 1 on an empty queue: status 4"

echo "== the interactive shell fed from a pipe"
q=$(queue)
printf '%s\n' "$work/sendfile body" >"$work/file"
cat >"$work/script" <<SCRIPT
# a comment, then an empty line

subscribe $q
send $q hello from the shell
sendreply $q corr-42 a reply
sendfile $q $work/file
wait 3 20
begin
send $q inside a transaction
commit
wait 4 20
stats
unsubscribe $q
quit
SCRIPT
run_in 0 "$work/script" shell --format body
expect_grep out "^subscribed to $q \\(id cli-1\\)$" "shell: subscribe"
expect_grep out '^hello from the shell$' "shell: send, and the message printed as it arrived"
expect_grep out '^a reply$' "shell: sendreply"
expect_grep out "^$work/sendfile body$" "shell: sendfile"
expect_grep out '^transaction [-0-9a-f]{36} committed$' "shell: begin, commit"
expect_grep out '^inside a transaction$' "shell: the transaction's message delivered after the commit"
expect_grep out '^messages_received: 4$' "shell: stats counts the four messages received"
expect_grep out '^messages_sent: 4$' "shell: stats counts the four messages sent"
expect_grep out '^connections: 1$' "shell: stats counts one connection"
expect_grep out "^unsubscribed from $q$" "shell: unsubscribe"
[ ! -s "$work/err" ] || { cat "$work/err" >&2; fail "shell: nothing on stderr"; }
ok "shell: nothing on stderr, status 0"

q=$(queue)
printf 'subscribe %s client-individual\nsend %s to nack\nwait 1\nfrobnicate\ncommit\nhelp send\n' "$q" "$q" >"$work/script"
run_in 1 "$work/script" shell --format frame
expect_grep err 'unknown command "frobnicate"' "shell: an unknown command is reported"
expect_grep err 'commit: no transaction is open' "shell: commit without begin is reported"
expect_grep out '^  send DESTINATION MESSAGE' "shell: help COMMAND"
ok "shell: a failed command makes the status 1, the shell goes on"

printf 'send /nonsense/x hi\nwait 1 2\n' >"$work/script"
run_in 5 "$work/script"
ok "shell: a broker ERROR makes the status 5"

echo "== the passcode is masked in --verbose"
q=$(queue)
timeout 60 "$stomp" -v -H 127.0.0.1 -P "$port" -U guest -W guest --vhost / send "$q" body >"$work/out" 2>&1
expect_grep out '"passcode": "\*+"' "--verbose prints CONNECT with the passcode masked"
if grep -- '"passcode": "guest"' "$work/out" >/dev/null; then fail "the passcode was printed"; fi
ok "--verbose never prints the passcode"

echo "== STOMP_LOG=trace logs every frame to stderr, the passcode masked"
q=$(queue)
STOMP_LOG=trace timeout 60 "$stomp" -H 127.0.0.1 -P "$port" -U guest -W guest --vhost / send "$q" body --receipt >"$work/out" 2>"$work/err"
expect_grep err '^libstomp trace: conn [0-9]+: >>> CONNECT .*passcode:\*{8}' "STOMP_LOG=trace: CONNECT traced, its passcode masked"
expect_grep err '^libstomp trace: conn [0-9]+: >>> SEND .*body 4 bytes: body$' "STOMP_LOG=trace: the SEND and its body"
expect_grep err '^libstomp trace: conn [0-9]+: <<< RECEIPT' "STOMP_LOG=trace: the RECEIPT (the log is flushed before exit)"
expect_grep err '^libstomp info: conn [0-9]+: link closed: cleanly$' "STOMP_LOG=trace: the link's end at info"
# The passcode equals the login here ("guest"), so both are masked wherever they would appear.
if grep -- 'guest' "$work/err" >/dev/null; then cat "$work/err" >&2; fail "the passcode reached stderr"; fi
ok "STOMP_LOG=trace never prints the passcode"

echo
echo "test_cli.sh: all $checks checks passed"
