/*
 * gsschema: the GraceService spec as a standalone JSON Schema (draft
 * 2020-12), converted from the CRD's OpenAPI v3 schema, for agents that
 * write GraceServices (a model's tool parameters) and for editors. The CRD
 * is the source of truth: the binary embeds crds/graceservice.yaml at build
 * time (hack/embed.sh), so the schema it prints cannot drift from the CRD
 * it was built with; tests/gsschema_test.c checks both directions.
 *
 * Conversion (gsschema_convert), keyword by keyword:
 *   type, description, default, enum, format, pattern, minimum, maximum,
 *   minLength, maxLength, minItems, maxItems, minProperties,
 *   maxProperties, required: copied;
 *   properties, items, additionalProperties (schema), allOf, anyOf, oneOf,
 *   not: converted recursively;
 *   exclusiveMinimum/Maximum: true (OpenAPI 3.0) -> the number (2020-12);
 *   nullable: true -> "null" added to type;
 *   x-kubernetes-int-or-string -> type [integer, string];
 *   x-kubernetes-list-type set -> uniqueItems; map -> "Entries are unique
 *   by <keys>." in the description;
 *   x-kubernetes-validations (CEL) -> "Rule: <message>" sentences in the
 *   description (JSON Schema cannot run CEL; the API server does); a rule
 *   that is exactly self.matches('RE') or self.startsWith('S') is also a
 *   pattern;
 *   an object with properties and without
 *   x-kubernetes-preserve-unknown-fields or additionalProperties ->
 *   additionalProperties: false (the API server would drop unknown fields
 *   silently; a writer should learn about them).
 * Any other keyword is an error (a new CRD keyword must be handled here).
 */
#ifndef GRACE_GSSCHEMA_H
#define GRACE_GSSCHEMA_H

#include <jansson.h>
#include <stddef.h>

#include "kerr.h"

/* The CRD as embedded at build time (NUL-terminated). */
extern const unsigned char grace_crd_yaml[];
extern const size_t grace_crd_yaml_len;

/* One OpenAPI v3 schema node (borrowed) to JSON Schema (owned).
 * KERR_INVALID naming the path of an unknown keyword. */
enum kerr gsschema_convert(const json_t *openapi, json_t **out, struct kerr_info *err);

/* The spec schema of a CRD given as YAML text: its first version's
 * openAPIV3Schema.properties.spec, converted, with $schema, $id and title.
 * Owned on success. */
enum kerr gsschema_from_crd(const char *yaml, size_t len, json_t **out, struct kerr_info *err);

/* `grace-operator schema [-o json]`: print the spec schema from the
 * embedded CRD. Exit status 0, 1 (failure), 2 (usage). */
int cmd_schema(int argc, char **argv);

#endif
