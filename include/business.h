/* business: an operator's controls over one business (DESIGN.md rule 13).
 *
 * A business starts unverified and may then contact only its own callback
 * number (reminder_block).  An operator verifies it, or takes the
 * verification back, with a reason; in the first 7 days after
 * verification the business's own failsafe (reminder_claim,
 * sql/016_trial.sql) may hold its outbound, and only an operator resumes
 * it.  Each change is one statement that also writes the business_events
 * row (who, why, when), so the state and its record cannot disagree.  The
 * CLI (`ringfence business`) and the operator's dashboard page call the
 * same functions. */
#ifndef RF_BUSINESS_H
#define RF_BUSINESS_H

#include <stddef.h>

struct db;

/* What a change did. */
enum business_result {
	BUSINESS_DONE = 0,     /* changed and recorded */
	BUSINESS_NO_SUCH = 1,  /* no business with that id */
	BUSINESS_ALREADY = 2,  /* nothing to do: already verified, not verified, not held */
	BUSINESS_FAILED = -1   /* database error (db_last_error says why); nothing changed */
};

/* The longest reason and actor the tables accept. */
#define BUSINESS_REASON_MAX 1000
#define BUSINESS_ACTOR_MAX 254

/* Verifies business id: verified, verified_at (now_s, the process's
 * clock, from which the 7 days of the new business's failsafe run),
 * verified_by actor, verify_reason reason.  reason and actor must be
 * non-empty (the caller checks their length). */
enum business_result business_verify(struct db *db, long long id, const char *reason,
	const char *actor, long long now_s);

/* Takes the verification back: only its own number again, and a later
 * verification starts a new 7 days. */
enum business_result business_unverify(struct db *db, long long id, const char *reason,
	const char *actor, long long now_s);

/* Lifts the hold of the new business's failsafe.  Its held reminders go
 * out only if still fresh (stale ones were or will be skipped: DESIGN.md
 * rule 4) and within the contact limits; the day's count starts afresh
 * from the resume. */
enum business_result business_resume(struct db *db, long long id, const char *reason,
	const char *actor, long long now_s);

/* Who the command line's switch records. */
#define BUSINESS_CLI_ACTOR "operator (cli)"

/* The automatic-messages switch: on = 0 turns it off (paused_at now_s,
 * paused_by actor, paused_reason reason: every reminder and booking
 * confirmation of the business is held by reminder_block, and one held
 * past its stale time is skipped, never sent late); on = 1 turns it on
 * again.  With its business_events row (messages_off, messages_on) in
 * the same statement.  BUSINESS_ALREADY when it is in that state: nothing
 * changed.  The CLI, the API and the dashboard call it. */
enum business_result business_messages(struct db *db, long long id, int on, const char *reason,
	const char *actor, long long now_s);

/* `ringfence business verify|unverify|resume ID --reason TEXT [--by NAME]`,
 * `ringfence business messages-off|messages-on ID --reason TEXT` (recorded
 * as BUSINESS_CLI_ACTOR) and `ringfence business status ID`.  The actor is --by, else the Unix
 * user.  Exit 0 done, 1 refused or failed (one line on stderr), 2 usage. */
int business_main(int argc, char **argv);

#endif
