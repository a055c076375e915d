/*
 * stomp.hpp - libstomp for C++17: a header-only wrapper over the C API of stomp.h.
 *
 * Written by hand (stomp.h is generated); it adds no symbol to libstomp and links to it like C does.
 */
/**
 * @file stomp.hpp
 * @brief C++17 wrapper over stomp.h: RAII handles, std::function listeners, exceptions.
 *
 * - stomp::options, stomp::connection and stomp::frame own their C handle and free it in their
 *   destructor; they are move-only.
 * - Every call that can fail has two forms: `x(...)` throws stomp::error (which carries the
 *   stomp_result code and the library's detail from stomp_last_error()), and `try_x(...)` returns
 *   the stomp_result instead and never throws stomp::error (only std::bad_alloc, when building the
 *   C arguments runs out of memory).
 * - Listeners are structs of std::function (stomp::listener), held by the connection: see
 *   connection::set_listener for their lifetime and for what happens to an exception a callback
 *   throws (it never crosses into the library).
 * - Strings the library lends (frame headers, bodies) are std::string_view / stomp::body_view,
 *   valid as long as the frame they come from.
 *
 * Threads are those of the C API (see stomp.h): callbacks run on the library's dispatch threads,
 * and every connection call may be made from any thread, callbacks included.
 */
#ifndef STOMP_HPP
#define STOMP_HPP

#include <stomp.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

/** The C++ wrapper's namespace. */
namespace stomp {

/** A failed call: the library's result code, and its text with the detail of the failure. */
class error : public std::runtime_error {
public:
    /** An error for `code`; `what()` is stomp_strerror(code), then ": " and `detail` if not empty. */
    error(stomp_result code, const std::string &detail)
        : std::runtime_error(detail.empty() ? std::string(stomp_strerror(code))
                                            : std::string(stomp_strerror(code)) + ": " + detail),
          code_(code) {}

    /** The stomp_result of the failed call (never STOMP_OK). */
    stomp_result code() const noexcept { return code_; }

private:
    stomp_result code_;
};

/** Throws stomp::error for any `rc` but STOMP_OK, with the calling thread's stomp_last_error(). */
inline void check(stomp_result rc) {
    if (rc != STOMP_OK) throw error(rc, stomp_last_error());
}

/** The library's version at run time, e.g. "0.1.0" (stomp_version_string()). */
inline std::string_view version_string() noexcept { return stomp_version_string(); }

/**
 * A NUL-terminated string argument, made from what a C++ caller has at hand: a C string (NULL
 * allowed where the C function allows it), a std::string (borrowed), or a std::string_view
 * (copied, as it need not end with a NUL). Meant only as a parameter type: it lives as long as
 * the call's full expression.
 */
class zstring {
public:
    /** NULL: "none" where the C function accepts NULL. */
    zstring(std::nullptr_t) noexcept {}
    /** A C string, borrowed; NULL is "none". */
    zstring(const char *s) noexcept : ptr_(s) {}
    /** A std::string, borrowed. */
    zstring(const std::string &s) noexcept : ptr_(s.c_str()) {}
    /** A std::string_view, copied to add the NUL. */
    zstring(std::string_view s) : copy_(s), ptr_(copy_.c_str()) {}
    zstring(const zstring &) = delete;
    zstring &operator=(const zstring &) = delete;

    /** The C string (NULL for "none"). */
    const char *c_str() const noexcept { return ptr_; }

private:
    std::string copy_;
    const char *ptr_ = nullptr;
};

/** Extra headers for a call, in order: `{{"receipt", "r-1"}, {"x-kind", "test"}}`. */
using headers = std::vector<std::pair<std::string, std::string>>;

namespace detail {

/* The C view of a `headers` list: pointers into it, valid while it lives. */
inline std::vector<stomp_header> c_headers(const headers &hs) {
    std::vector<stomp_header> out;
    out.reserve(hs.size());
    for (const auto &h : hs) out.push_back(stomp_header{h.first.c_str(), h.second.c_str()});
    return out;
}

/* A timeout for the C API: negative is 0, more than the C type holds is its maximum. */
inline std::uint32_t c_timeout(std::chrono::milliseconds t) noexcept {
    if (t.count() <= 0) return 0;
    if (t.count() >= static_cast<long long>(std::numeric_limits<std::uint32_t>::max()))
        return std::numeric_limits<std::uint32_t>::max();
    return static_cast<std::uint32_t>(t.count());
}

inline std::string_view view_of(const char *s) noexcept { return s == nullptr ? std::string_view() : s; }

}  // namespace detail

/**
 * A view of bytes (a span of const std::uint8_t): a frame's body, or a body to send. It does not
 * own them; it is valid as long as what it was made from.
 */
class body_view {
public:
    body_view() noexcept = default;
    /** `size` bytes at `data` (which may be NULL when `size` is 0). */
    body_view(const void *data, std::size_t size) noexcept
        : data_(static_cast<const std::uint8_t *>(data)), size_(size) {}
    /** The characters of `s`, without a NUL. */
    body_view(std::string_view s) noexcept : body_view(s.data(), s.size()) {}
    /** The characters of the C string `s` (NULL is empty). */
    body_view(const char *s) noexcept : body_view(detail::view_of(s)) {}
    /** The characters of `s` (NUL bytes inside included). */
    body_view(const std::string &s) noexcept : body_view(s.data(), s.size()) {}
    /** Any contiguous container of bytes (std::vector<std::uint8_t>, std::array<char, N>, ...). */
    template <class C, class = std::enable_if_t<sizeof(*std::declval<const C &>().data()) == 1 &&
                                                !std::is_convertible_v<const C &, std::string_view>>>
    body_view(const C &c) noexcept : body_view(c.data(), c.size()) {}

    /** The first byte (NULL or any pointer when empty). */
    const std::uint8_t *data() const noexcept { return data_; }
    /** How many bytes. */
    std::size_t size() const noexcept { return size_; }
    /** Whether there are none. */
    bool empty() const noexcept { return size_ == 0; }
    /** For range-for: the first byte. */
    const std::uint8_t *begin() const noexcept { return data_; }
    /** For range-for: past the last byte. */
    const std::uint8_t *end() const noexcept { return data_ + size_; }
    /** The `i`-th byte; `i` < size(). */
    std::uint8_t operator[](std::size_t i) const noexcept { return data_[i]; }
    /** The same bytes as characters. */
    std::string_view str() const noexcept {
        return size_ == 0 ? std::string_view() : std::string_view(reinterpret_cast<const char *>(data_), size_);
    }

private:
    const std::uint8_t *data_ = nullptr;
    std::size_t size_ = 0;
};

class frame;

/**
 * A frame the library lends (to a callback) or that a stomp::frame owns. Copying the view does
 * not copy the frame: a view passed to a callback is valid only during the callback; keep the
 * frame with clone().
 */
class frame_view {
public:
    /** A view of `f` (which may be NULL: every accessor then returns an empty result). */
    explicit frame_view(const stomp_frame *f) noexcept : f_(f) {}

    /** "MESSAGE", "RECEIPT", ... */
    std::string_view command() const noexcept { return detail::view_of(stomp_frame_command(f_)); }
    /** The value of the first header called `name` (repeated headers: the first wins), if any. */
    std::optional<std::string_view> header(const zstring &name) const noexcept {
        const char *v = stomp_frame_header(f_, name.c_str());
        if (v == nullptr) return std::nullopt;
        return std::string_view(v);
    }
    /** The value of header `name`, or `fallback` when it is absent. */
    std::string_view header_or(const zstring &name, std::string_view fallback) const noexcept {
        return header(name).value_or(fallback);
    }
    /** How many headers, repeats included. */
    std::size_t header_count() const noexcept { return stomp_frame_header_count(f_); }
    /** The `index`-th header (name, value) in the order received; nullopt past the end. */
    std::optional<std::pair<std::string_view, std::string_view>> header_at(std::size_t index) const noexcept {
        const char *name = nullptr;
        const char *value = nullptr;
        if (stomp_frame_header_at(f_, index, &name, &value) != STOMP_OK) return std::nullopt;
        return std::make_pair(std::string_view(name), std::string_view(value));
    }
    /** The body (NUL bytes allowed). */
    body_view body() const noexcept {
        std::size_t n = 0;
        const std::uint8_t *b = stomp_frame_body(f_, &n);
        return body_view(b, n);
    }
    /** A copy the caller owns. */
    frame clone() const;

    /** The C frame, for the C API. */
    const stomp_frame *native_handle() const noexcept { return f_; }

protected:
    const stomp_frame *f_; /**< The frame viewed (owned by stomp::frame, borrowed otherwise). */
};

/** A frame the program owns (from receive(), connected_frame() or clone()); move-only. */
class frame : public frame_view {
public:
    /** Takes ownership of `f` (from stomp_receive, stomp_frame_clone, ...). */
    explicit frame(stomp_frame *f) noexcept : frame_view(f) {}
    /** Takes over `o`'s frame; `o` is left empty (a view of NULL). */
    frame(frame &&o) noexcept : frame_view(o.f_) { o.f_ = nullptr; }
    /** Swaps with `o`, whose destructor frees this one's former frame. */
    frame &operator=(frame &&o) noexcept {
        std::swap(f_, o.f_);
        return *this;
    }
    frame(const frame &) = delete;
    frame &operator=(const frame &) = delete;
    ~frame() { stomp_frame_free(const_cast<stomp_frame *>(f_)); }
};

inline frame frame_view::clone() const {
    stomp_frame *c = stomp_frame_clone(f_);
    if (c == nullptr && f_ != nullptr) throw std::bad_alloc();
    return frame(c);
}

/**
 * Connection options (stomp_options): chain the setters, then make connections from it (each
 * takes a copy). Not thread-safe; the setters' defaults are those of stomp.h.
 */
class options {
public:
    /** The defaults of stomp_options_new(). */
    options() : o_(stomp_options_new()) {
        if (o_ == nullptr) throw std::bad_alloc();
    }
    /** Takes over `o`'s options; `o` is left empty. */
    options(options &&o) noexcept : o_(std::exchange(o.o_, nullptr)) {}
    /** Swaps with `o`, whose destructor frees this one's former options. */
    options &operator=(options &&o) noexcept {
        std::swap(o_, o.o_);
        return *this;
    }
    options(const options &) = delete;
    options &operator=(const options &) = delete;
    ~options() { stomp_options_free(o_); }

    /** stomp_options_add_host. */
    stomp_result try_add_host(const zstring &host, std::uint16_t port) noexcept {
        return stomp_options_add_host(o_, host.c_str(), port);
    }
    /** As try_add_host(), but a failure throws stomp::error; returns `*this`. */
    options &add_host(const zstring &host, std::uint16_t port) { return done(try_add_host(host, port)); }

    /** stomp_options_add_host_login. */
    stomp_result try_add_host_login(const zstring &host, std::uint16_t port, const zstring &login,
                                    const zstring &passcode) noexcept {
        return stomp_options_add_host_login(o_, host.c_str(), port, login.c_str(), passcode.c_str());
    }
    /** As try_add_host_login(), but a failure throws stomp::error; returns `*this`. */
    options &add_host_login(const zstring &host, std::uint16_t port, const zstring &login, const zstring &passcode) {
        return done(try_add_host_login(host, port, login, passcode));
    }

    /** stomp_options_set_version. */
    stomp_result try_set_version(stomp_version v) noexcept { return stomp_options_set_version(o_, v); }
    /** As try_set_version(), but a failure throws stomp::error; returns `*this`. */
    options &set_version(stomp_version v) { return done(try_set_version(v)); }

    /** stomp_options_set_vhost (nullptr removes it). */
    stomp_result try_set_vhost(const zstring &vhost) noexcept { return stomp_options_set_vhost(o_, vhost.c_str()); }
    /** As try_set_vhost(), but a failure throws stomp::error; returns `*this`. */
    options &set_vhost(const zstring &vhost) { return done(try_set_vhost(vhost)); }

    /** stomp_options_set_heartbeats. */
    stomp_result try_set_heartbeats(std::chrono::milliseconds send, std::chrono::milliseconds receive) noexcept {
        return stomp_options_set_heartbeats(o_, detail::c_timeout(send), detail::c_timeout(receive));
    }
    /** As try_set_heartbeats(), but a failure throws stomp::error; returns `*this`. */
    options &set_heartbeats(std::chrono::milliseconds send, std::chrono::milliseconds receive) {
        return done(try_set_heartbeats(send, receive));
    }

    /** stomp_options_set_receive_queue (0: off). */
    stomp_result try_set_receive_queue(std::size_t capacity) noexcept {
        return stomp_options_set_receive_queue(o_, capacity);
    }
    /** As try_set_receive_queue(), but a failure throws stomp::error; returns `*this`. */
    options &set_receive_queue(std::size_t capacity) { return done(try_set_receive_queue(capacity)); }

    /** stomp_options_set_auto_content_length. */
    stomp_result try_set_auto_content_length(bool on) noexcept {
        return stomp_options_set_auto_content_length(o_, on);
    }
    /** As try_set_auto_content_length(), but a failure throws stomp::error; returns `*this`. */
    options &set_auto_content_length(bool on) { return done(try_set_auto_content_length(on)); }

    /** stomp_options_set_stomp_command. */
    stomp_result try_set_stomp_command(bool on) noexcept { return stomp_options_set_stomp_command(o_, on); }
    /** As try_set_stomp_command(), but a failure throws stomp::error; returns `*this`. */
    options &set_stomp_command(bool on) { return done(try_set_stomp_command(on)); }

    /** stomp_options_set_reconnect (stomp.py's reconnect parameters). */
    stomp_result try_set_reconnect(double sleep_initial, double sleep_increase, double sleep_jitter, double sleep_max,
                                   int attempts_max) noexcept {
        return stomp_options_set_reconnect(o_, sleep_initial, sleep_increase, sleep_jitter, sleep_max, attempts_max);
    }
    /** As try_set_reconnect(), but a failure throws stomp::error; returns `*this`. */
    options &set_reconnect(double sleep_initial, double sleep_increase, double sleep_jitter, double sleep_max,
                           int attempts_max) {
        return done(try_set_reconnect(sleep_initial, sleep_increase, sleep_jitter, sleep_max, attempts_max));
    }

    /** stomp_options_set_connect_timeout. */
    stomp_result try_set_connect_timeout(std::chrono::milliseconds t) noexcept {
        return stomp_options_set_connect_timeout(o_, detail::c_timeout(t));
    }
    /** As try_set_connect_timeout(), but a failure throws stomp::error; returns `*this`. */
    options &set_connect_timeout(std::chrono::milliseconds t) { return done(try_set_connect_timeout(t)); }

    /** stomp_options_set_auto_reconnect. */
    stomp_result try_set_auto_reconnect(bool on) noexcept { return stomp_options_set_auto_reconnect(o_, on); }
    /** As try_set_auto_reconnect(), but a failure throws stomp::error; returns `*this`. */
    options &set_auto_reconnect(bool on) { return done(try_set_auto_reconnect(on)); }

    /** The C options, for the C API calls this wrapper does not cover. */
    stomp_options *native_handle() const noexcept { return o_; }

private:
    options &done(stomp_result rc) {
        check(rc);
        return *this;
    }
    stomp_options *o_;
};

/**
 * Callbacks for connection events; leave empty those you do not want (the library then skips
 * that event for this listener). Which thread runs them, and how long a frame_view lives: see
 * stomp_listener in stomp.h (a dispatch thread; one callback of a connection at a time; the view
 * only during the call).
 *
 * An exception a callback throws never reaches the library: it is caught, and handed to
 * `on_exception` with the name of the callback that threw ("on_message", ...); without an
 * `on_exception`, it is printed to stderr. Either way the event counts as handled and the
 * connection goes on. An exception from `on_exception` itself is printed and dropped.
 */
struct listener {
    /** A TCP connection to `host:port` is about to be tried. */
    std::function<void(std::string_view host, std::uint16_t port)> on_connecting;
    /** CONNECTED arrived. */
    std::function<void(const frame_view &connected)> on_connected;
    /** disconnect() was called; DISCONNECT is about to be sent. */
    std::function<void()> on_disconnecting;
    /** The link to the broker is gone, asked for or not (one that came up and never got
     * CONNECTED included, once the connect gives up). */
    std::function<void()> on_disconnected;
    /** Nothing heard from the broker in time; the link is closed. */
    std::function<void()> on_heartbeat_timeout;
    /** A MESSAGE, before on_message (of every listener). */
    std::function<void(const frame_view &message)> on_before_message;
    /** A MESSAGE. */
    std::function<void(const frame_view &message)> on_message;
    /** A RECEIPT. */
    std::function<void(const frame_view &receipt)> on_receipt;
    /** An ERROR frame from the broker. */
    std::function<void(const frame_view &error)> on_error;
    /** A frame was handed to the socket (CONNECT too, its passcode shown as "********"). */
    std::function<void(const frame_view &sent)> on_send;
    /** A heart-beat arrived from the broker. */
    std::function<void()> on_heartbeat;
    /** The connection ended and will not reconnect by itself. */
    std::function<void()> on_receiver_loop_completed;
    /** Why the connection went down (just before on_disconnected, or before
     * on_receiver_loop_completed when no link came up): the code (STOMP_OK when the application
     * asked for the end) and the message; see on_disconnected_reason in stomp.h. */
    std::function<void(stomp_result code, std::string_view message)> on_disconnected_reason;
    /** Another callback of this listener threw: the exception, and the callback's name. */
    std::function<void(std::exception_ptr e, const char *callback)> on_exception;
};

namespace detail {

struct connection_state;

/* What a C callback's user_data points to: one listener, and the state of its connection. */
struct listener_holder {
    listener l;
    connection_state *owner;
};

/*
 * A connection's listeners. The holders of replaced or removed listeners are kept until the
 * connection is freed, since a callback of theirs may still be running or about to run when
 * stomp_set_listener / stomp_remove_listener return.
 */
struct connection_state {
    std::mutex mu;
    std::map<std::string, std::unique_ptr<listener_holder>> current;
    std::vector<std::unique_ptr<listener_holder>> retired;
    /* Set when the connection is destroyed from inside one of its own callbacks: that callback's
     * trampoline frees this state once the callback returns (no other callback follows). */
    bool orphaned = false;
};

/* The connection whose callback the calling thread is running, if any. */
inline connection_state *&running_callback_of() {
    static thread_local connection_state *s = nullptr;
    return s;
}

inline void report_exception(const listener &l, const char *callback) noexcept {
    std::exception_ptr e = std::current_exception();
    if (l.on_exception) {
        try {
            l.on_exception(e, callback);
            return;
        } catch (...) {
            callback = "on_exception";
            e = std::current_exception();
        }
    }
    try {
        std::rethrow_exception(e);
    } catch (const std::exception &ex) {
        std::fprintf(stderr, "stomp.hpp: %s threw: %s\n", callback, ex.what());
    } catch (...) {
        std::fprintf(stderr, "stomp.hpp: %s threw a non-std::exception\n", callback);
    }
}

/* Runs `f(args...)` for the listener in `user_data`, catching what it throws; frees the
 * connection's state afterwards if the callback destroyed its own connection. */
template <class F, class... A>
void invoke(void *user_data, const char *name, F listener::*member, A &&...args) noexcept {
    auto *h = static_cast<listener_holder *>(user_data);
    connection_state *&running = running_callback_of();
    connection_state *outer = running;
    running = h->owner;
    try {
        (h->l.*member)(std::forward<A>(args)...);
    } catch (...) {
        report_exception(h->l, name);
    }
    running = outer;
    if (h->owner->orphaned) delete h->owner;
}

#define STOMP_HPP_TRAMPOLINE_0(cb)                                                 \
    inline void cb(void *ud) { invoke(ud, #cb, &listener::cb); }
#define STOMP_HPP_TRAMPOLINE_FRAME(cb)                                             \
    inline void cb(void *ud, const stomp_frame *f) { invoke(ud, #cb, &listener::cb, frame_view(f)); }

namespace trampoline {
inline void on_connecting(void *ud, const char *host, std::uint16_t port) {
    invoke(ud, "on_connecting", &listener::on_connecting, view_of(host), port);
}
STOMP_HPP_TRAMPOLINE_FRAME(on_connected)
STOMP_HPP_TRAMPOLINE_0(on_disconnecting)
STOMP_HPP_TRAMPOLINE_0(on_disconnected)
STOMP_HPP_TRAMPOLINE_0(on_heartbeat_timeout)
STOMP_HPP_TRAMPOLINE_FRAME(on_before_message)
STOMP_HPP_TRAMPOLINE_FRAME(on_message)
STOMP_HPP_TRAMPOLINE_FRAME(on_receipt)
STOMP_HPP_TRAMPOLINE_FRAME(on_error)
STOMP_HPP_TRAMPOLINE_FRAME(on_send)
STOMP_HPP_TRAMPOLINE_0(on_heartbeat)
STOMP_HPP_TRAMPOLINE_0(on_receiver_loop_completed)
inline void on_disconnected_reason(void *ud, stomp_result code, const char *message) {
    invoke(ud, "on_disconnected_reason", &listener::on_disconnected_reason, code, view_of(message));
}
}  // namespace trampoline

#undef STOMP_HPP_TRAMPOLINE_0
#undef STOMP_HPP_TRAMPOLINE_FRAME

/* The C listener for `h`: a trampoline for each callback `h` has, NULL for the others. */
inline stomp_listener c_listener(listener_holder *h) noexcept {
    stomp_listener c = STOMP_LISTENER_INIT;
    c.user_data = h;
    const listener &l = h->l;
#define STOMP_HPP_SET(cb) \
    if (l.cb) c.cb = trampoline::cb;
    STOMP_HPP_SET(on_connecting)
    STOMP_HPP_SET(on_connected)
    STOMP_HPP_SET(on_disconnecting)
    STOMP_HPP_SET(on_disconnected)
    STOMP_HPP_SET(on_heartbeat_timeout)
    STOMP_HPP_SET(on_before_message)
    STOMP_HPP_SET(on_message)
    STOMP_HPP_SET(on_receipt)
    STOMP_HPP_SET(on_error)
    STOMP_HPP_SET(on_send)
    STOMP_HPP_SET(on_heartbeat)
    STOMP_HPP_SET(on_receiver_loop_completed)
    STOMP_HPP_SET(on_disconnected_reason)
#undef STOMP_HPP_SET
    return c;
}

}  // namespace detail

/**
 * A connection to a broker (stomp_connection), move-only. Its destructor closes the link at once
 * (call disconnect() first for a graceful end) and returns when none of its callbacks is running.
 * Every member may be called from any thread at the same time, callbacks included, except the
 * destructor and the move operations, which must be the last use of the object.
 */
class connection {
public:
    /** An empty connection (no handle); every call on it fails with STOMP_ERR_INVALID_ARGUMENT. */
    connection() noexcept = default;

    /** A new, unconnected connection with a copy of `opts`; stomp::error if they are unusable. */
    explicit connection(const options &opts) {
        check(try_create(opts, *this));
    }

    /** The non-throwing constructor: on STOMP_OK, `out` holds the new connection. */
    static stomp_result try_create(const options &opts, connection &out) {
        auto state = std::make_unique<detail::connection_state>();
        stomp_connection *c = stomp_connection_new(opts.native_handle());
        if (c == nullptr) return STOMP_ERR_INVALID_ARGUMENT;
        out = connection(c, std::move(state));
        return STOMP_OK;
    }

    /** Takes over `o`'s connection and listeners; `o` is left empty. */
    connection(connection &&o) noexcept : c_(std::exchange(o.c_, nullptr)), state_(std::move(o.state_)) {}
    /** Frees this connection (as the destructor does), then takes over `o`'s. */
    connection &operator=(connection &&o) noexcept {
        connection old(std::move(*this));
        c_ = std::exchange(o.c_, nullptr);
        state_ = std::move(o.state_);
        return *this;
    }
    connection(const connection &) = delete;
    connection &operator=(const connection &) = delete;

    ~connection() {
        stomp_connection_free(c_);
        // From inside one of its own callbacks the free cannot wait for that callback, which is
        // still running on a listener in the state: its trampoline frees the state on return.
        if (state_ && detail::running_callback_of() == state_.get()) {
            state_->orphaned = true;
            state_.release();
        }
    }

    /**
     * Adds (or replaces) the listener called `name`. The connection keeps `l` (moved in) until it
     * is destroyed; a replaced or removed listener is kept too, as one of its callbacks may still
     * run shortly after this returns.
     */
    stomp_result try_set_listener(const std::string &name, listener l) {
        // An empty connection: the library's own refusal, with its stomp_last_error().
        if (c_ == nullptr) return stomp_set_listener(nullptr, name.c_str(), nullptr);
        auto h = std::make_unique<detail::listener_holder>(detail::listener_holder{std::move(l), state_.get()});
        const stomp_listener c = detail::c_listener(h.get());
        std::lock_guard<std::mutex> g(state_->mu);
        // Under the lock: two threads setting the same name keep the holder the library uses.
        stomp_result rc = stomp_set_listener(c_, name.c_str(), &c);
        if (rc != STOMP_OK) return rc;
        auto &slot = state_->current[name];
        if (slot) state_->retired.push_back(std::move(slot));
        slot = std::move(h);
        return STOMP_OK;
    }
    /** As try_set_listener(), but a failure throws stomp::error. */
    void set_listener(const std::string &name, listener l) { check(try_set_listener(name, std::move(l))); }

    /** Removes the listener called `name` (STOMP_ERR_NOT_FOUND if none). */
    stomp_result try_remove_listener(const std::string &name) {
        if (c_ == nullptr) return stomp_remove_listener(nullptr, name.c_str());
        std::lock_guard<std::mutex> g(state_->mu);
        stomp_result rc = stomp_remove_listener(c_, name.c_str());
        auto it = state_->current.find(name);
        if (it != state_->current.end()) {
            state_->retired.push_back(std::move(it->second));
            state_->current.erase(it);
        }
        return rc;
    }
    /** As try_remove_listener(), but a failure throws stomp::error. */
    void remove_listener(const std::string &name) { check(try_remove_listener(name)); }

    /** stomp_set_printing_listener: every event printed to stdout, passcode masked. */
    stomp_result try_set_printing_listener(const zstring &name) noexcept {
        return stomp_set_printing_listener(c_, name.c_str());
    }
    /** As try_set_printing_listener(), but a failure throws stomp::error. */
    void set_printing_listener(const zstring &name) { check(try_set_printing_listener(name)); }

    /** stomp_connect: with `wait`, returns once CONNECTED arrived (or throws what ended the attempt). */
    stomp_result try_connect(const zstring &login, const zstring &passcode, const headers &extra = {},
                             bool wait = true) {
        const auto hs = detail::c_headers(extra);
        return stomp_connect(c_, login.c_str(), passcode.c_str(), hs.data(), hs.size(), wait);
    }
    /** As try_connect(), but a failure throws stomp::error. */
    void connect(const zstring &login, const zstring &passcode, const headers &extra = {}, bool wait = true) {
        check(try_connect(login, passcode, extra, wait));
    }

    /** stomp_send: `body` to `destination`, with a content type (nullptr: none) and extra headers. */
    stomp_result try_send(const zstring &destination, body_view body, const zstring &content_type = nullptr,
                          const headers &extra = {}) {
        const auto hs = detail::c_headers(extra);
        return stomp_send(c_, destination.c_str(), body.data(), body.size(), content_type.c_str(), hs.data(),
                          hs.size());
    }
    /** As try_send(), but a failure throws stomp::error. */
    void send(const zstring &destination, body_view body, const zstring &content_type = nullptr,
              const headers &extra = {}) {
        check(try_send(destination, body, content_type, extra));
    }

    /** stomp_send_frame: any frame but CONNECT/STOMP. */
    stomp_result try_send_frame(const zstring &command, const headers &hs, body_view body = {}) {
        const auto c = detail::c_headers(hs);
        return stomp_send_frame(c_, command.c_str(), c.data(), c.size(), body.data(), body.size());
    }
    /** As try_send_frame(), but a failure throws stomp::error. */
    void send_frame(const zstring &command, const headers &hs, body_view body = {}) {
        check(try_send_frame(command, hs, body));
    }

    /** stomp_subscribe_out: subscribes with `id` (nullptr: a generated one) and writes the id to `id_out`. */
    stomp_result try_subscribe(const zstring &destination, const zstring &id, stomp_ack_mode ack,
                               const headers &extra, std::string &id_out) {
        const auto hs = detail::c_headers(extra);
        std::string buf(id.c_str() == nullptr ? 37 : std::char_traits<char>::length(id.c_str()) + 1, '\0');
        stomp_result rc = stomp_subscribe_out(c_, destination.c_str(), id.c_str(), ack, hs.data(), hs.size(),
                                              buf.data(), buf.size());
        if (rc == STOMP_OK) id_out.assign(buf.c_str());
        return rc;
    }
    /** Subscribes; returns the subscription id (the one given, or the generated one). */
    std::string subscribe(const zstring &destination, const zstring &id = nullptr, stomp_ack_mode ack = STOMP_ACK_AUTO,
                          const headers &extra = {}) {
        std::string out;
        check(try_subscribe(destination, id, ack, extra, out));
        return out;
    }

    /** stomp_unsubscribe. */
    stomp_result try_unsubscribe(const zstring &id, const headers &extra = {}) {
        const auto hs = detail::c_headers(extra);
        return stomp_unsubscribe(c_, id.c_str(), hs.data(), hs.size());
    }
    /** As try_unsubscribe(), but a failure throws stomp::error. */
    void unsubscribe(const zstring &id, const headers &extra = {}) { check(try_unsubscribe(id, extra)); }

    /** stomp_ack_frame: acknowledges a received MESSAGE. */
    stomp_result try_ack(const frame_view &message, const zstring &transaction = nullptr) noexcept {
        return stomp_ack_frame(c_, message.native_handle(), transaction.c_str());
    }
    /** As try_ack(), but a failure throws stomp::error. */
    void ack(const frame_view &message, const zstring &transaction = nullptr) { check(try_ack(message, transaction)); }

    /** stomp_nack_frame (1.1 and later). */
    stomp_result try_nack(const frame_view &message, const zstring &transaction = nullptr) noexcept {
        return stomp_nack_frame(c_, message.native_handle(), transaction.c_str());
    }
    /** As try_nack(), but a failure throws stomp::error. */
    void nack(const frame_view &message, const zstring &transaction = nullptr) {
        check(try_nack(message, transaction));
    }

    /** stomp_ack by id (and subscription under 1.1). */
    stomp_result try_ack(const zstring &id, const zstring &subscription, const zstring &transaction = nullptr) noexcept {
        return stomp_ack(c_, id.c_str(), subscription.c_str(), transaction.c_str());
    }
    /** As try_ack(), but a failure throws stomp::error. */
    void ack(const zstring &id, const zstring &subscription, const zstring &transaction = nullptr) {
        check(try_ack(id, subscription, transaction));
    }

    /** stomp_nack by id (and subscription under 1.1). */
    stomp_result try_nack(const zstring &id, const zstring &subscription, const zstring &transaction = nullptr) noexcept {
        return stomp_nack(c_, id.c_str(), subscription.c_str(), transaction.c_str());
    }
    /** As try_nack(), but a failure throws stomp::error. */
    void nack(const zstring &id, const zstring &subscription, const zstring &transaction = nullptr) {
        check(try_nack(id, subscription, transaction));
    }

    /** stomp_begin: begins `transaction` (nullptr: a generated id), written to `id_out`. */
    stomp_result try_begin(const zstring &transaction, std::string &id_out) {
        std::string buf(transaction.c_str() == nullptr ? 37 : std::char_traits<char>::length(transaction.c_str()) + 1,
                        '\0');
        stomp_result rc = stomp_begin(c_, transaction.c_str(), buf.data(), buf.size());
        if (rc == STOMP_OK) id_out.assign(buf.c_str());
        return rc;
    }
    /** Begins a transaction; returns its id. */
    std::string begin(const zstring &transaction = nullptr) {
        std::string out;
        check(try_begin(transaction, out));
        return out;
    }

    /** stomp_commit. */
    stomp_result try_commit(const zstring &transaction) noexcept { return stomp_commit(c_, transaction.c_str()); }
    /** As try_commit(), but a failure throws stomp::error. */
    void commit(const zstring &transaction) { check(try_commit(transaction)); }

    /** stomp_abort. */
    stomp_result try_abort(const zstring &transaction) noexcept { return stomp_abort(c_, transaction.c_str()); }
    /** As try_abort(), but a failure throws stomp::error. */
    void abort(const zstring &transaction) { check(try_abort(transaction)); }

    /** stomp_disconnect: DISCONNECT with `receipt` (nullptr: generated), waits up to `timeout`. */
    stomp_result try_disconnect(const zstring &receipt = nullptr,
                                std::chrono::milliseconds timeout = std::chrono::seconds(10)) noexcept {
        return stomp_disconnect(c_, receipt.c_str(), detail::c_timeout(timeout));
    }
    /** As try_disconnect(), but a failure throws stomp::error. */
    void disconnect(const zstring &receipt = nullptr, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        check(try_disconnect(receipt, timeout));
    }

    /** stomp_receive: on STOMP_OK `out` holds the next MESSAGE of the receive queue. */
    stomp_result try_receive(std::chrono::milliseconds timeout, std::optional<frame> &out) noexcept {
        stomp_frame *f = nullptr;
        stomp_result rc = stomp_receive(c_, detail::c_timeout(timeout), &f);
        if (rc == STOMP_OK) out.emplace(f);
        return rc;
    }
    /** The next MESSAGE of the receive queue, or nullopt when none came within `timeout`. */
    std::optional<frame> receive(std::chrono::milliseconds timeout) {
        std::optional<frame> out;
        stomp_result rc = try_receive(timeout, out);
        if (rc != STOMP_ERR_TIMEOUT) check(rc);
        return out;
    }

    /** stomp_wait_receipt. */
    stomp_result try_wait_receipt(const zstring &receipt_id, std::chrono::milliseconds timeout) noexcept {
        return stomp_wait_receipt(c_, receipt_id.c_str(), detail::c_timeout(timeout));
    }
    /** As try_wait_receipt(), but a failure throws stomp::error. */
    void wait_receipt(const zstring &receipt_id, std::chrono::milliseconds timeout) {
        check(try_wait_receipt(receipt_id, timeout));
    }

    /** Whether CONNECTED has arrived and the link is up. */
    bool is_connected() const noexcept { return stomp_is_connected(c_); }

    /** stomp_connection_version: the negotiated version. */
    stomp_result try_version(stomp_version &out) const noexcept { return stomp_connection_version(c_, &out); }
    /** As try_version(), but a failure throws stomp::error. */
    stomp_version version() const {
        stomp_version v{};
        check(try_version(v));
        return v;
    }

    /** stomp_connected_frame: a copy of the CONNECTED frame. */
    stomp_result try_connected_frame(std::optional<frame> &out) const noexcept {
        stomp_frame *f = nullptr;
        stomp_result rc = stomp_connected_frame(c_, &f);
        if (rc == STOMP_OK) out.emplace(f);
        return rc;
    }
    /** As try_connected_frame(), but a failure throws stomp::error. */
    frame connected_frame() const {
        std::optional<frame> out;
        check(try_connected_frame(out));
        return std::move(*out);
    }

    /** stomp_stats_get: the connection's counters, taken at one instant (`out.size` is set here). */
    stomp_result try_stats(stomp_stats &out) const noexcept {
        out = stomp_stats{};
        out.size = sizeof out;
        return stomp_stats_get(c_, &out);
    }
    /** As try_stats(), but a failure throws stomp::error. */
    stomp_stats stats() const {
        stomp_stats s{};
        check(try_stats(s));
        return s;
    }

    /** The C connection, for the C API calls this wrapper does not cover (never free it). */
    stomp_connection *native_handle() const noexcept { return c_; }

private:
    connection(stomp_connection *c, std::unique_ptr<detail::connection_state> s) noexcept
        : c_(c), state_(std::move(s)) {}

    stomp_connection *c_ = nullptr;
    std::unique_ptr<detail::connection_state> state_;
};

/** stomp_stats_format: the counters as text, one `name: value` line per counter. */
inline std::string stats_text(const stomp_stats &s) {
    char buf[1024];
    check(stomp_stats_format(&s, buf, sizeof buf));
    return buf;
}

/** A log sink: the level and one line of text (borrowed for the call). */
using log_function = std::function<void(stomp_log_level level, std::string_view message)>;

namespace detail {

/* The installed log sink; replaced only under log_mutex(), and destroyed only once the library has
 * said (by returning from stomp_set_log_callback) that it will not call the old one again. */
inline std::unique_ptr<log_function> &log_slot() {
    static std::unique_ptr<log_function> slot;
    return slot;
}
inline std::mutex &log_mutex() {
    static std::mutex m;
    return m;
}
inline void log_trampoline(void *user_data, stomp_log_level level, const char *message) noexcept {
    try {
        (*static_cast<log_function *>(user_data))(level, view_of(message));
    } catch (...) {
        /* A log sink that throws loses that line; nothing crosses into the library. */
    }
}

}  // namespace detail

/**
 * stomp_set_log_callback for a std::function: every library message at `level` and above goes to
 * `f`, on the library's "stomp-log" thread (see stomp_set_log_callback). An empty `f` goes back to
 * the STOMP_LOG environment variable. What `f` throws is dropped. Do not call this from inside `f`.
 */
inline stomp_result try_set_log_callback(log_function f, stomp_log_level level) {
    std::lock_guard<std::mutex> g(detail::log_mutex());
    std::unique_ptr<log_function> next;
    if (f) next = std::make_unique<log_function>(std::move(f));
    stomp_result rc = next ? stomp_set_log_callback(detail::log_trampoline, next.get(), level)
                           : stomp_set_log_callback(nullptr, nullptr, level);
    /* On success the old sink is no longer called: it goes when `next` does, at the end of scope. */
    if (rc == STOMP_OK) std::swap(detail::log_slot(), next);
    return rc;
}
/** As try_set_log_callback(), but a failure throws stomp::error. */
inline void set_log_callback(log_function f, stomp_log_level level) {
    check(try_set_log_callback(std::move(f), level));
}

/** stomp_log_flush: waits until everything logged so far has been delivered; false on timeout. */
inline bool log_flush(std::chrono::milliseconds timeout) noexcept {
    return stomp_log_flush(detail::c_timeout(timeout)) == STOMP_OK;
}

}  // namespace stomp

#endif  // STOMP_HPP
