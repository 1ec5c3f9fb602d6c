/* business: verify, unverify, resume; see include/business.h. */
#include "business.h"
#include "audit.h"
#include "cli.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "rds.h"
#include "valid.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Each change: one statement that changes the business only when there
 * is something to change, writes the event from the same rows, and says
 * whether the business exists and how many rows changed.
 * $1 id, $2 reason, $3 actor, $4 the clock. */
#define BUSINESS_EVENT(ev) \
	" e AS (INSERT INTO business_events (business_id, event, reason, actor, clock_at)" \
	"  SELECT id, '" ev "', $2, $3, $4::timestamptz FROM c)" \
	" SELECT EXISTS (SELECT 1 FROM businesses WHERE id = $1::bigint), (SELECT count(*) FROM c)"

static const char verify_sql[] =
	"WITH c AS (UPDATE businesses SET verified = true, verified_at = $4::timestamptz,"
	"  verified_by = $3, verify_reason = $2 WHERE id = $1::bigint AND NOT verified RETURNING id),"
	BUSINESS_EVENT("verify");
static const char unverify_sql[] =
	"WITH c AS (UPDATE businesses SET verified = false, verified_at = NULL, verified_by = NULL,"
	"  verify_reason = NULL WHERE id = $1::bigint AND verified RETURNING id),"
	BUSINESS_EVENT("unverify");
static const char resume_sql[] =
	"WITH c AS (DELETE FROM business_holds WHERE business_id = $1::bigint"
	"  RETURNING business_id AS id),"
	BUSINESS_EVENT("resume");
/* The automatic-messages switch (sql/017_office.sql): off records when,
 * who and why on the business; on clears them. */
static const char messages_off_sql[] =
	"WITH c AS (UPDATE businesses SET paused_at = $4::timestamptz, paused_by = $3,"
	"  paused_reason = $2 WHERE id = $1::bigint AND paused_at IS NULL RETURNING id),"
	BUSINESS_EVENT("messages_off");
static const char messages_on_sql[] =
	"WITH c AS (UPDATE businesses SET paused_at = NULL, paused_by = NULL,"
	"  paused_reason = NULL WHERE id = $1::bigint AND paused_at IS NOT NULL RETURNING id),"
	BUSINESS_EVENT("messages_on");

/* Runs one change statement; see business.h for the results. */
static enum business_result business_change(struct db *db, const char *name, const char *sql,
	long long id, const char *reason, const char *actor, long long now_s)
{
	char ids[24], now[32];
	const char *p[4] = { ids, reason, actor, now };
	enum business_result r = BUSINESS_FAILED;
	PGresult *res;

	if (id <= 0 || reason == NULL || reason[0] == '\0' || actor == NULL || actor[0] == '\0') {
		log_error("business: a change needs a business, a reason and who makes it");
		return BUSINESS_FAILED;
	}
	snprintf(ids, sizeof(ids), "%lld", id);
	clock_sql(now_s, now);
	res = db_exec_prepared(db, name, sql, 4, p);
	if (res == NULL)
		return BUSINESS_FAILED;
	if (PQntuples(res) == 1) {
		if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
			r = BUSINESS_NO_SUCH;
		else
			r = atoll(PQgetvalue(res, 0, 1)) > 0 ? BUSINESS_DONE : BUSINESS_ALREADY;
	}
	PQclear(res);
	return r;
}

/* See business.h. */
enum business_result business_verify(struct db *db, long long id, const char *reason,
	const char *actor, long long now_s)
{
	return business_change(db, "business_verify", verify_sql, id, reason, actor, now_s);
}

/* See business.h. */
enum business_result business_unverify(struct db *db, long long id, const char *reason,
	const char *actor, long long now_s)
{
	return business_change(db, "business_unverify", unverify_sql, id, reason, actor, now_s);
}

/* See business.h. */
enum business_result business_resume(struct db *db, long long id, const char *reason,
	const char *actor, long long now_s)
{
	return business_change(db, "business_resume", resume_sql, id, reason, actor, now_s);
}

/* See business.h. */
enum business_result business_messages(struct db *db, long long id, int on, const char *reason,
	const char *actor, long long now_s)
{
	return on ? business_change(db, "business_messages_on", messages_on_sql, id, reason, actor,
			now_s)
		  : business_change(db, "business_messages_off", messages_off_sql, id, reason, actor,
			now_s);
}

/* ---- the command ------------------------------------------------------------- */

static void business_usage(FILE *out)
{
	fprintf(out,
		"usage: ringfence business verify ID --reason TEXT [--by NAME]\n"
		"       ringfence business unverify ID --reason TEXT [--by NAME]\n"
		"       ringfence business resume ID --reason TEXT [--by NAME]\n"
		"       ringfence business messages-off ID --reason TEXT\n"
		"       ringfence business messages-on ID --reason TEXT\n"
		"       ringfence business status ID\n\n"
		"An unverified business may contact only its own callback number.  verify lets\n"
		"it reach its clients; for 7 days after, a day above max(50, 3 x its largest day)\n"
		"holds its outbound (the new business's failsafe) until `resume`.  unverify takes\n"
		"the verification back.  Each is recorded with who (--by, else the Unix user),\n"
		"when and why.  messages-off holds every automatic message of the business (its\n"
		"reminders and booking confirmations wait; those past their time are never sent\n"
		"late) until messages-on; both are recorded as by \"" BUSINESS_CLI_ACTOR "\".\n"
		"status prints the business's verification, hold, switch and history.\n"
		"Needs RINGFENCE_DATABASE_URL and RINGFENCE_REDIS_URL (the audit log).\n");
}

/* Prints what business id is; 0, or 1 when it cannot be read. */
static int business_print_status(struct db *db, long long id)
{
	char ids[24];
	const char *p[1] = { ids };
	PGresult *res, *ev = NULL;
	int rc = 1;

	snprintf(ids, sizeof(ids), "%lld", id);
	res = db_exec_prepared(db, "business_show",
		"SELECT b.name, b.verified, coalesce(to_char(b.verified_at AT TIME ZONE 'UTC',"
		"  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-'), coalesce(b.verified_by, '-'),"
		" coalesce(b.verify_reason, '-'), h.reason,"
		" to_char(h.held_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
		" to_char(b.paused_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
		" b.paused_by, b.paused_reason"
		" FROM businesses b LEFT JOIN business_holds h ON h.business_id = b.id"
		" WHERE b.id = $1::bigint", 1, p);
	if (res == NULL) {
		fprintf(stderr, "ringfence business: cannot read business %lld: %s\n", id,
			db_last_error(db));
		goto out;
	}
	if (PQntuples(res) != 1) {
		fprintf(stderr, "ringfence business: no business %lld\n", id);
		goto out;
	}
	printf("business %lld: %s\n", id, PQgetvalue(res, 0, 0));
	if (strcmp(PQgetvalue(res, 0, 1), "t") == 0)
		printf("verified: yes, at %s by %s: %s\n", PQgetvalue(res, 0, 2),
			PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4));
	else
		printf("verified: no (it may contact only its own callback number)\n");
	if (!PQgetisnull(res, 0, 5))
		printf("held: since %s: %s\n", PQgetvalue(res, 0, 6), PQgetvalue(res, 0, 5));
	else
		printf("held: no\n");
	if (!PQgetisnull(res, 0, 7))
		printf("automatic messages: off since %s by %s: %s\n", PQgetvalue(res, 0, 7),
			PQgetvalue(res, 0, 8), PQgetvalue(res, 0, 9));
	else
		printf("automatic messages: on\n");
	ev = db_exec_prepared(db, "business_history",
		"SELECT to_char(clock_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), event,"
		" actor, reason FROM business_events WHERE business_id = $1::bigint"
		" ORDER BY id DESC LIMIT 20", 1, p);
	if (ev == NULL) {
		fprintf(stderr, "ringfence business: cannot read the history: %s\n", db_last_error(db));
		goto out;
	}
	for (int i = 0; i < PQntuples(ev); i++)
		printf("  %s %s by %s: %s\n", PQgetvalue(ev, i, 0), PQgetvalue(ev, i, 1),
			PQgetvalue(ev, i, 2), PQgetvalue(ev, i, 3));
	rc = 0;
out:
	if (res)
		PQclear(res);
	if (ev)
		PQclear(ev);
	return rc;
}

/* The Unix user running the command, or NULL. */
static const char *unix_user(void)
{
	struct passwd *pw = getpwuid(getuid());
	const char *u = pw && pw->pw_name && pw->pw_name[0] ? pw->pw_name : getenv("USER");
	return u && u[0] ? u : NULL;
}

/* See business.h. */
int business_main(int argc, char **argv)
{
	static const char *const done[] = { "verified", "verification taken back", "resumed",
		"", "automatic messages turned off", "automatic messages turned on" };
	static const char *const already[] = { "is already verified", "is not verified",
		"is not held", "", "has its automatic messages off already",
		"has its automatic messages on already" };
	struct config cfg;
	char bid[24];
	const char *cmd, *why = NULL, *by = NULL, *idarg = NULL;
	struct db *db = NULL;
	struct rds *r = NULL;
	struct audit *au = NULL;
	long long id = 0, now_s;
	enum business_result res;
	int rc = 2, which;

	if (argc < 2) {
		business_usage(stderr);
		goto out;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		business_usage(stdout);
		rc = 0;
		goto out;
	}
	which = strcmp(cmd, "verify") == 0 ? 0 : strcmp(cmd, "unverify") == 0 ? 1
		: strcmp(cmd, "resume") == 0 ? 2 : strcmp(cmd, "status") == 0 ? 3
		: strcmp(cmd, "messages-off") == 0 ? 4 : strcmp(cmd, "messages-on") == 0 ? 5 : -1;
	if (which < 0) {
		fprintf(stderr, "ringfence business: unknown command '%s' (see --help)\n", cmd);
		goto out;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			business_usage(stdout);
			rc = 0;
			goto out;
		} else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc && which != 3) {
			why = argv[++i];
		} else if (strcmp(argv[i], "--by") == 0 && i + 1 < argc && which < 3) {
			by = argv[++i];
		} else if (idarg == NULL && argv[i][0] != '-') {
			idarg = argv[i];
		} else {
			fprintf(stderr, "ringfence business: unknown or incomplete argument '%s' (see --help)\n",
				argv[i]);
			goto out;
		}
	}
	if (idarg == NULL || !valid_to_id(idarg, strlen(idarg), &id)) {
		fprintf(stderr, "ringfence business: %s needs a business id (a positive whole number)%s%s\n",
			cmd, idarg ? ", not " : "", idarg ? idarg : "");
		goto out;
	}
	if (which != 3) {
		/* The switch names the operator's command line itself. */
		if (which > 3)
			by = BUSINESS_CLI_ACTOR;
		else if (by == NULL)
			by = unix_user();
		if (why == NULL || why[0] == '\0' || !valid_printable(why, strlen(why))) {
			fprintf(stderr, "ringfence business: %s needs --reason TEXT (printable, not empty)\n",
				cmd);
			goto out;
		}
		if (by == NULL || by[0] == '\0' || !valid_printable(by, strlen(by))) {
			fprintf(stderr, "ringfence business: %s needs --by NAME (no Unix user found)\n", cmd);
			goto out;
		}
		if (strlen(why) > BUSINESS_REASON_MAX || strlen(by) > BUSINESS_ACTOR_MAX) {
			fprintf(stderr, "ringfence business: --reason is limited to %d bytes, --by to %d\n",
				BUSINESS_REASON_MAX, BUSINESS_ACTOR_MAX);
			goto out;
		}
	}
	rc = 1;
	if (cli_open_db("ringfence business", &cfg, CFG_NEED_DB | (which != 3 ? CFG_NEED_REDIS : 0),
		    &db) < 0)
		goto out;
	if (which == 3) {
		rc = business_print_status(db, id);
		goto out;
	}
	now_s = clock_now_s();
	res = which == 0 ? business_verify(db, id, why, by, now_s)
		: which == 1 ? business_unverify(db, id, why, by, now_s)
		: which == 2 ? business_resume(db, id, why, by, now_s)
		: business_messages(db, id, which == 5, why, by, now_s);
	if (res == BUSINESS_FAILED) {
		fprintf(stderr, "ringfence business: %s was not recorded: %s\n", cmd, db_last_error(db));
		goto out;
	}
	if (res == BUSINESS_NO_SUCH) {
		fprintf(stderr, "ringfence business: no business %lld\n", id);
		goto out;
	}
	if (res == BUSINESS_ALREADY) {
		fprintf(stderr, "ringfence business: business %lld %s; nothing changed\n", id,
			already[which]);
		goto out;
	}
	r = rds_open(cfg.redis_url);
	au = audit_open(r, cfg.audit_fallback);
	snprintf(bid, sizeof(bid), "%lld", id);
	audit_record(au, "business", NULL, bid, json_pack("{s:s, s:I, s:s, s:s, s:s}", "action", cmd,
		"business_id", (json_int_t)id, "reason", why, "actor", by, "via", "cli"));
	printf("business %lld: %s by %s: %s\n", id, done[which], by, why);
	rc = 0;
out:
	if (au)
		audit_close(au);
	if (r)
		rds_close(r);
	if (db)
		db_close(db);
	return rc;
}
