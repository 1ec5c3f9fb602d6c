/* sim_call: one phone call played the way Twilio plays it, for the local
 * Twilio simulator (`ringfence-sim twilio-sim`) and for `ringfence-sim simulate`.
 *
 * sim_call_run rings the callee (sim_callee.h decides: a person, an
 * answering machine, busy, no answer, failed), fetches the call's Url with
 * the standard voice parameters and a correct X-Twilio-Signature, checks
 * the answer as Twilio does (200, text/xml or application/xml, a valid
 * TwiML document, within 15 s), interprets the verbs, plays the callee's
 * keypresses into Gathers, follows action and Redirect URLs, and posts the
 * requested status callbacks.  Everything that happens is reported, in
 * order, to the caller's event function: that is the transcript.
 *
 * Waiting (rings, Pause, Gather timeouts, the callee's delays) is real
 * time multiplied by params->time_scale, so tests can run a 5-second
 * Gather timeout in half a second.  Nothing here touches a database. */
#ifndef RF_SIM_CALL_H
#define RF_SIM_CALL_H

#include <stddef.h>

struct sim_callee;

/* StatusCallbackEvent values, as bits. */
enum {
	SIM_STATUS_INITIATED = 1 << 0,
	SIM_STATUS_RINGING = 1 << 1,
	SIM_STATUS_ANSWERED = 1 << 2,
	SIM_STATUS_COMPLETED = 1 << 3,
};

struct sim_call_params {
	const char *call_sid;          /* CA + 32 hex */
	const char *account_sid;       /* AC + 32 hex */
	const char *auth_token;        /* signs every request to the application */
	const char *from;              /* E.164 */
	const char *to;                /* E.164 */
	const char *direction;         /* "outbound-api" (the default) or "inbound": the
	                                * callee is then the person calling, url the
	                                * number's voice URL, first requested with
	                                * CallStatus ringing */
	const char *api_url;           /* where recordings are served (TWILIO_API_URL);
	                                * NULL: https://api.twilio.com */
	const char *url;               /* the call's Url (absolute) */
	const char *method;            /* "POST" or "GET"; NULL = POST */
	const char *twiml;             /* the call's Twiml instead of Url, or NULL */
	const char *fallback_url;      /* FallbackUrl: requested when a TwiML request
	                                * fails (never for a status callback), or NULL */
	const char *fallback_method;   /* NULL = POST */
	const char *status_callback;   /* absolute URL or NULL */
	const char *status_callback_method; /* NULL = POST */
	unsigned status_events;        /* SIM_STATUS_* bits; 0 = completed only */
	const char *machine_detection; /* NULL, "Enable" or "DetectMessageEnd" */
	int timeout_s;                 /* ring timeout (Twilio's Timeout), default 60 */
	int time_limit_s;              /* longest call (TimeLimit), default 14400 */
	double time_scale;             /* 1.0 = real time; 0.1 = ten times faster */
	int http_timeout_s;            /* how long the application may take: 15 */
};

enum sim_event_kind {
	SIM_EV_STATUS,   /* text: new CallStatus ("ringing", "in-progress", ...) */
	SIM_EV_REQUEST,  /* text: "POST URL", detail: the form body sent */
	SIM_EV_RESPONSE, /* code: HTTP status, text: content type, detail: body */
	SIM_EV_SAY,      /* text: what the callee heard */
	SIM_EV_PLAY,     /* text: the audio URL, detail: its content type */
	SIM_EV_PAUSE,    /* code: seconds */
	SIM_EV_GATHER,   /* text: "numDigits=1 timeout=5 ..." when a Gather starts listening */
	SIM_EV_PRESS,    /* text: the digits the callee pressed */
	SIM_EV_SILENCE,  /* the callee pressed nothing (a Gather timed out) */
	SIM_EV_RECORD,   /* text: the recording's URL (ends with its RE sid), code: its
	                  * seconds, detail: the callee's words ("" when none) */
	SIM_EV_CALLBACK, /* text: "POST URL", detail: the status callback body, code: HTTP status */
	SIM_EV_HANGUP,   /* text: who hung up: "application" or "callee" */
	SIM_EV_ERROR,    /* code: Twilio error code (11200, 12100, 12300, ...), text: message */
	SIM_EV_NOTE,     /* text: anything else worth a transcript line */
};

struct sim_event {
	enum sim_event_kind kind;
	const char *text;              /* never NULL ("" when nothing) */
	const char *detail;            /* never NULL */
	int code;
	long long at_ms;               /* milliseconds since the call started */
};

/* Receives every event; the strings live until it returns. */
typedef void (*sim_event_fn)(void *ctx, const struct sim_event *ev);

struct sim_call_result {
	char status[16];         /* final CallStatus: completed, busy, no-answer, failed, canceled */
	char answered_by[24];    /* "human", "machine_start", ..., "" when not requested */
	int duration_s;          /* CallDuration: seconds from answer to hang-up */
	int error_code;          /* 0, or the Twilio error that ended the call */
	char error_message[256];
};

/* Plays one call to its end.  Returns 0 when the call ran (whatever its
 * outcome, which is in *out), -1 only on a local failure (out of memory,
 * curl could not be initialised) with out->error_message set. */
int sim_call_run(const struct sim_call_params *p, const struct sim_callee *callee,
	sim_event_fn fn, void *ctx, struct sim_call_result *out);

/* The human-readable name of an event kind ("say", "press", ...). */
const char *sim_event_name(enum sim_event_kind kind);

#endif
