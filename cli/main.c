/*
 * main.c - `stomp`, a STOMP command-line client on libstomp's C API: the connection options
 * (stomp.py's CLI: -H host -P port -U user -W password -V version ...), then a mode: `send`,
 * `subscribe`, or the interactive shell (the default). See stomp.1.
 */
#define _POSIX_C_SOURCE 200809L

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: stomp [OPTIONS] [send DESTINATION [BODY|-] | subscribe DESTINATION | shell] [MODE OPTIONS]\n"
            "\n"
            "A STOMP 1.0/1.1/1.2 client (libstomp %s). Without a mode, or with `shell`, an interactive\n"
            "prompt (type `help`); it reads commands from a pipe too. `stomp MODE --help` tells more.\n"
            "\n"
            "  -H, --host HOST              broker host (default 127.0.0.1)\n"
            "  -P, --port PORT              broker port (default 61613)\n"
            "  -U, --user LOGIN             login (default: none)\n"
            "  -W, --password PASSCODE      passcode (default: $STOMP_PASSWORD, else none)\n"
            "  -V, --protocol-version VER   highest STOMP version to offer: 1.0, 1.1 or 1.2 (default 1.2)\n"
            "      --vhost VHOST            the host header (RabbitMQ: the vhost, e.g. /)\n"
            "      --heartbeats SEND,RECV   heart-beats in milliseconds (default 0,0: none)\n"
            "      --timeout SECONDS        connect timeout, and the wait for receipts (default 10)\n"
            "  -S, --ssl                    TLS, the broker's certificate verified against the\n"
            "                               system's CAs, or those of --ssl-ca FILE (PEM); with\n"
            "                               --ssl-cert FILE --ssl-key FILE, a client certificate\n"
            "                               (any --ssl-* option implies --ssl)\n"
            "  -v, --verbose                print every frame sent and received (passcode masked)\n"
            "  -h, --help                   this text\n"
            "      --version                the version of stomp and of libstomp\n"
            "\n"
            "Exit status: 0 done, 1 a failure, 2 bad usage, 3 could not connect, 4 timed out,\n"
            "5 the broker sent an ERROR frame.\n",
            stomp_version_string());
}

/* Parses the options before the mode into `cfg`; returns the index of the mode's word (argc if
 * none), or -1 (and `*exit_code`) when the program should end here. */
static int parse_global(int argc, char **argv, cli_settings *cfg, int *exit_code) {
    enum { OPT_VHOST = 256, OPT_HEARTBEATS, OPT_TIMEOUT, OPT_SSL_CA, OPT_SSL_CERT, OPT_SSL_KEY, OPT_VERSION };
    static const struct option longopts[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'P'},
        {"user", required_argument, NULL, 'U'},
        {"password", required_argument, NULL, 'W'},
        {"protocol-version", required_argument, NULL, 'V'},
        {"vhost", required_argument, NULL, OPT_VHOST},
        {"heartbeats", required_argument, NULL, OPT_HEARTBEATS},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"ssl", no_argument, NULL, 'S'},
        {"ssl-ca", required_argument, NULL, OPT_SSL_CA},
        {"ssl-cert", required_argument, NULL, OPT_SSL_CERT},
        {"ssl-key", required_argument, NULL, OPT_SSL_KEY},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    unsigned long n;
    int c;

    *exit_code = CLI_EXIT_USAGE;
    /* "+": stop at the first word that is not an option, the mode; its options are its own. */
    while ((c = getopt_long(argc, argv, "+H:P:U:W:V:Svh", longopts, NULL)) != -1) {
        switch (c) {
        case 'H': cfg->host = optarg; break;
        case 'P':
            if (!cli_parse_ulong(optarg, 1, 65535, &n)) {
                fprintf(stderr, "stomp: --port wants a number from 1 to 65535, not \"%s\"\n", optarg);
                return -1;
            }
            cfg->port = (uint16_t)n;
            break;
        case 'U': cfg->user = optarg; break;
        case 'W': cfg->password = optarg; break;
        case 'V':
            if (!cli_parse_version(optarg, &cfg->version)) {
                fprintf(stderr, "stomp: --protocol-version wants 1.0, 1.1 or 1.2, not \"%s\"\n", optarg);
                return -1;
            }
            break;
        case OPT_VHOST: cfg->vhost = optarg; break;
        case OPT_HEARTBEATS:
            if (!cli_parse_heartbeats(optarg, &cfg->heartbeat_send_ms, &cfg->heartbeat_receive_ms)) {
                fprintf(stderr, "stomp: --heartbeats wants SEND,RECEIVE in milliseconds, not \"%s\"\n", optarg);
                return -1;
            }
            break;
        case OPT_TIMEOUT:
            if (!cli_parse_ulong(optarg, 1, 86400, &n)) {
                fprintf(stderr, "stomp: --timeout wants seconds from 1 to 86400, not \"%s\"\n", optarg);
                return -1;
            }
            cfg->timeout_ms = (uint32_t)n * 1000;
            break;
        case 'S': cfg->ssl = true; break;
        case OPT_SSL_CA: cfg->ssl_ca = optarg; break;
        case OPT_SSL_CERT: cfg->ssl_cert = optarg; break;
        case OPT_SSL_KEY: cfg->ssl_key = optarg; break;
        case 'v': cfg->verbose = true; break;
        case 'h': usage(stdout); *exit_code = CLI_EXIT_OK; return -1;
        case OPT_VERSION:
            printf("stomp (libstomp) %s\n", stomp_version_string());
            *exit_code = CLI_EXIT_OK;
            return -1;
        default: usage(stderr); return -1;
        }
    }
    /* A CA, certificate or key file given means TLS: never sent in clear by mistake. */
    if (cfg->ssl_ca != NULL || cfg->ssl_cert != NULL || cfg->ssl_key != NULL) cfg->ssl = true;
    return optind;
}

/* Runs the mode; the library's log (STOMP_LOG) is flushed before the process exits with its code. */
static int run(int argc, char **argv) {
    cli_settings cfg = {
        .host = "127.0.0.1",
        .port = 61613,
        .password = getenv("STOMP_PASSWORD"),
        .version = STOMP_VERSION_1_2,
        .timeout_ms = 10000,
    };
    int code, mode = parse_global(argc, argv, &cfg, &code);
    const char *name;

    if (mode < 0) return code;
    name = mode < argc ? argv[mode] : "shell";
    /* Each mode parses its own options from its word on (its argv[0]). */
    if (strcmp(name, "send") == 0) return cli_send_main(&cfg, argc - mode, argv + mode);
    if (strcmp(name, "subscribe") == 0) return cli_subscribe_main(&cfg, argc - mode, argv + mode);
    if (strcmp(name, "shell") == 0) {
        return mode < argc ? cli_shell_main(&cfg, argc - mode, argv + mode) : cli_shell_main(&cfg, 1, (char *[]){"shell", NULL});
    }
    fprintf(stderr, "stomp: unknown mode \"%s\" (send, subscribe or shell; stomp --help)\n", name);
    return CLI_EXIT_USAGE;
}

int main(int argc, char **argv) {
    int code = run(argc, argv);
    /* The log is written by a library thread: what it still holds would be lost at exit. */
    (void)stomp_log_flush(2000);
    return code;
}
