/*
 * gsdeps: what the GraceService reconciler is given by whoever runs it
 * (the daemon, or a test): the API client and caches from the runtime, its
 * configuration as plain data, and a metrics sink it calls. The controllers
 * layer owns these types, so it needs nothing from the daemon's headers:
 * the daemon fills them from its configuration file and its metrics
 * registry (operator/manager.c).
 */
#ifndef GRACE_GSDEPS_H
#define GRACE_GSDEPS_H

#include <jansson.h>
#include <stdbool.h>

#include "childkinds.h"
#include "kclient.h"
#include "kinformer.h"
#include "krecorder.h"
#include "ktrace.h"

#define GS_FINALIZER "grace.dev/cleanup"
#define GS_FIELD_MANAGER "grace-operator"

/* Where the platform's PostgreSQL is and which Secret holds its admin
 * credentials. Strings are borrowed (NULL or "" = not set). */
struct gs_pg_config {
    const char *host;
    int port; /* 0 = not set */
    const char *sslmode;
    const char *admin_secret_namespace;
    const char *admin_secret_name;
};

/* The reconciler's configuration. `templates` is the object the templates
 * receive as their `config` argument (borrowed; gs_controller_new copies
 * it); the strings are borrowed and must outlive the controller. */
struct gs_config {
    const json_t *templates;
    const char *base_domain; /* "" or NULL: hostnames without a domain */
    bool tailscale;          /* tailnet exposure is on (mode is not "off") */
    bool backup;             /* backup schedules are on */
    struct gs_pg_config postgres;
};

/* A metrics sink: called with a service's new status.conditions (borrowed)
 * after each reconcile that evaluated it, with its deletionTimestamp (Unix
 * seconds) while it is being deleted, and when the GraceService is gone.
 * Any callback may be NULL. Called from worker threads. */
struct gs_metrics {
    void (*service_conditions)(void *ctx, const char *ns, const char *name,
                               const json_t *conditions);
    void (*service_deleting)(void *ctx, const char *ns, const char *name, double since);
    void (*service_delete)(void *ctx, const char *ns, const char *name);
    void *ctx;
};

struct gs_deps {
    struct kclient *client;                      /* borrowed */
    struct kinformer *gs_inf;                    /* GraceService informer, borrowed */
    struct childkinds *kinds;                    /* resolved child kinds, borrowed, only read */
    struct kinformer *child_inf[CHILDKINDS_MAX]; /* per kinds index; NULL if not served */
    struct gs_config cfg;
    struct krecorder *rec;     /* borrowed, may be NULL */
    struct gs_metrics metrics; /* callbacks may be NULL */
    const char *templates_dir; /* borrowed */
    struct ktrace *tracer;     /* borrowed, NULL = no spans (gstrace.h) */
};

#endif
