// cxx_header: stomp.h is C++-clean. Compiled as C++17 with -Wall -Wextra -Wpedantic -Werror (and
// -fsanitize=address under STOMP_SANITIZE): the header must declare everything with C linkage,
// its enums and structs must be usable from C++, and captureless lambdas must convert to the
// listener's callback types. With the argument "connect" it also makes a short session with
// RabbitMQ (connect, send with a receipt, receive it, disconnect).
#include <stomp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>

#include <unistd.h>

static_assert(STOMP_OK == 0, "STOMP_OK is 0");
static_assert(STOMP_VERSION_1_2 == 12, "versions are 10, 11, 12");
static_assert(std::is_standard_layout<stomp_listener>::value, "stomp_listener is a C struct");
static_assert(offsetof(stomp_listener, size) == 0, "stomp_listener starts with its size");
static_assert(std::is_standard_layout<stomp_header>::value, "stomp_header is a C struct");

namespace {

int failures = 0;

void check(bool ok, const char *what, int line) {
    if (ok) {
        std::printf("  ok  %s\n", what);
    } else {
        std::fprintf(stderr, "cxx_header.cpp:%d: FAILED: %s\n    stomp_last_error(): \"%s\"\n", line, what,
                     stomp_last_error());
        ++failures;
    }
}
#define CHECK(x) check((x), #x, __LINE__)

struct OptionsDeleter {
    void operator()(stomp_options *o) const noexcept { stomp_options_free(o); }
};
struct ConnectionDeleter {
    void operator()(stomp_connection *c) const noexcept { stomp_connection_free(c); }
};
struct FrameDeleter {
    void operator()(stomp_frame *f) const noexcept { stomp_frame_free(f); }
};
using Options = std::unique_ptr<stomp_options, OptionsDeleter>;
using Connection = std::unique_ptr<stomp_connection, ConnectionDeleter>;
using Frame = std::unique_ptr<stomp_frame, FrameDeleter>;

struct Seen {
    std::mutex mu;
    std::condition_variable cv;
    std::string body;
    bool disconnected = false;
};

std::uint16_t rabbit_port() {
    const char *p = std::getenv("STOMP_RABBITMQ_PORT");
    return p != nullptr && *p != '\0' ? static_cast<std::uint16_t>(std::atoi(p)) : 61613;
}

int session() {
    std::printf("\n== a short session with RabbitMQ from C++\n");
    Options opts(stomp_options_new());
    CHECK(stomp_options_add_host(opts.get(), "127.0.0.1", rabbit_port()) == STOMP_OK);
    CHECK(stomp_options_set_vhost(opts.get(), "/") == STOMP_OK);
    CHECK(stomp_options_set_receive_queue(opts.get(), 8) == STOMP_OK);
    Connection conn(stomp_connection_new(opts.get()));
    CHECK(conn != nullptr);
    if (!conn) return 1;

    Seen seen;
    stomp_listener l = STOMP_LISTENER_INIT;
    l.user_data = &seen;
    l.on_message = [](void *ud, const stomp_frame *f) {
        auto *s = static_cast<Seen *>(ud);
        std::size_t n = 0;
        const std::uint8_t *b = stomp_frame_body(f, &n);
        std::lock_guard<std::mutex> g(s->mu);
        s->body.assign(reinterpret_cast<const char *>(b), n);
        s->cv.notify_all();
    };
    l.on_disconnected = [](void *ud) {
        auto *s = static_cast<Seen *>(ud);
        std::lock_guard<std::mutex> g(s->mu);
        s->disconnected = true;
        s->cv.notify_all();
    };
    CHECK(stomp_set_listener(conn.get(), "cxx", &l) == STOMP_OK);
    CHECK(stomp_connect(conn.get(), T_LOGIN, T_PASSCODE, nullptr, 0, true) == STOMP_OK);
    CHECK(stomp_is_connected(conn.get()));

    const std::string q = "/queue/ctest-" + std::to_string(static_cast<long>(getpid())) + "-cxx";
    CHECK(stomp_subscribe(conn.get(), q.c_str(), "cxx-sub", STOMP_ACK_AUTO, nullptr, 0) == STOMP_OK);
    const stomp_header headers[] = {{"receipt", "cxx-1"}, {"x-lang", "c++"}};
    const std::string body("from C++\0with a NUL", 19);
    CHECK(stomp_send(conn.get(), q.c_str(), body.data(), body.size(), "text/plain", headers, 2) == STOMP_OK);
    CHECK(stomp_wait_receipt(conn.get(), "cxx-1", 10000) == STOMP_OK);

    stomp_frame *raw = nullptr;
    CHECK(stomp_receive(conn.get(), 10000, &raw) == STOMP_OK);
    Frame m(raw);
    CHECK(m != nullptr && std::strcmp(stomp_frame_header(m.get(), "x-lang"), "c++") == 0);
    {
        std::unique_lock<std::mutex> g(seen.mu);
        CHECK(seen.cv.wait_for(g, std::chrono::seconds(10), [&] { return !seen.body.empty(); }));
        CHECK(seen.body == body);
    }
    CHECK(stomp_disconnect(conn.get(), nullptr, 10000) == STOMP_OK);
    {
        std::unique_lock<std::mutex> g(seen.mu);
        CHECK(seen.disconnected); // stomp_disconnect returns after on_disconnected
    }
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    std::printf("== the header from C++ (libstomp %s)\n", stomp_lib_version());
    CHECK(std::string(stomp_lib_version()) == STOMP_LIB_VERSION);
    CHECK(stomp_strerror(static_cast<stomp_result>(12345)) != nullptr);
    CHECK(std::string(stomp_strerror(STOMP_ERR_TIMEOUT)) == "timed out");

    Options opts(stomp_options_new());
    CHECK(opts != nullptr);
    CHECK(stomp_options_set_version(opts.get(), STOMP_VERSION_1_1) == STOMP_OK);
    CHECK(stomp_options_set_version(opts.get(), static_cast<stomp_version>(99)) == STOMP_ERR_INVALID_ARGUMENT);
    CHECK(stomp_options_add_host(opts.get(), "::1", 61613) == STOMP_OK);
    Connection conn(stomp_connection_new(opts.get()));
    CHECK(conn != nullptr);
    stomp_version v{};
    CHECK(stomp_connection_version(conn.get(), &v) == STOMP_ERR_NOT_CONNECTED);
    CHECK(stomp_send(conn.get(), "/queue/x", nullptr, 0, nullptr, nullptr, 0) == STOMP_ERR_NOT_CONNECTED);
    CHECK(stomp_frame_clone(nullptr) == nullptr);

    std::atomic<int> calls{0};
    stomp_listener l = STOMP_LISTENER_INIT;
    l.user_data = &calls;
    l.on_connecting = [](void *ud, const char *, std::uint16_t) { ++*static_cast<std::atomic<int> *>(ud); };
    CHECK(stomp_set_listener(conn.get(), "lambda", &l) == STOMP_OK);
    CHECK(stomp_remove_listener(conn.get(), "lambda") == STOMP_OK);

    if (argc > 1 && std::strcmp(argv[1], "connect") == 0) session();

    if (failures != 0) {
        std::fprintf(stderr, "cxx_header: %d checks failed\n", failures);
        return 1;
    }
    std::printf("\ncxx_header: all checks passed\n");
    return 0;
}
