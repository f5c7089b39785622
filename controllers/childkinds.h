/*
 * childkinds: the table of object kinds a GraceService may own, with their
 * API group, plural, and the concern (status condition) they count toward.
 * The version of a group whose version differs between releases (Strimzi:
 * kafka.strimzi.io v1 or v1beta2) is chosen at start-up from discovery.
 *
 * A table is a plain value owned by whoever resolves it (the manager fills
 * one from discovery before the controller starts, a test its own); the
 * controller borrows it and only reads it. No process-wide state.
 */
#ifndef GRACE_CHILDKINDS_H
#define GRACE_CHILDKINDS_H

#include <jansson.h>
#include <stdbool.h>

#include "kclient.h"

#define CHILDKINDS_MAX 16

struct childkind {
    const char *kind;
    const char *group;        /* "" for core */
    const char *plural;
    const char *const *versions; /* preferred first, NULL-terminated */
    char version[16];         /* the one served (filled by childkinds_resolve) */
    bool served;              /* the API server serves it */
};

struct childkinds {
    struct childkind kind[CHILDKINDS_MAX];
    size_t n;
};

/* Fill `t` with every kind a GraceService may own, in a fixed order, each
 * at its preferred version and not served (set served and version from
 * discovery before use). */
void childkinds_init(struct childkinds *t);

/* The number of kinds, and the i-th (NULL when i >= count). */
size_t childkinds_count(const struct childkinds *t);
struct childkind *childkinds_at(struct childkinds *t, size_t i);

/* Find by kind and group (from an object's apiVersion). NULL if unknown. */
struct childkind *childkinds_find(struct childkinds *t, const char *api_version, const char *kind);

/* Find by kind name alone (first match). */
struct childkind *childkinds_by_kind(struct childkinds *t, const char *kind);

/* Fill kres for a kind (group, the resolved version, plural). */
void childkinds_kres(const struct childkind *k, struct kres *out);

/* "group/version" or "version" for the core group, into buf. */
void childkinds_api_version(const struct childkind *k, char *buf, size_t n);

#endif
