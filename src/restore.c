/* restore: the restored database reconciled with Twilio; see
 * include/restore.h. */
#include "restore.h"
#include "arena.h"
#include "cli.h"
#include "config.h"
#include "db.h"
#include "outbound.h"
#include "sms.h"
#include "twilio.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Twilio's date_created has one-second resolution and the worker writes
 * its attempt just before the request: a call is matched to a reminder
 * due up to this much after it. */
#define RESTORE_SLACK "interval '2 seconds'"
/* Decisions kept in the deployment event's detail (all are printed). */
#define RESTORE_DETAIL_MAX 1000

/* One call or message of Twilio's lists. */
struct record {
	const char *kind;      /* "calls" or "messages" */
	const char *sid, *direction, *from, *to, *status, *body;
	long long created_s;
};

/* What one reconciliation collected and decided; everything in a. */
struct rc {
	struct db *db;
	struct arena *a;
	const char *default_from; /* TWILIO_FROM_NUMBER, may be NULL */
	const char *listing;      /* the kind twilio_list is reading */
	struct record *recs;
	size_t n, cap;
	json_t *decisions;        /* the report's lines, as objects */
	int known, marked, unmatched, answered_held, stops, replies_held, emails_skipped,
	    reminders_held, other;
};

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : "";
}

/* twilio_list's callback: keeps one record. */
static int keep(void *ctx, json_t *item, const struct twilio_found *f)
{
	struct rc *rc = ctx;
	struct record *r;

	if (rc->n == rc->cap) {
		rc->cap = rc->cap ? rc->cap * 2 : 64;
		rc->recs = xrealloc(rc->recs, rc->cap * sizeof(*rc->recs));
	}
	r = &rc->recs[rc->n++];
	r->kind = rc->listing;
	r->sid = arena_strdup(rc->a, f->sid);
	r->status = arena_strdup(rc->a, f->status);
	r->created_s = f->created_s;
	r->direction = arena_strdup(rc->a, jstr(item, "direction"));
	r->from = arena_strdup(rc->a, jstr(item, "from"));
	r->to = arena_strdup(rc->a, jstr(item, "to"));
	r->body = arena_strdup(rc->a, jstr(item, "body"));
	return 0;
}

static int by_time(const void *x, const void *y)
{
	const struct record *a = x, *b = y;
	if (a->created_s != b->created_s)
		return a->created_s < b->created_s ? -1 : 1;
	return strcmp(a->sid, b->sid);
}

/* Adds one decision to the report (printed, and kept in the event). */
static void decide(struct rc *rc, const struct record *r, const char *decision, const char *detail)
{
	json_t *d = json_pack("{s:s, s:s}", "decision", decision, "detail", detail);

	if (r) {
		json_t *rj = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "sid", r->sid,
			"direction", r->direction, "from", r->from, "to", r->to, "status", r->status,
			"created", (json_int_t)r->created_s);
		json_object_update(d, rj);
		json_decref(rj);
	}
	json_array_append_new(rc->decisions, d);
}

/* 1 when the database knows sid (a contact attempt or an inbound text
 * has it), 0 not, -1 error. */
static int sid_known(struct rc *rc, const char *sid)
{
	const char *p[1] = { sid };
	PGresult *res = db_exec_prepared(rc->db, "restore_sid_known",
		"SELECT EXISTS (SELECT 1 FROM contact_attempts WHERE provider_sid = $1)"
		" OR EXISTS (SELECT 1 FROM inbound_texts WHERE message_sid = $1)", 1, p);
	int known;

	if (res == NULL)
		return -1;
	known = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return known;
}

/* Skips the pending reminders of appointment appt (a person decides);
 * returns how many, or -1. */
static int hold(struct rc *rc, const char *appt, const char *why)
{
	const char *p[2] = { appt, why };
	PGresult *res = db_exec_prepared(rc->db, "restore_hold",
		"UPDATE reminders SET status = 'skipped', status_reason = $2, updated_at = now()"
		" WHERE appointment_id = $1::bigint AND status = 'pending' RETURNING id", 2, p);
	int n;

	if (res == NULL)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	rc->reminders_held += n;
	return n;
}

/* An outbound call or text the database does not know: the reminder it
 * was for gets its attempt, 'placed'.  Fills *appt with the reminder's
 * appointment (NULL: none matched).  0 or -1. */
static int mark_sent(struct rc *rc, const struct record *r, const char **appt)
{
	char created[32];
	const char *channel = strcmp(r->kind, "calls") == 0 ? "voice" : "sms";
	const char *p[5] = { channel, r->to, r->from, created, rc->default_from };
	const char *v[4], *why;
	int got;

	*appt = NULL;
	snprintf(created, sizeof(created), "%lld", r->created_s);
	/* The reminder it was for: never attempted (pending), or attempted
	 * with no answer recorded (dialing or unknown without a sid). */
	got = db_row_prepared(rc->db, rc->a, "restore_match",
		"SELECT r.id, r.appointment_id, ca.id, r.business_id FROM reminders r"
		" JOIN businesses b ON b.id = r.business_id"
		" LEFT JOIN contact_attempts ca ON ca.reminder_id = r.id"
		" WHERE r.channel = $1 AND r.to_address = $2"
		" AND rf_business_sms_from(b.twilio_from, $5) = $3"
		" AND r.due_at <= to_timestamp($4::bigint) + " RESTORE_SLACK
		" AND ((ca.id IS NULL AND r.status = 'pending')"
		"  OR (ca.status IN ('dialing', 'unknown') AND ca.provider_sid IS NULL))"
		" ORDER BY (r.stale_at < to_timestamp($4::bigint)), r.due_at, r.id LIMIT 1"
		" FOR UPDATE OF r", 5, p, 4, v);
	if (got < 0)
		return -1;
	if (got == 0) {
		rc->unmatched++;
		decide(rc, r, "unmatched", "no reminder in the restored database was waiting for it:"
			" nothing changed");
		return 0;
	}
	why = arena_printf(rc->a, "sent before the restore: Twilio has %s (%s)", r->sid, r->status);
	if (v[2] == NULL) {
		/* A new attempt, 'unknown' with Twilio's sid as the worker
		 * would have left it, then settled like any unknown one. */
		const char *q[6] = { v[0], v[3], channel, r->to, r->sid, created };
		got = db_row_prepared(rc->db, rc->a, "restore_attempt",
			"WITH a AS (INSERT INTO contact_attempts (reminder_id, business_id, channel,"
			"  to_address, status, provider_sid, worker, lease_until, created_at)"
			"  VALUES ($1::bigint, $2::bigint, $3, $4, 'unknown', $5, 'restore-reconcile',"
			"  now(), to_timestamp($6::bigint)) RETURNING id),"
			" u AS (UPDATE reminders SET status = 'unknown', updated_at = now()"
			"  WHERE id = $1::bigint RETURNING 1)"
			" SELECT (SELECT id FROM a), (SELECT count(*) FROM u)", 6, q, 2, v + 2);
		if (got <= 0)
			return -1;
	}
	if (outbound_settle(rc->db, rc->a, atoll(v[2]), "dialing,unknown", "placed", r->sid, 0, why,
		    "placed") <= 0)
		return -1;
	rc->marked++;
	*appt = v[1];
	decide(rc, r, "marked_sent", arena_printf(rc->a, "reminder %s (appointment %s) is done: %s",
		v[0], v[1], why));
	return 0;
}

/* The appointment a call the restored database knows (by sid) is for,
 * when the database did not see that call end (NULL: it did, so what was
 * pressed is in the dump, or no reminder has it). */
static int call_appointment(struct rc *rc, const char *sid, const char **appt)
{
	const char *p[1] = { sid }, *v[1];
	int got = db_row_prepared(rc->db, rc->a, "restore_call_appt",
		"SELECT r.appointment_id FROM contact_attempts ca JOIN reminders r ON r.id = ca.reminder_id"
		" WHERE ca.provider_sid = $1 AND ca.delivery_status IS DISTINCT FROM 'completed'", 1, p, 1, v);

	*appt = got == 1 ? v[0] : NULL;
	return got < 0 ? -1 : 0;
}

/* The appointment of the latest SMS reminder sent to phone from the
 * number `to` before created (NULL: none). */
static int text_appointment(struct rc *rc, const struct record *r, const char **appt)
{
	char created[32];
	const char *p[4] = { r->from, r->to, created, rc->default_from }, *v[1];
	int got;

	snprintf(created, sizeof(created), "%lld", r->created_s);
	got = db_row_prepared(rc->db, rc->a, "restore_text_appt",
		"SELECT r.appointment_id FROM contact_attempts ca JOIN reminders r ON r.id = ca.reminder_id"
		" JOIN businesses b ON b.id = ca.business_id"
		" WHERE ca.channel = 'sms' AND ca.to_address = $1 AND ca.provider_sid IS NOT NULL"
		" AND rf_business_sms_from(b.twilio_from, $4) = $2"
		" AND ca.created_at <= to_timestamp($3::bigint) + " RESTORE_SLACK
		" ORDER BY ca.created_at DESC, ca.id DESC LIMIT 1", 4, p, 1, v);
	*appt = got == 1 ? v[0] : NULL;
	return got < 0 ? -1 : 0;
}

/* An inbound text the database does not know. */
static int inbound_text(struct rc *rc, const struct record *r)
{
	const char *id, *appt = NULL;
	long businesses = 0, clients = 0;
	int kw = sms_opt_keyword(r->body), n = 0;

	if (sms_text_record(rc->db, rc->a, r->sid, r->from, r->to, r->body, kw > 0 ? "stop" : NULL,
		    kw > 0, rc->default_from, &id, &businesses, &clients) < 0)
		return -1;
	if (kw > 0) {
		rc->stops++;
		decide(rc, r, "opt_out_applied", arena_printf(rc->a,
			"'%s' from %s: opted out again with %ld business(es) texting from %s (%ld client"
			" record(s))", r->body, r->from, businesses, r->to, clients));
		return 0;
	}
	if (text_appointment(rc, r, &appt) < 0)
		return -1;
	if (appt && (n = hold(rc, appt, arena_printf(rc->a, "held after the restore: the client texted"
			 " '%s' at %lld, which could not be replayed; a person decides", r->body,
			 r->created_s))) < 0)
		return -1;
	rc->replies_held++;
	decide(rc, r, "reply_held", arena_printf(rc->a,
		"'%s' from %s was not replayed (%s); %s", r->body, r->from,
		kw < 0 ? "an opt-in is a person's decision" : "a reply is a person's decision",
		appt ? arena_printf(rc->a, "appointment %s: %d remaining reminder(s) held", appt, n)
		     : "no reminder sent to that phone: nothing held"));
	return 0;
}

/* One record, oldest first. */
static int settle_record(struct rc *rc, const struct record *r)
{
	int outbound = strncmp(r->direction, "outbound-api", 12) == 0;
	int known = sid_known(rc, r->sid), answered, n;
	const char *appt = NULL;

	if (known < 0)
		return -1;
	if (strcmp(r->direction, "inbound") == 0 && strcmp(r->kind, "messages") == 0) {
		if (known) {
			rc->known++;
			return 0;
		}
		return inbound_text(rc, r);
	}
	if (!outbound) {
		rc->other++;
		decide(rc, r, "ignored", strcmp(r->kind, "calls") == 0
			? "an inbound or dialled call: nothing to mark" : "a reply the flow sent: not a reminder");
		return 0;
	}
	if (known) {
		rc->known++;
		if (call_appointment(rc, r->sid, &appt) < 0)
			return -1;
	} else if (mark_sent(rc, r, &appt) < 0) {
		return -1;
	}
	answered = strcmp(r->kind, "calls") == 0 &&
		(strcmp(r->status, "completed") == 0 || strcmp(r->status, "in-progress") == 0);
	if (answered && appt) {
		n = hold(rc, appt, arena_printf(rc->a, "held after the restore: call %s was answered and"
			" what was pressed is lost; a person decides", r->sid));
		if (n < 0)
			return -1;
		rc->answered_held++;
		decide(rc, r, "answered_held", arena_printf(rc->a,
			"appointment %s: the keypad choice is lost; %d remaining reminder(s) held", appt, n));
	}
	return 0;
}

/* Pending email reminders due before the restore: skipped. */
static int skip_emails(struct rc *rc, const char *restore_id)
{
	const char *p[1] = { restore_id };
	PGresult *res = db_exec_prepared(rc->db, "restore_emails",
		"UPDATE reminders SET status = 'skipped', status_reason = 'may have been sent before the"
		" restore: email cannot be reconciled with Twilio', updated_at = now()"
		" WHERE channel = 'email' AND status = 'pending'"
		" AND due_at <= (SELECT at FROM deployment_events WHERE id = $1::bigint) RETURNING id",
		1, p);

	if (res == NULL)
		return -1;
	rc->emails_skipped = PQntuples(res);
	for (int i = 0; i < PQntuples(res); i++)
		decide(rc, NULL, "email_skipped", arena_printf(rc->a, "email reminder %s: may have been"
			" sent before the restore", PQgetvalue(res, i, 0)));
	PQclear(res);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ringfence restore-reconcile [--margin SECONDS] [--by NAME]\n\n"
		"After deploy/restore: reads every call and message of the Twilio account\n"
		"created since the restored backup was taken (less --margin, default %d s),\n"
		"marks the reminders Twilio already sent as done, applies again the opt-outs\n"
		"(STOP ...) texted since, holds (skips, with the reason) the remaining reminders\n"
		"of appointments whose client answered a call or replied, skips the email\n"
		"reminders due before the restore, prints each decision and records a\n"
		"'restore_reconciled' event; then `ringfence failsafe resume` is accepted.\n"
		"If Twilio cannot be read, nothing changes and it exits 1.  --by defaults to\n"
		"$USER.  Needs RINGFENCE_DATABASE_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN\n"
		"(TWILIO_API_URL, TWILIO_FROM_NUMBER).\n", RESTORE_MARGIN_S);
}

/* Prints s with its control characters (C0, DEL, and C1 as UTF-8) as
 * \xNN: a text's body is anyone's, and must neither start a line of the
 * report nor reach the operator's terminal as an escape sequence. */
static void print_safe(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			printf("\\x%02x\\x%02x", p[0], p[1]);
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			printf("\\x%02x", *p);
		} else {
			putchar(*p);
		}
	}
}

/* Prints the report. */
static void report(const struct rc *rc, const char *backup_at)
{
	size_t i;
	json_t *d;

	printf("restore-reconcile: backup of %s; Twilio records read: %zu\n", backup_at, rc->n);
	json_array_foreach(rc->decisions, i, d) {
		json_t *sid = json_object_get(d, "sid");
		printf("  %-16s ", jstr(d, "decision"));
		if (sid) {
			print_safe(json_string_value(sid));
			printf(": ");
		}
		print_safe(jstr(d, "detail"));
		putchar('\n');
	}
	printf("already known %d, marked sent %d, unmatched %d, answered calls held %d,"
		" opt-outs applied %d, replies held %d, reminders held %d, emails skipped %d,"
		" other %d\n", rc->known, rc->marked, rc->unmatched, rc->answered_held, rc->stops,
		rc->replies_held, rc->reminders_held, rc->emails_skipped, rc->other);
}

/* See restore.h. */
int restore_reconcile_main(int argc, char **argv)
{
	struct config cfg;
	struct rc rc;
	char err[512];
	const char *by = getenv("USER"), *v[3];
	long margin = RESTORE_MARGIN_S;
	long long since;
	int ret = 1, in_tx = 0;

	memset(&rc, 0, sizeof(rc));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--margin") == 0) {
			if (cli_int_arg("ringfence restore-reconcile", "--margin",
				    i + 1 < argc ? argv[++i] : NULL, 0, 86400, &margin) < 0)
				return 2;
		} else if (strcmp(argv[i], "--by") == 0 && i + 1 < argc && argv[i + 1][0]) {
			by = argv[++i];
		} else {
			fprintf(stderr, "ringfence restore-reconcile: unknown or incomplete argument '%s'"
				" (see --help)\n", argv[i]);
			return 2;
		}
	}
	if (by == NULL || by[0] == '\0' || strlen(by) > 200)
		by = "restore-reconcile";
	if (config_load(&cfg, CFG_NEED_DB | CFG_NEED_TWILIO, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfence restore-reconcile: %s\n", err);
		return 1;
	}
	rc.a = arena_new(0);
	rc.decisions = json_array();
	rc.default_from = cfg.from_number && cfg.from_number[0] ? cfg.from_number : NULL;
	rc.db = db_open(cfg.database_url);
	if (db_connect(rc.db) < 0) {
		fprintf(stderr, "ringfence restore-reconcile: cannot connect to the database: %s\n",
			db_last_error(rc.db));
		goto out;
	}
	/* The restore waiting, and the backup it loaded (the newest 'backup'
	 * event before it: recorded just before the dump's snapshot). */
	switch (db_row_prepared(rc.db, rc.a, "restore_pending",
		"SELECT r.id, floor(extract(epoch FROM b.at))::bigint,"
		" to_char(b.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
		" FROM deployment_events r LEFT JOIN LATERAL (SELECT at FROM deployment_events"
		"  WHERE kind = 'backup' AND id < r.id ORDER BY id DESC LIMIT 1) b ON true"
		" WHERE r.kind = 'restore' AND NOT EXISTS (SELECT 1 FROM deployment_events c"
		"  WHERE c.kind = 'restore_reconciled' AND c.id > r.id)"
		" ORDER BY r.id DESC LIMIT 1", 0, NULL, 3, v)) {
	case 0:
		printf("restore-reconcile: no restore waits for its reconciliation; nothing to do\n");
		ret = 0;
		goto out;
	case 1:
		break;
	default:
		fprintf(stderr, "ringfence restore-reconcile: cannot read the deployment events: %s\n",
			db_last_error(rc.db));
		goto out;
	}
	if (v[1] == NULL) {
		fprintf(stderr, "ringfence restore-reconcile: the restored database has no 'backup' event"
			" (not made by deploy/backup): cannot tell since when to look\n");
		goto out;
	}
	since = atoll(v[1]) - margin;
	if (since < 0)
		since = 0;
	/* Both lists whole before anything changes. */
	rc.listing = "calls";
	if (twilio_list(&cfg, "calls", since, keep, &rc) == 0)
		rc.listing = "messages";
	if (strcmp(rc.listing, "messages") != 0 || twilio_list(&cfg, "messages", since, keep, &rc) < 0) {
		fprintf(stderr, "ringfence restore-reconcile: Twilio's calls and messages could not be read"
			" to their end (see the log): nothing changed, the failsafe stays tripped\n");
		goto out;
	}
	if (rc.n > 1)
		qsort(rc.recs, rc.n, sizeof(*rc.recs), by_time);
	if (db_begin(rc.db) < 0)
		goto dberr;
	in_tx = 1;
	/* Outbound first: a hold must not skip a reminder Twilio sent. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < rc.n; i++) {
			int in = strcmp(rc.recs[i].direction, "inbound") == 0 &&
				strcmp(rc.recs[i].kind, "messages") == 0;
			if (in == (pass == 1) && settle_record(&rc, &rc.recs[i]) < 0)
				goto dberr;
		}
	if (skip_emails(&rc, v[0]) < 0)
		goto dberr;
	{
		json_t *detail = json_pack("{s:s, s:I, s:I, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}",
			"backup_at", v[2], "since", (json_int_t)since, "records", (json_int_t)rc.n,
			"known", rc.known, "marked_sent", rc.marked, "unmatched", rc.unmatched,
			"answered_held", rc.answered_held, "opt_outs", rc.stops, "replies_held",
			rc.replies_held, "reminders_held", rc.reminders_held, "emails_skipped",
			rc.emails_skipped, "other", rc.other);
		json_t *kept = json_array();
		char *s;
		const char *p[3];
		for (size_t i = 0; i < json_array_size(rc.decisions) && i < RESTORE_DETAIL_MAX; i++)
			json_array_append(kept, json_array_get(rc.decisions, i));
		json_object_set_new(detail, "decisions", kept);
		s = json_dumps(detail, JSON_COMPACT);
		json_decref(detail);
		p[0] = by;
		p[1] = s;
		p[2] = v[0];
		if (db_cmd_prepared(rc.db, "restore_reconciled",
			    "INSERT INTO deployment_events (kind, release, actor, detail)"
			    " SELECT 'restore_reconciled', release, $1, $2::jsonb FROM deployment_events"
			    " WHERE id = $3::bigint", 3, p) < 0) {
			free(s);
			goto dberr;
		}
		free(s);
	}
	if (db_commit(rc.db) < 0)
		goto dberr;
	in_tx = 0;
	report(&rc, v[2]);
	printf("restore-reconcile: recorded; resume with `ringfence failsafe resume --reason TEXT"
		" --by NAME`\n");
	ret = 0;
	goto out;
dberr:
	fprintf(stderr, "ringfence restore-reconcile: database error: %s: nothing changed\n",
		db_last_error(rc.db));
out:
	if (in_tx)
		db_rollback(rc.db);
	if (rc.db)
		db_close(rc.db);
	json_decref(rc.decisions);
	free(rc.recs);
	if (rc.a)
		arena_free(rc.a);
	return ret;
}
