#!/usr/bin/env bash
# The whole suite: installs what it needs, starts the local brokers (loopback only), builds, and runs
# the Rust unit and broker tests, the C tests (plain, under ASan+UBSan, valgrind, and the threading
# ones under TSan) with the seed examples, the install checks, and the interoperability tests with
# stomp.py and the Ruby gem. Then it checks that the test passcode appears in none of its output.
set -euo pipefail
cd "$(dirname "$0")/.."

# Everything the suite prints goes to target/test-suite.log too; when it is done, that log and the
# logs the tests write (CTest's, valgrind's) must not contain the test passcode (tests/secret.env).
if [ -z "${STOMP_SUITE_LOGGING:-}" ]; then
  mkdir -p target
  rc=0
  STOMP_SUITE_LOGGING=1 bash scripts/test.sh "$@" 2>&1 | tee target/test-suite.log || rc=$?
  secret=$(sed -n 's/^STOMP_TEST_PASSCODE=//p' tests/secret.env)
  # holds_secret FILE...: the files (of those given) that contain the passcode.
  holds_secret() { grep -l -F -e "$secret" -- "$@" || true; }
  logs=()
  for f in target/test-suite.log target/rust-tests.log build/*/Testing/Temporary/LastTest*.log build/c/valgrind/*.log; do
    if [ -f "$f" ]; then logs+=("$f"); fi
  done
  # The check must be able to fail: a file holding the passcode is found, or the check is broken.
  canary=$(mktemp)
  printf 'canary %s canary\n' "$secret" >"$canary"
  found=$(holds_secret "$canary")
  rm -f "$canary"
  if [ -z "$secret" ] || [ -z "$found" ]; then
    echo "test.sh: FAILED: the passcode check does not find a planted passcode: it is broken" >&2
    exit 1
  fi
  leaks=$(holds_secret "${logs[@]}")
  if [ -n "$leaks" ]; then
    echo "test.sh: FAILED: the test passcode appears in:" >&2
    grep -H -n -F -e "$secret" -- $leaks | sed "s/$secret/<PASSCODE>/g" | head -n 20 >&2
    exit 1
  fi
  echo "passcode check: the test passcode is in none of the ${#logs[@]} logs of the suite (a planted one is found)"
  exit "$rc"
fi
start=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

step "dependencies"
scripts/deps.sh
step "brokers"
# Installs the Debian packages on a new machine (the slow part), then starts both on loopback.
scripts/broker.sh start all

step "build"
cargo build --release
ln -sf libstomp.so target/release/libstomp.so.0
if ! git diff --quiet -- include/stomp.h 2>/dev/null; then
  echo "include/stomp.h changed when regenerated: commit the regenerated header" >&2
  git --no-pager diff --stat -- include/stomp.h >&2
  exit 1
fi

step "clippy: no warnings"
if ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add clippy || { echo "clippy is missing and could not be installed" >&2; exit 1; }
fi
cargo clippy --release --all-targets -- -D warnings
# Without TLS too (cargo feature `tls` off, CMake STOMP_TLS=OFF): the library alone, so that it builds.
cargo clippy --release --lib --no-default-features -- -D warnings

step "reference docs: Doxygen over stomp.h and stomp.hpp, no warnings"
scripts/docs.sh

step "Rust tests: codec, session, policy (simulated time), real brokers, fake broker"
cargo test --release -- --show-output 2>&1 | tee target/rust-tests.log   # --show-output: the figures tests print
if grep -q "test result: FAILED" target/rust-tests.log; then exit 1; fi

step "Miri: the read chunks frames share across threads (proto/chunk.rs; nightly, skipped without it)"
# The unsafe code that lets a frame point into the decoder's read chunk, and the decoder reuse a
# chunk once its frames are gone, run under Miri's checks of aliasing, data races and leaks. Like
# the TSan stage, this needs nightly; without it (or its miri component) the step says skipped.
if ! rustup toolchain list 2>/dev/null | grep '^nightly' >/dev/null; then
  echo "SKIPPED Miri: no nightly Rust toolchain"
elif ! cargo +nightly miri --version >/dev/null 2>&1 && ! rustup component add miri --toolchain nightly; then
  echo "SKIPPED Miri: the nightly miri component could not be installed"
elif ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -x 'rust-src' >/dev/null &&
     ! rustup component add rust-src --toolchain nightly; then
  # Miri builds its own standard library from rust-src (as the TSan stage does).
  echo "SKIPPED Miri: the nightly rust-src component could not be installed"
else
  cargo +nightly miri test --lib -- proto::chunk proto::codec::chunk_tests::frames_dropped \
    proto::codec::tests::frames_held proto::codec::tests::a_message_is_left proto::frame
fi

step "fuzzing: corpus replay and a short mutation run per target (the stable runner)"
# The suite uses the stable runner (the same checks as the libFuzzer targets): installing cargo-fuzz
# and building the instrumented targets takes minutes on a new machine. scripts/fuzz.sh without
# --stable runs libFuzzer for the long runs.
scripts/fuzz.sh --quick --stable

step "the README's C programs compile and do what it says"
scripts/check-readme.sh

step "C tests, examples and install checks"
scripts/test-c.sh

step "interoperability with stomp.py and the Ruby gem"
scripts/test-interop.sh

step "Ruby gem stomp_ffi: gem build, install into a temporary GEM_HOME, suite on StompFFI and on the stomp gem"
RUBY_TEST_NO_BUILD=1 scripts/test-ruby.sh

step "failover inside a RabbitMQ cluster, nothing lost (its own three nodes on loopback, about a minute)"
scripts/soak.sh --cluster --quick

step "failover when a broker is stopped mid-run (stops RabbitMQ, so it runs alone and last)"
failover_rc=0
cargo test --release --test failover_stop -- --ignored --nocapture || failover_rc=$?
scripts/broker.sh start rabbitmq
[ "$failover_rc" -eq 0 ] || exit "$failover_rc"

step "all passed"
