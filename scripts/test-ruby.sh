#!/usr/bin/env bash
# scripts/test-ruby.sh - the Ruby gem (ruby/, issue 7): builds stomp_ffi with `gem build`, installs
# it into a temporary GEM_HOME as a user would, and runs its minitest suite from the installed gem
# against the local brokers (RabbitMQ 127.0.0.1:61613, ActiveMQ 127.0.0.1:61623): once on StompFFI,
# then once more on the real stomp gem (STOMP_IMPL=gem), which shows the tests describe the gem's
# behaviour (where the gem differs, the test is skipped with a message saying how).
#
# Installs the Debian packages it needs (ruby, ruby-ffi, ruby-stomp, pkg-config; ruby-minitest if
# minitest is not bundled with ruby). Builds libstomp (cargo build --release) unless
# RUBY_TEST_NO_BUILD=1. Exit status 1 if either run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
started=$(date +%s)

need=()
for pkg in ruby ruby-ffi ruby-stomp pkg-config; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
if ! ruby -e 'require "minitest"' 2>/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ruby-minitest
fi

if [ "${RUBY_TEST_NO_BUILD:-0}" != 1 ]; then
    cargo build --release --quiet
fi
ln -sf libstomp.so target/release/libstomp.so.0
export STOMP_LIB=$ROOT/target/release/libstomp.so
scripts/broker.sh status all >/dev/null 2>&1 || scripts/broker.sh start all

OUT=$ROOT/target/ruby
mkdir -p "$OUT"
GEM_HOME=$(mktemp -d "$OUT/gem_home.XXXXXX")
trap 'rm -rf "$GEM_HOME"' EXIT
(cd ruby && gem build --quiet stomp_ffi.gemspec --output "$OUT/stomp_ffi.gem") >/dev/null
# The ffi dependency is Debian's ruby-ffi, found on the default gem path.
GEM_HOME=$GEM_HOME GEM_PATH=$GEM_HOME:$(ruby -e 'print Gem.default_path.join(":")') \
    gem install --local --no-document "$OUT/stomp_ffi.gem" >/dev/null
export GEM_HOME GEM_PATH=$GEM_HOME:$(ruby -e 'print Gem.default_path.join(":")')
GEMDIR=$(ruby -e 'print Gem::Specification.find_by_name("stomp_ffi").gem_dir')
case $GEMDIR in "$GEM_HOME"/*) ;; *) echo "stomp_ffi resolved outside the temporary GEM_HOME: $GEMDIR" >&2; exit 1 ;; esac
echo "ruby: stomp_ffi installed in $GEMDIR; libstomp $STOMP_LIB"

# run LABEL [ENV=VALUE...]: the suite from the installed gem (no -I: `require 'stomp_ffi'` finds it).
rc=0
run() {
    local label=$1
    shift
    echo "== ruby suite on $label"
    (cd "$GEMDIR" && env "$@" timeout -k 10 600 ruby -e 'Dir["test/test_*.rb"].sort.each { |f| require File.expand_path(f) }') || rc=1
}
run "StompFFI" STOMP_IMPL=ffi
run "the stomp gem (STOMP_IMPL=gem)" STOMP_IMPL=gem
echo "ruby: $([ $rc = 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - started ))s"
exit $rc
