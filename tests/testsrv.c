/*
 * testsrv: scripted HTTP/1.1 test server (see testsrv.h).
 *
 * One accept thread (poll on the listening socket and a stop pipe) and one
 * thread per connection. A connection thread reads a request (headers up
 * to a blank line, then Content-Length bytes), records it, takes the next
 * scripted response (or asks the handler) and writes it, honouring the
 * delays, chunking and cuts it asks for. `lock` guards the queue, the
 * recorded requests and the connection list; it is never held while
 * reading or writing a socket.
 */
#include "testsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TS_MAX_HEAD (64 * 1024)
#define TS_MAX_BODY (64 * 1024 * 1024)

struct ts_queued {
    struct testsrv_resp r; /* strings owned */
    struct ts_queued *next;
};

struct ts_conn {
    struct testsrv *s;
    int fd;
    int id;
    pthread_t th;
    struct ts_conn *next;
};

struct testsrv {
    int lfd;
    int stop_pipe[2];
    int port;
    char url[64];
    pthread_t accept_th;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled on each recorded request */
    struct ts_queued *head, *tail;
    testsrv_handler_fn handler;
    void *hctx;
    struct testsrv_req **reqs;
    size_t nreqs, reqs_alloc;
    struct ts_conn *conns;
    int nconns;
    bool stopping;
};

static void ts_die(const char *what)
{
    fprintf(stderr, "testsrv: %s: %s\n", what, strerror(errno));
    abort();
}

static char *ts_strdup(const char *p)
{
    if (!p)
        return NULL;
    char *d = strdup(p);
    if (!d)
        abort();
    return d;
}

static void ts_sleep_ms(int ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static bool ts_send(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static void ts_req_free(struct testsrv_req *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->names[i]);
        free(r->values[i]);
    }
    free(r->names);
    free(r->values);
    free(r->path);
    free(r->body);
    free(r);
}

const char *testsrv_header(const struct testsrv_req *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->names[i], name) == 0)
            return r->values[i];
    return NULL;
}

/* Parse the head (request line + headers, NUL-terminated, CRLFs). */
static struct testsrv_req *ts_parse_head(char *head)
{
    struct testsrv_req *r = calloc(1, sizeof *r);
    char *save = NULL;
    char *line = strtok_r(head, "\r\n", &save);
    char path[8192];
    if (!r || !line || sscanf(line, "%15s %8191s", r->method, path) != 2) {
        free(r);
        return NULL;
    }
    r->path = ts_strdup(path);
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        r->names = realloc(r->names, (r->nheaders + 1) * sizeof *r->names);
        r->values = realloc(r->values, (r->nheaders + 1) * sizeof *r->values);
        if (!r->names || !r->values)
            abort();
        r->names[r->nheaders] = ts_strdup(line);
        r->values[r->nheaders] = ts_strdup(v);
        r->nheaders++;
    }
    return r;
}

/* Buffered reader over one connection. */
struct ts_reader {
    int fd;
    char buf[16384];
    size_t have, off;
};

static int ts_getc(struct ts_reader *rd)
{
    if (rd->off == rd->have) {
        ssize_t n;
        do
            n = recv(rd->fd, rd->buf, sizeof rd->buf, 0);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
            return -1;
        rd->have = (size_t)n;
        rd->off = 0;
    }
    return (unsigned char)rd->buf[rd->off++];
}

/* Read one request; NULL on EOF or error. */
static struct testsrv_req *ts_read_request(struct ts_reader *rd)
{
    char *head = malloc(TS_MAX_HEAD + 1);
    size_t n = 0;
    if (!head)
        abort();
    while (n < TS_MAX_HEAD) {
        int c = ts_getc(rd);
        if (c < 0)
            break;
        head[n++] = (char)c;
        if (n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    if (n < 4 || memcmp(head + n - 4, "\r\n\r\n", 4) != 0) {
        free(head);
        return NULL;
    }
    head[n] = '\0';
    struct testsrv_req *r = ts_parse_head(head);
    free(head);
    if (!r)
        return NULL;
    const char *cl = testsrv_header(r, "Content-Length");
    size_t len = cl ? strtoul(cl, NULL, 10) : 0;
    if (len > TS_MAX_BODY) {
        ts_req_free(r);
        return NULL;
    }
    const char *expect = testsrv_header(r, "Expect");
    if (expect && strcasecmp(expect, "100-continue") == 0)
        ts_send(rd->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    r->body = malloc(len + 1);
    if (!r->body)
        abort();
    for (size_t i = 0; i < len; i++) {
        int c = ts_getc(rd);
        if (c < 0) {
            ts_req_free(r);
            return NULL;
        }
        r->body[i] = (char)c;
    }
    r->body[len] = '\0';
    r->body_len = len;
    return r;
}

static void ts_record(struct testsrv *s, struct testsrv_req *r)
{
    pthread_mutex_lock(&s->lock);
    if (s->nreqs == s->reqs_alloc) {
        s->reqs_alloc = s->reqs_alloc ? s->reqs_alloc * 2 : 16;
        s->reqs = realloc(s->reqs, s->reqs_alloc * sizeof *s->reqs);
        if (!s->reqs)
            abort();
    }
    s->reqs[s->nreqs++] = r;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void ts_queued_free(struct ts_queued *q)
{
    if (!q)
        return;
    free((char *)q->r.headers);
    free((char *)q->r.body);
    free((char *)q->r.content_type);
    free(q);
}

/* Next response for `r`: a queued one (caller frees *owned) or the
 * handler's, or a 404. */
static void ts_pick(struct testsrv *s, const struct testsrv_req *r, struct testsrv_resp *out,
                    struct ts_queued **owned)
{
    pthread_mutex_lock(&s->lock);
    struct ts_queued *q = s->head;
    if (q) {
        s->head = q->next;
        if (!s->head)
            s->tail = NULL;
    }
    testsrv_handler_fn fn = s->handler;
    void *ctx = s->hctx;
    pthread_mutex_unlock(&s->lock);
    *owned = q;
    memset(out, 0, sizeof *out);
    if (q) {
        *out = q->r;
    } else if (fn) {
        fn(ctx, r, out);
    } else {
        out->status = 404;
        out->content_type = "text/plain";
        out->body = "no scripted response\n";
    }
}

static const char *ts_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 304:
        return "Not Modified";
    case 404:
        return "Not Found";
    case 409:
        return "Conflict";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

/* Send the body in pieces; chunked framing if asked. false = connection gone/cut. */
static bool ts_send_body(int fd, const struct testsrv_resp *r, const char *body, size_t len)
{
    size_t piece = r->piece ? r->piece : (len ? len : 1);
    size_t sent = 0;
    while (sent < len) {
        size_t n = len - sent < piece ? len - sent : piece;
        if (r->cut_after > 0 && sent + n > (size_t)r->cut_after)
            n = (size_t)r->cut_after - sent;
        char hdr[32];
        int hl = snprintf(hdr, sizeof hdr, "%zx\r\n", n);
        if (n > 0 && r->chunked && !ts_send(fd, hdr, (size_t)hl))
            return false;
        if (!ts_send(fd, body + sent, n) || (r->chunked && n > 0 && !ts_send(fd, "\r\n", 2)))
            return false;
        sent += n;
        if (r->cut_after > 0 && sent >= (size_t)r->cut_after)
            return false;
        if (sent < len)
            ts_sleep_ms(r->piece_delay_ms);
    }
    if (r->chunked) {
        ts_sleep_ms(r->hold_ms);
        return ts_send(fd, "0\r\n\r\n", 5);
    }
    return true;
}

/* Write one response; false when the connection must be closed. */
static bool ts_respond(int fd, const struct testsrv_resp *r, bool head_only)
{
    ts_sleep_ms(r->delay_ms);
    if (r->status == 0)
        return false;
    const char *body = r->body ? r->body : "";
    size_t len = r->body_len ? r->body_len : strlen(body);
    char head[4096];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%s", r->status,
                     ts_reason(r->status), r->content_type ? r->content_type : "application/json",
                     r->close ? "Connection: close\r\n" : "");
    if (r->chunked)
        n += snprintf(head + n, sizeof head - (size_t)n, "Transfer-Encoding: chunked\r\n");
    else
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", len);
    n += snprintf(head + n, sizeof head - (size_t)n, "%s\r\n", r->headers ? r->headers : "");
    if (n >= (int)sizeof head || !ts_send(fd, head, (size_t)n))
        return false;
    if (!head_only && !ts_send_body(fd, r, body, len))
        return false;
    return !r->close;
}

static void *ts_conn_main(void *arg)
{
    struct ts_conn *c = arg;
    struct ts_reader *rd = calloc(1, sizeof *rd);
    if (!rd)
        abort();
    rd->fd = c->fd;
    for (;;) {
        struct testsrv_req *r = ts_read_request(rd);
        if (!r)
            break;
        r->conn = c->id;
        struct testsrv_resp resp;
        struct ts_queued *owned = NULL;
        ts_pick(c->s, r, &resp, &owned);
        bool head_only = strcmp(r->method, "HEAD") == 0;
        ts_record(c->s, r);
        bool keep = ts_respond(c->fd, &resp, head_only);
        ts_queued_free(owned);
        if (!keep)
            break;
    }
    free(rd);
    shutdown(c->fd, SHUT_RDWR);
    return NULL;
}

static void *ts_accept_main(void *arg)
{
    struct testsrv *s = arg;
    for (;;) {
        struct pollfd p[2] = {{s->lfd, POLLIN, 0}, {s->stop_pipe[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            ts_die("poll");
        }
        if (p[1].revents)
            break;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        int one = 1; /* small writes (head, then body) must not wait for delayed ACKs */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct ts_conn *c = calloc(1, sizeof *c);
        if (!c)
            abort();
        c->s = s;
        c->fd = fd;
        pthread_mutex_lock(&s->lock);
        c->id = ++s->nconns;
        c->next = s->conns;
        s->conns = c;
        pthread_mutex_unlock(&s->lock);
        if (pthread_create(&c->th, NULL, ts_conn_main, c) != 0)
            ts_die("pthread_create");
    }
    return NULL;
}

struct testsrv *testsrv_start(void)
{
    signal(SIGPIPE, SIG_IGN);
    struct testsrv *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->lfd < 0)
        ts_die("socket");
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->lfd, 64) != 0)
        ts_die("bind/listen");
    socklen_t al = sizeof a;
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", s->port);
    if (pipe(s->stop_pipe) != 0)
        ts_die("pipe");
    if (pthread_create(&s->accept_th, NULL, ts_accept_main, s) != 0)
        ts_die("pthread_create");
    return s;
}

void testsrv_stop(struct testsrv *s)
{
    if (!s)
        return;
    if (write(s->stop_pipe[1], "x", 1) != 1)
        ts_die("write");
    pthread_join(s->accept_th, NULL);
    pthread_mutex_lock(&s->lock);
    struct ts_conn *conns = s->conns;
    s->conns = NULL;
    pthread_mutex_unlock(&s->lock);
    for (struct ts_conn *c = conns; c; c = c->next)
        shutdown(c->fd, SHUT_RDWR);
    while (conns) {
        struct ts_conn *c = conns;
        conns = c->next;
        pthread_join(c->th, NULL);
        close(c->fd);
        free(c);
    }
    close(s->lfd);
    close(s->stop_pipe[0]);
    close(s->stop_pipe[1]);
    while (s->head) {
        struct ts_queued *q = s->head;
        s->head = q->next;
        ts_queued_free(q);
    }
    for (size_t i = 0; i < s->nreqs; i++)
        ts_req_free(s->reqs[i]);
    free(s->reqs);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int testsrv_port(const struct testsrv *s)
{
    return s->port;
}

const char *testsrv_url(const struct testsrv *s)
{
    return s->url;
}

void testsrv_push(struct testsrv *s, const struct testsrv_resp *r)
{
    struct ts_queued *q = calloc(1, sizeof *q);
    if (!q)
        abort();
    q->r = *r;
    q->r.headers = ts_strdup(r->headers);
    q->r.content_type = ts_strdup(r->content_type);
    if (r->body) {
        size_t len = r->body_len ? r->body_len : strlen(r->body);
        char *b = malloc(len + 1);
        if (!b)
            abort();
        memcpy(b, r->body, len);
        b[len] = '\0';
        q->r.body = b;
        q->r.body_len = len;
    }
    pthread_mutex_lock(&s->lock);
    if (s->tail)
        s->tail->next = q;
    else
        s->head = q;
    s->tail = q;
    pthread_mutex_unlock(&s->lock);
}

void testsrv_push_simple(struct testsrv *s, int status, const char *body, int n)
{
    for (int i = 0; i < n; i++)
        testsrv_push(s, &(struct testsrv_resp){.status = status, .body = body});
}

void testsrv_set_handler(struct testsrv *s, testsrv_handler_fn fn, void *ctx)
{
    pthread_mutex_lock(&s->lock);
    s->handler = fn;
    s->hctx = ctx;
    pthread_mutex_unlock(&s->lock);
}

size_t testsrv_nrequests(struct testsrv *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->nreqs;
    pthread_mutex_unlock(&s->lock);
    return n;
}

const struct testsrv_req *testsrv_request(struct testsrv *s, size_t i)
{
    pthread_mutex_lock(&s->lock);
    const struct testsrv_req *r = i < s->nreqs ? s->reqs[i] : NULL;
    pthread_mutex_unlock(&s->lock);
    return r;
}

bool testsrv_wait_requests(struct testsrv *s, size_t n, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->lock);
    while (s->nreqs < n)
        if (pthread_cond_timedwait(&s->cond, &s->lock, &dl) != 0)
            break;
    bool ok = s->nreqs >= n;
    pthread_mutex_unlock(&s->lock);
    return ok;
}

int testsrv_connections(struct testsrv *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->nconns;
    pthread_mutex_unlock(&s->lock);
    return n;
}
