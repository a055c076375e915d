#!/usr/bin/env bash
# Before/after of two builds of the library, interleaved: one fixture run with build A, then the
# same with build B, for ROUNDS rounds, so that both see the same moment of a noisy machine (the
# figures a single bench.sh run gives move by up to 2 x with the host's load; interleaved runs are
# what a change should be judged by). The fixtures and stomp_bench are this tree's, built once; the
# two libraries differ only (loaded through LD_LIBRARY_PATH ahead of the binaries' RUNPATH).
#
# Usage: scripts/bench-ab.sh REV_A REV_B [MODE [N [ROUNDS]]]
#   REV_A, REV_B  git revisions (built in worktrees under target/ab/), or "." for this tree as it is
#   MODE          receive-callback, receive-pull or publish (default receive-callback); or "all"
#   N             messages per run (default 5000000), 100-byte bodies
#   ROUNDS        rounds of A-then-B (default 3)
#
# Prints, per run, "A|B MODE msgs seconds msg_per_s cpu_seconds" (the client process's CPU).
# Needs the packages scripts/bench.sh installs (gcc only, for these parts).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$TARGET/ab
[ $# -ge 2 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
REV_A=$1 REV_B=$2 MODE=${3:-receive-callback} N=${4:-5000000} ROUNDS=${5:-3}
case "$MODE" in
    receive-callback | receive-pull | publish) MODES=("$MODE") ;;
    all) MODES=(receive-callback receive-pull publish) ;;
    *) echo "bench-ab.sh: unknown mode $MODE" >&2; exit 2 ;;
esac
mkdir -p "$OUT"
say() { echo "bench-ab: $*" >&2; }

# The library of a revision, as $OUT/lib-NAME/libstomp.so.0.
build_lib() { # NAME REV
    local name=$1 rev=$2 dir=$OUT/lib-$1 src
    mkdir -p "$dir"
    if [ "$rev" = . ]; then
        src=$ROOT
        (cd "$ROOT" && cargo build --release --quiet) >&2
        cp "$TARGET/release/libstomp.so" "$dir/libstomp.so.0"
        return
    fi
    src=$OUT/src-$name
    rm -rf "$src"
    git -C "$ROOT" worktree remove --force "$src" 2>/dev/null || true
    git -C "$ROOT" worktree add --detach "$src" "$rev" >/dev/null 2>&1
    say "building $rev ($name)"
    (cd "$src" && CARGO_TARGET_DIR=$OUT/target-$name cargo build --release --quiet) >&2
    cp "$OUT/target-$name/release/libstomp.so" "$dir/libstomp.so.0"
    git -C "$ROOT" worktree remove --force "$src"
}
build_lib A "$REV_A"
build_lib B "$REV_B"

CC=${CC:-gcc}
CFLAGS=(-O2 -std=c11 -Wall -Wextra -Wpedantic -Werror)
for prog in fixture_swallow fixture_blast; do
    "$CC" "${CFLAGS[@]}" -o "$OUT/$prog" "$ROOT/bench/$prog.c" "$ROOT/bench/bench_util.c"
done
# Linked against A's copy; each run picks its own through LD_LIBRARY_PATH.
"$CC" "${CFLAGS[@]}" -I "$ROOT/include" -o "$OUT/stomp_bench" "$ROOT/bench/stomp_bench.c" \
    "$ROOT/bench/bench_util.c" -L "$OUT/lib-A" -l:libstomp.so.0 -pthread

run_one() { # NAME MODE
    local name=$1 mode=$2 fixture fargs log=$OUT/fixture.log port="" pid i
    if [ "$mode" = publish ]; then fixture=fixture_swallow fargs=(); else
        fixture=fixture_blast fargs=("$N" 100); fi
    : >"$log"
    "$OUT/$fixture" 0 "${fargs[@]}" >"$log" 2>&1 &
    pid=$!
    for ((i = 0; i < 500; i++)); do
        port=$(sed -n 's/^listening 127\.0\.0\.1://p' "$log")
        [ -n "$port" ] && break
        sleep 0.01
    done
    [ -n "$port" ] || { say "$fixture did not start"; kill "$pid" 2>/dev/null; return 1; }
    local line
    line=$(LD_LIBRARY_PATH=$OUT/lib-$name timeout 120 "$OUT/stomp_bench" "$mode" "$port" "$N") ||
        line="(failed)"
    echo "$name ${line#libstomp }"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

say "A = $REV_A, B = $REV_B; $N messages of 100 B a run, $ROUNDS rounds"
for mode in "${MODES[@]}"; do
    for ((r = 1; r <= ROUNDS; r++)); do
        run_one A "$mode"
        run_one B "$mode"
    done
done
