/* flow: a call flow loaded from state_tables/<flow>/ (DESIGN.md section 3).
 *
 *   state_tables/<flow>/transitions   lines "from on to [action]"
 *   state_tables/<flow>/<state>.xml   the TwiML template of <state>
 *   audio/<flow>/<state>/<name>.mp3   audio that <state> plays
 *
 * In the transitions file, '#' starts a comment and blank lines are
 * ignored; fields are separated by spaces or tabs.  Because '#' is also
 * a keypad key, a field that is exactly "#" in the `on` position is the
 * key; any other field that begins with '#' starts the comment.  A
 * trailing '\r' on a line is ignored.  `on` is a keypad key
 * (0-9, *, #), "timeout", "machine", "other", "recorded" (a <Record>'s
 * action request: a recording was made), or an event name an action
 * returns ([a-z][a-z0-9_]*).  The start state is the `from` of the first
 * line.  A state with no outgoing line is terminal.  State and action
 * names match [a-z][a-z0-9_]{0,63}.  A (from, on) pair may appear once.
 *
 * A loaded flow is immutable; a FastCGI worker loads its flows once at
 * start and keeps them for its lifetime (owner: the worker).  Each
 * state's template is parsed and compiled there, once per process (a
 * reload starts new workers); a webhook only runs the compiled one. */
#ifndef RF_FLOW_H
#define RF_FLOW_H

#include <stddef.h>
#include <libxml/tree.h>

#include "diag.h"

struct twiml_prog;

#define FLOW_MAX_STATES 256
#define FLOW_MAX_TRANSITIONS 1024
#define FLOW_MAX_NAME 64

struct flow_state {
	char *name;
	int terminal;     /* no outgoing transition */
	char *tmpl_path;  /* root/state_tables/<flow>/<name>.xml */
	xmlDocPtr tmpl;   /* parsed template, NULL when missing or not XML */
	struct twiml_prog *prog; /* tmpl compiled (twiml.h), NULL when it cannot render */
};

struct flow_transition {
	int from;         /* index into states */
	int to;
	char *on;         /* key, "timeout", "machine", "other" or event */
	char *action;     /* NULL when none */
	int line;         /* line number in the transitions file */
};

struct flow {
	char *name;
	char *dir;        /* root/state_tables/<name> */
	char *audio_dir;  /* root/audio/<name> */
	char *trans_path; /* the transitions file as diagnostics name it */
	struct flow_state *states;
	size_t nstates;
	struct flow_transition *trans;
	size_t ntrans;
	int start;        /* index of the start state */
};

/* Parses a transitions text (len bytes, need not be NUL-terminated) into
 * a new flow with no templates; file names diagnostics.  Returns NULL and
 * adds to d on a syntax error (bad field count, bad name, duplicate
 * (from, on), too many states or lines, no lines at all). */
struct flow *flow_parse(const char *name, const char *text, size_t len,
	const char *file, struct flow_diag *d);

/* Loads root/state_tables/<name>/transitions and every state's template
 * (a missing or unparsable template is left NULL and noted in d; check
 * turns that into an error).  Returns NULL on a missing or malformed
 * transitions file.  Paths in the flow and in d are root-relative
 * ("state_tables/x/a.xml") when root is "." or "". */
struct flow *flow_load(const char *root, const char *name, struct flow_diag *d);

void flow_free(struct flow *f);

/* The index of state name, or -1. */
int flow_state_index(const struct flow *f, const char *name);

/* The transition taken from state on input: an exact match on `on`
 * first; for a keypad key with no exact match, the "other" line; NULL
 * when there is none (the caller stays in the state). */
const struct flow_transition *flow_next(const struct flow *f, int state, const char *input);

/* Whether f is a text flow (its name ends in "_sms", as reminder_sms):
 * its states answer an inbound text with at most one <Message>, and the
 * voice rules (timeout exit, hang-up, Gather) do not apply to it. */
int flow_is_text(const struct flow *f);

/* Whether s is a valid flow, state, action or event name
 * ([a-z][a-z0-9_]{0,63}). */
int flow_name_valid(const char *s);

/* state_tables/messages holds the reminder text's and email's templates
 * (wording.h), not a flow: every reader of state_tables skips it. */
#define FLOW_MESSAGES_DIR "messages"
/* Whether state_tables/<name> is a flow: a valid name, not
 * FLOW_MESSAGES_DIR. */
int flow_dir_is_flow(const char *name);

/* Whether on is a keypad key, or one of the built-in inputs. */
int flow_is_key(const char *on);
int flow_is_builtin_input(const char *on); /* key, timeout, machine, other, recorded */

/* root/rel as a new string (caller frees), or rel alone when root is
 * "." or empty, so that messages read "state_tables/x/a.xml" when run
 * from the repository. */
char *flow_path(const char *root, const char *rel);

/* Notes in d why state i has no template, path (tmpl == NULL): the file
 * is missing, or it is not well-formed XML.  flow_load and check_flow
 * both call it; flow_diag_add keeps one copy of each message. */
void flow_note_template(const struct flow *f, int i, const char *path, struct flow_diag *d);

#endif
