/* check: `ringfence check` and `ringfence diagram`.
 *
 * check_flow enforces every rule of DESIGN.md section 3 on one flow:
 * transitions naming a missing state or action; a state without its
 * .xml; a template that is not valid TwiML; a Play of a missing audio
 * file; a state unreachable from the start; a non-terminal state without
 * a `timeout` exit; a terminal state that does not hang up; a placeholder
 * outside the allow-list; a state reachable through `machine` or
 * `timeout` that asks for a keypress; and, with production set, a fixed
 * prompt spoken with Say rather than recorded audio.
 *
 * Also: a state with exits whose template has no Gather (it could never
 * receive input), a terminal state with a Gather, a state_tables/<flow>
 * .xml file that no transition mentions, and (check_run) a flow
 * directory whose name the engine would skip.  "Asks for a keypress"
 * means a Gather, or a Say text or the .txt source of a played prompt
 * with a word beginning "press".  The timeout and Gather rules apply to
 * states that wait for the caller (an exit on a key, timeout, machine or
 * other); a state left only by action events is passed through by the
 * engine within one webhook.  Each problem is one line,
 * "path[:line]: message" naming the state.
 *
 * A text flow (flow_is_text: its name ends in "_sms", as reminder_sms)
 * answers inbound texts: its own rules replace the voice ones (timeout
 * exit, Gather, hang-up, audio, keypress): each template is a Response
 * with at most one <Message>, holding only text (allow-listed fields
 * only) and no attributes (its length and carrier keywords are held to
 * the reminder text's rules, as every flow's <Message>), and no other
 * verb (Gather, Play, Say, Record...); a state that waits for a text has
 * an `other` exit.  The
 * shared rules (known actions, every state reachable, a template per
 * state, no stray template) apply to both. */
#ifndef RF_CHECK_H
#define RF_CHECK_H

#include <stdio.h>

struct flow;
struct flow_diag;

/* Checks a loaded flow (audio looked up under root).  Returns the number
 * of problems added to d. */
int check_flow(const struct flow *f, const char *root, int production, struct flow_diag *d);

/* Loads and checks every flow under root/state_tables; prints each
 * problem as one line on out.  Returns the number of problems (0: all
 * good), or -1 when there is no state_tables directory. */
int check_all(const char *root, int production, FILE *out);

struct check_stats {
	int flows;
	int states;
	int problems;
};

/* check_all for the flows named in flows (all of them when nflows is 0):
 * a named flow that does not exist is a problem.  Fills st.  Returns the
 * number of problems, or -1 when there is no state_tables directory. */
int check_run(const char *root, int production, char *const *flows, int nflows,
	FILE *out, struct check_stats *st);

/* Prints flow f as a Graphviz dot digraph. */
void check_diagram(const struct flow *f, FILE *out);

/* The subcommands; argv[0] is the subcommand name.  Exit statuses. */
int check_main(int argc, char **argv);
int diagram_main(int argc, char **argv);

#endif
