/*
 * echo_client.c - independent closed-loop echo load client.
 *
 *   usage: echo_client (-h HOST -p PORT | -u PATH) [-c CONNS] [-t THREADS] [-s SIZE] [-d SECONDS]
 *   build: cc -O2 -pthread -o bench/peers/bin/echo_client bench/peers/echo_client.c
 *
 * Opens CONNS connections (default 10) and spreads them over THREADS threads
 * (default 1), each with its own level-triggered epoll set. Every connection
 * sends one message of SIZE bytes (default 1024: 'x' * (SIZE-1) + '\n'), waits
 * until SIZE echoed bytes have come back, and sends the next one, for SECONDS
 * seconds (default 3). It then prints one JSON line:
 *   {"messages":N,"bytes":N,"seconds":F,"msgs_per_sec":F}
 * messages counts completed round trips, bytes the echoed bytes received.
 *
 * Built to stay out of the way: the message is one shared read-only buffer,
 * each thread reads into one 256 KiB buffer, nothing is allocated per message,
 * and a round trip normally costs one send(), one recv() and a share of one
 * epoll_wait(). Echoed bytes are counted, not compared.
 *
 * After the window every connection is half-closed and read until the server
 * closes it (at most 2 s, not measured), so servers see EOF, not resets.
 *
 * Exit status: 0 ok; 1 setup failed (e.g. connect); 2 bad usage; 3 the run
 * completed but some connection failed or the server echoed too much (the JSON
 * line is still printed, details go to stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RBUF_SIZE (256 * 1024)
#define MAX_EVENTS 512
#define MAX_SECONDS 86400.0
#define DRAIN_SECONDS 2.0 /* wind-down bound after the measured window */

struct conn {
    int fd;
    int want_out; /* EPOLLOUT is in the interest set */
    size_t sent;  /* bytes of the current message sent */
    size_t recvd; /* bytes of the current message echoed back */
};

struct worker {
    pthread_t tid;
    int epfd, nconn, live;
    struct conn *conns;
    uint64_t messages, bytes, errors;
    double end;
};

static char *msg;
static size_t msg_size = 1024;
static double deadline;
static pthread_barrier_t start_barrier;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void set_out(struct worker *w, struct conn *c, int on)
{
    if (c->want_out == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl");
    c->want_out = on;
}

static void conn_fail(struct worker *w, struct conn *c, const char *why)
{
    if (w->errors++ == 0)
        fprintf(stderr, "echo_client: connection failed: %s\n", why);
    close(c->fd); /* also drops it from the epoll set */
    c->fd = -1;
    w->live--;
}

/* Send what the kernel takes of the current message; 0 ok, -1 connection failed. */
static int pump_out(struct worker *w, struct conn *c)
{
    while (c->sent < msg_size) {
        ssize_t n = send(c->fd, msg + c->sent, msg_size - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_out(w, c, 1);
            return 0;
        } else {
            conn_fail(w, c, strerror(errno));
            return -1;
        }
    }
    set_out(w, c, 0);
    return 0;
}

static void on_event(struct worker *w, struct conn *c, uint32_t events, char *rbuf)
{
    if ((events & EPOLLOUT) && c->sent < msg_size && pump_out(w, c) < 0)
        return;
    if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        return;
    for (;;) {
        ssize_t n = recv(c->fd, rbuf, RBUF_SIZE, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            conn_fail(w, c, n == 0 ? "server closed the connection" : strerror(errno));
            return;
        }
        w->bytes += (uint64_t)n;
        c->recvd += (size_t)n;
        if (c->recvd > c->sent) {
            conn_fail(w, c, "server echoed more bytes than were sent");
            return;
        }
        if (c->recvd == msg_size) { /* round trip complete: next message */
            w->messages++;
            c->recvd = c->sent = 0;
            if (pump_out(w, c) < 0)
                return;
        }
        if (n < RBUF_SIZE) /* drained for now; level-triggered epoll says if not */
            return;
    }
}

/* After the window: half-close every connection and read (and discard) until
 * the server closes, so that servers see a clean EOF instead of a reset from
 * closing with unread echo data. Bounded by DRAIN_SECONDS. */
static void wind_down(struct worker *w, struct epoll_event *events, char *rbuf)
{
    for (int i = 0; i < w->nconn; i++) {
        struct conn *c = &w->conns[i];
        if (c->fd >= 0) {
            shutdown(c->fd, SHUT_WR);
            set_out(w, c, 0);
        }
    }
    double stop = now() + DRAIN_SECONDS;
    while (w->live > 0) {
        double left = stop - now();
        if (left <= 0)
            break;
        int n = epoll_wait(w->epfd, events, MAX_EVENTS, (int)(left * 1000.0) + 1);
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c->fd < 0)
                continue;
            ssize_t r;
            do
                r = recv(c->fd, rbuf, RBUF_SIZE, 0);
            while (r == RBUF_SIZE || (r < 0 && errno == EINTR));
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                close(c->fd); /* server closed (or failed): done with it */
                c->fd = -1;
                w->live--;
            }
        }
    }
    for (int i = 0; i < w->nconn; i++)
        if (w->conns[i].fd >= 0)
            close(w->conns[i].fd);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char *rbuf = malloc(RBUF_SIZE);
    struct epoll_event events[MAX_EVENTS];
    if (!rbuf)
        die("malloc");

    pthread_barrier_wait(&start_barrier);
    for (int i = 0; i < w->nconn; i++)
        pump_out(w, &w->conns[i]);
    while (w->live > 0) {
        double left = deadline - now();
        if (left <= 0)
            break;
        int n = epoll_wait(w->epfd, events, MAX_EVENTS, (int)(left * 1000.0) + 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        if (now() >= deadline) /* count only what finished inside the window */
            break;
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c->fd >= 0)
                on_event(w, c, events[i].events, rbuf);
        }
    }
    w->end = now();
    wind_down(w, events, rbuf);
    free(rbuf);
    return NULL;
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s (-h HOST -p PORT | -u PATH) [-c CONNS] [-t THREADS] [-s SIZE] [-d SECONDS]\n"
            "  -c connections (default 10)   -t threads (default 1)\n"
            "  -s message size in bytes (default 1024)   -d duration in seconds (default 3)\n",
            argv0);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *host = NULL, *port = NULL, *path = NULL;
    long conns = 10, threads = 1;
    double seconds = 3.0;
    int opt;
    while ((opt = getopt(argc, argv, "h:p:u:c:t:s:d:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = optarg; break;
        case 'u': path = optarg; break;
        case 'c': conns = strtol(optarg, NULL, 10); break;
        case 't': threads = strtol(optarg, NULL, 10); break;
        case 's': msg_size = (size_t)strtoull(optarg, NULL, 10); break;
        case 'd': seconds = strtod(optarg, NULL); break;
        default: usage(argv[0]);
        }
    }
    if (optind != argc || !!path == !!(host || port) || (!path && !(host && port)))
        usage(argv[0]);
    if (conns < 1 || threads < 1 || msg_size < 1 || !(seconds > 0 && seconds <= MAX_SECONDS))
        usage(argv[0]);
    if (threads > conns)
        threads = conns;
    signal(SIGPIPE, SIG_IGN);

    if (!(msg = malloc(msg_size)))
        die("malloc");
    memset(msg, 'x', msg_size - 1);
    msg[msg_size - 1] = '\n';

    /* resolve the server address once */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int family;
    if (path) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&addr;
        if (strlen(path) >= sizeof sun->sun_path) {
            fprintf(stderr, "echo_client: unix socket path too long\n");
            return 1;
        }
        memset(sun, 0, sizeof *sun);
        sun->sun_family = family = AF_UNIX;
        strcpy(sun->sun_path, path);
        addrlen = sizeof *sun;
    } else {
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
        int err = getaddrinfo(host, port, &hints, &ai);
        if (err) {
            fprintf(stderr, "echo_client: %s:%s: %s\n", host, port, gai_strerror(err));
            return 1;
        }
        memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
        addrlen = ai->ai_addrlen;
        family = ai->ai_family;
        freeaddrinfo(ai);
    }

    /* connect everything before the clock starts */
    struct worker *workers = calloc((size_t)threads, sizeof *workers);
    struct conn *all = calloc((size_t)conns, sizeof *all);
    if (!workers || !all)
        die("calloc");
    long next = 0;
    for (long t = 0; t < threads; t++) {
        struct worker *w = &workers[t];
        w->nconn = w->live = (int)(conns / threads + (t < conns % threads));
        w->conns = all + next;
        next += w->nconn;
        if ((w->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
            die("epoll_create1");
        for (int i = 0; i < w->nconn; i++) {
            struct conn *c = &w->conns[i];
            int one = 1;
            if ((c->fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
                die("socket");
            if (connect(c->fd, (struct sockaddr *)&addr, addrlen) < 0)
                die("connect");
            if (family != AF_UNIX)
                setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
            if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
                die("epoll_ctl");
        }
    }

    pthread_barrier_init(&start_barrier, NULL, (unsigned)threads + 1);
    for (long t = 0; t < threads; t++)
        if (pthread_create(&workers[t].tid, NULL, worker_main, &workers[t]) != 0)
            die("pthread_create");
    double start = now();
    deadline = start + seconds;
    pthread_barrier_wait(&start_barrier); /* publishes deadline to the workers */

    uint64_t messages = 0, bytes = 0, errors = 0;
    double end = start;
    for (long t = 0; t < threads; t++) {
        pthread_join(workers[t].tid, NULL);
        messages += workers[t].messages;
        bytes += workers[t].bytes;
        errors += workers[t].errors;
        if (workers[t].end > end)
            end = workers[t].end;
    }
    double elapsed = end - start;
    printf("{\"messages\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"msgs_per_sec\":%.1f}\n",
           (unsigned long long)messages, (unsigned long long)bytes, elapsed,
           elapsed > 0 ? (double)messages / elapsed : 0.0);
    fflush(stdout);
    if (errors) {
        fprintf(stderr, "echo_client: %llu of %ld connections failed during the run\n",
                (unsigned long long)errors, conns);
        return 3;
    }
    return 0;
}
