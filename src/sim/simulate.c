/* simulate: `ringfence-sim simulate`, one call driven from the phone side.
 *
 * It plays the part of Twilio and of the person called: sim_call_run
 * fetches the flow's first webhook through the deployment's public URL,
 * signed with TWILIO_AUTH_TOKEN, and the SCRIPT decides what the callee
 * does and expects to hear.  Each event is printed as it happens. */
#include "sim/simulate.h"
#include "config.h"
#include "db.h"
#include "flow.h"
#include "sim/sim_call.h"
#include "sim/sim_callee.h"
#include "util.h"
#include "valid.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SMOKE_BUSINESS "ringfence smoke test"
#define DEFAULT_FROM "+15005550006"
#define DEFAULT_TO "+15555550123"

static const char usage_text[] =
	"usage: ringfence-sim simulate [--base-url URL] [--flow FLOW] [--call-token TOKEN]\n"
	"                              [--from E164] [--to E164] [--time-scale X] [--quiet] SCRIPT\n"
	"\n"
	"Plays one call from the phone side against a deployment, as Twilio would:\n"
	"it requests BASE/twilio/voice/FLOW?c=TOKEN signed with TWILIO_AUTH_TOKEN,\n"
	"plays the TwiML, and does what SCRIPT says, e.g.\n"
	"\n"
	"  'person; expect \"press 1\"; press 1; expect \"to confirm\"; press 1; expect-hangup'\n"
	"\n"
	"SCRIPT steps: person | machine | busy | no-answer | fail first, then\n"
	"ring S, wait S, speak S [\"WORDS\"], press KEYS, silence, hangup,\n"
	"expect \"TEXT\", expect-hangup.\n"
	"\n"
	"  --base-url URL     the deployment (default RINGFENCE_PUBLIC_URL)\n"
	"  --flow FLOW        the call flow (default reminder_call)\n"
	"  --call-token TOKEN an existing call's token (32 hex digits); without it a\n"
	"                     fixture call is made in RINGFENCE_DATABASE_URL (business\n"
	"                     \"ringfence smoke test\"), which production refuses\n"
	"  --from, --to       the numbers (default " DEFAULT_FROM " and " DEFAULT_TO ")\n"
	"  --time-scale X     waits take X times their length (default 1; 0.1 is ten\n"
	"                     times faster)\n"
	"  --quiet            print only the verdict\n"
	"\n"
	"Needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.  Exit status: 0 when every\n"
	"expectation held, 1 when one failed or the call ended with an error, 2 for\n"
	"a usage or configuration error.\n";

struct opts {
	const char *base_url;
	const char *flow;
	const char *token;
	const char *from;
	const char *to;
	double time_scale;
	int quiet;
	const char *script;
};

struct printer {
	int quiet;
	int events;
};

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "ringfence-sim simulate: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see --help)\n");
	return 2;
}

/* Whether url is scheme://host[:port] with an optional trailing slash
 * and nothing else. */
static int is_base_url(const char *url)
{
	const char *h;
	size_t n;
	if (strncmp(url, "http://", 7) == 0)
		h = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		h = url + 8;
	else
		return 0;
	n = strcspn(h, "/?#");
	if (n == 0 || strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") < n)
		return 0;
	return h[n] == '\0' || (h[n] == '/' && h[n + 1] == '\0');
}

static int parse_scale(const char *s, double *out)
{
	char *end;
	double v;
	errno = 0;
	v = strtod(s, &end);
	if (s[0] == '\0' || *end != '\0' || errno || !isfinite(v) || v < 0 || v > 100)
		return -1;
	*out = v;
	return 0;
}

/* Reads the command line into o.  Returns 0, 1 for --help (printed), or
 * 2 after printing a usage error. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->flow = "reminder_call";
	o->from = DEFAULT_FROM;
	o->to = DEFAULT_TO;
	o->time_scale = 1.0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage_text, stdout);
			return 1;
		} else if (strcmp(a, "--quiet") == 0) {
			o->quiet = 1;
			continue;
		} else if (strcmp(a, "--base-url") == 0) {
			slot = &o->base_url;
		} else if (strcmp(a, "--flow") == 0) {
			slot = &o->flow;
		} else if (strcmp(a, "--call-token") == 0) {
			slot = &o->token;
		} else if (strcmp(a, "--from") == 0) {
			slot = &o->from;
		} else if (strcmp(a, "--to") == 0) {
			slot = &o->to;
		} else if (strcmp(a, "--time-scale") == 0) {
			if (i + 1 == argc)
				return usage_error("%s needs a value", a);
			if (parse_scale(argv[++i], &o->time_scale) < 0)
				return usage_error("--time-scale must be a number from 0 to 100, not '%s'", argv[i]);
			continue;
		} else if (a[0] == '-' && a[1] != '\0') {
			return usage_error("unknown option '%s'", a);
		} else {
			if (o->script)
				return usage_error("one SCRIPT only; '%s' is a second one (quote the script)", a);
			o->script = a;
			continue;
		}
		if (i + 1 == argc)
			return usage_error("%s needs a value", a);
		*slot = argv[++i];
	}
	if (o->script == NULL)
		return usage_error("%s", "SCRIPT is missing");
	if (o->base_url && !is_base_url(o->base_url))
		return usage_error("--base-url must be http(s)://host[:port], not '%s'", o->base_url);
	if (!flow_name_valid(o->flow))
		return usage_error("--flow '%s' is not a flow name ([a-z][a-z0-9_]*)", o->flow);
	if (o->token && !valid_token(o->token, strlen(o->token)))
		return usage_error("--call-token must be 32 lowercase hex digits, not '%s'", o->token);
	if (!valid_e164(o->from, strlen(o->from)))
		return usage_error("--from '%s' is not an E.164 number", o->from);
	if (!valid_e164(o->to, strlen(o->to)))
		return usage_error("--to '%s' is not an E.164 number", o->to);
	return 0;
}

static const char *one_id(PGresult *res)
{
	return res && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : NULL;
}

/* The id select_sql finds with ps[0..ns), or else the id insert_sql
 * returns with pi[0..ni), copied into out (outlen bytes).  0, or -1 on a
 * database error. */
static int find_or_insert(struct db *db, const char *select_sql, int ns, const char *const *ps,
	const char *insert_sql, int ni, const char *const *pi, char *out, size_t outlen)
{
	PGresult *res = db_exec(db, select_sql, ns, ps);
	int rc = -1;

	if (res == NULL)
		goto out;
	if (one_id(res) == NULL) {
		PQclear(res);
		res = db_exec(db, insert_sql, ni, pi);
		if (one_id(res) == NULL)
			goto out;
	}
	snprintf(out, outlen, "%s", one_id(res));
	rc = 0;
out:
	if (res)
		PQclear(res);
	return rc;
}

/* Makes the smoke-test fixture: the business (made once, found after),
 * a client with the callee's number, an appointment two days ahead and
 * a call in the flow's start state with a fresh token (into token).
 * Returns 0, or -1 with the reason printed. */
static int make_fixture(const struct config *cfg, const struct opts *o, char token[33])
{
	struct flow_diag d = { NULL, 0 };
	struct flow *f = flow_load(cfg->root, o->flow, &d);
	struct db *db = db_open(cfg->database_url);
	PGresult *res = NULL;
	char business[32], client[32], appt[32];
	unsigned char raw[16];
	int rc = -1, in_tx = 0;

	if (f == NULL) {
		fprintf(stderr, "ringfence-sim simulate: cannot load flow '%s' under %s: %s\n", o->flow, cfg->root,
			d.n ? d.msgs[0] : "no transitions file");
		goto out;
	}
	if (util_random(raw, sizeof(raw)) < 0) {
		fprintf(stderr, "ringfence-sim simulate: no random bytes for a call token\n");
		goto out;
	}
	util_hex(raw, sizeof(raw), token);
	if (db_connect(db) < 0 || db_begin(db) < 0) {
		fprintf(stderr, "ringfence-sim simulate: cannot reach the database: %s\n", db_last_error(db));
		goto out;
	}
	in_tx = 1;
	{
		const char *p[1] = { SMOKE_BUSINESS }, *q[2] = { SMOKE_BUSINESS, o->from };
		res = db_exec(db, "SELECT pg_advisory_xact_lock(hashtext($1))", 1, p);
		if (res == NULL)
			goto dberr;
		PQclear(res);
		res = NULL;
		if (find_or_insert(db, "SELECT id FROM businesses WHERE name = $1 ORDER BY id LIMIT 1",
			    1, p, "INSERT INTO businesses (name, time_zone, callback_phone, status, verified)"
			    " VALUES ($1, 'UTC', $2, 'active', true) RETURNING id", 2, q,
			    business, sizeof(business)) < 0)
			goto dberr;
	}
	{
		const char *p[2] = { business, o->to };
		if (find_or_insert(db, "SELECT id FROM clients WHERE business_id = $1::bigint"
			    " AND phone = $2 ORDER BY id LIMIT 1", 2, p,
			    "INSERT INTO clients (business_id, name, phone)"
			    " VALUES ($1::bigint, 'Smoke Test Client', $2) RETURNING id", 2, p,
			    client, sizeof(client)) < 0)
			goto dberr;
	}
	{
		const char *p[2] = { business, client };
		res = db_exec(db, "INSERT INTO appointments (business_id, client_id, starts_at)"
			" VALUES ($1::bigint, $2::bigint, date_trunc('hour', now()) + interval '2 days 10 hours')"
			" RETURNING id", 2, p);
		if (one_id(res) == NULL)
			goto dberr;
		snprintf(appt, sizeof(appt), "%s", one_id(res));
		PQclear(res);
	}
	{
		const char *p[5] = { token, business, appt, o->flow, f->states[f->start].name };
		res = db_exec(db, "INSERT INTO calls (token, business_id, appointment_id, flow, state, seq)"
			" VALUES ($1, $2::bigint, $3::bigint, $4, $5, 0) RETURNING id", 5, p);
		if (one_id(res) == NULL)
			goto dberr;
		PQclear(res);
		res = NULL;
	}
	if (db_commit(db) < 0)
		goto dberr;
	in_tx = 0;
	rc = 0;
	goto out;
dberr:
	fprintf(stderr, "ringfence-sim simulate: cannot make the fixture call: %s\n", db_last_error(db));
out:
	if (res)
		PQclear(res);
	if (in_tx)
		db_rollback(db);
	db_close(db);
	if (f)
		flow_free(f);
	flow_diag_free(&d);
	return rc;
}

/* Prints one event as a transcript line. */
static void print_event(void *ctx, const struct sim_event *ev)
{
	struct printer *pr = ctx;
	char text[200];
	pr->events++;
	if (pr->quiet)
		return;
	switch (ev->kind) {
	case SIM_EV_RESPONSE:
		snprintf(text, sizeof(text), "%d %s (%zu bytes)", ev->code, ev->text, strlen(ev->detail));
		break;
	case SIM_EV_PAUSE:
		snprintf(text, sizeof(text), "%d s", ev->code);
		break;
	case SIM_EV_SILENCE:
		snprintf(text, sizeof(text), "nothing pressed");
		break;
	case SIM_EV_RECORD:
		snprintf(text, sizeof(text), "%s (%d s)", ev->text, ev->code);
		break;
	case SIM_EV_CALLBACK:
		snprintf(text, sizeof(text), "%s -> %d", ev->text, ev->code);
		break;
	case SIM_EV_ERROR:
		snprintf(text, sizeof(text), "%d %s", ev->code, ev->text);
		break;
	default:
		snprintf(text, sizeof(text), "%s", ev->text);
		break;
	}
	/* One line per event, whatever the application sent. */
	for (char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	printf("%6.1fs  %-8s %s\n", (double)ev->at_ms / 1000.0, sim_event_name(ev->kind), text);
	fflush(stdout);
}

/* See simulate.h. */
int simulate_main(int argc, char **argv)
{
	struct opts o;
	struct config cfg;
	struct sim_callee callee;
	struct sim_call_params p;
	struct sim_call_result res;
	struct printer pr = { 0, 0 };
	char err[512], token[33], sid[35], *url = NULL;
	unsigned char raw[16];
	unsigned need = CFG_NEED_TWILIO;
	size_t blen;
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc != 0)
		return rc == 1 ? 0 : rc;
	if (sim_callee_parse(o.script, &callee, err, sizeof(err)) < 0)
		return usage_error("bad SCRIPT: %s", err);
	if (o.base_url == NULL)
		need |= CFG_NEED_PUBLIC_URL;
	if (o.token == NULL)
		need |= CFG_NEED_DB;
	if (config_load(&cfg, need, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfence-sim simulate: %s\n", err);
		return 2;
	}
	if (o.base_url == NULL)
		o.base_url = cfg.public_url;
	if (o.token) {
		snprintf(token, sizeof(token), "%s", o.token);
	} else {
		if (config_is_production(&cfg)) {
			fprintf(stderr, "ringfence-sim simulate: RINGFENCE_ENV is production: refusing to create a"
				" fixture call there; pass --call-token of an existing call\n");
			return 2;
		}
		if (make_fixture(&cfg, &o, token) < 0)
			return 1;
	}
	if (util_random(raw, sizeof(raw)) < 0) {
		fprintf(stderr, "ringfence-sim simulate: no random bytes for a CallSid\n");
		return 1;
	}
	snprintf(sid, sizeof(sid), "CA");
	util_hex(raw, sizeof(raw), sid + 2);
	blen = strlen(o.base_url);
	if (blen > 0 && o.base_url[blen - 1] == '/')
		blen--;
	url = xasprintf("%.*s/twilio/voice/%s?c=%s", (int)blen, o.base_url, o.flow, token);

	memset(&p, 0, sizeof(p));
	p.call_sid = sid;
	p.account_sid = cfg.account_sid;
	p.auth_token = cfg.auth_token;
	p.from = o.from;
	p.to = o.to;
	p.direction = "outbound-api";
	p.url = url;
	p.method = "POST";
	p.time_scale = o.time_scale;
	p.timeout_s = 60;
	p.time_limit_s = 14400;
	p.http_timeout_s = 15;
	pr.quiet = o.quiet;
	if (!o.quiet) {
		printf("simulate: %s calls %s (%s), %s\n", o.from, o.to, sid, url);
		fflush(stdout);
	}
	if (sim_call_run(&p, &callee, print_event, &pr, &res) < 0) {
		printf("simulate: FAILED: %s\n", res.error_message);
		rc = 1;
	} else if (res.error_message[0]) {
		if (res.error_code)
			printf("simulate: FAILED: error %d: %s\n", res.error_code, res.error_message);
		else
			printf("simulate: FAILED: %s\n", res.error_message);
		rc = 1;
	} else {
		printf("simulate: ok (%s, %d s, %d events, call token %s)\n", res.status, res.duration_s,
			pr.events, token);
		rc = 0;
	}
	free(url);
	return rc;
}
