/* sim_twiml: a TwiML answer read the way Twilio reads it, for the
 * simulator's call player (sim_call.c).
 *
 * The document is parsed with libxml2 without network access and without
 * a DTD (a DOCTYPE is refused, so no entity but the five predefined ones
 * exists), then checked: the root is <Response>; every element is a verb
 * Twilio knows; only Say, Play and Pause sit inside Gather; no other verb
 * holds elements; attribute values are well-formed.  Whatever fails is
 * error 12100 with a message naming the element and its line.  Verbs
 * Twilio knows but the simulator does not play (Dial, Enqueue, Connect,
 * ...) are 12100 as well, saying so.  Unknown attributes are ignored, as
 * Twilio ignores them.  Attribute defaults are Twilio's, filled in here,
 * and every URL (action, Play, Redirect) is resolved against the
 * document's own URL. */
#ifndef RF_SIM_TWIML_H
#define RF_SIM_TWIML_H

#include <stddef.h>

/* Twilio's "Document parse failure" error. */
#define SIM_TWIML_INVALID 12100

enum sim_verb_kind {
	SIM_VERB_SAY,
	SIM_VERB_PLAY,
	SIM_VERB_PAUSE,
	SIM_VERB_GATHER,
	SIM_VERB_RECORD,
	SIM_VERB_REDIRECT,
	SIM_VERB_HANGUP,
	SIM_VERB_REJECT,
};

/* recordingStatusCallbackEvent values, as bits. */
enum {
	SIM_REC_IN_PROGRESS = 1 << 0,
	SIM_REC_COMPLETED = 1 << 1,
	SIM_REC_ABSENT = 1 << 2,
};

/* One verb.  Strings are owned by the verb (freed by sim_twiml_free);
 * fields a verb does not use are zero or NULL. */
struct sim_verb {
	enum sim_verb_kind kind;
	long line;               /* in the document, for messages */
	/* Say: the text, trimmed.  Play: the resolved audio URL ("" when
	 * the Play only sends digits).  Redirect: the resolved URL. */
	char *text;
	int loop;                /* Say, Play: 1 by default; 0 is Twilio's "repeat" */
	char *voice;             /* Say: "" when not given */
	char *language;          /* Say: "" when not given */
	char *digits;            /* Play: the digits attribute, "" when none */
	int length;              /* Pause: seconds, default 1 */
	char *action;            /* Gather, Record: resolved; default the document's URL */
	char method[5];          /* Gather, Record, Redirect: "POST" (default) or "GET" */
	int timeout;             /* Gather, Record: seconds, default 5 */
	int num_digits;          /* Gather: 0 = no limit (the default) */
	char finish_on_key[16];  /* Gather: "#" by default, "" for none;
	                            Record: "1234567890*#" (any key) by default */
	int action_on_empty_result; /* Gather: 0 by default */
	int max_length;          /* Record: seconds, default 3600 */
	int play_beep;           /* Record: 1 by default */
	int trim;                /* Record: 1 (trim-silence, the default) or 0 (do-not-trim) */
	char *rec_callback;      /* Record: recordingStatusCallback resolved, "" when none */
	char rec_callback_method[5]; /* Record: recordingStatusCallbackMethod, "POST" by default */
	unsigned rec_events;     /* Record: SIM_REC_* bits, SIM_REC_COMPLETED by default */
	char *reason;            /* Reject: "rejected" (default) or "busy" */
	struct sim_verb *children; /* Gather: its Say, Play and Pause */
	size_t nchildren;
};

struct sim_twiml {
	struct sim_verb *verbs;  /* the Response's verbs, in order */
	size_t n;
};

/* Parses len bytes of body, fetched from doc_url (an absolute http or
 * https URL), into out.  Returns 0, or SIM_TWIML_INVALID with a one-line
 * message in err ("line 3: <Dial> is not supported by the simulator");
 * out is then empty.  Free out with sim_twiml_free either way. */
int sim_twiml_parse(const char *body, size_t len, const char *doc_url, struct sim_twiml *out,
	char *err, size_t errlen);
void sim_twiml_free(struct sim_twiml *t);

/* Resolves ref against base (an absolute http or https URL), as a
 * browser would: an absolute http(s) URL, a network-path ("//host/x"),
 * an absolute path ("/x"), a relative path ("x", "../x"; dot segments
 * removed) or a query only ("?a=1").  Any fragment is dropped.  Returns
 * a new string (caller frees), or NULL when base is not an absolute
 * http(s) URL, ref names another scheme, or either holds a control
 * character or a space. */
char *sim_twiml_resolve(const char *base, const char *ref);

/* The verb's TwiML name ("Say", "Gather", ...). */
const char *sim_verb_name(enum sim_verb_kind kind);

#endif
