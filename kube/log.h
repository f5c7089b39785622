/*
 * log: the operator's structured logging. One line per event, written with
 * a single write(2) under a mutex so lines from different threads never
 * interleave. Two renderings of the same fields:
 *
 *   JSON (in the cluster):  {"ts":"2024-05-01T10:00:00.123Z","level":"info",
 *                            "msg":"reconciled","controller":"graceservice",...}
 *   key=value (terminal):   ts=2024-05-01T10:00:00.123Z level=info msg=reconciled
 *                            controller=graceservice namespace=default ...
 *
 * Fields are string key/value pairs passed as varargs and terminated by a
 * NULL key. A thread-local context (controller, namespace, name, reconcile
 * id) set by the worker around a reconcile is added to every line that
 * thread writes, so every line of a reconcile carries its reconcile id.
 *
 * Redaction: the value of a key named password, token, secret, uri or key
 * (case-insensitive), or ending in "password" or "token" (bearerToken,
 * adminPassword), is replaced by "[REDACTED]". Log a work-queue key under
 * another name ("object", "item"): "key" is redacted.
 *
 * Globals (allowed by STYLE.md: log configuration): the format, the level and
 * the output descriptor. log_init() is called once before threads start;
 * log_msg() is then safe from any thread.
 *
 * Note: the level names LOG_INFO/LOG_DEBUG collide with <syslog.h> macros;
 * never include <syslog.h> in a file that includes this header.
 */
#ifndef GRACE_LOG_H
#define GRACE_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "kerr.h"

enum log_format {
    LOG_AUTO = 0, /* key=value when the output is a TTY, JSON otherwise */
    LOG_JSON,
    LOG_KV,
};

enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO,
    LOG_WARN,
    LOG_ERROR,
};

/* Configure format and minimum level. LOG_AUTO is resolved here against the
 * current output descriptor (stderr unless log_set_output was called).
 * Call before starting threads; may be called again (tests). */
void log_init(enum log_format fmt, enum log_level lvl);

/* Send lines to `fd` instead of stderr (2). The descriptor is borrowed: the
 * caller keeps it open while logging. Call before log_init() so LOG_AUTO sees
 * it. Meant for tests and for the CLI. */
void log_set_output(int fd);

/* Parse "debug", "info", "warn"/"warning", "error" (case-insensitive) into
 * *out. KERR_INVAL (with a message naming the accepted values) otherwise. */
enum kerr log_parse_level(const char *s, enum log_level *out, struct kerr_info *err);

/* Parse "json", "kv"/"text"/"console", "auto" (case-insensitive). */
enum kerr log_parse_format(const char *s, enum log_format *out, struct kerr_info *err);

/* Static name of a level: "debug", "info", "warn", "error". */
const char *log_level_name(enum log_level lvl);

/* True when a line at `lvl` would be written (to skip costly field building). */
bool log_enabled(enum log_level lvl);

/* The terminator of log_msg's key/value list. Plain NULL works too (it is
 * ((void *)0) with glibc); LOG_END keeps cppcheck's varFuncNullUB quiet. */
#define LOG_END ((const char *)0)

/*
 * Write one line: `msg` and then string key/value pairs, terminated by a NULL
 * key: log_msg(LOG_INFO, "reconciled", "namespace", ns, "name", n, LOG_END).
 * A NULL value is written as an empty string. Keys given here override the
 * same keys from the thread's context. Never fails (a write error is dropped).
 */
void log_msg(enum log_level lvl, const char *msg, ...) __attribute__((sentinel));
void log_msgv(enum log_level lvl, const char *msg, va_list ap);

/*
 * Thread-local context added to every line this thread writes, as the keys
 * "controller", "namespace", "name", "reconcileID" (empty or NULL arguments are
 * left out). Values are copied (truncated to 253 bytes). log_ctx_clear()
 * removes them; call it when the reconcile ends.
 */
void log_ctx_set(const char *controller, const char *ns, const char *name,
                 const char *reconcile_id);
void log_ctx_clear(void);
/* Add "traceID" (the reconcile's trace, 32 hex; NULL or "" removes it) to
 * the thread's context, beside reconcileID. */
void log_ctx_set_trace_id(const char *trace_id);
/* The thread's reconcile ID ("" when none; borrowed, thread-local). */
const char *log_ctx_reconcile_id(void);

/* Fill `buf` with a new random UUIDv4 ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx",
 * NUL-terminated), from OpenSSL RAND_bytes. Returns buf. */
char *log_new_reconcile_id(char buf[37]);

#endif
