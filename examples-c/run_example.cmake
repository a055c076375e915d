# run_example.cmake - runs one example and checks what it printed. Used by CTest (see CMakeLists.txt):
#
#   cmake -DEXAMPLE=<program> [-DARG=<one argument>] -DEXPECT_FILE=<file> [-DTIMEOUT=<s>] -P run_example.cmake
#
# The test passes when the program exits 0, its standard output matches every regular expression of
# EXPECT_FILE (one per line), and nothing it printed matches FORBID (a failure line, a sanitizer
# report). CTest's own PASS_REGULAR_EXPRESSION would not do: it passes on any one match of a list
# and ignores the exit code.
cmake_minimum_required(VERSION 3.16)

foreach(required EXAMPLE EXPECT_FILE)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "run_example.cmake: -D${required}=... is required")
  endif()
endforeach()
if(NOT DEFINED TIMEOUT)
  set(TIMEOUT 90)
endif()
set(FORBID "FAILED:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|Segmentation fault")

set(command "${EXAMPLE}")
if(DEFINED ARG AND NOT ARG STREQUAL "")
  list(APPEND command "${ARG}")
endif()
execute_process(
  COMMAND ${command}
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err
  RESULT_VARIABLE rc
  TIMEOUT ${TIMEOUT})

# Show everything: it lands in CTest's log and in --output-on-failure.
message("---- ${command} (exit: ${rc})\n---- stdout\n${out}---- stderr\n${err}----")

set(problems "")
if(NOT rc STREQUAL "0")
  string(APPEND problems "  exit status ${rc}, expected 0\n")
endif()
file(STRINGS "${EXPECT_FILE}" expectations)
foreach(re IN LISTS expectations)
  if(NOT out MATCHES "${re}")
    string(APPEND problems "  no output line matches: ${re}\n")
  endif()
endforeach()
if("${out}${err}" MATCHES "${FORBID}")
  string(APPEND problems "  output matches the failure pattern: ${CMAKE_MATCH_0}\n")
endif()

if(NOT problems STREQUAL "")
  message(FATAL_ERROR "example failed:\n${problems}")
endif()
message("example passed: ${command}")
