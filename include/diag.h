/* diag: the one-line problems the flow loader (flow.c), the TwiML
 * validator (twiml.c) and `ringfence check` report, collected in a list
 * that keeps one copy of each.  Its own module so that flow.c and twiml.c
 * both use it without including each other's headers. */
#ifndef RF_DIAG_H
#define RF_DIAG_H

#include <stddef.h>

/* One-line problems ("state_tables/x/transitions:3: unknown action 'foo'"). */
struct flow_diag {
	char **msgs;
	size_t n;
};
/* Adds one message, unless d already holds the same one (a problem is
 * reported once even when the loader and check both notice it). */
void flow_diag_add(struct flow_diag *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void flow_diag_free(struct flow_diag *d);
/* Adds each message of from to d; a message about file path
 * ("path: ..." or "path:N: ...") gets "state 'state': " after its
 * location, so that problems found in a template name their state. */
void flow_diag_merge_state(struct flow_diag *d, const struct flow_diag *from,
	const char *path, const char *state);

#endif
