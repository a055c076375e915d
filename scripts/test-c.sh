#!/usr/bin/env bash
# scripts/test-c.sh - the C side of libstomp, end to end:
#   1. configure, build and run the C tests and the examples (CTest) in build/c;
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer + LeakSanitizer in build/c-asan
#      (-DSTOMP_SANITIZE=ON; every UB report is fatal);
#   2b. the tests/c tests again under valgrind memcheck (errors and definite leaks);
#   2c. the threading tests (label "threads") under ThreadSanitizer in build/c-tsan, against a
#      libstomp instrumented too (nightly Rust, -Zsanitizer=thread -Zbuild-std, target/tsan): TSan
#      cannot see the Rust library's locks and atomics otherwise and reports races that are not;
#   3. `cmake --install` into a temporary prefix, then build tests/install against it both through
#      find_package(stomp) (shared and static) and through pkg-config, and run those programs;
#   4. check that libstomp.so exports only stomp_* symbols and that its SONAME is libstomp.so.0.
# Needs the local brokers (started here if they are not running: scripts/broker.sh start all).
#
# Environment: JOBS (default 2) for the builds and ctest; KEEP_PREFIX=1 keeps the install prefix;
# STOMP_TSAN=0 skips the ThreadSanitizer stage (its first run builds an instrumented Rust standard
# library: minutes; later runs rebuild only libstomp).
# (No `grep -q` after a pipe here: with pipefail, the writer's SIGPIPE would fail the pipeline.)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
start=$(date +%s)
JOBS=${JOBS:-2}
# The examples connect with the suite's credentials too (tests/secret.env; the C tests read it
# through tests/c/CMakeLists.txt), so that scripts/test.sh's passcode check covers them.
creds=(-DSTOMP_EXAMPLES_USER="$(sed -n 's/^STOMP_TEST_LOGIN=//p' tests/secret.env)"
       -DSTOMP_EXAMPLES_PASSWORD="$(sed -n 's/^STOMP_TEST_PASSCODE=//p' tests/secret.env)")
summary=()
failures=0

elapsed() { echo $(( $(date +%s) - start )); }
step() { printf '\n=== %s (%ss)\n' "$*" "$(elapsed)"; }
ok() { summary+=("ok      $*"); }
# fail WHAT: a failure that does not stop the later stages (they do not depend on it).
fail() { summary+=("FAILED  $*"); failures=$((failures + 1)); }
print_summary() {
    printf '\n=== summary (%ss)\n' "$(elapsed)"
    if [ ${#summary[@]} -gt 0 ]; then printf '  %s\n' "${summary[@]}"; fi
}
# die WHAT: a failure the later stages cannot go on after.
die() {
    fail "$*"
    print_summary >&2
    printf 'test-c.sh: FAILED\n' >&2
    exit 1
}

# run_ctest DIR NAME [CTEST ARGS...]: ctest in DIR, the output of failed tests shown; failed tests
# are listed in the summary and fail the script at the end.
run_ctest() {
    local dir=$1 name=$2 log failed
    shift 2
    log=$dir/ctest.log
    if (cd "$dir" && ctest --output-on-failure -j"$JOBS" "$@") 2>&1 | tee "$log"; then
        ok "$name: $(grep -Eo '[0-9]+% tests passed.*' "$log" | tail -n 1)"
    else
        failed=$(sed -n '/The following tests FAILED:/,$p' "$log" | sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\).*/\1/p' | tr '\n' ' ')
        fail "$name: $(grep -Eo '[0-9]+% tests passed.*' "$log" | tail -n 1): ${failed:-see $log}"
    fi
}

# A command that fails outside the checks above (a configure or build error) ends the run here.
trap 'rc=$?; fail "command failed (status $rc) at line $LINENO: $BASH_COMMAND"; print_summary >&2; echo "test-c.sh: FAILED" >&2; exit $rc' ERR

step "brokers"
if ! scripts/broker.sh status all; then
    scripts/broker.sh start all
fi

# ---------------------------------------------------------------------------------------------------
step "C tests and examples (build/c)"
cmake -S . -B build/c -DCMAKE_BUILD_TYPE=Debug -DSTOMP_SANITIZE=OFF "${creds[@]}" >/dev/null
cmake --build build/c -j"$JOBS"
run_ctest build/c "plain"

# ---------------------------------------------------------------------------------------------------
step "C tests and examples under AddressSanitizer + UndefinedBehaviorSanitizer (build/c-asan)"
cmake -S . -B build/c-asan -DCMAKE_BUILD_TYPE=Debug -DSTOMP_SANITIZE=ON "${creds[@]}" >/dev/null
cmake --build build/c-asan -j"$JOBS"
# LeakSanitizer checks every test and example at exit, the library's allocations included (they go
# through the sanitizer's malloc). No suppression is needed: the Rust runtime's global threads keep
# what they allocate reachable (statics, their stacks), so only real leaks are reported.
export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
run_ctest build/c-asan "AddressSanitizer + UndefinedBehaviorSanitizer + LeakSanitizer"
unset ASAN_OPTIONS UBSAN_OPTIONS

# ---------------------------------------------------------------------------------------------------
step "C tests under valgrind memcheck (the plain build)"
# The same test commands CTest runs (tests/c only; the examples are covered by ASan above), each
# under memcheck: invalid reads/writes, uninitialised values and definite leaks fail the test.
# ("Possibly lost" is the runtime's global threads, alive at exit by design.) Valgrind runs one
# thread at a time, so latency bounds are scaled (STOMP_TEST_TIME_SCALE).
(cd build/c && ctest --show-only=json-v1 -L '^c$') >build/c/tests.json
/usr/bin/python3 - build/c/tests.json >build/c/valgrind-cmds <<'PY'
import json, shlex, sys
for t in json.load(open(sys.argv[1]))["tests"]:
    print(t["name"], " ".join(shlex.quote(a) for a in t["command"]))
PY
mkdir -p build/c/valgrind
vg_failed=$(
  while read -r name cmd; do
    printf '%s\0%s\0' "$name" "$cmd"
  done <build/c/valgrind-cmds |
  xargs -0 -n2 -P"$JOBS" sh -c '
    log=build/c/valgrind/$1.log
    if ! eval "STOMP_TEST_TIME_SCALE=40 timeout 300 valgrind -q --suppressions=tests/c/valgrind-ring.supp --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 $2" >"$log" 2>&1; then
      echo "$1"
    fi' sh || true
)
vg_total=$(wc -l <build/c/valgrind-cmds)
if [ -z "$vg_failed" ]; then
    ok "valgrind memcheck: $vg_total C tests, no errors, no definite leaks"
else
    for t in $vg_failed; do echo "--- valgrind: $t"; tail -n 40 "build/c/valgrind/$t.log"; done
    fail "valgrind memcheck: failed: $(echo $vg_failed) (logs in build/c/valgrind/)"
fi

# ---------------------------------------------------------------------------------------------------
step "threading C tests under ThreadSanitizer (build/c-tsan, libstomp instrumented by nightly Rust)"
# The stable toolchain cannot instrument Rust; nightly can, with the standard library rebuilt
# instrumented (-Zbuild-std, which needs the rust-src component). The first build takes minutes (the
# standard library); later ones rebuild only libstomp. Without nightly the stage is skipped, not
# run uninstrumented: TSan would then report the library's own synchronisation as races.
tsan_lib=$root/target/tsan/x86_64-unknown-linux-gnu/release
if [ "${STOMP_TSAN:-1}" = 0 ]; then
    summary+=("SKIPPED ThreadSanitizer: STOMP_TSAN=0")
elif ! rustup toolchain list 2>/dev/null | grep '^nightly' >/dev/null; then
    summary+=("SKIPPED ThreadSanitizer: no nightly Rust toolchain (stable cannot instrument libstomp)")
elif ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -x 'rust-src' >/dev/null &&
     ! rustup component add rust-src --toolchain nightly; then
    summary+=("SKIPPED ThreadSanitizer: the nightly rust-src component (for -Zbuild-std) could not be installed")
else
    RUSTFLAGS="-Zsanitizer=thread" CARGO_TARGET_DIR=$root/target/tsan \
        cargo +nightly build -Zbuild-std --target x86_64-unknown-linux-gnu --release --lib
    cmake -S . -B build/c-tsan -DCMAKE_BUILD_TYPE=Debug -DSTOMP_SANITIZE_THREAD=ON -DSTOMP_RUST_LIB_DIR="$tsan_lib" \
        "${creds[@]}" >/dev/null
    cmake --build build/c-tsan -j"$JOBS" --target stomp_threads_tests
    # Any report fails the test (exit status 66); no suppressions.
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
    run_ctest build/c-tsan "ThreadSanitizer (C tests and libstomp instrumented)" -L threads
    unset TSAN_OPTIONS
fi

# ---------------------------------------------------------------------------------------------------
step "install into a temporary prefix"
prefix=$(mktemp -d /tmp/libstomp-install.XXXXXX)
cleanup() { if [ "${KEEP_PREFIX:-0}" != 1 ]; then rm -rf "$prefix"; fi; }
trap cleanup EXIT
cmake --install build/c --prefix "$prefix"
pcdir=$(dirname "$(find "$prefix" -name stomp.pc -print -quit)")
[ -f "$pcdir/stomp.pc" ] || die "stomp.pc was not installed"
libdir=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=libdir stomp)
[ "$(PKG_CONFIG_PATH=$pcdir pkg-config --modversion stomp)" = "$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)" ] \
    || die "pkg-config --modversion stomp disagrees with Cargo.toml"
for f in libstomp.so libstomp.so.0 libstomp.a; do
    [ -e "$libdir/$f" ] || die "$libdir/$f is missing"
done
[ -L "$libdir/libstomp.so" ] && [ -L "$libdir/libstomp.so.0" ] || die "libstomp.so and libstomp.so.0 should be links"
real=$(readlink -f "$libdir/libstomp.so")
[ ! -L "$real" ] && [ -f "$real" ] || die "libstomp.so does not lead to a file"
cmp -s "$prefix/include/stomp.h" include/stomp.h || die "the installed stomp.h differs from include/stomp.h"
cmp -s "$prefix/include/stomp.hpp" include/stomp.hpp || die "the installed stomp.hpp differs from include/stomp.hpp"
[ -x "$prefix/bin/stomp" ] || die "bin/stomp was not installed"
[ -f "$prefix/share/man/man1/stomp.1" ] || die "share/man/man1/stomp.1 was not installed"
"$prefix/bin/stomp" --help >/dev/null || die "the installed bin/stomp does not run without LD_LIBRARY_PATH"
[ -f "$libdir/cmake/stomp/stompConfig.cmake" ] && [ -f "$libdir/cmake/stomp/stompConfigVersion.cmake" ] \
    || die "the CMake package was not installed"
PKG_CONFIG_PATH=$pcdir pkg-config --static --libs stomp | grep -- '-lpthread -ldl -lm' \
    || die "pkg-config --static --libs stomp lacks -lpthread -ldl -lm"
echo "installed: $(cd "$prefix" && find . \( -type f -o -type l \) | sort | tr '\n' ' ')"
ok "install: $(basename "$real"), libstomp.so.0 -> $(readlink "$libdir/libstomp.so.0"), libstomp.so -> $(readlink "$libdir/libstomp.so"), libstomp.a, stomp.h, stomp.pc, stompConfig.cmake"

# check_app PROGRAM: runs it against the prefix and checks that it loaded the installed library.
check_app() {
    local app=$1 what=$2 out
    if ldd "$app" | grep 'libstomp.so' >/dev/null; then
        if ! LD_LIBRARY_PATH=$libdir ldd "$app" | grep -F "libstomp.so.0 => $libdir/" >/dev/null; then
            LD_LIBRARY_PATH=$libdir ldd "$app"
            fail "$what: does not load libstomp.so.0 from $libdir"
            return
        fi
    fi
    if out=$(LD_LIBRARY_PATH=$libdir "$app" 2>&1); then
        echo "$out"
        ok "$what: $(echo "$out" | tail -n 1)"
    else
        echo "$out"
        fail "$what: $(echo "$out" | tail -n 1)"
    fi
}

step "outside CMake project: find_package(stomp) (tests/install)"
rm -rf build/install-cmake
cmake -S tests/install -B build/install-cmake -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build build/install-cmake -j"$JOBS"
check_app build/install-cmake/app "find_package + stomp::stomp"
if ldd build/install-cmake/app_static | grep libstomp >/dev/null; then die "app_static links libstomp dynamically"; fi
check_app build/install-cmake/app_static "find_package + stomp::stomp_static"

step "outside pkg-config build: cc app.c \$(pkg-config --cflags --libs stomp)"
mkdir -p build/install-pc
PKG_CONFIG_PATH=$pcdir make --no-print-directory -B -C tests/install -f Makefile OUT="$root/build/install-pc"
check_app build/install-pc/app-pc "pkg-config"

# ---------------------------------------------------------------------------------------------------
step "exported symbols and SONAME of libstomp.so"
so=target/release/libstomp.so
foreign=$(nm -D --defined-only "$so" | awk 'NF >= 3 { print $3 }' | grep -v '^stomp_' || true)
count=$(nm -D --defined-only "$so" | awk 'NF >= 3' | wc -l)
if [ -n "$foreign" ]; then
    echo "libstomp.so exports symbols without the stomp_ prefix:"
    echo "$foreign" | sed 's/^/  /'
    fail "symbols: $(echo "$foreign" | wc -l) of $count exported symbols lack the stomp_ prefix: $(echo "$foreign" | tr '\n' ' ')"
else
    echo "$count exported symbols, all stomp_*"
    ok "symbols: $count exported, all stomp_*"
fi
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
inst_soname=$(readelf -d "$real" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
echo "SONAME: $soname (build tree), $inst_soname (installed)"
if [ "$soname" = libstomp.so.0 ] && [ "$inst_soname" = libstomp.so.0 ]; then
    ok "SONAME libstomp.so.0 (build tree and installed)"
else
    fail "SONAME is '$soname' (build tree) / '$inst_soname' (installed), not libstomp.so.0"
fi

print_summary
if [ "$failures" -ne 0 ]; then
    echo "test-c.sh: FAILED ($failures)"
    exit 1
fi
echo "test-c.sh: all passed"
