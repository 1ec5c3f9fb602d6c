/* status: Twilio's status callbacks, POST /twilio/status/call and
 * /twilio/status/sms, after the dispatcher checked the signature, the
 * fields and the AccountSid (an unsigned request never gets here: 403 and
 * a summary there).
 *
 * The attempt is found by the a=<attempt id> query parameter ringfence put
 * on the StatusCallback URL (signed, so a callback that beats the worker's
 * own record still finds it, and binds the sid), else by provider_sid.
 * Its delivery_status moves only forward and only once per event: calls by
 * SequenceNumber (by the status order when absent), messages by a status
 * rank; a final status never moves back; a duplicate changes nothing.
 * On a final status:
 *   completed / delivered / read     -> reminder 'completed';
 *   busy, no-answer, failed, canceled,
 *   undelivered                      -> reminder 'failed' with the reason;
 *   busy / no-answer                 -> the retry policy: while
 *     reminders.attempt <= businesses.retry_count, the next attempt's
 *     reminder row (attempt + 1, due now + retry_delay_minutes, the same
 *     stale_at, created only when due before stale_at and the appointment
 *     is still booked or confirmed), idempotently (ON CONFLICT DO NOTHING);
 *   ErrorCode 21610 -> the number's clients opted out; 21211 -> invalid;
 *   not completed / delivered / read, and no retry follows -> the office
 *     is told the client was not reached (notify_unreached, notify.h),
 *     once per reminder, in the callback's transaction.
 * An attempt still 'unknown' or 'not_placed' becomes 'placed': Twilio's
 * callback proves the call or message exists.
 *
 * The answer is always 200 with an empty <Response/> (the routes render
 * ROUTE_RENDER_TWIML_EMPTY: Twilio ignores the body of a status callback
 * and must not see errors for our problems); what went wrong goes to the
 * audit record through the outcome. */
#ifndef RF_STATUS_H
#define RF_STATUS_H

#include "dispatch.h"

/* The fields of a status callback (SequenceNumber: calls only). */
enum { ST_SID, ST_ACCOUNT, ST_STATUS, ST_SEQ, ST_ERROR, ST_NFIELDS };
extern const struct valid_field status_call_fields[ST_NFIELDS];
extern const struct valid_field status_sms_fields[ST_NFIELDS];
/* a=<attempt id>, put on the StatusCallback URL by the worker. */
enum { STQ_ATTEMPT, STQ_NFIELDS };
extern const struct valid_field status_query[STQ_NFIELDS];

/* The handlers of the two routes.  The outcome carries the attempt and
 * business ids, delivery_status before and after ("" unchanged: duplicate
 * or out of order) in state_before / state_after, what was done in action
 * ("retry reminder created", ...) and why nothing could be, in error. */
void status_call_handle(struct app *app, const struct route_input *in, struct outcome *out);
void status_sms_handle(struct app *app, const struct route_input *in, struct outcome *out);

/* What rf_status_step did with one delivery status (strings in the
 * arena).  result: "missing" (no attempt), "kind" (the attempt's channel
 * is another), "sid" (the attempt has another sid), "unchanged"
 * (duplicate, out of order, or the attempt's status is already final),
 * "moved", or "none" (the statement answered no row). */
struct status_result {
	const char *result, *attempt_id, *business_id, *state_before;
	const char *reason;          /* "call busy" / "message undelivered, error 30003" */
	int final, retry;            /* the status is final; one the retry policy retries */
	int flagged, retried, notified;
};

/* Applies delivery status `status` of a call (is_call) or message to the
 * attempt attempt_id (NULL: found by sid), with the callback's
 * SequenceNumber and ErrorCode when there are any (NULL otherwise), on the
 * clock now_s; default_from is TWILIO_FROM_NUMBER (or NULL).  The one
 * place the rules above are applied: the status callbacks and the
 * reconciler's sweep of calls whose callbacks were lost (reconcile.h) both
 * call it.  0 with r filled, or -1 when the database failed (db_last_error
 * says why; nothing changed). */
struct db;
struct arena;
int status_step(struct db *db, struct arena *a, const char *default_from, int is_call,
	const char *attempt_id, const char *sid, const char *status, const char *seq,
	const char *error, long long now_s, struct status_result *r);

/* Order of delivery statuses: a larger rank is later; final statuses
 * have STATUS_FINAL_RANK.  -1 for a status of the wrong kind. */
#define STATUS_FINAL_RANK 9
int status_call_rank(const char *status);
int status_sms_rank(const char *status);
/* The final call statuses as a PostgreSQL array, "{completed,busy,...}". */
const char *status_call_finals(void);

#endif
