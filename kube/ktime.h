/*
 * ktime: the clocks and the Kubernetes time formats the runtime and the
 * controllers share: monotonic seconds/milliseconds for timeouts and
 * backoff, MicroTime (RFC 3339, exactly 6 fractional digits: Leases,
 * Events) and Time (RFC 3339 in seconds: conditions).
 */
#ifndef GRACE_KTIME_H
#define GRACE_KTIME_H

#include <stdbool.h>

/* Monotonic clock, seconds. */
double ktime_mono_s(void);

/* Monotonic clock, milliseconds. */
long long ktime_mono_ms(void);

/* Now as MicroTime, "2026-11-28T13:00:00.123456Z" (buf >= 32 bytes). */
void ktime_microtime(char buf[48]);

/* Now as Time, "2026-11-28T13:00:00Z" (buf >= 21 bytes). */
void ktime_rfc3339(char buf[32]);

/* A Time or MicroTime in UTC ("2026-11-28T13:00:00Z", a fraction ignored) as
 * Unix seconds; false (and *out untouched) when it does not parse. */
bool ktime_parse_rfc3339(const char *text, double *out);

#endif
