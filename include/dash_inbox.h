/* dash_inbox: the dashboard's reply inbox (issue 11 part 7; ROUTE_AUTH_SESSION,
 * every query scoped by the business the pages show).
 *
 *   GET  /inbox                          the clients who texted, those with
 *                                        texts waiting for an answer first
 *                                        (their count is in the menu)
 *   GET  /clients/{id}/messages          the conversation: the client's texts,
 *                                        the texts sent to them (reminders,
 *                                        booking confirmations, staff replies)
 *                                        with each one's delivery status, in
 *                                        time order; the reply form
 *   POST /clients/{id}/messages          body (1-320 characters): a staff
 *                                        reply, queued for a worker (never
 *                                        sent inside the request); 303 to the
 *                                        conversation, or the page again
 *                                        (4xx) saying why nothing was queued
 *   POST /clients/{id}/messages/answered marks the client's waiting texts
 *                                        answered
 *
 * A reply is one reminders row (kind 'reply', channel 'sms', attempt 5,
 * the text in body) to the client's phone on the client's most recent
 * appointment, due now and stale 12 hours later, written in one
 * transaction with the client row locked, then added to the ready set.
 * The worker claims it (reminder_block: opted out, limits, failsafe,
 * window ...) and outbound_send sends "<business name>: <body>" with
 * every guard.  An opted-out client, a client without a phone or
 * appointment, or a number Twilio refused: the form refuses and says why. */
#ifndef RF_DASH_INBOX_H
#define RF_DASH_INBOX_H

#include "dispatch.h"

/* The longest staff reply, in characters. */
#define DASH_INBOX_REPLY_MAX 320
/* How long a queued reply may wait (outside the calling window, over a
 * limit) before it goes stale, never sent late. */
#define DASH_INBOX_REPLY_STALE_H 12

/* The reply form's one field, body. */
extern const struct valid_field dash_inbox_reply_fields[1];

void dash_inbox_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_inbox_conversation_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_inbox_reply_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_inbox_answered_handle(struct app *app, const struct route_input *in,
	struct outcome *out);

/* The menu's label for the inbox: "Inbox" or "Inbox (3)" (clients with
 * texts waiting), in arena a; "Inbox" when the count cannot be read. */
struct arena;
const char *dash_inbox_nav_label(struct app *app, struct arena *a, long long business_id);

#endif
