/* outbound_grant: what the transport functions (twilio_call_create,
 * twilio_message_create, mail_send) ask for before they contact anyone:
 * proof that the request comes from outbound_send, past every guard
 * (DESIGN.md rule 8: the allow-list lives inside the one send function),
 * and for the one address those guards passed.
 *
 * outbound_send makes a grant for at->to right after the allow-list said
 * yes and passes it down; a transport function refuses (nothing sent,
 * -1) without a grant, or with a grant for another address.  So no other
 * module can place a call or send a message or a mail: it would have to
 * include this header, and test/unit/test_layout.c fails `make test` when
 * any file under src/ but outbound.c (which makes grants), twilio.c and
 * mail.c (which check them) includes it.  Tests that drive the transport
 * directly use the seam in outbound_test.h, which no src/ file may
 * include either. */
#ifndef RF_OUTBOUND_GRANT_H
#define RF_OUTBOUND_GRANT_H

#include <string.h>

#define OUTBOUND_GRANT_MAGIC 0x52464f47u /* "RFOG" */

struct outbound_grant {
	unsigned magic;   /* OUTBOUND_GRANT_MAGIC */
	const char *to;   /* the address the guards passed (not owned) */
};

/* 1 when g is a grant for exactly the address to, else 0 (NULL g or to,
 * a wrong magic, another address). */
static inline int outbound_grant_covers(const struct outbound_grant *g, const char *to)
{
	return g != NULL && g->magic == OUTBOUND_GRANT_MAGIC && g->to != NULL && to != NULL &&
		strcmp(g->to, to) == 0;
}

#endif
