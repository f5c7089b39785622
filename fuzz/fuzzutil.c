/*
 * fuzzutil: helpers shared by the harnesses (see fuzzutil.h).
 */
#include "fuzzutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fz_dirs[4][64]; /* made by fz_tmpdir, removed at exit */
static int fz_ndirs;

#include "log.h"

void fz_rng_seed(struct fz_rng *r, const uint8_t *data, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= data[i];
        h *= 1099511628211ull;
    }
    r->s = h ? h : 0x9e3779b97f4a7c15ull;
}

size_t fz_rng_below(struct fz_rng *r, size_t bound)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    uint64_t v = r->s * 2685821657736338717ull;
    return bound ? (size_t)(v % bound) : 0;
}

void fz_fail(const char *harness, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "\n==fuzz %s: invariant broken: ", harness);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

char *fz_strndup(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    if (n)
        memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

void fz_init_quiet(void)
{
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        close(fd);
    }
    int lfd = open("/dev/null", O_WRONLY);
    if (lfd >= 0)
        log_set_output(lfd); /* kept open for the life of the process */
    log_init(LOG_KV, LOG_ERROR);
}

char *fz_dump(const char *harness, const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!s)
        fz_fail(harness, "a parsed tree does not dump");
    return s;
}

/* Remove the (flat) directories fz_tmpdir made, best effort. */
static void fz_rm_dirs(void)
{
    for (int i = 0; i < fz_ndirs; i++) {
        DIR *d = opendir(fz_dirs[i]);
        struct dirent *e;
        char p[400];
        while (d && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                snprintf(p, sizeof p, "%s/%s", fz_dirs[i], e->d_name);
                unlink(p);
            }
        }
        if (d)
            closedir(d);
        rmdir(fz_dirs[i]);
    }
}

void fz_tmpdir(char *buf, size_t size, const char *name)
{
    if (fz_ndirs >= 4 || size < 64)
        abort();
    snprintf(buf, size, "/tmp/fuzz-%.30s-XXXXXX", name);
    if (!mkdtemp(buf))
        abort();
    snprintf(fz_dirs[fz_ndirs], sizeof fz_dirs[0], "%s", buf);
    if (fz_ndirs++ == 0)
        atexit(fz_rm_dirs);
}
