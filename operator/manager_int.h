/*
 * manager_int: the manager's state, shared by manager.c (start-up, run
 * loop, shutdown) and manager_http.c (what the HTTP server serves: health,
 * readiness, metrics, the directory, the admission webhook). Internal to
 * those two files.
 */
#ifndef GRACE_MANAGER_INT_H
#define GRACE_MANAGER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "childkinds.h"
#include "config.h"
#include "dirpub.h"
#include "graceservice.h"
#include "httpd.h"
#include "kclient.h"
#include "kconfig.h"
#include "kdiscovery.h"
#include "kinformer.h"
#include "kleader.h"
#include "krecorder.h"
#include "ktrace.h"
#include "kwatch.h"
#include "metrics.h"
#include "mgrflags.h"
#include "opmetrics.h"
#include "webhook.h"
#include "wq.h"

#define MGR_CONTROLLER "graceservice"

struct mgr {
    struct mgr_flags f;
    struct grace_config *cfg;
    struct kconfig *kcfg;
    struct kclient *client;
    struct ktrace *tracer; /* NULL: traces off */
    struct kdiscovery *disc;
    struct kwatcher *watcher;
    struct kinformer *gs_inf;
    struct childkinds kinds; /* resolved in discover(), read-only afterwards */
    struct kinformer *child_inf[CHILDKINDS_MAX];
    struct krecorder *rec;
    struct gs_controller *ctl;
    struct wq *q;
    struct kleader *leader;
    struct httpd *http;
    struct metrics *metrics;
    struct opm *opm;
    struct webhook_routes routes;
    struct dirpub *dir; /* set before ready_ctl */
    pthread_t workers[256];
    int nworkers;
    atomic_int leading;    /* 1 while this replica may reconcile */
    atomic_int lost_lease; /* leadership was lost: exit non-zero */
    atomic_int ready_ctl;  /* informers exist: readyz may look at them */
    char identity[256];
    char leader_ns[256];
};

/* Every informer has synced (GraceServices and the child kinds). */
bool mgr_synced(struct mgr *m);

/* Create and start the HTTP server (manager_http.c) on the flags'
 * addresses; the webhook's certificate comes from --webhook-cert-dir or is
 * generated. Logs the bound ports. */
enum kerr mgr_start_http(struct mgr *m, struct kerr_info *err);

#endif
