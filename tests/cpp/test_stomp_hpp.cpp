// test_stomp_hpp: the C++ wrapper (include/stomp.hpp) against RabbitMQ on 127.0.0.1 (vhost "/",
// guest/guest; STOMP_RABBITMQ_PORT overrides 61613). Each check prints one "ok" line; the first
// failure prints where and what, and ends the test with status 1. Waits are on condition
// variables with a deadline, never sleeps.
#include <stomp.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;

static_assert(!std::is_copy_constructible_v<stomp::connection>, "a connection is move-only");
static_assert(std::is_nothrow_move_constructible_v<stomp::connection>, "a connection moves without throwing");
static_assert(!std::is_copy_constructible_v<stomp::frame>, "an owned frame is move-only");
static_assert(!std::is_copy_constructible_v<stomp::options>, "options are move-only");
static_assert(std::is_base_of_v<std::runtime_error, stomp::error>, "stomp::error is a std::runtime_error");

namespace {

int checks = 0;

[[noreturn]] void fail(const char *what, int line, const std::string &detail) {
    std::fflush(stdout);
    std::fprintf(stderr, "test_stomp_hpp.cpp:%d: FAILED: %s%s%s\n", line, what, detail.empty() ? "" : ": ",
                 detail.c_str());
    std::_Exit(1);
}
#define CHECK(x)                                  \
    do {                                          \
        if (x) {                                  \
            ++checks;                             \
            std::printf("  ok  %s\n", #x);        \
        } else {                                  \
            fail(#x, __LINE__, stomp_last_error()); \
        }                                         \
    } while (0)

// CHECK_THROWS(expr, code): expr throws stomp::error carrying `code`.
#define CHECK_THROWS(expr, want)                                                                   \
    do {                                                                                           \
        try {                                                                                      \
            expr;                                                                                  \
            fail(#expr " throws " #want, __LINE__, "it returned");                                 \
        } catch (const stomp::error &e) {                                                          \
            if (e.code() != (want)) fail(#expr " throws " #want, __LINE__, e.what());              \
            ++checks;                                                                              \
            std::printf("  ok  %s throws %s (%s)\n", #expr, #want, e.what());                      \
        }                                                                                          \
    } while (0)

void section(const char *name) { std::printf("\n== %s\n", name); }

std::uint16_t rabbit_port() {
    const char *p = std::getenv("STOMP_RABBITMQ_PORT");
    return p != nullptr && *p != '\0' ? static_cast<std::uint16_t>(std::atoi(p)) : 61613;
}

stomp::options rabbit_options() {
    stomp::options o;
    o.add_host("127.0.0.1", rabbit_port()).set_vhost("/").set_connect_timeout(10s);
    return o;
}

std::string unique(const char *tag) {
    static std::atomic<int> n{0};
    return "/queue/cpp-" + std::to_string(static_cast<long>(getpid())) + "-" + tag + "-" + std::to_string(++n);
}

// A loopback port with nothing listening: bound, then closed.
std::uint16_t closed_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&a), len) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) != 0)
        fail("a closed port", __LINE__, std::strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

// What the listeners saw, waited on with a deadline.
struct Seen {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> bodies;
    std::vector<std::string> exceptions;
    int disconnected = 0;

    template <class P>
    bool wait(P pred) {
        std::unique_lock<std::mutex> g(mu);
        return cv.wait_for(g, 10s, pred);
    }
    template <class F>
    void update(F f) {
        std::lock_guard<std::mutex> g(mu);
        f();
        cv.notify_all();
    }
};

void test_versions_and_errors() {
    section("versions, errors and the non-throwing variants");
    CHECK(stomp::version_string() == STOMP_VERSION_STRING);

    stomp::options o;
    CHECK(o.try_set_version(static_cast<stomp_version>(99)) == STOMP_ERR_INVALID_ARGUMENT);
    CHECK_THROWS(o.set_version(static_cast<stomp_version>(99)), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_THROWS(o.add_host("", 61613), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_THROWS(stomp::connection c(o), STOMP_ERR_INVALID_ARGUMENT);  // no host
    stomp::connection empty;
    CHECK(o.try_add_host(std::string_view("127.0.0.1:ignored").substr(0, 9), closed_port()) == STOMP_OK);
    CHECK(stomp::connection::try_create(o, empty) == STOMP_OK);
    CHECK(empty.native_handle() != nullptr);
    CHECK(empty.try_send("/queue/x", "body") == STOMP_ERR_NOT_CONNECTED);
    CHECK_THROWS(empty.connect("guest", "guest"), STOMP_ERR_CONNECT_FAILED);
    CHECK(!empty.is_connected());

    stomp::connection none;  // empty: every call fails cleanly
    std::string id;
    CHECK(none.try_set_listener("x", stomp::listener{}) == STOMP_ERR_INVALID_ARGUMENT);
    CHECK(std::string(stomp_last_error()).find("conn") != std::string::npos);  // the library's detail
    CHECK(none.try_subscribe("/queue/x", nullptr, STOMP_ACK_AUTO, {}, id) == STOMP_ERR_INVALID_ARGUMENT);
    CHECK(id.empty());
}

void test_round_trip() {
    section("a round trip: listeners, headers, a body with NUL, receipts, the receive queue");
    stomp::options o = rabbit_options();
    o.set_receive_queue(16);
    stomp::connection first(o);
    Seen seen;
    std::atomic<int> old_listener_calls{0};
    stomp::listener replaced;
    replaced.on_message = [&](const stomp::frame_view &) { ++old_listener_calls; };
    first.set_listener("main", std::move(replaced));

    stomp::listener l;
    l.on_message = [&](const stomp::frame_view &m) {
        seen.update([&] { seen.bodies.emplace_back(m.body().str()); });
        if (m.header_or("x-throw", "") == "yes") throw std::runtime_error("thrown by on_message");
    };
    l.on_exception = [&](std::exception_ptr e, const char *callback) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception &ex) {
            seen.update([&] { seen.exceptions.push_back(std::string(callback) + ": " + ex.what()); });
        }
    };
    l.on_disconnected = [&] { seen.update([&] { ++seen.disconnected; }); };
    first.set_listener("main", std::move(l));  // replaces the first one

    stomp::connection conn(std::move(first));  // move-only: the listeners move with it
    CHECK(first.native_handle() == nullptr);
    conn.connect("guest", "guest");
    CHECK(conn.is_connected());
    CHECK(conn.version() == STOMP_VERSION_1_2);
    CHECK(conn.connected_frame().header_or("server", "").substr(0, 8) == "RabbitMQ");

    const std::string q = unique("rt");
    const std::string id = conn.subscribe(q);
    CHECK(id.size() == 36);  // a generated UUID
    const std::string body("C++\0with a NUL", 14);
    conn.send(q, body, "text/plain", {{"receipt", "cpp-r1"}, {"x-lang", "c++"}, {"x-colon", "a:b"}});
    conn.wait_receipt("cpp-r1", 10s);

    std::optional<stomp::frame> m = conn.receive(10s);
    CHECK(m.has_value());
    CHECK(m->command() == "MESSAGE");
    CHECK(m->header("x-lang") == std::optional<std::string_view>("c++"));
    CHECK(m->header(std::string_view("x-colon")) == std::optional<std::string_view>("a:b"));
    CHECK(!m->header("absent").has_value());
    CHECK(m->header_or("subscription", "") == id);
    CHECK(m->body().size() == 14 && m->body()[3] == 0 && m->body().str() == body);
    bool found = false;
    for (std::size_t i = 0; i < m->header_count(); ++i) {
        auto h = m->header_at(i);
        CHECK(h.has_value());
        if (h->first == "x-lang") found = h->second == "c++";
    }
    CHECK(found);
    CHECK(!m->header_at(m->header_count()).has_value());
    stomp::frame copy = m->clone();
    m.reset();
    CHECK(copy.body().str() == body);  // the clone outlives the original

    CHECK(seen.wait([&] { return seen.bodies.size() == 1; }));
    CHECK(seen.bodies[0] == body);
    CHECK(old_listener_calls == 0);  // the replaced listener hears nothing

    section("an exception from a callback reaches on_exception, and the connection goes on");
    conn.send(q, "throw", nullptr, {{"x-throw", "yes"}});
    conn.send(q, "after", nullptr, {{"receipt", "cpp-r2"}});
    conn.wait_receipt("cpp-r2", 10s);
    CHECK(seen.wait([&] { return seen.bodies.size() == 3; }));
    CHECK(seen.bodies[1] == "throw" && seen.bodies[2] == "after");
    CHECK(seen.exceptions.size() == 1 && seen.exceptions[0] == "on_message: thrown by on_message");
    CHECK(conn.receive(10s).has_value() && conn.receive(10s).has_value());
    CHECK(!conn.receive(100ms).has_value());  // a timeout is no message, not an error

    section("transactions and the non-throwing variants");
    const std::string tx = conn.begin();
    CHECK(tx.size() == 36);
    conn.send(q, "in tx", nullptr, {{"transaction", tx}});
    conn.commit(tx);
    CHECK(conn.receive(10s).has_value());
    CHECK(conn.try_unsubscribe(id) == STOMP_OK);

    conn.remove_listener("main");
    CHECK_THROWS(conn.remove_listener("main"), STOMP_ERR_NOT_FOUND);
    conn.disconnect();
    CHECK(!conn.is_connected());
}

void test_ack_and_errors_from_the_broker() {
    section("client ack, nack and the broker's ERROR frame");
    stomp::connection conn(rabbit_options().set_receive_queue(4));
    Seen seen;
    std::string error_message;
    stomp::listener l;
    l.on_error = [&](const stomp::frame_view &e) {
        seen.update([&] { error_message = std::string(e.header_or("message", "")); });
    };
    conn.set_listener("", std::move(l));
    conn.connect("guest", "guest");
    const std::string q = unique("ack");
    conn.subscribe(q, "s1", STOMP_ACK_CLIENT_INDIVIDUAL);
    conn.send(q, "ack me");
    auto m = conn.receive(10s);
    CHECK(m.has_value() && m->header_or("redelivered", "") == "false");
    conn.nack(*m);
    auto again = conn.receive(10s);
    CHECK(again.has_value() && again->header_or("redelivered", "") == "true");
    conn.ack(*again);

    conn.commit("no-such-transaction");
    CHECK(seen.wait([&] { return !error_message.empty(); }));
    CHECK(error_message == "Bad transaction");
}

void test_stats_and_log() {
    section("stats() counts the session; the log callback never sees the passcode");
    const std::string passcode = "guest";  // RabbitMQ's: masked, so "guest" never appears
    std::mutex mu;
    std::vector<std::string> lines;
    stomp::set_log_callback(
        [&](stomp_log_level level, std::string_view m) {
            std::lock_guard<std::mutex> g(mu);
            lines.push_back(std::to_string(static_cast<int>(level)) + " " + std::string(m));
        },
        STOMP_LOG_TRACE);
    CHECK(stomp::try_set_log_callback({}, static_cast<stomp_log_level>(9)) == STOMP_ERR_INVALID_ARGUMENT);
    stomp::options o = rabbit_options();
    o.set_receive_queue(8);
    stomp::connection c(o);
    CHECK(c.stats().connections == 0);
    c.connect("guest", passcode);
    std::string q = unique("stats");
    c.subscribe(q, "s", STOMP_ACK_AUTO, {{"receipt", "sub"}});
    c.wait_receipt("sub", 10s);
    for (int i = 0; i < 3; i++) c.send(q, "m", nullptr, {{"receipt", "r" + std::to_string(i)}});
    for (int i = 0; i < 3; i++) c.wait_receipt("r" + std::to_string(i), 10s);
    for (int i = 0; i < 3; i++) CHECK(c.receive(10s).has_value());
    c.disconnect("bye");
    stomp_stats s = c.stats();
    CHECK(s.size == sizeof s);
    CHECK(s.connections == 1 && s.disconnects == 1);
    CHECK(s.messages_sent == 3 && s.messages_received == 3 && s.receipts_received == 5);
    std::string text = stomp::stats_text(s);
    CHECK(text.rfind("connections: 1\n", 0) == 0);
    CHECK(text.find("messages_sent: 3\n") != std::string::npos);
    CHECK(stomp::log_flush(10s));
    stomp::set_log_callback({}, STOMP_LOG_OFF);
    std::lock_guard<std::mutex> g(mu);
    bool traced = false, leaked = false;
    for (const auto &l : lines) {
        traced = traced || l.find(">>> CONNECT ") != std::string::npos;
        leaked = leaked || l.find(passcode) != std::string::npos;
    }
    CHECK(traced);
    CHECK(!leaked);
}

void test_destroyed_inside_its_callback() {
    section("a connection destroyed from inside its own callback");
    Seen seen;
    auto conn = std::make_unique<stomp::connection>(rabbit_options());
    stomp::listener l;
    l.on_message = [&](const stomp::frame_view &m) {
        std::string b(m.body().str());
        conn.reset();  // frees the connection; the wrapper frees this listener after the return
        seen.update([&] { seen.bodies.push_back(b); });
    };
    conn->set_listener("", std::move(l));
    conn->connect("guest", "guest");
    const std::string q = unique("self");
    conn->subscribe(q);
    conn->send(q, "last words");
    CHECK(seen.wait([&] { return seen.bodies.size() == 1; }));
    CHECK(seen.bodies[0] == "last words");
    CHECK(conn == nullptr);
}

}  // namespace

void test_disconnect_reason() {
    section("on_disconnected_reason: the code and message, before on_disconnected");
    stomp::connection conn(rabbit_options());
    Seen seen;
    std::vector<std::string> order;
    stomp_result code = STOMP_ERR_INTERNAL;
    std::string message;
    stomp::listener l;
    l.on_disconnected_reason = [&](stomp_result c, std::string_view m) {
        seen.update([&] {
            code = c;
            message = std::string(m);
            order.push_back("reason");
        });
    };
    l.on_disconnected = [&] {
        seen.update([&] {
            ++seen.disconnected;
            order.push_back("disconnected");
        });
    };
    conn.set_listener("reason", std::move(l));
    conn.connect("guest", "guest");
    conn.disconnect();
    CHECK(seen.wait([&] { return seen.disconnected == 1; }));
    CHECK(code == STOMP_OK);
    CHECK(message == "disconnected by the client");
    CHECK(order.size() == 2 && order[0] == "reason" && order[1] == "disconnected");
}

int main() {
    std::printf("test_stomp_hpp: libstomp %s, header %s\n", std::string(stomp::version_string()).c_str(),
                STOMP_VERSION_STRING);
    try {
        test_versions_and_errors();
        test_round_trip();
        test_ack_and_errors_from_the_broker();
        test_destroyed_inside_its_callback();
        test_stats_and_log();
        test_disconnect_reason();
    } catch (const stomp::error &e) {
        fail("an unexpected stomp::error", __LINE__, e.what());
    }
    std::printf("\ntest_stomp_hpp: all %d checks passed\n", checks);
    return 0;
}
