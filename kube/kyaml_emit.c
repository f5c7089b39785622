/*
 * kyaml_emit: JSON documents to YAML text through libyaml's emitter (see
 * kyaml_emit in kyaml.h): block style, sorted keys, and strings quoted
 * whenever the loader (KYAML_TYPED) or a YAML 1.1 reader would take them
 * for something else, so what `grace-operator render` prints reads back.
 */
#include "kyaml.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct emit {
    yaml_emitter_t em;
    bool failed;
};

static void emit_event(struct emit *e, yaml_event_t *ev)
{
    if (e->failed)
        yaml_event_delete(ev); /* the emitter owns events it was given, even on failure */
    else if (!yaml_emitter_emit(&e->em, ev))
        e->failed = true;
}

/* Would a plain `s` read back as something other than this string? */
static bool needs_quotes(const char *s)
{
    static const char *const yaml11[] = {"y",  "Y",  "yes", "Yes", "YES", "n",   "N",   "no", "No",
                                         "NO", "on", "On",  "ON",  "off", "Off", "OFF", "<<", "="};
    if (!kyaml__plain_is_string(s))
        return true;
    for (size_t i = 0; i < sizeof yaml11 / sizeof yaml11[0]; i++)
        if (!strcmp(s, yaml11[i]))
            return true;
    /* YAML 1.1 numbers: 1_000, 0b101, 1:20, 0755 ... */
    if (s[0] && strchr("0123456789+-.", s[0]) &&
        strspn(s, "0123456789abcdefABCDEFxXoO_:.+-") == strlen(s))
        return true;
    return false;
}

static void emit_scalar(struct emit *e, const char *s, size_t len, bool is_string)
{
    yaml_event_t ev;
    bool quote = is_string && (memchr(s, '\0', len) || needs_quotes(s));
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len, !quote, 1,
                                 YAML_ANY_SCALAR_STYLE);
    emit_event(e, &ev);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void emit_real(struct emit *e, double d)
{
    char buf[64];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    if (!strpbrk(buf, ".eEn"))
        strncat(buf, ".0", sizeof buf - strlen(buf) - 1);
    emit_scalar(e, buf, strlen(buf), false);
}

static void emit_node(struct emit *e, const json_t *v);

static void emit_object(struct emit *e, const json_t *v)
{
    yaml_event_t ev;
    size_t n = json_object_size(v), i = 0;
    const char **keys = kerr_xmalloc((n ? n : 1) * sizeof *keys);
    const char *k;
    json_t *c;
    json_object_foreach((json_t *)v, k, c)
    {
        keys[i++] = k;
    }
    qsort(keys, n, sizeof *keys, cmp_str);
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    emit_event(e, &ev);
    for (i = 0; i < n; i++) {
        emit_scalar(e, keys[i], strlen(keys[i]), true);
        emit_node(e, json_object_get(v, keys[i]));
    }
    free(keys);
    yaml_mapping_end_event_initialize(&ev);
    emit_event(e, &ev);
}

static void emit_array(struct emit *e, const json_t *v)
{
    yaml_event_t ev;
    size_t i;
    json_t *c;
    yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
    emit_event(e, &ev);
    json_array_foreach(v, i, c)
    {
        emit_node(e, c);
    }
    yaml_sequence_end_event_initialize(&ev);
    emit_event(e, &ev);
}

static void emit_node(struct emit *e, const json_t *v)
{
    char buf[32];
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        emit_object(e, v);
        break;
    case JSON_ARRAY:
        emit_array(e, v);
        break;
    case JSON_STRING:
        emit_scalar(e, json_string_value(v), json_string_length(v), true);
        break;
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        emit_scalar(e, buf, strlen(buf), false);
        break;
    case JSON_REAL:
        emit_real(e, json_real_value(v));
        break;
    case JSON_TRUE:
        emit_scalar(e, "true", 4, false);
        break;
    case JSON_FALSE:
        emit_scalar(e, "false", 5, false);
        break;
    default:
        emit_scalar(e, "null", 4, false);
        break;
    }
}

enum kerr kyaml_emit(FILE *out, const json_t *docs, struct kerr_info *err)
{
    struct emit e = {.failed = false};
    yaml_event_t ev;
    size_t i;
    json_t *d;

    if (!json_is_array(docs))
        return kerr_set(err, KERR_INVAL, 0, "BadInput", "kyaml_emit: docs must be an array");
    if (!yaml_emitter_initialize(&e.em))
        kerr_oom();
    yaml_emitter_set_output_file(&e.em, out);
    yaml_emitter_set_unicode(&e.em, 1);
    yaml_emitter_set_width(&e.em, -1);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    emit_event(&e, &ev);
    json_array_foreach(docs, i, d)
    {
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0);
        emit_event(&e, &ev);
        emit_node(&e, d);
        yaml_document_end_event_initialize(&ev, 1);
        emit_event(&e, &ev);
    }
    yaml_stream_end_event_initialize(&ev);
    emit_event(&e, &ev);
    if (!e.failed && !yaml_emitter_flush(&e.em))
        e.failed = true;
    enum kerr rc = KERR_OK;
    if (e.failed)
        rc = kerr_set(err, KERR_IO, 0, "WriteError", "YAML output failed: %s",
                      e.em.problem ? e.em.problem : "write error");
    yaml_emitter_delete(&e.em);
    return rc;
}
