#!/usr/bin/env bash
# Fuzzes the protocol core: the frame decoder and the client session fed arbitrary broker bytes
# (the checks are in fuzz/checks.rs).
#
#   scripts/fuzz.sh [--time SECONDS] [--target decoder|session] [--quick] [--stable]
#
# With a nightly toolchain (rustup), runs libFuzzer through cargo-fuzz (installed if absent) for
# --time seconds per target (default 600), prints executions, exec/s, coverage (cov/ft) and corpus
# size, and merges the new inputs into the committed corpus fuzz/corpus/<target>/ (libFuzzer
# -merge=1 with -set_cover_merge on edges: only the fewest inputs that reach new edges are added;
# inputs of at most 4 KiB). Without nightly, or with --stable, runs the stable
# fallback instead (tests/fuzz_stable.rs: the corpus replayed, then mutated, for --time seconds).
#
# --quick is the test suite's short run (about a minute): the corpus replay and the stable
# mutations, plus 20 s of libFuzzer per target when nightly is there; it never changes the corpus.
# A failure exits non-zero and says where the input that did it is.
set -euo pipefail
cd "$(dirname "$0")/.."

time_per_target=600
targets=(decoder session)
quick=0
stable=0
while [ $# -gt 0 ]; do
  case "$1" in
    --time) time_per_target="$2"; shift 2 ;;
    --target) targets=("$2"); shift 2 ;;
    --quick) quick=1; time_per_target=20; shift ;;
    --stable) stable=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for t in "${targets[@]}"; do
  [ -d "fuzz/corpus/$t" ] || { echo "fuzz.sh: no target $t (decoder, session)" >&2; exit 2; }
done

have_nightly() {
  command -v rustup >/dev/null 2>&1 && rustup toolchain list | grep -q '^nightly'
}

# libFuzzer is C++, built by libfuzzer-sys: it needs a C++ compiler.
ensure_cxx() {
  command -v c++ >/dev/null 2>&1 && return
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq g++ >/dev/null
}

ensure_cargo_fuzz() {
  if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz from the crate registry"
    local t0=$SECONDS
    cargo install cargo-fuzz --locked
    echo "fuzz.sh: cargo-fuzz installed in $((SECONDS - t0)) s"
  fi
}

# The stable fallback: replays the corpus, then mutates it for `$1` seconds per target (0: the
# test's fixed count), printing executions and exec/s per target.
run_stable() {
  local secs="$1" filter=() env=() rc=0
  local log="target/fuzz-stable.log"
  [ "${#targets[@]}" -eq 1 ] && filter=("${targets[0]}_")
  [ "$secs" -gt 0 ] && env=(STOMP_FUZZ_SECS="$secs" STOMP_FUZZ_SEED="${STOMP_FUZZ_SEED:-$RANDOM}")
  mkdir -p target
  env "${env[@]}" cargo test --release --test fuzz_stable -- --nocapture --test-threads=1 \
    "${filter[@]}" >"$log" 2>&1 || rc=$?
  grep -oE '[a-z]+: (stable fallback|[0-9]+ corpus inputs).*|^test result.*' "$log" || true
  if [ "$rc" -ne 0 ]; then
    grep -E -A12 'panicked|saved as' "$log" | head -40 >&2 || true
    echo "fuzz.sh: the stable fallback failed; full log: $log" >&2
    return 1
  fi
}

# One libFuzzer run of target `$1` for `$2` seconds; new inputs go to fuzz/work/<target> (corpus
# dir first: libFuzzer writes into its first directory), merged afterwards unless --quick.
run_libfuzzer() {
  local target="$1" secs="$2"
  local work="fuzz/work/$target" log="fuzz/work/$target.log"
  rm -rf "$work"
  mkdir -p "$work"
  local rc=0
  (cd fuzz && cargo +nightly fuzz run -O "$target" "work/$target" "corpus/$target" -- \
    -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -dict=stomp.dict -print_final_stats=1) >"$log" 2>&1 || rc=$?
  local last
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  local execs rate cov ft
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  if [ "$rc" -ne 0 ]; then
    grep -E 'panicked|ERROR|SUMMARY|Test unit written|artifact' "$log" | head -20 >&2 || true
    echo "fuzz.sh: $target: libFuzzer failed (exit $rc); full log: $log" >&2
    return 1
  fi
  local corpus_size
  if [ "$quick" -eq 0 ]; then
    # Into the committed corpus, whose files all stay, go the fewest new inputs that reach edges
    # it does not (-set_cover_merge, edges only, not counters): it grows by a few files a run
    # rather than by every input that once added a counter.
    (cd fuzz && cargo +nightly fuzz run -O "$target" "corpus/$target" "work/$target" -- \
      -merge=1 -set_cover_merge=1 -use_counters=0 -max_len=4096) \
      >"fuzz/work/$target.merge.log" 2>&1 || {
      tail -n 20 "fuzz/work/$target.merge.log" >&2
      echo "fuzz.sh: $target: the merge failed; full log: fuzz/work/$target.merge.log" >&2
      return 1
    }
  fi
  corpus_size=$(find "fuzz/corpus/$target" -type f | wc -l)
  printf '%s: libFuzzer %s s: %s executions, %s exec/s, cov: %s ft: %s, corpus %s files (%s bytes)\n' \
    "$target" "$secs" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$corpus_size" \
    "$(du -sb "fuzz/corpus/$target" | cut -f1)"
}

if [ "$stable" -eq 0 ] && have_nightly; then
  ensure_cxx
  ensure_cargo_fuzz
  t0=$SECONDS
  build_args=()
  [ "${#targets[@]}" -eq 1 ] && build_args=("${targets[0]}")
  mkdir -p fuzz/work
  (cd fuzz && cargo +nightly fuzz build -O "${build_args[@]}") >fuzz/work/build.log 2>&1 || {
    tail -n 30 fuzz/work/build.log >&2
    echo "fuzz.sh: building the fuzz targets failed; full log: fuzz/work/build.log" >&2
    exit 1
  }
  echo "fuzz.sh: fuzz targets built in $((SECONDS - t0)) s"
  if [ "$quick" -eq 1 ]; then
    run_stable 0
  fi
  for t in "${targets[@]}"; do
    run_libfuzzer "$t" "$time_per_target"
  done
else
  [ "$stable" -eq 1 ] || echo "fuzz.sh: no nightly toolchain: the stable fallback (no coverage feedback)"
  if [ "$quick" -eq 1 ]; then
    run_stable 0
    run_stable 20
  else
    run_stable "$time_per_target"
  fi
fi
