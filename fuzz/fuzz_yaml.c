/*
 * fuzz_yaml: the YAML loader (kyaml) in each of the ways it is used --
 * strings and the first document with the small alias budget (kubeconfig),
 * typed and the first document, typed and every document (KYAML_MANIFESTS:
 * manifests, the configuration) -- and the emitter (kyaml_emit).
 *
 * Invariants:
 *  - whatever the loader accepts dumps as JSON;
 *  - manifests: the documents emitted as YAML (kyaml_emit) load again to
 *    the same documents (what `grace-operator render` prints reads back);
 *  - typed, first document: the document, as JSON text, loads again the
 *    same;
 *  - every mode bounds alias expansion: nothing accepted is larger than
 *    the node budget; with the small alias budget, the result is at most
 *    the input's own nodes (fewer than two a byte) plus that budget;
 *  - the first document of the typed modes agree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "kyaml.h"

#define H "yaml"

static const struct kyaml_opts MANIFESTS = {KYAML_MANIFESTS, NULL, 0};

static size_t nodes(const json_t *v)
{
    size_t n = 1, i;
    const char *k;
    json_t *c;
    if (json_is_object(v))
        json_object_foreach((json_t *)v, k, c) n += nodes(c);
    else if (json_is_array(v))
        json_array_foreach(v, i, c) n += nodes(c);
    return n;
}

static void emit_roundtrip(const json_t *docs)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    enum kerr rc = kyaml_emit(f, docs, NULL);
    fclose(f);
    if (rc != KERR_OK)
        fz_fail(H, "accepted documents do not emit");
    json_t *again = NULL;
    struct kerr_info err = {0};
    if (kyaml_load(buf, len, &MANIFESTS, &again, &err) != KERR_OK)
        fz_fail(H, "emitted YAML does not load: %s\n%.400s", err.message, buf);
    if (!json_equal((json_t *)docs, again)) {
        char *a = fz_dump(H, docs), *b = fz_dump(H, again);
        fz_fail(H, "emit + load changes the documents:\n%.400s\n%.400s", a, b);
    }
    json_decref(again);
    free(buf);
}

/* Typed, first document: the result as JSON text loads again the same
 * (JSON is YAML). Returns the document (caller decrefs) or NULL. */
static json_t *typed_roundtrip(const char *text, size_t len)
{
    static const struct kyaml_opts typed = {KYAML_TYPED, NULL, 0};
    json_t *doc = NULL, *again = NULL;
    if (kyaml_load(text, len, &typed, &doc, NULL) != KERR_OK)
        return NULL;
    if (nodes(doc) > KYAML_MAX_NODES)
        fz_fail(H, "kyaml produced more than its node budget");
    char *js = fz_dump(H, doc);
    if (kyaml_load(js, strlen(js), &typed, &again, NULL) != KERR_OK)
        fz_fail(H, "kyaml: its own result as JSON does not load: %.300s", js);
    if (!json_equal(doc, again))
        fz_fail(H, "kyaml: result as JSON loads differently: %.300s", js);
    free(js);
    json_decref(again);
    return doc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct kyaml_opts kubeconfig = {0, NULL, KYAML_SMALL_ALIAS_NODES};
    const char *text = (const char *)data;
    json_t *doc = NULL, *docs = NULL;
    if (kyaml_load(text, size, &kubeconfig, &doc, NULL) == KERR_OK) {
        free(fz_dump(H, doc));
        if (nodes(doc) > 2 * (size + 1) + KYAML_SMALL_ALIAS_NODES) /* own nodes: < 2 a byte */
            fz_fail(H, "kyaml (kubeconfig) produced more than the small alias budget allows");
    }
    json_decref(doc);
    doc = typed_roundtrip(text, size);
    if (kyaml_load(text, size, &MANIFESTS, &docs, NULL) == KERR_OK) {
        if (!json_is_array(docs) || nodes(docs) > KYAML_MAX_NODES + 1)
            fz_fail(H, "kyaml (manifests) result is not an array within its budget");
        const json_t *d0 = json_array_get(docs, 0);
        if (doc && d0 && !json_is_null(doc) && !json_equal(doc, (json_t *)d0))
            fz_fail(H, "first document typed differs from the first of all documents");
        emit_roundtrip(docs);
    }
    json_decref(doc);
    json_decref(docs);
    return 0;
}
