/* engine: advances a call through its flow, one input per webhook.
 *
 * The call's current state lives in PostgreSQL (calls.state, calls.seq),
 * so any FastCGI worker can serve any webhook of any call.  One webhook is
 * one transaction: lock the call row, decide the input, take the
 * transition, run its action, record the event, commit; then render the
 * state's TwiML.  The engine decides from the flow's table which
 * transition the webhook's URL implies; one statement (rf_voice_step,
 * sql/025_voice_step.sql) locks the call, binds its CallSid, takes that
 * transition only while the call is still where the URL was rendered,
 * and reads what the TwiML needs: one round trip for every webhook whose
 * step runs no action.  A transition with an action sends BEGIN with that
 * statement, runs the action's statements, then sends its events, the
 * call's move and COMMIT together (db.h's pipelines).  Gather action URLs carry the state and sequence number
 * they were rendered for; a replayed or retried webhook whose state or
 * sequence is not the call's current one gets the current state's TwiML
 * again and changes nothing.  The engine never switches on digits: the
 * state table decides. */
#ifndef RF_ENGINE_H
#define RF_ENGINE_H

#include <stddef.h>

struct arena;
struct buf;
struct db;
struct flow;
struct rds;

/* The flow that answers calls to the businesses' numbers
 * (POST /twilio/voice/inbound).  Its first request, Direction=inbound
 * with a CallSid ringfence does not know, makes the call's row: an
 * inbound call with no business until an action binds one. */
#define ENGINE_INBOUND_FLOW "inbound"

/* Digits on a <Record>'s action when the caller hung up to end the
 * recording.  The take is stored like any other (the `recorded` input)
 * and nobody is left to keep it; anywhere but a <Record>'s action the
 * request is refused (the apology, nothing changed). */
#define ENGINE_DIGITS_HANGUP "hangup"

/* While PostgreSQL cannot be reached (a failover: the leader key's TTL,
 * then the promotion), a voice webhook whose step failed for that reason
 * (twice: it is re-run once after a reconnect) is answered with the hold
 * document instead of the apology: "One moment, please." (the recording
 * ENGINE_HOLD_AUDIO under audio/), a pause of ENGINE_HOLD_PAUSE_S seconds
 * and a Redirect to the same URL with hold=K+1 (and digits=<Digits> when
 * the request carried some), which is handled exactly as the original.
 * ENGINE_HOLD_MAX holds (8 x 5 s: about 40 s, plus the requests' own
 * time) and the next failure is the apology.  A <Record>'s action is
 * never held (its recording is not carried): the apology, as before. */
#define ENGINE_HOLD_MAX 8
#define ENGINE_HOLD_PAUSE_S 5
#define ENGINE_HOLD_AUDIO "hold/one_moment_please.mp3"

struct engine;

/* Loads every flow under root/state_tables and checks each (a flow with
 * any problem makes this fail: a worker never serves a broken flow), and
 * needs root/audio/ENGINE_HOLD_AUDIO (`make audio`).
 * public_url is copied.  NULL with a reason in err. */
struct engine *engine_new(const char *root, const char *public_url, char *err, size_t errlen);
void engine_free(struct engine *e);

/* What the actions need beyond the database (owner: the caller, for the
 * engine's life): Redis (a pre-check only; may be NULL), the server
 * secret task codes are hashed with, and the prefix every recording URL
 * of this account must start with ("<TWILIO_API_URL>/2010-04-01/Accounts/
 * <AccountSid>/Recordings/"). */
void engine_attach(struct engine *e, struct rds *r, const char *secret,
	const char *recordings_prefix);

/* The recording URL prefix engine_attach was given, or NULL. */
const char *engine_recordings_prefix(const struct engine *e);

/* The loaded flow called name, or NULL. */
const struct flow *engine_flow(const struct engine *e, const char *name);

/* Renders state of flow into out exactly as a webhook of a call with the
 * allow-listed field values values[0..4) (business name, appointment
 * date, time, callback number) would be answered, Gather actions carrying
 * a token of zeros that no call has: the settings page's preview.  0, or
 * -1 (no such flow or state, or a template that does not render). */
int engine_render_preview(struct engine *e, struct arena *a, const char *flow,
	const char *state, const char *const values[4], struct buf *out);

/* One voice webhook, already signature-checked and validated. */
struct engine_input {
	const char *flow;         /* from the URL path */
	const char *call_sid;     /* CallSid */
	const char *token;        /* query c=, or NULL */
	const char *state;        /* query s=, or NULL on the first request */
	long long seq;            /* query n= (0..999999999), or -1 when absent */
	const char *digits;       /* Digits, or NULL when absent */
	const char *answered_by;  /* AnsweredBy, or NULL */
	const char *call_status;  /* CallStatus, or NULL */
	const char *direction;    /* Direction, or NULL */
	const char *from;         /* From, or NULL */
	const char *to;           /* To, or NULL */
	const char *recording_url;      /* RecordingUrl of a <Record>'s action, or NULL */
	const char *recording_sid;      /* RecordingSid, or NULL */
	const char *recording_duration; /* RecordingDuration (seconds), or NULL */
	int hold;                 /* query hold= (how many holds so far), 0 when absent */
};

/* What happened, for the audit record; strings live in the arena. */
struct engine_outcome {
	const char *call_id;
	const char *business_id;
	const char *state_before;
	const char *state_after;
	const char *input;        /* NULL when no transition was taken */
	const char *action;       /* NULL when none ran */
	int replay;               /* the webhook was not for the current state */
	int hold;                 /* answered with the hold document: its number (1..) */
	int hold_exhausted;       /* unreachable after ENGINE_HOLD_MAX holds: the apology */
};

/* Handles in and appends the TwiML to answer with to out.  Always appends
 * valid TwiML: on any failure (unknown call, database down, action
 * failed) it is the apology, err says why (dispatch.h's error channel),
 * and -1 is returned.  When the call's step could not reach PostgreSQL
 * (the connection broke, the server is gone, shutting down, read-only)
 * even when re-run once, it is the hold document instead (see
 * ENGINE_HOLD_MAX), err says why and 1 is returned.  Returns 0
 * otherwise.  Only the step is re-run or held: a failure after it (an
 * action's statements, the COMMIT, whose outcome may be unknown) is the
 * apology, as before. */
int engine_handle(struct engine *e, struct db *db, struct arena *a,
	const struct engine_input *in, struct buf *out, struct engine_outcome *outcome, char *err,
	size_t errlen);

#endif
