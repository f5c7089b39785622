/*
 * log: structured logging (JSON or key=value), thread-local reconcile
 * context, redaction of secret-looking keys, reconcile ids. See log.h.
 *
 * Each line is built in memory as a jansson object (insertion order is kept:
 * ts, level, msg, context keys, then the caller's keys) and rendered either
 * with json_dumps or as logfmt-style key=value, then written with one
 * write(2) loop under g_write_mu.
 */
#include "log.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define LOG_CTX_MAX 254
#define LOG_REDACTED "[REDACTED]"

/* Globals (log configuration, see log.h). Set before threads start. */
static int g_fd = 2;
static enum log_format g_format = LOG_JSON;
static atomic_int g_level = LOG_INFO;
/* g_write_mu guards writes to g_fd so lines never interleave. */
static pthread_mutex_t g_write_mu = PTHREAD_MUTEX_INITIALIZER;

struct log_ctx {
    char controller[LOG_CTX_MAX];
    char ns[LOG_CTX_MAX];
    char name[LOG_CTX_MAX];
    char reconcile_id[LOG_CTX_MAX];
    char trace_id[40];
};
static _Thread_local struct log_ctx t_ctx;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_output(int fd)
{
    g_fd = fd;
}

void log_init(enum log_format fmt, enum log_level lvl)
{
    if (fmt == LOG_AUTO)
        fmt = isatty(g_fd) ? LOG_KV : LOG_JSON;
    g_format = fmt;
    atomic_store(&g_level, (int)lvl);
}

const char *log_level_name(enum log_level lvl)
{
    if ((int)lvl < LOG_DEBUG || lvl > LOG_ERROR)
        return "info";
    return level_names[lvl];
}

enum kerr log_parse_level(const char *s, enum log_level *out, struct kerr_info *err)
{
    static const struct {
        const char *name;
        enum log_level lvl;
    } names[] = {{"debug", LOG_DEBUG},
                 {"info", LOG_INFO},
                 {"warn", LOG_WARN},
                 {"warning", LOG_WARN},
                 {"error", LOG_ERROR}};
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].lvl;
            return KERR_OK;
        }
    }
    return kerr_set(err, KERR_INVAL, 0, "BadLogLevel",
                    "invalid log level \"%s\": expected debug, info, warn or error", s ? s : "");
}

enum kerr log_parse_format(const char *s, enum log_format *out, struct kerr_info *err)
{
    if (s && strcasecmp(s, "json") == 0)
        *out = LOG_JSON;
    else if (s && (strcasecmp(s, "kv") == 0 || strcasecmp(s, "text") == 0 ||
                   strcasecmp(s, "console") == 0))
        *out = LOG_KV;
    else if (s && strcasecmp(s, "auto") == 0)
        *out = LOG_AUTO;
    else
        return kerr_set(err, KERR_INVAL, 0, "BadLogFormat",
                        "invalid log format \"%s\": expected json, kv or auto", s ? s : "");
    return KERR_OK;
}

bool log_enabled(enum log_level lvl)
{
    return (int)lvl >= atomic_load(&g_level);
}

static void ctx_copy(char dst[LOG_CTX_MAX], const char *src)
{
    snprintf(dst, LOG_CTX_MAX, "%s", src ? src : "");
}

void log_ctx_set(const char *controller, const char *ns, const char *name, const char *reconcile_id)
{
    ctx_copy(t_ctx.controller, controller);
    ctx_copy(t_ctx.ns, ns);
    ctx_copy(t_ctx.name, name);
    ctx_copy(t_ctx.reconcile_id, reconcile_id);
}

void log_ctx_set_trace_id(const char *trace_id)
{
    snprintf(t_ctx.trace_id, sizeof t_ctx.trace_id, "%s", trace_id ? trace_id : "");
}

const char *log_ctx_reconcile_id(void)
{
    return t_ctx.reconcile_id;
}

void log_ctx_clear(void)
{
    memset(&t_ctx, 0, sizeof t_ctx);
}

char *log_new_reconcile_id(char buf[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1 && getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        /* Both sources failed: still unique enough within this process. */
        static atomic_ulong counter;
        unsigned long c = atomic_fetch_add(&counter, 1);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        memcpy(b, &ts, sizeof b < sizeof ts ? sizeof b : sizeof ts);
        memcpy(b + 8, &c, sizeof c < 8 ? sizeof c : 8);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return buf;
}

static bool ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static bool key_is_secret(const char *key)
{
    static const char *const exact[] = {"password", "token", "secret", "uri", "key"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strcasecmp(key, exact[i]) == 0)
            return true;
    return ends_with_ci(key, "password") || ends_with_ci(key, "token");
}

/* A JSON string for `s`; bytes of invalid UTF-8 become '?'. */
static json_t *safe_string(const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (j)
        return j;
    char *copy = kerr_xstrdup(s);
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    if (!j)
        kerr_oom();
    return j;
}

static void set_field(json_t *obj, const char *key, const char *val)
{
    char renamed[128];
    if (!key || !*key)
        return;
    if (strcmp(key, "ts") == 0 || strcmp(key, "level") == 0 || strcmp(key, "msg") == 0) {
        snprintf(renamed, sizeof renamed, "field.%s", key);
        key = renamed;
    }
    json_t *v = key_is_secret(key) ? json_string(LOG_REDACTED) : safe_string(val);
    if (json_object_set_new(obj, key, v) != 0) {
        /* only an invalid UTF-8 key gets here; keep the line, mark the key */
        json_object_set_new(obj, "badKey", safe_string(key));
    }
}

static void format_ts(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static json_t *build_fields(enum log_level lvl, const char *msg, va_list ap)
{
    char ts[40];
    json_t *obj = json_object();
    if (!obj)
        kerr_oom();
    format_ts(ts, sizeof ts);
    json_object_set_new(obj, "ts", json_string(ts));
    json_object_set_new(obj, "level", json_string(log_level_name(lvl)));
    json_object_set_new(obj, "msg", safe_string(msg));
    if (t_ctx.controller[0])
        json_object_set_new(obj, "controller", safe_string(t_ctx.controller));
    if (t_ctx.ns[0])
        json_object_set_new(obj, "namespace", safe_string(t_ctx.ns));
    if (t_ctx.name[0])
        json_object_set_new(obj, "name", safe_string(t_ctx.name));
    if (t_ctx.reconcile_id[0])
        json_object_set_new(obj, "reconcileID", safe_string(t_ctx.reconcile_id));
    if (t_ctx.trace_id[0])
        json_object_set_new(obj, "traceID", safe_string(t_ctx.trace_id));
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (!key)
            break;
        const char *val = va_arg(ap, const char *);
        set_field(obj, key, val);
    }
    return obj;
}

static bool kv_needs_quotes(const char *s)
{
    if (!*s)
        return true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
            return true;
    return false;
}

static void kv_put_value(FILE *f, const char *s)
{
    if (!kv_needs_quotes(s)) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < ' ' || *p == 0x7f)
                fprintf(f, "\\x%02x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* Render as key=value; keys are sanitised (no space, '=' or quote). */
static char *render_kv(const json_t *obj, size_t *len)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        kerr_oom();
    const char *key;
    json_t *val;
    bool first = true;
    json_object_foreach((json_t *)obj, key, val)
    {
        if (!first)
            fputc(' ', f);
        first = false;
        for (const unsigned char *p = (const unsigned char *)key; *p; p++)
            fputc((*p <= ' ' || *p == '=' || *p == '"') ? '_' : *p, f);
        fputc('=', f);
        kv_put_value(f, json_string_value(val));
    }
    fputc('\n', f);
    if (fclose(f) != 0)
        kerr_oom();
    *len = size;
    return buf;
}

static char *render_json(const json_t *obj, size_t *len)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    if (!s)
        kerr_oom();               /* json_dumps fails only on OOM */
    size_t n = s ? strlen(s) : 0; /* (the test keeps cppcheck quiet) */
    char *line = kerr_xmalloc(n + 2);
    if (n)
        memcpy(line, s, n);
    line[n] = '\n';
    line[n + 1] = '\0';
    free(s);
    *len = n + 1;
    return line;
}

static void write_line(const char *buf, size_t len)
{
    pthread_mutex_lock(&g_write_mu);
    while (len > 0) {
        ssize_t n = write(g_fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* nowhere to report a failing log write */
        buf += n;
        len -= (size_t)n;
    }
    pthread_mutex_unlock(&g_write_mu);
}

void log_msgv(enum log_level lvl, const char *msg, va_list ap)
{
    if (!log_enabled(lvl))
        return;
    json_t *obj = build_fields(lvl, msg, ap);
    size_t len = 0;
    char *line = g_format == LOG_KV ? render_kv(obj, &len) : render_json(obj, &len);
    json_decref(obj);
    write_line(line, len);
    free(line);
}

void log_msg(enum log_level lvl, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    log_msgv(lvl, msg, ap);
    va_end(ap);
}
