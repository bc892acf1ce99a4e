/*
 * epoll_echo.c - minimal single-threaded epoll echo server ("the floor").
 *
 *   usage: epoll_echo tcp HOST PORT | epoll_echo unix PATH
 *   build: cc -O2 -o bench/peers/bin/epoll_echo bench/peers/epoll_echo.c
 *
 * Level-triggered and non-blocking, with one static 64 KiB buffer shared by
 * every connection. Whatever is read is sent back at once; the bytes the kernel
 * does not take are copied into the connection's pending buffer, and the
 * connection stops reading (EPOLLIN off, EPOLLOUT on) until they are flushed.
 * So a client that does not read loses nothing and costs at most 64 KiB here.
 * When the client half-closes (read returns 0) the connection is closed; by
 * then nothing is pending, since a connection with pending data is not read.
 * SIGINT/SIGTERM arrive through a signalfd and end the loop cleanly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define BUF_SIZE (64 * 1024)
#define BACKLOG 4096
#define MAX_EVENTS 256
#define READS_PER_EVENT 4 /* bound the work one busy connection gets per wakeup */

struct conn {
    int fd;
    char *pend; /* echo bytes the kernel has not accepted yet (NULL if none) */
    size_t off, len;
};

static char buf[BUF_SIZE];
static int epfd, listen_fd, sig_fd, spare_fd, is_tcp;
/* epoll data.ptr is a struct conn *, or one of these two markers */
static char listen_tag, signal_tag;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void watch(int op, int fd, uint32_t events, void *ptr)
{
    struct epoll_event ev = {.events = events, .data.ptr = ptr};
    if (epoll_ctl(epfd, op, fd, &ev) < 0)
        die("epoll_ctl");
}

static void conn_close(struct conn *c)
{
    close(c->fd); /* also drops it from the epoll set */
    free(c->pend);
    free(c);
}

/* Send as much as the kernel takes now: bytes sent, or -1 if the peer is gone. */
static ssize_t send_some(int fd, const char *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = send(fd, p + done, n - done, MSG_NOSIGNAL);
        if (w > 0)
            done += (size_t)w;
        else if (w < 0 && errno == EINTR)
            continue;
        else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        else
            return -1;
    }
    return (ssize_t)done;
}

static void on_readable(struct conn *c)
{
    for (int i = 0; i < READS_PER_EVENT; i++) {
        ssize_t r = recv(c->fd, buf, sizeof buf, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) { /* 0: client half-closed (nothing is pending); <0: error */
            conn_close(c);
            return;
        }
        ssize_t w = send_some(c->fd, buf, (size_t)r);
        if (w < 0) {
            conn_close(c);
            return;
        }
        if (w < r) { /* kernel is full: keep the rest, stop reading, wait for EPOLLOUT */
            c->len = (size_t)(r - w);
            c->off = 0;
            if (!(c->pend = malloc(c->len)))
                die("malloc");
            memcpy(c->pend, buf + w, c->len);
            watch(EPOLL_CTL_MOD, c->fd, EPOLLOUT, c);
            return;
        }
        if (r < (ssize_t)sizeof buf) /* most likely drained; level-triggered epoll says if not */
            return;
    }
}

static void on_writable(struct conn *c)
{
    ssize_t w = send_some(c->fd, c->pend + c->off, c->len - c->off);
    if (w < 0) {
        conn_close(c);
        return;
    }
    c->off += (size_t)w;
    if (c->off < c->len)
        return;
    free(c->pend);
    c->pend = NULL;
    watch(EPOLL_CTL_MOD, c->fd, EPOLLIN, c); /* flushed: read again */
}

static void accept_all(void)
{
    static const int one = 1;
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                /* out of fds: accept and drop one connection with the spare fd,
                 * so level-triggered epoll does not spin on the listener */
                close(spare_fd);
                if ((fd = accept(listen_fd, NULL, NULL)) >= 0)
                    close(fd);
                spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                fprintf(stderr, "epoll_echo: out of file descriptors, dropped a connection\n");
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                perror("accept4");
            }
            return;
        }
        if (is_tcp)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (!c)
            die("calloc");
        c->fd = fd;
        watch(EPOLL_CTL_ADD, fd, EPOLLIN, c);
    }
}

static int listen_tcp(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai;
    int err = getaddrinfo(host, port, &hints, &ai);
    if (err) {
        fprintf(stderr, "epoll_echo: %s:%s: %s\n", host, port, gai_strerror(err));
        exit(1);
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        die("bind");
    freeaddrinfo(ai);
    return fd;
}

static int listen_unix(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct stat st;
    if (strlen(path) >= sizeof sun.sun_path) {
        fprintf(stderr, "epoll_echo: unix socket path too long: %s\n", path);
        exit(1);
    }
    strcpy(sun.sun_path, path);
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path); /* stale socket from an earlier run */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0)
        die("bind");
    return fd;
}

int main(int argc, char **argv)
{
    const char *unix_path = NULL;
    if (argc == 4 && strcmp(argv[1], "tcp") == 0) {
        is_tcp = 1;
        listen_fd = listen_tcp(argv[2], argv[3]);
    } else if (argc == 3 && strcmp(argv[1], "unix") == 0) {
        unix_path = argv[2];
        listen_fd = listen_unix(unix_path);
    } else {
        fprintf(stderr, "usage: %s tcp HOST PORT | %s unix PATH\n", argv[0], argv[0]);
        return 2;
    }
    if (listen(listen_fd, BACKLOG) < 0)
        die("listen");

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 || (sig_fd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0)
        die("signalfd");
    signal(SIGPIPE, SIG_IGN);
    spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die("epoll_create1");
    watch(EPOLL_CTL_ADD, listen_fd, EPOLLIN, &listen_tag);
    watch(EPOLL_CTL_ADD, sig_fd, EPOLLIN, &signal_tag);

    printf("listening\n");
    fflush(stdout);

    struct epoll_event events[MAX_EVENTS];
    for (int running = 1; running;) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            void *p = events[i].data.ptr;
            if (p == &listen_tag) {
                accept_all();
            } else if (p == &signal_tag) {
                running = 0;
            } else {
                struct conn *c = p;
                if (c->pend)
                    on_writable(c); /* EPOLLOUT, or ERR/HUP that send() reports */
                else
                    on_readable(c); /* EPOLLIN, or ERR/HUP that recv() reports */
            }
        }
    }

    close(listen_fd);
    if (unix_path)
        unlink(unix_path);
    return 0;
}
