/*
 * gstopics: the consumer side of the Kafka map inside the reconciler. A
 * service that consumes a topic nobody produces (no GraceService owns it in
 * spec.kafka.topics and kafka.externalTopics does not list it) keeps
 * KafkaReady as it is, with a line naming the topic appended to its
 * message, and gets a Warning Event TopicWithoutProducer per newly
 * unproduced topic. The producer rule is the topic claim's (gsclaims): the
 * oldest GraceService not being deleted; here any owner will do.
 */
#ifndef GRACE_GSTOPICS_H
#define GRACE_GSTOPICS_H

#include <jansson.h>

#include "kinformer.h"
#include "kobj.h"

#define GSTOPICS_INDEX_CONSUMES "grace.dev/consumes"

struct gs_run;

/* Register the consumed-topic index on the GraceService informer. */
void gstopics_add_index(struct kinformer *gs_inf);

/* After the concerns were evaluated: the TopicWithoutProducer line and
 * Events (see above). `external` is the kafka.externalTopics array
 * (borrowed, may be NULL). */
void gstopics_check(struct gs_run *r, const json_t *external);

/* Call fn for every cached consumer of a topic that `gs` owns (a producer
 * appeared, changed or went away). */
void gstopics_foreach_consumer(struct kinformer *gs_inf, const json_t *gs,
                               void (*fn)(void *ctx, const struct kobj *o), void *ctx);

#endif
