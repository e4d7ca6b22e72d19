/* echo_client.c: the closed-loop echo load generator of benchmarks/run.py, compiled.
 *
 * It speaks exactly the contract of `python benchmarks/clients.py echo` (read clients.py
 * first; this file follows it step by step), so run.py can use either:
 *
 *     echo_client echo --port P --connections N [--proto tcp|udp] [--size S]
 *                      [--warmup W] [--duration D] [--setup-timeout T]
 *
 * 1. Open N TCP connections to 127.0.0.1:P, in batches of 100, each proven served by a
 *    one-byte echo; or N UDP sockets connected to 127.0.0.1:P.
 * 2. Print "READY", then read "GO <t0>" on stdin. t0 is on CLOCK_MONOTONIC, the clock of
 *    Python's time.monotonic() on Linux, so parent and clients agree on the window.
 * 3. At t0 every connection sends one S-byte message, and sends the next one only when the
 *    whole echo is back (closed loop). Echoes completed in [t0 + W, t0 + W + D] are counted.
 *    A UDP flow silent for 0.2 s sends again (the datagram was lost) and counts it as lost.
 * 4. Print one JSON line: {"echoes": E, "bytes": 2*E*S, "cpu": C, "lost": L}, C being this
 *    process's CPU seconds during the window, then exit.
 *
 * Why C: on a 2-core machine the Python generator burns about as much CPU as the server it
 * loads, and the benchmark then measures the generator. This program does the same work
 * (one epoll_wait, one recv and one send per echo) for a fraction of the CPU.
 *
 * Bounded: every wait has a timeout, and any error prints one line on stderr and exits
 * with status 1. Linux only (epoll); elsewhere run.py falls back to the Python clients.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_BATCH 100     /* below every server's listen backlog: no SYN is dropped */
#define UDP_RESEND_AFTER 0.2  /* seconds without a reply before a UDP flow sends again */
#define MAX_POLL_WAIT 0.05    /* seconds: the loop looks at the clock at least this often */
#define BUFFER_SIZE 65536

struct options {
    int udp;
    int port;
    int connections;
    int size;
    double warmup, duration, setup_timeout;
};

struct connection {
    int fd;
    int missing;     /* bytes of the current echo not received yet (TCP) */
    double sent_at;  /* when the current message was sent (UDP: to resend a lost one) */
};

struct result {
    long long echoes, lost;
    double cpu;
};

static void die(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("echo_client: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(1);
}

static double clock_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* time.monotonic() and time.process_time() of the Python client. */
static double now(void) { return clock_seconds(CLOCK_MONOTONIC); }
static double cpu_now(void) { return clock_seconds(CLOCK_PROCESS_CPUTIME_ID); }

/* Milliseconds left until deadline, rounded up (0 once it has passed), at most cap. */
static int ms_until(double deadline, double cap)
{
    double left = deadline - now();
    if (left <= 0)
        return 0;
    if (left > cap)
        left = cap;
    return (int)(left * 1000.0) + 1;
}

/* --- command line ------------------------------------------------------------------------- */

static double parse_number(const char *name, const char *text, double low, double high)
{
    char *end;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || value < low || value > high)
        die("%s: expected a number in [%g, %g], got '%s'", name, low, high, text);
    return value;
}

static struct options parse_options(int argc, char **argv)
{
    struct options o = {0, 0, 0, 1024, 0.5, 2.0, 30.0};  /* clients.py's defaults */
    if (argc < 2 || strcmp(argv[1], "echo") != 0)
        die("usage: %s echo --port P --connections N [--proto tcp|udp] [--size S] "
            "[--warmup W] [--duration D] [--setup-timeout T] "
            "(idle connections are held by clients.py)", argv[0]);
    for (int i = 2; i < argc; i += 2) {
        const char *name = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (value == NULL)
            die("%s: missing value", name);
        if (strcmp(name, "--proto") == 0) {
            if (strcmp(value, "tcp") != 0 && strcmp(value, "udp") != 0)
                die("--proto: tcp or udp, got '%s'", value);
            o.udp = strcmp(value, "udp") == 0;
        } else if (strcmp(name, "--port") == 0) {
            o.port = (int)parse_number(name, value, 1, 65535);
        } else if (strcmp(name, "--connections") == 0) {
            o.connections = (int)parse_number(name, value, 1, 1000000);
        } else if (strcmp(name, "--size") == 0) {
            o.size = (int)parse_number(name, value, 1, 1 << 24);
        } else if (strcmp(name, "--warmup") == 0) {
            o.warmup = parse_number(name, value, 0, 3600);
        } else if (strcmp(name, "--duration") == 0) {
            o.duration = parse_number(name, value, 0, 3600);
        } else if (strcmp(name, "--setup-timeout") == 0) {
            o.setup_timeout = parse_number(name, value, 0, 3600);
        } else {
            die("unknown option %s", name);
        }
    }
    if (o.port == 0 || o.connections == 0)
        die("--port and --connections are required");
    return o;
}

/* Allow as many descriptors as the hard limit: a thousand connections need them. */
static void raise_fd_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

static struct sockaddr_in server_address(int port)
{
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons((unsigned short)port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

/* --- setting up: connect, and prove each connection is served ------------------------------- */

/* A non-blocking connect in progress (EINPROGRESS is the normal answer). */
static int connect_tcp(int port)
{
    struct sockaddr_in address = server_address(port);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0 && errno != EINPROGRESS)
        die("connect to port %d: %s", port, strerror(errno));
    return fd;
}

/* Wait until each socket is connected (writable), then until each echoes one byte. */
static void ping_all(struct connection *batch, int count, double deadline)
{
    struct epoll_event *events = calloc((size_t)count, sizeof *events);
    int epoll_fd = epoll_create1(0);
    if (events == NULL || epoll_fd < 0)
        die("epoll_create1: %s", strerror(errno));
    for (int i = 0; i < count; i++) {
        struct epoll_event wanted = {.events = EPOLLOUT, .data.u32 = (unsigned)i};
        if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, batch[i].fd, &wanted) < 0)
            die("epoll_ctl: %s", strerror(errno));
    }
    int waiting = count;
    while (waiting > 0) {
        int timeout = ms_until(deadline, 1.0);
        if (timeout == 0)
            die("%d of %d connections never answered", waiting, count);
        int ready = epoll_wait(epoll_fd, events, count, timeout);
        if (ready < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int e = 0; e < ready; e++) {
            int fd = batch[events[e].data.u32].fd;
            char byte = '!';
            if (events[e].events & EPOLLOUT) {  /* connected, or failed to */
                int code = 0;
                socklen_t length = sizeof code;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length);
                if (code != 0)
                    die("connect failed: %s", strerror(code));
                if (send(fd, &byte, 1, 0) != 1)
                    die("send: %s", strerror(errno));
                struct epoll_event wanted = {.events = EPOLLIN, .data = events[e].data};
                epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &wanted);
                continue;
            }
            ssize_t got = recv(fd, &byte, 1, 0);
            if (got < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (got < 0)
                die("recv: %s", strerror(errno));
            if (got == 0 || byte != '!')
                die("the server closed a connection instead of echoing");
            epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL);
            waiting--;
        }
    }
    close(epoll_fd);
    free(events);
}

static void open_tcp(struct connection *connections, const struct options *o, double deadline)
{
    for (int start = 0; start < o->connections; start += CONNECT_BATCH) {
        int count = o->connections - start < CONNECT_BATCH ? o->connections - start
                                                           : CONNECT_BATCH;
        for (int i = start; i < start + count; i++)
            connections[i].fd = connect_tcp(o->port);
        ping_all(connections + start, count, deadline);
    }
}

/* UDP sockets connected to the server, so recv hears only it. */
static void open_udp(struct connection *connections, const struct options *o)
{
    struct sockaddr_in address = server_address(o->port);
    for (int i = 0; i < o->connections; i++) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        if (fd < 0)
            die("socket: %s", strerror(errno));
        if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0)
            die("connect to port %d: %s", o->port, strerror(errno));
        connections[i].fd = fd;
    }
}

/* Tell the parent we are ready; return the start time it sends back ("GO <t0>"). */
static double wait_for_go(double timeout)
{
    char line[128];
    size_t used = 0;
    double deadline = now() + timeout;
    printf("READY\n");
    fflush(stdout);
    while (used == 0 || line[used - 1] != '\n') {
        struct pollfd input = {.fd = STDIN_FILENO, .events = POLLIN};
        int ready = poll(&input, 1, ms_until(deadline, 1.0));
        if (ready < 0 && errno != EINTR)
            die("poll: %s", strerror(errno));
        if (ready <= 0) {
            if (now() >= deadline)
                die("no 'GO <t0>' on stdin within %.0f s", timeout);
            continue;
        }
        ssize_t got = read(STDIN_FILENO, line + used, sizeof line - 1 - used);
        if (got <= 0 || used + (size_t)got >= sizeof line - 1)
            die("expected 'GO <t0>' on stdin");
        used += (size_t)got;
    }
    line[used] = '\0';
    double t0;
    if (sscanf(line, "GO %lf", &t0) != 1)
        die("expected 'GO <t0>' on stdin, got '%s'", line);
    if (t0 - now() > timeout)
        die("GO time %.3f is more than %.0f s away", t0, timeout);
    return t0;
}

/* --- the closed loop ------------------------------------------------------------------------ */

/* Send a whole message; the closed loop leaves the send buffer empty, so this rarely waits. */
static void send_all(int fd, const char *message, int size, double deadline)
{
    int sent = 0;
    while (sent < size) {
        ssize_t n = send(fd, message + sent, (size_t)(size - sent), 0);
        if (n >= 0) {
            sent += (int)n;
            continue;
        }
        if (errno != EAGAIN && errno != EINTR)
            die("send: %s", strerror(errno));
        struct pollfd writable = {.fd = fd, .events = POLLOUT};
        if (poll(&writable, 1, ms_until(deadline, 1.0)) == 0 && now() >= deadline)
            die("a send was blocked until the deadline");
    }
}

/* UDP may drop a datagram: send again on flows silent for too long; return how many. */
static long long resend_stale(struct connection *connections, const struct options *o,
                              const char *message, double t)
{
    long long lost = 0;
    for (int i = 0; i < o->connections; i++) {
        if (t - connections[i].sent_at <= UDP_RESEND_AFTER)
            continue;
        if (send(connections[i].fd, message, (size_t)o->size, 0) < 0 && errno != EAGAIN &&
            errno != ECONNREFUSED)
            die("send: %s", strerror(errno));
        connections[i].sent_at = t;
        lost++;
    }
    return lost;
}

static struct result echo_loop(struct connection *connections, const struct options *o,
                               double t0)
{
    static char buffer[BUFFER_SIZE];
    char *message = malloc((size_t)o->size);
    struct epoll_event *events = calloc((size_t)o->connections, sizeof *events);
    int epoll_fd = epoll_create1(0);
    if (message == NULL || events == NULL || epoll_fd < 0)
        die("setup: %s", strerror(errno));
    memset(message, 'x', (size_t)o->size);
    for (int i = 0; i < o->connections; i++) {
        struct epoll_event wanted = {.events = EPOLLIN, .data.u32 = (unsigned)i};
        if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, connections[i].fd, &wanted) < 0)
            die("epoll_ctl: %s", strerror(errno));
    }
    double window_start = t0 + o->warmup, window_end = window_start + o->duration;
    double send_deadline = window_end + 5.0;  /* a send blocked this long is a stuck server */
    struct result result = {0, 0, 0.0};
    double cpu_start = -1.0;

    struct timespec start = {(time_t)t0, (long)((t0 - (double)(time_t)t0) * 1e9)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &start, NULL) == EINTR)
        continue;
    double t = now();
    for (int i = 0; i < o->connections; i++) {
        send_all(connections[i].fd, message, o->size, send_deadline);
        connections[i].missing = o->size;
        connections[i].sent_at = t;
    }
    double next_check = t + UDP_RESEND_AFTER;
    while (t < window_end) {
        if (cpu_start < 0 && t >= window_start)
            cpu_start = cpu_now();
        int counting = t >= window_start;
        int ready = epoll_wait(epoll_fd, events, o->connections,
                               ms_until(window_end, MAX_POLL_WAIT));
        if (ready < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int e = 0; e < ready; e++) {
            struct connection *c = &connections[events[e].data.u32];
            ssize_t got = recv(c->fd, buffer, sizeof buffer, 0);
            if (got < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (got < 0)
                die("recv: %s", strerror(errno));
            if (got == 0)
                die("the server closed a connection during the run");
            if (!o->udp) {  /* TCP is a byte stream: an echo may come in pieces */
                c->missing -= (int)got;
                if (c->missing > 0)
                    continue;
            }
            c->missing = o->size;
            if (counting)
                result.echoes++;
            send_all(c->fd, message, o->size, send_deadline);
            if (o->udp)
                c->sent_at = t;
        }
        t = now();
        if (o->udp && t >= next_check) {
            result.lost += resend_stale(connections, o, message, t);
            next_check = t + UDP_RESEND_AFTER;
        }
    }
    double cpu_end = cpu_now();
    result.cpu = cpu_start < 0 ? 0.0 : cpu_end - cpu_start;
    close(epoll_fd);
    free(events);
    free(message);
    return result;
}

int main(int argc, char **argv)
{
    struct options o = parse_options(argc, argv);
    signal(SIGPIPE, SIG_IGN);  /* as in Python: a closed peer is an error code, not a signal */
    raise_fd_limit();
    struct connection *connections = calloc((size_t)o.connections, sizeof *connections);
    if (connections == NULL)
        die("out of memory");
    if (o.udp)
        open_udp(connections, &o);
    else
        open_tcp(connections, &o, now() + o.setup_timeout);
    double t0 = wait_for_go(o.setup_timeout);
    struct result r = echo_loop(connections, &o, t0);
    for (int i = 0; i < o.connections; i++)
        close(connections[i].fd);
    free(connections);
    /* The line json.dumps writes in clients.py, with the same keys in the same order. */
    printf("{\"echoes\": %lld, \"bytes\": %lld, \"cpu\": %.6f, \"lost\": %lld}\n", r.echoes,
           2 * r.echoes * o.size, r.cpu, r.lost);
    fflush(stdout);
    return 0;
}
