/*
 * test_listener_abi: the size member that lets stomp_listener grow without breaking programs built
 * against an older or a newer header (issue 9). Every listener here sits at the very end of a mapped
 * page whose next page is inaccessible, so a read past the caller's `size` faults in every run
 * (plain, AddressSanitizer, valgrind), not only under a sanitizer.
 *  - listener_0_1, the first layout as programs of libstomp 0.1 compiled it, declared here and
 *    never to change: with RabbitMQ its callbacks fire, its last member (on_receiver_loop_completed)
 *    included. When a later version adds a member, this struct is the older program that version
 *    must still serve (the library's own unit tests play that case against today's layout);
 *  - the struct is copied: it is unmapped right after stomp_set_listener;
 *  - a newer program's larger struct (members this library does not know) is accepted, its known
 *    callbacks fire and the unknown ones are never called;
 *  - size 0 (a listener made with {0}), a size one member short of the first layout, and a size
 *    that no struct can have are STOMP_ERR_INVALID_ARGUMENT naming the size; NULL is too;
 *  - STOMP_LISTENER_INIT and stomp_listener_init set `size` to sizeof(stomp_listener) and zero the rest.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "test_util.h"

#include <stddef.h>
#include <sys/mman.h>

/* libstomp 0.1's stomp_listener, member for member. */
typedef struct {
    size_t size;
    void *user_data;
    void (*on_connecting)(void *user_data, const char *host, uint16_t port);
    void (*on_connected)(void *user_data, const stomp_frame *frame);
    void (*on_disconnecting)(void *user_data);
    void (*on_disconnected)(void *user_data);
    void (*on_heartbeat_timeout)(void *user_data);
    void (*on_before_message)(void *user_data, const stomp_frame *frame);
    void (*on_message)(void *user_data, const stomp_frame *frame);
    void (*on_receipt)(void *user_data, const stomp_frame *frame);
    void (*on_error)(void *user_data, const stomp_frame *frame);
    void (*on_send)(void *user_data, const stomp_frame *frame);
    void (*on_heartbeat)(void *user_data);
    void (*on_receiver_loop_completed)(void *user_data);
} listener_0_1;

/* Members keep their places in every later version. */
#define SAME_PLACE(m)                                                                        \
    _Static_assert(offsetof(listener_0_1, m) == offsetof(stomp_listener, m), #m " moved")
SAME_PLACE(size);
SAME_PLACE(user_data);
SAME_PLACE(on_connecting);
SAME_PLACE(on_connected);
SAME_PLACE(on_disconnecting);
SAME_PLACE(on_disconnected);
SAME_PLACE(on_heartbeat_timeout);
SAME_PLACE(on_before_message);
SAME_PLACE(on_message);
SAME_PLACE(on_receipt);
SAME_PLACE(on_error);
SAME_PLACE(on_send);
SAME_PLACE(on_heartbeat);
SAME_PLACE(on_receiver_loop_completed);
_Static_assert(sizeof(listener_0_1) <= sizeof(stomp_listener), "stomp_listener only grows");

/* A program built against a header two callbacks newer than this library. */
typedef struct {
    stomp_listener known;
    void (*on_future)(void *user_data);
    void (*on_future_frame)(void *user_data, const stomp_frame *frame);
} listener_newer;

static atomic_int future_calls;

static void on_future(void *ud) {
    (void)ud;
    atomic_fetch_add(&future_calls, 1);
}

static void on_future_frame(void *ud, const stomp_frame *f) {
    (void)ud;
    (void)f;
    atomic_fetch_add(&future_calls, 1);
}

/* Two pages: the first read-write, the second inaccessible. */
typedef struct {
    unsigned char *map;
    size_t page;
} guarded;

/* `size` bytes ending where the inaccessible page begins. */
static void *at_page_end(guarded *g, size_t size) {
    g->page = (size_t)sysconf(_SC_PAGESIZE);
    g->map = mmap(NULL, 2 * g->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED) t_fail(__FILE__, __LINE__, "mmap failed");
    if (mprotect(g->map + g->page, g->page, PROT_NONE) != 0) t_fail(__FILE__, __LINE__, "mprotect failed");
    memset(g->map, 0xA5, g->page); /* garbage before the struct: it must be overwritten, not read */
    return g->map + g->page - size;
}

static void guarded_free(guarded *g) {
    munmap(g->map, 2 * g->page);
    g->map = NULL;
}

static void test_initialisers(void) {
    stomp_listener a = STOMP_LISTENER_INIT, b, zero;
    t_section("STOMP_LISTENER_INIT and stomp_listener_init");
    memset(&b, 0xA5, sizeof b);
    stomp_listener_init(&b);
    memset(&zero, 0, sizeof zero);
    CHECK(a.size == sizeof(stomp_listener));
    CHECK(b.size == sizeof(stomp_listener));
    zero.size = sizeof(stomp_listener);
    CHECK(memcmp(&a, &zero, sizeof a) == 0);
    CHECK(memcmp(&b, &zero, sizeof b) == 0);
}

static void test_refused_sizes(stomp_connection *c) {
    guarded g;
    listener_0_1 *l;
    size_t short_size = offsetof(listener_0_1, on_receiver_loop_completed);
    char want[64];

    t_section("sizes no header makes are STOMP_ERR_INVALID_ARGUMENT");
    CHECK_RC(stomp_set_listener(c, "x", NULL), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_CONTAINS(stomp_last_error(), "listener is NULL");

    /* {0}: size 0. */
    l = at_page_end(&g, sizeof *l);
    memset(l, 0, sizeof *l);
    l->on_message = rec_on_message;
    CHECK_RC(stomp_set_listener(c, "x", (const stomp_listener *)(const void *)l), STOMP_ERR_INVALID_ARGUMENT);
    CHECK_CONTAINS(stomp_last_error(), "listener->size is 0,");
    CHECK_CONTAINS(stomp_last_error(), "STOMP_LISTENER_INIT");
    guarded_free(&g);

    /* One member short of the first layout, and only that much readable. */
    l = at_page_end(&g, short_size);
    memset(l, 0, short_size);
    l->size = short_size;
    CHECK_RC(stomp_set_listener(c, "x", (const stomp_listener *)(const void *)l), STOMP_ERR_INVALID_ARGUMENT);
    snprintf(want, sizeof want, "listener->size is %zu,", short_size);
    CHECK_CONTAINS(stomp_last_error(), want);
    guarded_free(&g);

    /* Not a multiple of the alignment: garbage, though large enough. */
    l = at_page_end(&g, sizeof *l + sizeof(void *));
    memset(l, 0, sizeof *l);
    l->size = sizeof *l + 1;
    CHECK_RC(stomp_set_listener(c, "x", (const stomp_listener *)(const void *)l), STOMP_ERR_INVALID_ARGUMENT);
    snprintf(want, sizeof want, "listener->size is %zu,", sizeof *l + 1);
    CHECK_CONTAINS(stomp_last_error(), want);
    guarded_free(&g);

    CHECK_RC(stomp_remove_listener(c, "x"), STOMP_ERR_NOT_FOUND);
}

static void test_old_and_new_programs(const broker *b) {
    recorder old, newer;
    guarded g;
    listener_0_1 *l0;
    listener_newer *ln;
    stomp_connection *c;
    stomp_header rh;
    char q[128], rid[64], bye[64], ev[96];

    t_section("%s: a listener_0_1 (the first layout) and a newer program's larger struct", b->name);
    rec_init(&old);
    rec_init(&newer);
    c = t_new_connection(b, STOMP_VERSION_1_2, 0, NULL);
    test_refused_sizes(c);

    l0 = at_page_end(&g, sizeof *l0);
    memset(l0, 0, sizeof *l0);
    l0->size = sizeof *l0;
    l0->user_data = &old;
    l0->on_connecting = rec_on_connecting;
    l0->on_connected = rec_on_connected;
    l0->on_disconnecting = rec_on_disconnecting;
    l0->on_disconnected = rec_on_disconnected;
    l0->on_message = rec_on_message;
    l0->on_receipt = rec_on_receipt;
    l0->on_error = rec_on_error;
    l0->on_receiver_loop_completed = rec_on_loop_completed;
    CHECK_OK(stomp_set_listener(c, "0.1", (const stomp_listener *)(const void *)l0));
    guarded_free(&g); /* copied: the library must never look at it again */
    t_ok("the listener_0_1 is unmapped once stomp_set_listener returns");

    ln = at_page_end(&g, sizeof *ln);
    ln->known = rec_listener(&newer);
    ln->known.size = sizeof *ln;
    ln->on_future = on_future;
    ln->on_future_frame = on_future_frame;
    CHECK_OK(stomp_set_listener(c, "newer", &ln->known));
    guarded_free(&g);

    CHECK_OK(stomp_connect(c, T_LOGIN, T_PASSCODE, NULL, 0, true));
    t_unique_queue(q, sizeof q, "abi");
    t_unique_receipt(rid, sizeof rid, "abi-sub");
    rh.name = "receipt";
    rh.value = rid;
    CHECK_OK(stomp_subscribe(c, q, "abi", STOMP_ACK_AUTO, &rh, 1));
    CHECK_OK(stomp_wait_receipt(c, rid, T_WAIT_MS));
    CHECK_OK(stomp_send(c, q, "from an old program", 19, "text/plain", NULL, 0));
    CHECK(rec_wait_messages(&old, 1, T_WAIT_MS));
    CHECK(rec_wait_messages(&newer, 1, T_WAIT_MS));
    CHECK(t_body_is_str(old.messages[0], "from an old program"));
    t_unique_receipt(bye, sizeof bye, "abi-bye");
    CHECK_OK(stomp_disconnect(c, bye, T_WAIT_MS));
    CHECK(rec_wait_event(&old, "loop_completed", T_WAIT_MS));
    CHECK(rec_wait_event(&newer, "loop_completed", T_WAIT_MS));
    stomp_connection_free(c);

    /* Every callback the old layout set fired, its last member included. */
    CHECK(rec_find(&old, "connecting ", 0) >= 0);
    CHECK(rec_count(&old, &old.n_connected) == 1);
    snprintf(ev, sizeof ev, "receipt %s", rid);
    CHECK(rec_find(&old, ev, 0) >= 0);
    snprintf(ev, sizeof ev, "receipt %s", bye);
    CHECK(rec_find(&old, ev, 0) >= 0);
    CHECK(rec_find(&old, "disconnecting", 0) >= 0);
    CHECK(rec_count(&old, &old.n_disconnected) == 1);
    CHECK(rec_count(&old, &old.n_loop_completed) == 1);
    CHECK(rec_count(&old, &old.n_errors) == 0);
    CHECK(rec_count(&newer, &newer.n_connected) == 1);
    CHECK(rec_count(&newer, &newer.n_loop_completed) == 1);
    CHECK(atomic_load(&future_calls) == 0);
    rec_destroy(&old);
    rec_destroy(&newer);
}

int main(int argc, char **argv) {
    broker b = t_broker_arg(argc > 1 ? argv[1] : "rabbitmq");
    test_initialisers();
    test_old_and_new_programs(&b);
    return t_done("test_listener_abi");
}
