/* loadgen.c: the benchmark's load generator. Opens CONNS connections to a line echo server on
 * 127.0.0.1, keeps PIPELINE lines of SIZE bytes in flight on each, and checks every byte that
 * comes back against what was sent: a wrong or missing byte is exit 1, never a result.
 * One thread, epoll. After WARMUP seconds it counts for SECONDS seconds, then prints
 *   "lines=N bytes=N rps=N mb_s=N" (lines echoed per second; megabytes echoed per second).
 *
 *   cc -O2 -o loadgen loadgen.c
 *   ./loadgen -m pingpong|stream -p PORT [-c CONNS] [-P PIPELINE] [-s SIZE] [-w WARMUP] [-d SECONDS] [-q]
 *
 * pingpong: one line in flight per connection (the default PIPELINE 1); stream: PIPELINE lines
 * (default 32). The bytes of connection i are a fixed pattern, so the check needs no copy.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    unsigned long long sent, received; /* bytes of this connection's pattern */
};

static int size = 64;
static char *tables[26]; /* the pattern repeats every 26 lines, and connection i's is connection (i % 26)'s */
static size_t period;

/* Byte n of connection i's pattern: lines of `size` bytes, letters, then '\n'. */
static char pattern(int i, unsigned long long n) {
    unsigned long long at = n % (unsigned long long) size;
    if (at == (unsigned long long) size - 1) return '\n';
    return (char) ('a' + (n / (unsigned long long) size * 7 + at + (unsigned long long) i) % 26);
}

static void make_tables(void) {
    period = 26 * (size_t) size;
    for (int t = 0; t < 26; t++) {
        tables[t] = malloc(period);
        for (size_t n = 0; n < period; n++) tables[t][n] = pattern(t, n);
    }
}

/* Copies (into) or compares (from) n bytes of connection i's pattern from offset at; -1 at a mismatch. */
static long pattern_bytes(int i, unsigned long long at, char *into, const char *from, size_t n) {
    for (size_t done = 0; done < n;) {
        size_t offset = (size_t) ((at + done) % period), chunk = period - offset < n - done ? period - offset : n - done;
        if (into != NULL) memcpy(into + done, tables[i % 26] + offset, chunk);
        if (from != NULL && memcmp(from + done, tables[i % 26] + offset, chunk) != 0) {
            for (size_t j = 0; j < chunk; j++) {
                if (from[done + j] != tables[i % 26][offset + j]) return (long) (done + j);
            }
        }
        done += chunk;
    }
    return -1;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static void usage(void) {
    fprintf(stderr, "usage: loadgen -m pingpong|stream -p PORT [-c CONNS] [-P PIPELINE] [-s SIZE]"
                    " [-w WARMUP] [-d SECONDS] [-q]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *mode = NULL;
    int port = 0, conns = 1, pipeline = 0, quiet = 0;
    double warmup = 1, duration = 5;
    for (int opt; (opt = getopt(argc, argv, "m:p:c:P:s:w:d:q")) != -1;) {
        switch (opt) {
        case 'm': mode = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': conns = atoi(optarg); break;
        case 'P': pipeline = atoi(optarg); break;
        case 's': size = atoi(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'q': quiet = 1; break;
        default: usage();
        }
    }
    if (mode == NULL || (strcmp(mode, "pingpong") != 0 && strcmp(mode, "stream") != 0)) usage();
    if (pipeline == 0) pipeline = strcmp(mode, "pingpong") == 0 ? 1 : 32;
    if (port <= 0 || port > 65535 || conns < 1 || pipeline < 1 || size < 2 || size > 4096 || duration <= 0) usage();
    make_tables();

    unsigned long long window = (unsigned long long) pipeline * (unsigned long long) size; /* bytes in flight */
    int ep = epoll_create1(0);
    struct conn *all = calloc((size_t) conns, sizeof *all);
    for (int i = 0; i < conns; i++) {
        struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short) port)};
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr); /* loopback only */
        all[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        if (all[i].fd < 0 || connect(all[i].fd, (struct sockaddr *) &addr, sizeof addr) < 0) {
            perror("loadgen: connect");
            return 1;
        }
        int on = 1;
        setsockopt(all[i].fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        fcntl(all[i].fd, F_SETFL, fcntl(all[i].fd, F_GETFL) | O_NONBLOCK); /* connected: from now on, no waits */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (unsigned) i};
        epoll_ctl(ep, EPOLL_CTL_ADD, all[i].fd, &ev);
    }

    char out[65536], in[65536];
    double start = now(), counting = start + warmup, end = counting + duration;
    unsigned long long counted = 0; /* bytes received while counting */
    struct epoll_event ready[1024];
    for (double t = start; t < end; t = now()) {
        int count = epoll_wait(ep, ready, 1024, 100);
        for (int k = 0; k < count; k++) {
            struct conn *c = &all[ready[k].data.u32];
            int i = (int) ready[k].data.u32;
            if (ready[k].events & EPOLLIN) {
                ssize_t n = read(c->fd, in, sizeof in);
                if (n == 0 || (n < 0 && errno != EAGAIN)) {
                    fprintf(stderr, "loadgen: connection %d closed by the server after %llu bytes\n", i, c->received);
                    return 1;
                }
                long wrong = n > 0 ? pattern_bytes(i, c->received, NULL, in, (size_t) n) : -1;
                if (wrong >= 0) {
                    unsigned long long at = c->received + (unsigned long long) wrong;
                    fprintf(stderr, "loadgen: connection %d, byte %llu: expected %d, got %d\n", i, at,
                            pattern(i, at), in[wrong]);
                    return 1;
                }
                if (n > 0) {
                    c->received += (unsigned long long) n;
                    if (t >= counting) counted += (unsigned long long) n;
                }
            }
            /* keep `window` bytes in flight: whole lines only */
            unsigned long long room = c->received + window - c->sent;
            if (room >= (unsigned long long) size) {
                size_t want = (size_t) (room < sizeof out ? room : sizeof out);
                want -= want % (size_t) size;
                pattern_bytes(i, c->sent, out, NULL, want);
                ssize_t n = write(c->fd, out, want);
                if (n < 0 && errno != EAGAIN) {
                    perror("loadgen: write");
                    return 1;
                }
                if (n > 0) c->sent += (unsigned long long) n;
            }
            struct epoll_event ev = {.events = EPOLLIN | (c->sent - c->received < window ? EPOLLOUT : 0),
                                     .data.u32 = (unsigned) i};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
    }
    double seconds = now() - counting;
    unsigned long long lines = counted / (unsigned long long) size;
    if (!quiet) fprintf(stderr, "%s: %d connections, %d lines of %d bytes in flight each\n", mode, conns, pipeline, size);
    printf("lines=%llu bytes=%llu rps=%.0f mb_s=%.3f\n", lines, counted, (double) lines / seconds,
           (double) counted / seconds / 1e6);
    return 0;
}
