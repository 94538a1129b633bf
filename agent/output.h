/* agent/output.h - standalone output: one JSON line per result, and the
 * human table of `anycast-agent --once`. */
#ifndef ANYCAST_OUTPUT_H
#define ANYCAST_OUTPUT_H

#include <stdio.h>

#include "common/result.h"

/* Write r as one JSON line (with newline) to f and flush. 0 or -errno. */
int output_json_line(FILE *f, const struct result *r);

/* The --once table: one row per probed (service, target, address), holding
 * the most telling record of the round (an answer with an identity beats an
 * answer, which beats an error). At most 1024 rows; more are ignored. */
struct output_table;

struct output_table *output_table_new(void);   /* NULL on allocation failure */
void output_table_add(struct output_table *t, const struct result *r); /* copies r */
/* Print: for each service its anycast addresses (answering instance,
 * identity, RTT, outcome), then each management address's state. */
void output_table_print(const struct output_table *t, FILE *f);
void output_table_free(struct output_table *t);

#endif
