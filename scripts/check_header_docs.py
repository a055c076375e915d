#!/usr/bin/env python3
"""scripts/check_header_docs.py - checks the doc comment of every function in include/stomp.h.

Fails, naming each offending function, when
  - a function returning stomp_result names no STOMP_ code in its doc block (the codes it can return), or
  - a function's doc block says nothing about threads (no word "thread").
Usage: check_header_docs.py [HEADER] (default include/stomp.h). Exit status 1 on any failure.
"""
import re
import sys

DOC_THEN_DECL = re.compile(
    r"/\*\*(?P<doc>(?:(?!\*/).)*?)\*/\s*"  # a /** ... */ block
    r"(?P<decl>[^;{}#/]*?\b(?P<name>stomp_\w+)\s*\([^;{}]*\)\s*[;{])",  # prototype or inline
    re.S,
)


def check(text):
    problems = []
    names = []
    for m in DOC_THEN_DECL.finditer(text):
        decl = " ".join(m.group("decl").split())
        if decl.startswith("typedef") or "(*" in decl or decl.startswith("#"):
            continue  # a function-pointer type, not a function
        name, doc = m.group("name"), m.group("doc")
        names.append(name)
        returns = decl[: decl.index(name)].split()
        if returns and returns[-1] == "stomp_result" and "STOMP_" not in doc:
            problems.append(f"{name}: returns stomp_result but its doc names no STOMP_ code")
        if not re.search(r"thread", doc, re.I):
            problems.append(f"{name}: its doc says nothing about threads")
    # A prototype with no doc block at all is caught by Doxygen (WARN_IF_UNDOCUMENTED); count here
    # what was found so that a parsing failure does not pass silently.
    declared = set(re.findall(r"^[A-Za-z_][\w \*]*?\b(stomp_\w+)\s*\(", text, re.M))
    for name in sorted(declared - set(names)):
        problems.append(f"{name}: no doc block found right before its prototype")
    return names, problems


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "include/stomp.h"
    with open(path, encoding="utf-8") as f:
        names, problems = check(f.read())
    for p in problems:
        print(f"{path}: {p}", file=sys.stderr)
    if problems:
        print(f"check_header_docs: {len(problems)} problem(s) in {len(names)} function(s)", file=sys.stderr)
        return 1
    if not names:
        print(f"check_header_docs: no function found in {path}", file=sys.stderr)
        return 1
    print(f"check_header_docs: {len(names)} functions, each with its codes and threads")
    return 0


if __name__ == "__main__":
    sys.exit(main())
