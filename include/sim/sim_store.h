/* sim_store: the local Twilio simulator's storage in PostgreSQL (schema
 * twilio_sim, sql/sim/001_twilio_sim.sql): calls, messages, their transcripts,
 * scripted callees and opt-outs.
 *
 * The JSON of a call or a message is built by the database
 * (twilio_sim.call_json / message_json) so that every answer has the same
 * fields and RFC 2822 dates.  Every function returns -1 on a database
 * error (logged by db.c); lookups return 1 when found and 0 when not. */
#ifndef RF_SIM_STORE_H
#define RF_SIM_STORE_H

#include <stddef.h>

#include "buf.h"

struct db;
struct sim_call_result;

/* A call to create; every string is copied by the database.  NULL means
 * absent (SQL NULL or the column's default). */
struct sim_store_call_new {
	const char *sid, *account_sid, *to, *from;
	const char *url, *method, *twiml;
	const char *fallback_url, *fallback_method;
	const char *status_callback, *status_callback_method;
	unsigned status_events;
	const char *machine_detection;
	int timeout_s, time_limit_s;
	const char *direction;        /* NULL: outbound-api; "inbound" needs caller_behaviour */
	const char *caller_behaviour; /* inbound: the person calling (sim_callee line) */
};

/* Inserts c (status queued) and puts its JSON into json.  0 or -1. */
int sim_store_call_insert(struct db *db, const struct sim_store_call_new *c, struct buf *json);

struct sim_store_message_new {
	const char *sid, *account_sid, *to, *from, *body;
	const char *direction;        /* NULL: outbound-api */
	const char *status;           /* NULL: queued */
	const char *status_callback;
	int num_segments;
};

int sim_store_message_insert(struct db *db, const struct sim_store_message_new *m,
	struct buf *json);

/* The JSON of one call (kind "calls") or message ("messages") of account
 * into json: 1, 0 when there is none, -1. */
int sim_store_get_json(struct db *db, const char *kind, const char *account_sid,
	const char *sid, struct buf *json);

/* List filters, already validated; NULL means no filter.  Dates are
 * "YYYY-MM-DD" (a whole UTC day) or an RFC 3339 date-time. */
struct sim_store_filter {
	const char *to, *from, *status;
	const char *after, *before, *on;          /* StartTime>= <= = / DateSent */
	const char *end_after, *end_before, *end_on; /* EndTime (calls only) */
};

/* Which page: page_size entries, and token NULL (the first page) or
 * "PA" + sid (the entries after that one in the list's order, as in
 * Twilio's next_page_uri) or "PB" + sid (those before it, for
 * previous_page_uri), already checked to be PA/PB and a sid. */
struct sim_store_page {
	long page_size;
	const char *token;
};

struct sim_store_page_out {
	int count;               /* entries on the page */
	int older, newer;        /* 1 when entries follow / precede this page */
	char first_sid[35], last_sid[35]; /* "" on an empty page */
};

/* One page of calls or messages, newest first (date_created, then sid),
 * as a JSON array of objects appended to json; po describes it.  Date
 * filters match start_time (calls) and date_sent (messages) only: a call
 * not yet dialled or a message not yet sent matches none.  0, -2 when
 * the token names no call or message of the account, -1. */
int sim_store_list_json(struct db *db, const char *kind, const char *account_sid,
	const struct sim_store_filter *f, const struct sim_store_page *pg, struct buf *json,
	struct sim_store_page_out *po);

/* Appends one transcript line to sid's transcript.  0 or -1. */
int sim_store_event_add(struct db *db, const char *sid, const char *kind, const char *text,
	const char *detail, int code, long long at_ms);

/* sid's transcript as text lines ("   1.250s press 1") or, with as_json,
 * a JSON array of {"at_ms","kind","text","detail","code","time"}; 1 when
 * the call or message exists, 0 when not, -1. */
int sim_store_transcript(struct db *db, const char *sid, int as_json, struct buf *out);

/* Callees: sets (insert or replace) the behaviour of number; reads it
 * (*behaviour malloc'd, caller frees); lists all as a JSON array. */
int sim_store_callee_set(struct db *db, const char *number, const char *behaviour);
int sim_store_callee_get(struct db *db, const char *number, char **behaviour);
int sim_store_callees_json(struct db *db, struct buf *json);

/* Opt-outs, per recipient number and sender: 1 when number opted out of
 * sender's messages, 0 when not, -1. */
int sim_store_opted_out(struct db *db, const char *number, const char *sender);
/* Records number opting out of (out 1, keyword kept) or back in to (out
 * 0) sender's messages.  0 or -1. */
int sim_store_opt(struct db *db, const char *number, const char *sender, const char *keyword,
	int out);

/* ---- the driver ---- */

/* A claimed call, every string malloc'd (sim_store_call_free). */
struct sim_store_call {
	char *sid, *account_sid, *to, *from, *url, *method, *twiml;
	char *fallback_url, *fallback_method;
	char *status_callback, *status_callback_method, *machine_detection;
	char *direction, *caller_behaviour; /* caller_behaviour NULL unless inbound */
	unsigned status_events;
	int timeout_s, time_limit_s;
};
void sim_store_call_free(struct sim_store_call *c);

/* Claims the oldest queued call nobody plays (FOR UPDATE SKIP LOCKED),
 * created at least hold_ms ago, for driver_pid, and starts its
 * start_time (dialling begins): 1 with *out filled, 0 when there is none,
 * -1. */
int sim_store_call_claim(struct db *db, int driver_pid, long hold_ms, struct sim_store_call *out);
/* Sets a call's live status (ringing, in-progress); 0 or -1. */
int sim_store_call_status(struct db *db, const char *sid, const char *status);
/* Writes the outcome of a played call; 0 or -1. */
int sim_store_call_finish(struct db *db, const char *sid, const struct sim_call_result *r);
/* Ends as failed, with note in its transcript, every call that was being
 * played (sid NULL) or the one call sid if it still is; returns how many,
 * or -1. */
int sim_store_call_fail_inflight(struct db *db, const char *sid, const char *note);

struct sim_store_message {
	char *sid, *account_sid, *to, *from, *body, *status_callback;
};
void sim_store_message_free(struct sim_store_message *m);

/* Claims the oldest queued outbound message created at least hold_ms
 * ago (status becomes sending). */
int sim_store_message_claim(struct db *db, int driver_pid, long hold_ms,
	struct sim_store_message *out);
/* Sets a message's status (and error code when not 0; date_sent when it
 * becomes sent).  0 or -1. */
int sim_store_message_status(struct db *db, const char *sid, const char *status,
	int error_code, const char *error_message);
/* Ends as failed every message left sending by a dead driver (sid NULL)
 * or message sid; returns how many, or -1. */
int sim_store_message_fail_inflight(struct db *db, const char *sid, const char *note);

/* ---- recordings ---- */

/* Stores a recording of call_sid (status "completed" or "absent") that
 * ends now and lasted duration_s.  0 or -1. */
int sim_store_recording_insert(struct db *db, const char *sid, const char *account_sid,
	const char *call_sid, int duration_s, const char *speech, const char *status);
/* The JSON of recording sid of account into json: 1, 0 when none, -1. */
int sim_store_recording_json(struct db *db, const char *account_sid, const char *sid,
	struct buf *json);
/* What the media of a recording is made of: 1 with *duration_s and
 * *speech (malloc'd) set, 0 when there is no such recording, -1. */
int sim_store_recording_media(struct db *db, const char *account_sid, const char *sid,
	int *duration_s, char **speech);
/* The newest page_size recordings of account (of call_sid when not
 * NULL) as a JSON array appended to json; 0 or -1. */
int sim_store_recordings_list(struct db *db, const char *account_sid, const char *call_sid,
	long page_size, struct buf *json);
/* Deletes a recording: 1, 0 when there was none, -1. */
int sim_store_recording_delete(struct db *db, const char *account_sid, const char *sid);

/* A new random "CA"/"SM" + 32 lowercase hex sid into out (35 bytes). */
int sim_store_new_sid(const char *prefix, char out[35]);

/* ---- the account and its phone numbers (sql/sim/003) ---- */

/* The account's JSON (Twilio's Account resource; token is its
 * auth_token member), its row made on first use: 1, or -1.  With
 * friendly_name or status not NULL the account is updated first
 * (POST Accounts/{Sid}.json). */
int sim_store_account_json(struct db *db, const char *sid, const char *token,
	const char *friendly_name, const char *status, struct buf *json);

/* The settable members of a number, in the order of the values arrays
 * below; Twilio's parameter names in sim_number_params (sim_store.c). */
enum sim_number_field {
	SNF_FRIENDLY_NAME, SNF_VOICE_URL, SNF_VOICE_METHOD, SNF_VOICE_FALLBACK_URL,
	SNF_VOICE_FALLBACK_METHOD, SNF_SMS_URL, SNF_SMS_METHOD, SNF_SMS_FALLBACK_URL,
	SNF_SMS_FALLBACK_METHOD, SNF_STATUS_CALLBACK, SNF_STATUS_CALLBACK_METHOD, SNF_N
};
extern const char *const sim_number_params[SNF_N];

/* One page of account's numbers whose phone_number contains pattern
 * (digits, '+' and '*' for any digit; NULL: all), ordered by sid, after
 * the sid after (NULL: from the first): a JSON array appended to json,
 * *more 1 when another page follows, last_sid the page's last sid
 * ("" when empty).  0 or -1. */
int sim_store_numbers_list(struct db *db, const char *account_sid, const char *pattern,
	long page_size, const char *after, struct buf *json, int *more, char last_sid[35]);
/* One number's JSON: 1, 0 when the account has no such number, -1. */
int sim_store_number_json(struct db *db, const char *account_sid, const char *sid,
	struct buf *json);
/* Buys number for the account: values[f] NULL takes the default ('' for
 * a URL, POST for a method, the number for the friendly name).  1 with
 * its JSON, 0 when some account already owns the number, -1. */
int sim_store_number_insert(struct db *db, const char *account_sid, const char *sid,
	const char *number, const char *const values[SNF_N], struct buf *json);
/* Updates the members whose values[f] is not NULL: 1 with the JSON, 0
 * when the account has no such number, -1. */
int sim_store_number_update(struct db *db, const char *account_sid, const char *sid,
	const char *const values[SNF_N], struct buf *json);
/* Releases a number: 1, 0 when the account had no such number, -1. */
int sim_store_number_delete(struct db *db, const char *account_sid, const char *sid);

#endif
