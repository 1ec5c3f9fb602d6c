/* flow_paths: every path through a flow's state table, as the phone (or
 * the texter) would play it; `ringfence paths FLOW` and the integration
 * group that plays them (test/integration/test_paths.c).
 *
 * A voice flow's path runs from the start state to a terminal state.  At
 * every state each of its lines is one branch: a key is pressed, `other`
 * is a key the state does not name, `timeout` is nothing pressed,
 * `machine` is an answering machine reported by Twilio's detection (the
 * engine reads AnsweredBy on the call's first request only, so `machine`
 * is a branch of the start state alone, and after it every input is
 * `timeout`: a machine presses nothing).  `recorded` is a person
 * speaking into a <Record>.  A state entered by a line with
 * an action, and that has lines on events, is left on one of those
 * events, each a branch; how to make the action answer it is a
 * precondition the runner sets up (flow_event_setup's table).  Loops are
 * cut at one repetition: a state appears at most twice on a path.
 *
 * A text flow (flow_is_text) has no end: a client may text
 * again at any time.  Its paths are, for each resting state (one without
 * event lines), the shortest conversation that reaches it followed by
 * each text it takes (and the events that text's action may answer), so
 * that every line is taken.
 *
 * Building fails, each reason a line in d, when a state is on no path,
 * when a path ends in a state that does not say goodbye (a voice flow's
 * terminal template must end with <Hangup/>; a text flow's resting
 * template must be one <Message> or an empty <Response/>, its explicit
 * silence), when an event has no precondition, or when there are more
 * than FLOW_PATHS_MAX paths.  A line no path can take (a `machine` away
 * from the start, an event of a state no action enters) is a note, not a
 * failure. */
#ifndef RF_FLOW_PATHS_H
#define RF_FLOW_PATHS_H

#include <stddef.h>

#include "diag.h"

#define FLOW_PATHS_MAX 4096

struct flow;
struct flow_transition;

/* How one step of a path is provoked. */
enum flow_way {
	FLOW_WAY_PRESS,    /* a person presses `key` */
	FLOW_WAY_SILENCE,  /* nothing pressed: the Gather times out */
	FLOW_WAY_MACHINE,  /* an answering machine answers (AnsweredBy) */
	FLOW_WAY_SPEAK,    /* a person speaks into a <Record>: `recorded` */
	FLOW_WAY_TEXT,     /* the client texts `text` */
	FLOW_WAY_EVENT,    /* the action answers the event: `setup` makes it */
};

struct flow_path_step {
	const struct flow_transition *t; /* a line of the flow's table */
	enum flow_way way;
	char key[2];                     /* FLOW_WAY_PRESS */
	const char *text;                /* FLOW_WAY_TEXT: static storage */
	const char *setup;               /* FLOW_WAY_EVENT: static storage */
};

struct flow_path {
	struct flow_path_step *steps;    /* owned */
	size_t nsteps;
	int end;                         /* the state the path ends in */
};

struct flow_paths {
	struct flow_path *v;             /* owned */
	size_t n;
};

/* Builds every path of f into out (empty on entry).  Returns 0, or -1
 * with the reasons in errs; lines no path takes are noted in notes
 * (either may be NULL).  out holds what was built either way; free it
 * with flow_paths_free.  out's steps point into f: f must outlive out. */
int flow_paths_build(const struct flow *f, struct flow_paths *out, struct flow_diag *errs,
	struct flow_diag *notes);
void flow_paths_free(struct flow_paths *ps);

/* The precondition a runner sets up so that an action answers event in
 * flow (static storage), or NULL when the table has none. */
const char *flow_event_setup(const char *flow, const char *event);

/* The callee behaviour of a voice path (sim_callee.h grammar), e.g.
 * "person; press 1; press 2; expect-hangup", or of a text path, its texts
 * as `text "YES"` steps.  A new string (caller frees). */
char *flow_path_behaviour(const struct flow *f, const struct flow_path *p);

/* The path's preconditions, comma-separated in order, "" for none.  A new
 * string (caller frees). */
char *flow_path_setups(const struct flow_path *p);

/* The path's transitions, "from -on-> to [action]" joined by ", ".  A new
 * string (caller frees). */
char *flow_path_describe(const struct flow *f, const struct flow_path *p);

/* `ringfence paths`: lists a flow's paths, or writes one script per path
 * into a directory. */
int paths_main(int argc, char **argv);

#endif
