#!/usr/bin/env bash
# scripts/docs.sh - the HTML reference of the C and C++ API (include/stomp.h, include/stomp.hpp)
# with Doxygen, into build/docs/html. Every warning is an error: an undocumented function, type,
# member or enum value, or a doc comment Doxygen cannot read, fails the script (after listing all
# of them). Installs doxygen (Debian) when it is missing.
#
# stomp.h is generated: its doc comments are the `///` comments of src/ffi/*.rs, which cbindgen
# writes as /** */ blocks (cbindgen.toml: documentation_style = "doxy"). Fix a warning there, then
# `cargo build` to regenerate the header.
#
# Before Doxygen, scripts/check_header_docs.py checks what Doxygen cannot: every function returning
# stomp_result names the STOMP_ codes it can return, and every function says which threads may call it.
set -euo pipefail
cd "$(dirname "$0")/.."

# need COMMAND: installs the Debian package of that name when the command is missing.
need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$1" >/dev/null
}
need doxygen
need python3

python3 scripts/check_header_docs.py include/stomp.h

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
out=build/docs
rm -rf "$out/html"
mkdir -p "$out"
log=$out/doxygen-warnings.log

# The configuration, on standard input: every setting that matters is here, the rest are
# Doxygen's defaults.
status=0
doxygen - >"$out/doxygen.log" <<EOF || status=$?
PROJECT_NAME           = libstomp
PROJECT_NUMBER         = $version
PROJECT_BRIEF          = "A STOMP 1.0/1.1/1.2 client library: C API and C++ wrapper"
OUTPUT_DIRECTORY       = $out
INPUT                  = include/stomp.h include/stomp.hpp
STRIP_FROM_PATH        = include
FULL_PATH_NAMES        = NO
JAVADOC_AUTOBRIEF      = YES
MARKDOWN_SUPPORT       = YES
TYPEDEF_HIDES_STRUCT   = YES
EXTRACT_ALL            = NO
EXTRACT_STATIC         = YES
# The C++ wrapper's internals: not API.
EXCLUDE_SYMBOLS        = stomp::detail stomp::detail::* STOMP_HPP_*
ENABLE_PREPROCESSING   = YES
QUIET                  = YES
WARNINGS               = YES
WARN_IF_UNDOCUMENTED   = YES
WARN_IF_DOC_ERROR      = YES
WARN_IF_INCOMPLETE_DOC = YES
WARN_NO_PARAMDOC       = NO
WARN_AS_ERROR          = FAIL_ON_WARNINGS
WARN_LOGFILE           = $log
GENERATE_HTML          = YES
GENERATE_LATEX         = NO
HAVE_DOT               = NO
SEARCHENGINE           = YES
EOF
if [ -s "$log" ] || [ "$status" -ne 0 ]; then
    cat "$log" >&2
    echo "docs.sh: $(wc -l <"$log") Doxygen warning line(s): fix the doc comments (src/ffi/*.rs, include/stomp.hpp)" >&2
    exit 1
fi
echo "docs.sh: $out/html/index.html (libstomp $version), no warnings"
