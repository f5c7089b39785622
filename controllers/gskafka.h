/*
 * gskafka: the copy of the KafkaUser's credentials Secret into the
 * service's namespace (see gskafka.c).
 */
#ifndef GRACE_GSKAFKA_H
#define GRACE_GSKAFKA_H

#include "gsrun.h"

/* After gs_apply_children: add the Secret copy to r->desired when its
 * source exists (the caller applies it with a second gs_apply_children). */
void gs_kafka_secret(struct gs_run *r);

#endif
