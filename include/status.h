/* status: Twilio's status callbacks, POST /twilio/status/call and
 * /twilio/status/sms, after webhook.c checked the signature (an unsigned
 * request never gets here: 403 and an audit record there).
 *
 * The attempt is found by the a=<attempt id> query parameter ringfence put
 * on the StatusCallback URL (signed, so a callback that beats the worker's
 * own record still finds it, and binds the sid), else by provider_sid.
 * Its delivery_status moves only forward and only once per event: calls by
 * SequenceNumber (by the status order when absent), messages by a status
 * rank; a final status never moves back; a duplicate changes nothing.
 * On a final status:
 *   completed / delivered            -> reminder 'completed';
 *   busy, no-answer, failed, canceled,
 *   undelivered                      -> reminder 'failed' with the reason;
 *   busy / no-answer                 -> the retry policy: while
 *     reminders.attempt <= businesses.retry_count, the next attempt's
 *     reminder row (attempt + 1, due now + retry_delay_minutes, the same
 *     stale_at, created only when due before stale_at and the appointment
 *     is still booked or confirmed), idempotently (ON CONFLICT DO NOTHING);
 *   ErrorCode 21610 -> the number's clients opted out; 21211 -> invalid.
 * An attempt still 'unknown' or 'not_placed' becomes 'placed': Twilio's
 * callback proves the call or message exists.
 *
 * The answer is always 200 with an empty <Response/> (Twilio ignores the
 * body of a status callback and must not see errors for our problems);
 * what went wrong goes to the audit record through outcome. */
#ifndef RF_STATUS_H
#define RF_STATUS_H

struct app;
struct http_request;
struct http_response;
struct params;

struct status_outcome {
	const char *business_id;   /* arena strings; NULL when unknown */
	const char *attempt_id;
	const char *before;        /* delivery_status before */
	const char *after;         /* after ("" unchanged: duplicate or out of order) */
	const char *change;        /* what was done, for the audit: "retry 1234", ... */
	const char *error;         /* why nothing could be done, or NULL */
};

/* kind: "call" or "sms".  form is the signed, parsed body. */
void status_handle(struct app *app, struct http_request *req, struct http_response *res,
	const char *kind, const struct params *form, struct status_outcome *out);

/* Order of delivery statuses: a larger rank is later; final statuses
 * have STATUS_FINAL_RANK.  -1 for a status of the wrong kind. */
#define STATUS_FINAL_RANK 9
int status_call_rank(const char *status);
int status_sms_rank(const char *status);

#endif
