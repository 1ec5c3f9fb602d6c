/* twiml: TwiML templates, validated with libxml2 and compiled once.
 *
 * A template is a TwiML document whose Say (or, in a text reply, Message)
 * text may hold placeholders
 * {{field}}, where field is on the allow-list (business_name,
 * appointment_date, appointment_time, callback_number): nothing
 * confidential can reach a caller, a voicemail or a speakerphone.  Values
 * are only ever written through the escaping writers as text or as an
 * attribute value; markup is never assembled from strings.  Play holds a
 * bare file name ("intro.mp3") resolved against the state's audio URL.
 *
 * A template is parsed and validated with libxml2 when its flow is loaded
 * and compiled there (twiml_compile) into a flat program: literal bytes,
 * already serialised exactly as libxml2's writer would write them, value
 * slots and the engine's attribute slots.  Rendering a webhook's answer
 * (twiml_run) only appends to a buffer; the output is byte for byte what
 * libxml2 writes for the filled-in document (twiml_ref.h keeps that
 * renderer as the reference the tests hold the compiled one to). */
#ifndef RF_TWIML_H
#define RF_TWIML_H

#include <stddef.h>
#include <libxml/tree.h>

struct buf;
struct flow_diag;

/* Splits template text into literal runs and {{field}} placeholders.  At
 * *pp, returns the kind of the next piece with its start and length (for
 * a field, the name without braces) and moves *pp past it.  A "{{" that
 * is not followed by a name ([a-z0-9_]+) and "}}" is TWIML_PH_BAD (start
 * points at it).  The message templates (wording.h) use the same syntax. */
enum { TWIML_PH_END, TWIML_PH_TEXT, TWIML_PH_FIELD, TWIML_PH_BAD };
int twiml_placeholder_next(const char **pp, const char **start, size_t *len);

/* The engine's own element of a template, never sent to Twilio:
 * <PlayRecording of="greeting|this_call">prompts</PlayRecording> renders
 * as <Play>URL</Play> of that recording when there is one, else as its
 * prompts (Say, Play, Pause); allowed wherever a Play is. */
#define TWIML_PLAY_RECORDING "PlayRecording"

/* NULL-terminated allow-list of placeholder names. */
extern const char *const twiml_fields[];
#define TWIML_NFIELDS 4
int twiml_field_allowed(const char *name);

struct twiml_var {
	const char *name;
	const char *value; /* plain text; escaped by the writer */
};

struct twiml_render_opts {
	const struct twiml_var *vars;
	size_t nvars;
	/* Set as action= (with method="POST" and actionOnEmptyResult="true")
	 * on every Gather; NULL leaves Gathers as they are. */
	const char *gather_action;
	/* Prefix for Play file names, e.g.
	 * "https://host/audio/reminder_call/announce" (no trailing slash). */
	const char *audio_base;
	/* What a <PlayRecording of="..."> plays (NULL or "": its own
	 * prompts): the business's kept greeting, this call's latest take.
	 * Set as recordingStatusCallback (method POST) on a <Record>, whose
	 * action is gather_action. */
	const char *greeting_url;
	const char *this_call_url;
	const char *recording_callback;
};

/* Renders tmpl (not modified) into out as a complete XML document with
 * an XML declaration, compiling it first (the engine compiles each
 * state's template once and calls twiml_run).  A placeholder with no value in vars renders as ""
 * and makes the call return -1 (nothing is appended to out then).
 * Returns 0 or -1.
 *
 * The output is indented (two spaces per level, one verb per line, text
 * kept inline as <Say>text</Say>) so that golden files stay readable;
 * comments in the template are dropped.  An empty or all-blank value
 * counts as no value (Twilio reports an empty Say as invalid), and a
 * value's control characters and invalid UTF-8 become spaces and
 * U+FFFD, which XML cannot carry or libxml2 would refuse to write. */
int twiml_render(xmlDocPtr tmpl, const struct twiml_render_opts *opts, struct buf *out);

/* A compiled template (owner: whoever compiled it; immutable, so any
 * number of renderings may share it). */
struct twiml_prog;

/* Compiles tmpl (a parsed template, not modified) for twiml_run.  NULL
 * with a one-line reason in err when it cannot render at all: no root
 * Response, a DOCTYPE, a namespace, an entity, a malformed or
 * unlisted placeholder, a Play that is not a bare file name, a
 * PlayRecording without of= or prompts (twiml_validate reports each of
 * these first). */
struct twiml_prog *twiml_compile(xmlDocPtr tmpl, char *err, size_t errlen);
void twiml_prog_free(struct twiml_prog *p);

/* twiml_render's contract for a compiled template: appends the document
 * to out, or returns -1 with out as it was (a placeholder without a
 * value, or p NULL).  No libxml2 call; nothing allocated but out's
 * growth. */
int twiml_run(const struct twiml_prog *p, const struct twiml_render_opts *opts, struct buf *out);

/* Appends valid TwiML that apologises and hangs up.  Never fails; used
 * whenever anything goes wrong so the caller never hears Twilio's
 * application-error recording. */
void twiml_apology(struct buf *out);

/* Appends the hold document: <Play> play_url (a recorded "One moment,
 * please."), <Pause length="pause_s"/>, then <Redirect method="POST"> to
 * redirect_url, which Twilio requests again when the pause is over.
 * Never fails; the URLs are escaped here. */
void twiml_hold(struct buf *out, const char *play_url, int pause_s, const char *redirect_url);

/* Appends the empty TwiML document, <Response/>: the answer to a status
 * callback or a text that needs no reply. */
void twiml_empty(struct buf *out);

/* Parses a template file.  NULL (reason in d, naming path) when it is not
 * well-formed XML.  Whitespace-only text outside Say is dropped, so that
 * rendering can indent the output; the caller owns the document
 * (xmlFreeDoc). */
xmlDocPtr twiml_load(const char *path, struct flow_diag *d);
/* The same for a template held in memory (len bytes); path names it in
 * diagnostics. */
xmlDocPtr twiml_parse(const char *text, size_t len, const char *path, struct flow_diag *d);

/* Appends value cleaned as a placeholder's value is: control characters
 * other than tab and newline become spaces, invalid UTF-8 (and
 * surrogates, U+FFFE, U+FFFF) becomes U+FFFD; with escape, & < > are
 * escaped as XML text too. */
void twiml_put_value(struct buf *b, const char *value, int escape);

/* Whether s is empty or only XML white space. */
int twiml_is_blank(const char *s);

/* Whether s is a bare audio file name: [A-Za-z0-9_-]+ then .mp3 or .wav.
 * No slash, no scheme, no "..": a template can only play its own state's
 * recorded prompts. */
int twiml_play_name_ok(const char *s);

/* Whether text asks the listener to press a key: a word beginning with
 * "press" (press, pressing), in any case.  Used on Say text and on the
 * .txt source of recorded prompts. */
int twiml_text_asks_keypress(const char *text);

/* Checks a template is valid TwiML for ringfence: root Response, only
 * known verbs, only Say/Play/Pause inside Gather, placeholders only in
 * Say text and only allow-listed ones, Play names bare file names.  Each
 * problem goes to d naming path.  Returns the number of problems. */
int twiml_validate(xmlDocPtr doc, const char *path, struct flow_diag *d);

/* Facts about a template that check's flow rules need. */
struct twiml_facts {
	int has_gather;
	int has_record;        /* a <Record> */
	int nrecord;           /* how many */
	int ends_with_hangup;  /* last top-level verb is Hangup or Reject */
	int asks_keypress;     /* has a Gather, or Say text mentions "press" */
	int has_fixed_say;     /* a Say with no placeholder (a fixed prompt) */
	char **play_files;     /* Play file names, malloc'd; free with twiml_facts_free */
	size_t nplay;
	long fixed_say_line;   /* line of the first fixed Say, 0 when none */
	long *play_lines;      /* line of each Play, parallel to play_files */
};
void twiml_inspect(xmlDocPtr doc, struct twiml_facts *facts);
void twiml_facts_free(struct twiml_facts *facts);

#endif
