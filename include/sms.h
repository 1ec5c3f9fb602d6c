/* sms: texts people send to the business's Twilio number, answered by
 * the reminder_sms flow (state_tables/reminder_sms).
 *
 * Twilio honours opt-out keywords on its own (TWILIO.md): after STOP, a
 * send from that number to the person fails with 21610.  ringfence does
 * not wait for that failure: a signed inbound STOP (or OptOutType=STOP)
 * marks the sender opted out at once, so nobody even tries, but only with
 * the business(es) that text from the number it was sent to (the To: a
 * business's own twilio_from, or TWILIO_FROM_NUMBER for a business with
 * none, as the worker picks the caller id); the person's other businesses
 * are not told anything by a text they never received.  START, UNSTOP
 * (or OptOutType=START), and YES when nothing is pending, lift that
 * opt-out in the same scope (the flow's opt_in action), as Twilio lets
 * texts through again.  Every text is kept in inbound_texts (keyed by its
 * MessageSid: a replay adds nothing, changes nothing and is answered with
 * nothing) and recorded in the audit trail; the text and its opt-out are
 * committed first, so a reply that fails never loses a STOP.
 *
 * Then the text is one input of the reminder_sms flow, for the most recent
 * SMS reminder sent to that phone by a business texting from the number
 * the text went to (when two did, the most recent; every reply names its
 * business).  The conversation's state is per reminder in
 * sms_conversations, changed in one transaction with the action
 * (actions.c: confirm, cancel, call back, opt in, help once), each
 * transition an sms_events row for the timeline.  The reply is the new
 * state's template: one <Message>, or nothing.  In the same transaction
 * the text is kept in the client's conversation for the dashboard's
 * reply inbox (inbox.h): a text the flow did not act on (not understood,
 * nothing pending) waits there for a person and tells the office.  When
 * the flow fails on a text, the text is kept there all the same, as
 * waiting for a person, in a transaction of its own. */
#ifndef RF_SMS_H
#define RF_SMS_H

#include "dispatch.h"

/* Whether body is an opt-out keyword (1: STOP, STOPALL, UNSUBSCRIBE,
 * CANCEL, END, QUIT, REVOKE, OPTOUT), an opt-in keyword (-1: START, YES, UNSTOP) or
 * neither (0): the whole message, case-insensitive, surrounding white
 * space ignored. */
int sms_opt_keyword(const char *body);

/* The flow input a text is: "stop" (an opt-out keyword, or OptOutType
 * STOP), "yes", "start" (START, UNSTOP, or OptOutType START), "help"
 * (HELP, INFO, or OptOutType HELP), "1", "2", "3", "4", "confirm", "no", or
 * "other".  Keywords are the whole message, case-insensitive, surrounding
 * white space ignored, as carriers read them.  Static storage. */
const char *sms_classify(const char *body, const char *opt_out_type);

/* The fields of an inbound text: MessageSid SM/MM + 32 lower-case hex,
 * AccountSid, From and To E.164, Body at most 1600 characters,
 * OptOutType STOP/START/HELP. */
enum { SMS_SID, SMS_ACCOUNT, SMS_FROM, SMS_TO, SMS_BODY, SMS_OPT, SMS_NFIELDS };
extern const struct valid_field sms_inbound_fields[SMS_NFIELDS];

/* Keeps inbound text sid (SM/MM sid, from, to, body, keyword "stop" /
 * "start" / NULL) in inbound_texts, a sid already there adding nothing,
 * and with stop set opts from out, in the same statement, with every
 * business texting from to (default_from: TWILIO_FROM_NUMBER for a
 * business with no number of its own, may be NULL).  *text_id: the new
 * row's id (NULL when the sid was there, in a); *businesses, *clients:
 * how many businesses text from to (0 unless stop) and client rows now
 * opted out.  0, or -1 on a database error (nothing recorded).  Shared
 * with the restore's reconciliation (restore.h). */
struct arena;
struct db;
int sms_text_record(struct db *db, struct arena *a, const char *sid, const char *from,
	const char *to, const char *body, const char *keyword, int stop, const char *default_from,
	const char **text_id, long *businesses, long *clients);

/* POST /twilio/sms/inbound, its signature, fields and AccountSid checked
 * by the dispatcher.  Records the text and applies an opt-out in one
 * statement, then answers it through the flow: out->twiml is the reply
 * (left empty, so the dispatcher answers <Response/>, for a replay, a
 * text to a number no business texts from, or any failure); out->action
 * says what was done, out->error why something was not. */
void sms_inbound_handle(struct app *app, const struct route_input *in, struct outcome *out);

#endif
