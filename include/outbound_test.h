/* outbound_test: the test-only seam to the transport.
 *
 * The integration tests drive the Twilio client and the mailer directly
 * against the simulator and the SMTP sink (answers, refusals, timeouts),
 * which outbound_send, with its database claim and guards, cannot reach
 * one by one.  These wrappers make the grant outbound_send would make
 * and call the transport.  Test code only: test/unit/test_layout.c fails
 * `make test` when a file under src/ includes this header. */
#ifndef RF_OUTBOUND_TEST_H
#define RF_OUTBOUND_TEST_H

#include "mail.h"
#include "outbound_grant.h"
#include "twilio.h"

/* twilio_call_create with a grant for rq->to. */
static inline int outbound_test_call_create(const struct config *cfg,
	const struct twilio_call_request *rq, struct twilio_result *out)
{
	struct outbound_grant g = { OUTBOUND_GRANT_MAGIC, rq ? rq->to : NULL };
	return twilio_call_create(&g, cfg, rq, out);
}

/* twilio_message_create with a grant for to. */
static inline int outbound_test_message_create(const struct config *cfg, const char *to,
	const char *from, const char *body, const char *status_callback, struct twilio_result *out)
{
	struct outbound_grant g = { OUTBOUND_GRANT_MAGIC, to };
	return twilio_message_create(&g, cfg, to, from, body, status_callback, out);
}

/* mail_send with a grant for m->to. */
static inline int outbound_test_mail_send(const struct config *cfg, struct mail_message *m,
	struct twilio_result *out)
{
	struct outbound_grant g = { OUTBOUND_GRANT_MAGIC, m ? m->to : NULL };
	return mail_send(&g, cfg, m, out);
}

#endif
