/* queue: the ready set of reminder ids, a Redis SET under "rf:ready".
 *
 * The scheduler adds the ids of reminders that are due now; workers take
 * them one at a time.  A SET makes enqueueing idempotent: adding an id a
 * hundred times leaves one member (DESIGN.md 1.2).  The set holds nothing
 * that cannot be rebuilt: PostgreSQL decides, at claim time, whether an id
 * taken from it may still be sent. */
#ifndef RF_QUEUE_H
#define RF_QUEUE_H

#include <stddef.h>

struct rds;

#define QUEUE_KEY "rf:ready"

/* SADDs the n ids (in batches).  Returns 0, or -1 when Redis failed (some
 * ids may have been added: harmless, the next tick adds them again). */
int queue_push(struct rds *r, const long long *ids, size_t n);

/* SPOPs one id into *id.  Returns 1 when one was taken, 0 when the set is
 * empty, -1 on a Redis error or a member that is not a positive id (that
 * member is gone; logged). */
int queue_pop(struct rds *r, long long *id);

/* SCARD of the set, or -1 on a Redis error. */
long long queue_size(struct rds *r);

#endif
