/*
 * ktime: see ktime.h.
 */
#define _XOPEN_SOURCE 700 /* strptime */

#include "ktime.h"

#include <stdio.h>
#include <time.h>

double ktime_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long long ktime_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ktime_microtime(char buf[48])
{
    struct timespec ts;
    struct tm tm;
    char secs[24];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(secs, sizeof secs, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, 48, "%s.%06dZ", secs, (int)((ts.tv_nsec / 1000) % 1000000));
}

void ktime_rfc3339(char buf[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool ktime_parse_rfc3339(const char *text, double *out)
{
    struct tm tm = {0};
    const char *end = text ? strptime(text, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!end || (*end != 'Z' && *end != '.'))
        return false;
    *out = (double)timegm(&tm);
    return true;
}
