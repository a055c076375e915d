/*
 * tsan_rust_shim.c - linked into the programs of a ThreadSanitizer build (STOMP_SANITIZE_THREAD) that
 * use a libstomp instrumented by nightly Rust (-Zsanitizer=thread). Rust's LLVM emits calls to
 * __tsan_memcpy, __tsan_memmove and __tsan_memset, which the TSan runtime of this system's gcc 12
 * (libtsan.so.2) does not define; every other entry point the library uses it does. Each one here
 * calls the libc function, which that runtime intercepts and checks like any other access, so
 * nothing goes unchecked. Not instrumented itself (it is on the runtime's side).
 */
#include <string.h>

void *__tsan_memcpy(void *dst, const void *src, size_t n);
void *__tsan_memmove(void *dst, const void *src, size_t n);
void *__tsan_memset(void *dst, int c, size_t n);

#define RUNTIME_SIDE __attribute__((no_sanitize("thread")))

RUNTIME_SIDE void *__tsan_memcpy(void *dst, const void *src, size_t n) { return memcpy(dst, src, n); }
RUNTIME_SIDE void *__tsan_memmove(void *dst, const void *src, size_t n) { return memmove(dst, src, n); }
RUNTIME_SIDE void *__tsan_memset(void *dst, int c, size_t n) { return memset(dst, c, n); }
