/* dash_decisions: "Needs a decision".
 *
 *   GET  /decisions             the business's contact attempts whose
 *                               outcome is unknown ('unknown': the worker
 *                               could not tell whether Twilio or the mail
 *                               server took it, and the reconciler could
 *                               not settle it), oldest first, with what is
 *                               known: when, channel, recipient, the
 *                               reconciler's last note
 *   POST /decisions/{attempt}   decision "reached" (the attempt counts as
 *                               placed) or "resend" (it was not: a new
 *                               reminder row due now goes through the
 *                               normal guarded path, queued for the
 *                               workers, never sent in the request), with
 *                               a reason (required); recorded in
 *                               attempt_decisions with who and why, and
 *                               audited.
 * Only an attempt still 'unknown' can be decided, once. */
#ifndef RF_DASH_DECISIONS_H
#define RF_DASH_DECISIONS_H

#include "valid.h"

struct app;
struct route_input;
struct outcome;

#define DASH_REASON_MAX 1000

enum { DD_DECISION, DD_REASON, DD_NFIELDS };
extern const struct valid_field dash_decision_fields[DD_NFIELDS];

void dash_decisions_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_decide_handle(struct app *app, const struct route_input *in, struct outcome *out);

#endif
