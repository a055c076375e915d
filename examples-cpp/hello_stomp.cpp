// hello_stomp: libstomp from C++17 through include/stomp.hpp. A listener counts the messages of a
// queue while the program sends some with a receipt each, then disconnects gracefully.
//
//   hello_stomp [HOST [PORT [COUNT]]]     (default 127.0.0.1 61613 5: the local RabbitMQ, vhost "/")
#include <stomp.hpp>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>

#include <unistd.h>

using namespace std::chrono_literals;

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    const auto port = static_cast<std::uint16_t>(argc > 2 ? std::atoi(argv[2]) : 61613);
    const int count = argc > 3 ? std::atoi(argv[3]) : 5;

    std::mutex mu;
    std::condition_variable cv;
    int received = 0;

    try {
        stomp::options opts;
        opts.add_host(host, port).set_vhost("/").set_heartbeats(1s, 1s);
        stomp::connection conn(opts);

        stomp::listener l;
        l.on_connected = [](const stomp::frame_view &f) {
            std::cout << "connected to " << f.header_or("server", "a broker") << "\n";
        };
        l.on_message = [&](const stomp::frame_view &m) {
            std::cout << "received \"" << m.body().str() << "\" (" << m.header_or("message-id", "?") << ")\n";
            std::lock_guard<std::mutex> g(mu);
            ++received;
            cv.notify_all();
        };
        l.on_error = [](const stomp::frame_view &e) {
            std::cerr << "broker error: " << e.header_or("message", "") << "\n";
        };
        conn.set_listener("hello", std::move(l));

        conn.connect("guest", "guest");
        const std::string queue = "/queue/hello-cpp-" + std::to_string(static_cast<long>(getpid()));
        conn.subscribe(queue, "hello-sub");
        for (int i = 1; i <= count; ++i) {
            const std::string receipt = "hello-" + std::to_string(i);
            conn.send(queue, "hello #" + std::to_string(i), "text/plain", {{"receipt", receipt}});
            conn.wait_receipt(receipt, 10s);  // the broker has it
        }
        {
            std::unique_lock<std::mutex> g(mu);
            if (!cv.wait_for(g, 10s, [&] { return received == count; })) {
                std::cerr << "hello_stomp: only " << received << " of " << count << " messages arrived\n";
                return 1;
            }
        }
        conn.disconnect();
        std::cout << "hello_stomp: received " << received << " of " << count << ": OK\n";
        return 0;
    } catch (const stomp::error &e) {
        std::cerr << "hello_stomp: " << e.what() << " (code " << e.code() << ")\n";
        return 2;
    }
}
