/*
 * test_version: the header's version macros (written by build.rs from Cargo.toml) and the
 * library's stomp_version_string() (from the same Cargo.toml, at run time) agree. No broker.
 */
#include "test_util.h"

#if !defined(STOMP_VERSION_NUMBER) || STOMP_VERSION_NUMBER != STOMP_VERSION_MAJOR * 10000 + STOMP_VERSION_MINOR * 100 + STOMP_VERSION_PATCH
#error "STOMP_VERSION_NUMBER is not usable in #if, or disagrees with STOMP_VERSION_MAJOR/MINOR/PATCH"
#endif

int main(void) {
    char expected[64];
    int major = -1, minor = -1, patch = -1, used = 0;
    const char *runtime = stomp_version_string();

    t_section("the header's macros and the library's stomp_version_string()");
    printf("  header %s, library %s\n", STOMP_VERSION_STRING, runtime);
    CHECK(runtime != NULL);
    CHECK_STR(runtime, STOMP_VERSION_STRING);
    CHECK(sscanf(runtime, "%d.%d.%d%n", &major, &minor, &patch, &used) == 3);
    CHECK(runtime[used] == '\0');
    CHECK(major == STOMP_VERSION_MAJOR);
    CHECK(minor == STOMP_VERSION_MINOR);
    CHECK(patch == STOMP_VERSION_PATCH);
    snprintf(expected, sizeof expected, "%d.%d.%d", STOMP_VERSION_MAJOR, STOMP_VERSION_MINOR, STOMP_VERSION_PATCH);
    CHECK_STR(STOMP_VERSION_STRING, expected);
    CHECK(STOMP_VERSION_NUMBER == major * 10000 + minor * 100 + patch);

    t_section("the former names");
    CHECK_STR(stomp_lib_version(), runtime);
    CHECK_STR(STOMP_LIB_VERSION, STOMP_VERSION_STRING);
    CHECK(STOMP_LIB_VERSION_MAJOR == STOMP_VERSION_MAJOR && STOMP_LIB_VERSION_MINOR == STOMP_VERSION_MINOR &&
          STOMP_LIB_VERSION_PATCH == STOMP_VERSION_PATCH);
    return t_done("test_version");
}
