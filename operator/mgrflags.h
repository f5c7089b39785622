/*
 * mgrflags: the manager's command-line flags (getopt_long), with defaults
 * and the --help text. Plain value struct; strings borrowed from argv.
 */
#ifndef GRACE_MGRFLAGS_H
#define GRACE_MGRFLAGS_H

#include <stdbool.h>
#include <stdio.h>

#include "kerr.h"

struct mgr_flags {
    const char *kubeconfig;
    const char *context;
    const char *namespace_;       /* NULL = all namespaces */
    const char *config;           /* operator configuration file */
    const char *templates;        /* template directory override */
    int workers;
    int leader_elect;             /* -1 = default (on in-cluster) */
    const char *leader_ns;
    const char *leader_id;        /* Lease name */
    const char *identity;
    const char *metrics_addr;
    const char *health_addr;
    const char *webhook_addr;     /* "" or "0" = webhook server off */
    const char *webhook_cert_dir;
    const char *log_level;
    const char *log_format;
    long resync_s;
    int api_compression;          /* 0 = off (default), 1 = ask for gzip'd answers */
    bool help;
    bool version;
};

/* Parse argv (argv[0] is the program). KERR_INVAL with a message naming
 * the flag on a bad flag or value. */
enum kerr mgrflags_parse(int argc, char **argv, struct mgr_flags *f, struct kerr_info *err);

void mgrflags_usage(FILE *out);

#endif
