/*
 * pgsrv: PostgreSQL for unit suites (see pgsrv.h); hack/pg.sh does the work.
 */
#include "pgsrv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int run_cmd(const char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int pgsh(struct pgsrv *s, const char *verb)
{
    const char *argv[] = {"bash", s->pgsh, verb, s->dir, NULL};
    return run_cmd(argv);
}

/* $GRACE_PG_SH, ./hack/pg.sh, or relative to the binary. */
static int find_pgsh(struct pgsrv *s, const char *argv0)
{
    const char *env = getenv("GRACE_PG_SH");
    if (env) {
        snprintf(s->pgsh, sizeof s->pgsh, "%s", env);
        return access(s->pgsh, R_OK);
    }
    snprintf(s->pgsh, sizeof s->pgsh, "hack/pg.sh");
    if (access(s->pgsh, R_OK) == 0)
        return 0;
    const char *slash = strrchr(argv0, '/');
    int dl = slash ? (int)(slash - argv0) : 1;
    snprintf(s->pgsh, sizeof s->pgsh, "%.*s/../../hack/pg.sh", dl, slash ? argv0 : ".");
    return access(s->pgsh, R_OK);
}

static bool bin_present(void)
{
    char path[512];
    const char *bin = getenv("PG_BIN");
    snprintf(path, sizeof path, "%s/postgres", bin ? bin : "/usr/lib/postgresql/15/bin");
    return access(path, X_OK) == 0;
}

static void env_value(struct pgsrv *s, const char *k, const char *v)
{
    if (strcmp(k, "PGHOST") == 0)
        snprintf(s->host, sizeof s->host, "%s", v);
    else if (strcmp(k, "PGPORT") == 0)
        s->port = (int)strtol(v, NULL, 10);
    else if (strcmp(k, "PGUSER") == 0)
        snprintf(s->user, sizeof s->user, "%s", v);
    else if (strcmp(k, "PGPASSWORD") == 0)
        snprintf(s->password, sizeof s->password, "%s", v);
    else if (strcmp(k, "PGDATABASE") == 0)
        snprintf(s->dbname, sizeof s->dbname, "%s", v);
}

static int load_env(struct pgsrv *s)
{
    char path[300], line[512];
    snprintf(path, sizeof path, "%s/pg.env", s->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *eq = strchr(line, '=');
        if (strncmp(line, "export ", 7) != 0 || !eq)
            continue;
        *eq = '\0';
        env_value(s, line + 7, eq + 1);
    }
    fclose(f);
    return (s->host[0] && s->port > 0 && s->user[0] && s->password[0]) ? 0 : -1;
}

static int start_own(struct pgsrv *s, const char *suite)
{
    if (!bin_present()) {
        fprintf(stderr,
                "%s: FAIL: PostgreSQL server binaries not found (PG_BIN); install "
                "the postgresql package (hack/deps.sh)\n",
                suite);
        return -1;
    }
    snprintf(s->dir, sizeof s->dir, "/tmp/grace-pgsrv-XXXXXX");
    if (!mkdtemp(s->dir))
        return -1;
    s->own = true;
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("PG_OWNER_PID", pid, 1); /* the server stops itself if we crash */
    if (pgsh(s, "start") != 0) {
        fprintf(stderr, "%s: FAIL: hack/pg.sh start %s failed\n", suite, s->dir);
        return -1;
    }
    return 0;
}

int pgsrv_start(struct pgsrv *s, const char *argv0, const char *suite)
{
    memset(s, 0, sizeof *s);
    const char *envfile = getenv("PG_ENV_FILE");
    if (find_pgsh(s, argv0) != 0) {
        fprintf(stderr, "%s: FAIL: hack/pg.sh not found (run from the repository root)\n", suite);
        return -1;
    }
    if (envfile && envfile[0]) {
        const char *slash = strrchr(envfile, '/');
        snprintf(s->dir, sizeof s->dir, "%.*s", slash ? (int)(slash - envfile) : 1,
                 slash ? envfile : ".");
    } else if (start_own(s, suite) != 0) {
        return -1;
    }
    if (load_env(s) != 0) {
        fprintf(stderr, "%s: FAIL: cannot read the server settings in %s\n", suite, s->dir);
        return -1;
    }
    return 0;
}

int pgsrv_ctl(struct pgsrv *s, const char *verb)
{
    return pgsh(s, verb);
}

void pgsrv_stop(struct pgsrv *s)
{
    if (!s->own)
        return;
    pgsh(s, "stop");
    const char *rm[] = {"rm", "-rf", s->dir, NULL};
    run_cmd(rm);
    s->own = false;
}
