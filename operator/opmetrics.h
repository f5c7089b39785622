/*
 * opmetrics: the operator's metric names, in one place, on top of the
 * generic registry (metrics.h). The names match what existing
 * controller-runtime / client-go dashboards and alerts expect:
 *
 *   controller_runtime_reconcile_total{controller,result}
 *   controller_runtime_reconcile_errors_total{controller}
 *   controller_runtime_reconcile_time_seconds{controller}      (histogram)
 *   controller_runtime_active_workers{controller}
 *   controller_runtime_max_concurrent_reconciles{controller}
 *   workqueue_depth / _adds_total / _retries_total{name}
 *   workqueue_queue_duration_seconds / _work_duration_seconds{name} (histograms)
 *   workqueue_unfinished_work_seconds / _longest_running_processor_seconds{name}
 *   rest_client_requests_total{code,method,host}
 *   rest_client_request_duration_seconds{verb,host}            (histogram)
 *   leader_election_master_status{name}
 *   grace_service_ready{namespace,name}
 *   grace_service_condition{namespace,name,type,status}  (one of True/False/Unknown is 1)
 *   grace_build_info{version}
 *   process_resident_memory_bytes, process_virtual_memory_bytes,
 *   process_cpu_seconds_total, process_start_time_seconds,
 *   process_open_fds, process_max_fds                    (read from /proc/self)
 *
 * The grace_service_* samples are not stored as series: opm keeps one small
 * record per GraceService (its condition types and statuses) and renders
 * them at scrape time (metrics_register_func), in pieces when streamed.
 *
 * Every helper is safe from any thread and does nothing when `o` is NULL, so
 * code paths without metrics (CLI, tests) can pass NULL.
 */
#ifndef GRACE_OPMETRICS_H
#define GRACE_OPMETRICS_H

#include <jansson.h>
#include <stdbool.h>

#include "metrics.h"
#include "wq.h"

struct opm;

enum opm_result {
    OPM_SUCCESS,
    OPM_ERROR,
    OPM_REQUEUE,
    OPM_REQUEUE_AFTER,
};

/* Register every family above in `m` (borrowed; must outlive the opm) and
 * the process collector; set grace_build_info{version} to 1. Aborts if a
 * family is already registered (a programming error). */
struct opm *opm_new(struct metrics *m, const char *version);

/* Free the opm (not the registry). NULL allowed. Detach queues first. */
void opm_free(struct opm *o);

/* The registry given to opm_new (borrowed). */
struct metrics *opm_registry(struct opm *o);

/* A controller starts: set max_concurrent_reconciles and create its
 * reconcile_total{result=*}, errors_total and active_workers series at 0. */
void opm_controller_init(struct opm *o, const char *controller, int max_workers);

/* A reconcile finished. OPM_ERROR also counts in reconcile_errors_total. */
void opm_reconcile_done(struct opm *o, const char *controller, enum opm_result result,
                        double seconds);

/* A worker starts (+1) or ends (-1) a reconcile. */
void opm_active_workers(struct opm *o, const char *controller, int delta);

/* Static label value of a result: "success", "error", "requeue", "requeue_after". */
const char *opm_result_name(enum opm_result r);

/*
 * Work queue metrics. opm_workqueue() copies a stats snapshot into the
 * depth / adds / retries / unfinished / longest series. opm_attach_wq() does
 * it at every scrape (a collector) and installs the queue's observer for the
 * two duration histograms; `q` is borrowed and must stay alive until
 * opm_free (or the metrics are no longer rendered).
 */
void opm_workqueue(struct opm *o, const char *name, const struct wq_stats *st);
void opm_attach_wq(struct opm *o, const char *name, struct wq *q);

/* One HTTP exchange with the API server. verb as kclient reports it ("GET",
 * "LIST", "WATCH", "APPLY", ...): the method label is the HTTP method (LIST,
 * WATCH -> GET; APPLY -> PATCH). code 0 (no response) is labelled "<error>". */
void opm_rest_request(struct opm *o, const char *verb, long code, const char *host, double seconds);

/* kclient_observer_fn-compatible adapter: ctx is the struct opm *, host is
 * the one set with opm_set_rest_host (copied). */
void opm_set_rest_host(struct opm *o, const char *host);
void opm_rest_observer(void *ctx, const char *verb, long code, double seconds);

/* leader_election_master_status{name} = 1 when leading, else 0. */
void opm_leader(struct opm *o, const char *name, bool leading);

/*
 * A GraceService's status.conditions (borrowed; an array of
 * {type,status,...}; NULL or non-array means none): for each condition type,
 * grace_service_condition{...,status=S} is 1 for its status and 0 for the two
 * others (a status other than True/False counts as Unknown); types no longer
 * present are removed; grace_service_ready is 1 iff Ready is True.
 */
void opm_service_conditions(struct opm *o, const char *ns, const char *name,
                            const json_t *conditions);

/* The GraceService is being deleted (metadata.deletionTimestamp, Unix
 * seconds): grace_service_deletion_timestamp_seconds{namespace,name} is set
 * until opm_service_delete; services not being deleted have no sample. */
void opm_service_deleting(struct opm *o, const char *ns, const char *name, double since);

/* The GraceService is gone: remove its grace_service_* series. In the three
 * opm_service_* calls a NULL ns or name is ignored. */
void opm_service_delete(struct opm *o, const char *ns, const char *name);

#endif
