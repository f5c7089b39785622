/*
 * cmd_render: the `grace-operator render` subcommand. Offline (no cluster):
 * reads GraceService manifests, applies the CRD's defaults, renders the
 * templates and render_finish, and prints the exact objects the operator
 * would apply: for agents, code review and GitOps diffs.
 *
 *   grace-operator render -f FILE [--config FILE] [--templates DIR] [-o json|yaml]
 *
 * FILE may hold several YAML documents ("-" = standard input); every
 * GraceService in it is rendered, other kinds are skipped with a note on
 * stderr. Output: `-o json` (default) one pretty-printed JSON List of all
 * objects; `-o yaml` one YAML document per object.
 */
#ifndef GRACE_CMD_RENDER_H
#define GRACE_CMD_RENDER_H

#include <jansson.h>

#include "kerr.h"
#include "webhook.h"

/*
 * Run the subcommand. argv[0] is the subcommand name ("render"), options
 * follow. Returns the process exit status: 0 success, 1 a failure
 * (message on stderr), 2 a usage error.
 */
int cmd_render(int argc, char **argv);

/*
 * Apply the GraceService CRD's defaults to `gs` in place (the API server
 * does this on create; offline rendering must do it itself):
 * metadata.namespace "default", spec.replicas 1, spec.port 8000,
 * spec.healthPath "/healthz", spec.openapiPath "/openapi.json",
 * spec.{ingress,tls,tailscale}.enabled true, spec.postgres.deletionPolicy
 * "Retain", spec.egress.restricted false, spec.backup.enabled true.
 */
void cmd_render_apply_defaults(json_t *gs);

/*
 * The defaulting webhook's answer for GraceService `object` (borrowed):
 * one JSON patch "add" per top-level spec field that
 * cmd_render_apply_defaults would set and the object lacks, added to `v`.
 * Nothing when the object has no spec object.
 */
void cmd_render_defaults_patch(const json_t *object, struct webhook_verdict *v);

/*
 * Check what the CRD would reject and templates rely on: a name that is a
 * DNS-1035 label, a non-empty spec.image, a DNS-label hostname. KERR_INVALID
 * with a message naming the field.
 */
enum kerr cmd_render_validate(const json_t *gs, struct kerr_info *err);

#endif
