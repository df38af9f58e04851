/* echo_epoll.c: the benchmark's baseline, a line echo server as small as C on Linux makes it.
 * One thread, one epoll set, non-blocking sockets, edge-triggered. It echoes bytes as they come
 * (a line echo and a byte echo send the same bytes back). A peer that does not read makes it stop
 * reading from that peer until its output has drained, as the Java server does.
 *
 *   cc -O2 -o echo_epoll echo_epoll.c && ./echo_epoll PORT
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFFER (64 * 1024)

struct conn {
    int fd;
    char buf[BUFFER];
    size_t start, end; /* bytes [start, end) read but not yet written back */
};

static void fail(const char *what) { perror(what); exit(1); }

static void drop(struct conn *c) {
    close(c->fd); /* closing removes it from the epoll set */
    free(c);
}

/* Writes what is pending, then reads and writes until the socket would block either way. */
static void serve(int ep, struct conn *c) {
    for (;;) {
        while (c->start < c->end) {
            ssize_t n = write(c->fd, c->buf + c->start, c->end - c->start);
            if (n < 0 && errno == EAGAIN) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev); /* wait until it may write again */
                return;
            }
            if (n < 0) { drop(c); return; }
            c->start += (size_t) n;
        }
        ssize_t n = read(c->fd, c->buf, BUFFER);
        if (n == 0 || (n < 0 && errno != EAGAIN)) { drop(c); return; }
        if (n < 0) return; /* drained: edge-triggered, so the next event comes with new bytes */
        c->start = 0;
        c->end = (size_t) n;
    }
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: echo_epoll PORT\n"); return 2; }
    int listener = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int on = 1, off = 0;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    setsockopt(listener, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off); /* IPv4 too */
    struct sockaddr_in6 addr = {.sin6_family = AF_INET6, .sin6_port = htons((unsigned short) atoi(argv[1]))};
    if (bind(listener, (struct sockaddr *) &addr, sizeof addr) < 0) fail("bind");
    if (listen(listener, 4096) < 0) fail("listen");
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}; /* NULL: the listener */
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    struct epoll_event ready[256];
    for (;;) {
        int count = epoll_wait(ep, ready, 256, -1);
        if (count < 0 && errno != EINTR) fail("epoll_wait");
        for (int i = 0; i < count; i++) {
            struct conn *c = ready[i].data.ptr;
            if (c != NULL) {
                serve(ep, c);
                continue;
            }
            for (int fd; (fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0;) {
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
                c = calloc(1, sizeof *c);
                if (c == NULL) { close(fd); continue; }
                c->fd = fd;
                struct epoll_event cev = {.events = EPOLLIN | EPOLLET, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                serve(ep, c);
            }
        }
    }
}
