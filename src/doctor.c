/* doctor: a deployment checked end to end (doctor.h). */
#include "doctor.h"
#include "app.h"
#include "arena.h"
#include "buf.h"
#include "config.h"
#include "cli.h"
#include "curl_easy.h"
#include "db.h"
#include "dispatch.h"
#include "failsafe.h"
#include "flow.h"
#include "form.h"
#include "http.h"
#include "migrate.h"
#include "rds.h"
#include "util.h"
#include "version.h"

#include <dirent.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PROG "ringfence doctor"
#define BODY_MAX (1 << 20)
#define CERT_WARN_DAYS 14
#define MAX_NUMBERS 200

/* ---- the public route ---------------------------------------------------- */

int doctor_proof(const char *auth_token, const char *nonce, char out[65])
{
	unsigned char mac[32];
	if (util_hmac_labelled(auth_token, "ringfence doctor", nonce, strlen(nonce), mac) < 0)
		return -1;
	util_hex(mac, sizeof(mac), out);
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

const struct valid_field doctor_query[1] = {
	{ "nonce", valid_token, 1, VALID_TEXT },
};

void doctor_route_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	char proof[65];
	if (!in->query_valid) {
		out->status = 400;
		out->error_code = "invalid_nonce";
		out->error_message = "the query must be nonce=<32 lowercase hex digits> and nothing else";
		return;
	}
	if (doctor_proof(app->cfg.auth_token, in->query.v[0].s, proof) < 0) {
		out->status = 500;
		out->error_code = "internal";
		return;
	}
	out->json = json_pack("{s:s}", "proof", proof);
}

/* ---- the report ---------------------------------------------------------- */

enum level { LV_OK, LV_WARN, LV_FAIL };

struct doc {
	int json;                 /* --json */
	long timeout_s;           /* each network request's bound */
	int fails, warns;
	json_t *checks;           /* --json: the lines */
	struct config cfg;
	struct db *db;            /* NULL until the database check connects */
	struct rds *rds;
};

/* One line: "ok    check: what", "WARN  ...", "FAIL  ...". */
static void say(struct doc *d, const char *check, enum level lv, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (lv == LV_FAIL)
		d->fails++;
	else if (lv == LV_WARN)
		d->warns++;
	if (d->json) {
		json_array_append_new(d->checks, json_pack("{s:s, s:s, s:s}", "check", check,
			"status", lv == LV_OK ? "ok" : lv == LV_WARN ? "warn" : "fail", "message", msg));
		return;
	}
	printf("%-5s %s: %s\n", lv == LV_OK ? "ok" : lv == LV_WARN ? "WARN" : "FAIL", check, msg);
	fflush(stdout);
}

/* ---- HTTP ---------------------------------------------------------------- */

struct fetched {
	long status;
	struct buf body;
	char type[128];           /* Content-Type, "" when none */
	long cert_days;           /* days until the server certificate expires; -1: not https */
	char err[CURL_ERROR_SIZE];
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct buf *b = userdata;
	size_t n = size * nmemb;
	if (b->len + n > BODY_MAX)
		return 0;
	buf_append(b, data, n);
	return n;
}

/* "Expire date" of the first certificate: "Jan  2 03:04:05 2027 GMT". */
static long cert_days_left(CURL *c)
{
	struct curl_certinfo *ci = NULL;
	struct tm tm;
	if (curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci) != CURLE_OK || ci == NULL ||
		ci->num_of_certs < 1)
		return -1;
	for (struct curl_slist *s = ci->certinfo[0]; s; s = s->next) {
		if (strncmp(s->data, "Expire date:", 12) != 0)
			continue;
		memset(&tm, 0, sizeof(tm));
		if (strptime(s->data + 12, " %b %d %H:%M:%S %Y", &tm) == NULL)
			return -1;
		return (long)((timegm(&tm) - time(NULL)) / 86400);
	}
	return -1;
}

/* GET url (with the account's Basic credentials when basic is set) into
 * f.  0 when an answer came (any status), -1 with f->err when none. */
static int http_get(struct doc *d, const char *url, int basic, struct fetched *f)
{
	CURL *c = curl_easy_new();
	char *user = NULL, *type = NULL;
	int rc = -1;

	f->status = 0;
	f->type[0] = '\0';
	f->cert_days = -1;
	f->err[0] = '\0';
	buf_init(&f->body);
	if (c == NULL) {
		snprintf(f->err, sizeof(f->err), "libcurl cannot start");
		return -1;
	}
	if (curl_easy_defaults(c, CURL_EASY_HTTP, d->timeout_s * 1000, d->timeout_s * 1000,
		    f->err) < 0 ||
		curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &f->body) != CURLE_OK ||
		(strncmp(url, "https:", 6) == 0 &&
			curl_easy_setopt(c, CURLOPT_CERTINFO, 1L) != CURLE_OK)) {
		if (!f->err[0])
			snprintf(f->err, sizeof(f->err), "libcurl refused an option");
		goto out;
	}
	if (basic) {
		user = xasprintf("%s:%s", d->cfg.account_sid, d->cfg.auth_token);
		if (curl_easy_setopt(c, CURLOPT_USERPWD, user) != CURLE_OK) {
			snprintf(f->err, sizeof(f->err), "libcurl refused the credentials");
			goto out;
		}
	}
	if (curl_easy_perform(c) != CURLE_OK) {
		if (!f->err[0])
			snprintf(f->err, sizeof(f->err), "no answer");
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f->status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type)
		snprintf(f->type, sizeof(f->type), "%s", type);
	if (strncmp(url, "https:", 6) == 0)
		f->cert_days = cert_days_left(c);
	rc = 0;
out:
	if (user) {
		OPENSSL_cleanse(user, strlen(user));
		free(user);
	}
	curl_easy_cleanup(c);
	return rc;
}

/* The body as a JSON object, or NULL. */
static json_t *body_json(const struct fetched *f)
{
	json_t *j = json_loadb(f->body.data ? f->body.data : "", f->body.len, 0, NULL);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* ---- configuration, database, Redis -------------------------------------- */

/* One production refusal: a FAIL in production, gathered into one WARN
 * line elsewhere (the stack's simulator URL and http address are what a
 * test deployment is meant to have). */
struct config_report {
	struct doc *d;
	struct buf vars; /* outside production: the variables named */
	int n;
};

static void config_problem(void *ctx, const char *var, const char *problem)
{
	struct config_report *cr = ctx;
	cr->n++;
	if (config_is_production(&cr->d->cfg)) {
		say(cr->d, "configuration", LV_FAIL, "%s %s", var, problem);
		return;
	}
	if (strstr(buf_str(&cr->vars), var) == NULL)
		buf_printf(&cr->vars, "%s%s", cr->vars.len ? ", " : "", var);
}

static void config_unknown(void *ctx, const char *var, const char *closest)
{
	struct doc *d = ctx;
	if (closest)
		say(d, "configuration", LV_WARN, "%s is not a ringfence setting (did you mean %s?)", var,
			closest);
	else
		say(d, "configuration", LV_WARN, "%s is not a ringfence setting", var);
}

static int check_config(struct doc *d)
{
	char err[512];
	struct config_report cr = { .d = d };

	/* The format of every value first; the production refusals are
	 * listed all at once below rather than stopping at the first. */
	if (config_load(&d->cfg, CFG_NEED_DB | CFG_NEED_REDIS | CFG_NEED_PUBLIC_URL |
		    CFG_NEED_TWILIO | CFG_FORMAT_ONLY, err, sizeof(err)) < 0) {
		say(d, "configuration", LV_FAIL, "%s; fix it in the environment file and run the doctor again",
			err);
		return -1;
	}
	say(d, "configuration", LV_OK, "RINGFENCE_ENV=%s, public URL %s, Twilio API %s", d->cfg.env_name,
		d->cfg.public_url, d->cfg.api_url);
	buf_init(&cr.vars);
	config_problems(&d->cfg, config_problem, &cr);
	if (cr.n > 0 && !config_is_production(&d->cfg))
		say(d, "configuration", LV_WARN, "production would refuse %d value%s (%s); fine for %s",
			cr.n, cr.n == 1 ? "" : "s", buf_str(&cr.vars), d->cfg.env_name);
	buf_free(&cr.vars);
	config_unknown_vars(config_unknown, d);
	if (d->cfg.from_number == NULL)
		say(d, "configuration", LV_WARN, "TWILIO_FROM_NUMBER is not set: a business without a "
			"number of its own cannot call or text");
	return 0;
}

/* RINGFENCE_DATABASE_READ_URL, when set: where the dashboard's lists go.
 * Unreachable is a warning (the pages fall back to the primary). */
static void check_read_database(struct doc *d)
{
	struct db *rd;
	PGresult *res;

	if (d->cfg.database_read_url == NULL)
		return;
	rd = db_open(d->cfg.database_read_url);
	res = db_exec(rd, "SELECT pg_is_in_recovery()::text", 0, NULL);
	if (res == NULL)
		say(d, "database (reads)", LV_WARN, "cannot read through RINGFENCE_DATABASE_READ_URL: "
			"%s; the dashboard reads from the primary meanwhile", db_last_error(rd));
	else
		say(d, "database (reads)", LV_OK, "the dashboard's lists read from a %s",
			strcmp(PQgetvalue(res, 0, 0), "true") == 0 ? "standby" : "primary");
	if (res)
		PQclear(res);
	db_close(rd);
}

static void check_database(struct doc *d)
{
	PGresult *res;
	char first[256], *dir;
	int pending, missing;

	d->db = db_open(d->cfg.database_url);
	if (db_connect(d->db) < 0) {
		say(d, "database", LV_FAIL, "cannot connect (RINGFENCE_DATABASE_URL): %s", db_last_error(d->db));
		db_close(d->db);
		d->db = NULL;
		return;
	}
	res = db_exec(d->db, "SELECT current_setting('server_version'), pg_is_in_recovery()::text",
		0, NULL);
	if (res && strcmp(PQgetvalue(res, 0, 1), "true") == 0)
		say(d, "database", LV_FAIL, "connected to a standby (read-only), PostgreSQL %s: list "
			"every host with target_session_attrs=read-write in RINGFENCE_DATABASE_URL",
			PQgetvalue(res, 0, 0));
	else
		say(d, "database", LV_OK, "connected, PostgreSQL %s",
			res ? PQgetvalue(res, 0, 0) : "(version unknown)");
	if (res)
		PQclear(res);
	check_read_database(d);
	dir = xasprintf("%s/sql", d->cfg.root);
	if (migrate_pending(d->db, dir, NULL, &pending, &missing, first, sizeof(first)) < 0)
		say(d, "migrations", LV_FAIL, "cannot compare %s with the database: %s", dir,
			db_last_error(d->db));
	else if (pending > 0)
		say(d, "migrations", LV_FAIL, "%d pending (first %s): run ringfence migrate", pending, first);
	else if (missing > 0)
		say(d, "migrations", LV_WARN, "all of %s applied, but the database has %d migration(s) this "
			"release does not know: is an older release running against a newer schema?", dir,
			missing);
	else
		say(d, "migrations", LV_OK, "every migration of %s is applied", dir);
	free(dir);
}

/* A field of an INFO reply ("name:value\r\n") into out; 0, or -1. */
static int info_field(const char *info, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);
	for (const char *p = info; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, name, n) == 0 && p[n] == ':') {
			size_t len = strcspn(p + n + 1, "\r\n");
			snprintf(out, outlen, "%.*s", (int)len, p + n + 1);
			return 0;
		}
	}
	return -1;
}

/* CONFIG GET name into out: 0, or -1 (refused, renamed, not there). */
static int redis_config(struct doc *d, const char *name, char *out, size_t outlen)
{
	const char *argv[] = { "CONFIG", "GET", name };
	redisReply *r = rds_command(d->rds, 3, argv, NULL);
	int rc = -1;
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		r->element[1]->type == REDIS_REPLY_STRING) {
		snprintf(out, outlen, "%s", r->element[1]->str);
		rc = 0;
	}
	if (r)
		freeReplyObject(r);
	return rc;
}

/* INFO section into out (the reply's text, malloc'd), or NULL. */
static char *redis_info(struct doc *d, const char *section)
{
	const char *argv[] = { "INFO", section };
	redisReply *r = rds_command(d->rds, 2, argv, NULL);
	char *s = NULL;
	if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS))
		s = xstrdup(r->str);
	if (r)
		freeReplyObject(r);
	return s;
}

static void check_redis(struct doc *d)
{
	const char *ping[] = { "PING" };
	redisReply *r;
	char policy[64], maxmem[64], v[64], used[64];
	char *info;

	d->rds = rds_open(d->cfg.redis_url);
	r = d->rds ? rds_command(d->rds, 1, ping, NULL) : NULL;
	if (r == NULL) {
		say(d, "redis", LV_FAIL, "does not answer at %s: %s", d->rds ? rds_endpoint(d->rds) : "?",
			d->rds ? rds_last_error(d->rds) : "RINGFENCE_REDIS_URL is malformed");
		return;
	}
	freeReplyObject(r);
	say(d, "redis", LV_OK, "answers at %s", rds_endpoint(d->rds));
	if (redis_config(d, "maxmemory-policy", policy, sizeof(policy)) < 0)
		say(d, "redis", LV_WARN, "cannot read maxmemory-policy (CONFIG refused or renamed): make sure "
			"it is noeviction");
	else if (strcmp(policy, "noeviction") != 0)
		say(d, "redis", LV_FAIL, "maxmemory-policy is %s: Redis would evict the ready set and the rate "
			"limits' keys; set maxmemory-policy noeviction in redis.conf", policy);
	else
		say(d, "redis", LV_OK, "maxmemory-policy noeviction");
	if (redis_config(d, "maxmemory", maxmem, sizeof(maxmem)) < 0)
		say(d, "redis", LV_WARN, "cannot read maxmemory (CONFIG refused or renamed)");
	else if (strcmp(maxmem, "0") == 0)
		say(d, "redis", LV_WARN, "maxmemory is 0 (unbounded): Redis grows until the host runs out; "
			"set maxmemory in redis.conf");
	else
		say(d, "redis", LV_OK, "maxmemory %s bytes", maxmem);
	info = redis_info(d, "persistence");
	if (info == NULL || info_field(info, "aof_enabled", v, sizeof(v)) < 0)
		say(d, "redis", LV_WARN, "cannot read INFO persistence");
	else if (strcmp(v, "1") != 0)
		say(d, "redis", LV_WARN, "appendonly is off: the audit trail is lost when Redis restarts; set "
			"appendonly yes in redis.conf");
	else
		say(d, "redis", LV_OK, "appendonly on");
	free(info);
	info = redis_info(d, "memory");
	if (info && info_field(info, "used_memory", used, sizeof(used)) == 0 &&
		info_field(info, "maxmemory", v, sizeof(v)) == 0 && atoll(v) > 0) {
		long long u = atoll(used), m = atoll(v);
		say(d, "redis", u * 10 >= m * 8 ? LV_WARN : LV_OK, "memory %lld of %lld bytes used (%lld%%)%s",
			u, m, u * 100 / m, u * 10 >= m * 8 ? ": audit writes soon fail over to the fallback "
			"log; raise maxmemory" : "");
	}
	free(info);
}

/* ---- Twilio -------------------------------------------------------------- */

/* 0 when the credentials work (later checks may call Twilio), -1. */
static int check_twilio(struct doc *d)
{
	struct fetched f;
	char *url = xasprintf("%s/2010-04-01/Accounts/%s.json", d->cfg.api_url, d->cfg.account_sid);
	json_t *j = NULL;
	const char *status, *type;
	json_int_t code;
	int rc = -1;

	if (http_get(d, url, 1, &f) < 0) {
		say(d, "twilio", LV_FAIL, "no answer from %s: %s (TWILIO_API_URL)", d->cfg.api_url, f.err);
		goto out;
	}
	j = body_json(&f);
	code = j ? json_integer_value(json_object_get(j, "code")) : 0;
	/* Twilio documents 20005 and 10001 for an account that is not
	 * active (suspended, out of funds); anything else refused is the
	 * credentials. */
	if ((f.status == 401 || f.status == 403) && (code == 20005 || code == 10001)) {
		say(d, "twilio", LV_FAIL, "the account %s is not active (error %lld: suspended or out of "
			"funds): nothing can be sent; see Billing in the Console", d->cfg.account_sid, code);
		goto out;
	}
	if (f.status == 401) {
		say(d, "twilio", LV_FAIL, "401: the auth token is wrong for %s (TWILIO_AUTH_TOKEN: copy it "
			"from the Console's Account Info)", d->cfg.account_sid);
		goto out;
	}
	if (f.status != 200 || j == NULL) {
		say(d, "twilio", LV_FAIL, "GET Accounts/%s.json answered %ld%s", d->cfg.account_sid,
			f.status, f.status == 200 ? " without an account" : "");
		goto out;
	}
	status = json_string_value(json_object_get(j, "status"));
	type = json_string_value(json_object_get(j, "type"));
	if (status == NULL || strcmp(status, "active") != 0) {
		say(d, "twilio", LV_FAIL, "the account %s is %s, not active: nothing can be sent; see the "
			"Console", d->cfg.account_sid, status ? status : "of unknown status");
		goto out;
	}
	rc = 0;
	if (type && strcmp(type, "Trial") == 0)
		say(d, "twilio", LV_WARN, "the account %s is a Trial: it can only call and text verified "
			"numbers; upgrade it in the Console", d->cfg.account_sid);
	else
		say(d, "twilio", LV_OK, "account %s is active (%s)", d->cfg.account_sid, type ? type : "?");
out:
	json_decref(j);
	buf_free(&f.body);
	free(url);
	return rc;
}

/* One webhook of a number: url and method as Twilio holds them against
 * what they must be. */
static void check_hook(struct doc *d, const char *number, json_t *pn, const char *what,
	const char *url_key, const char *method_key, const char *path, const char *console)
{
	const char *url = json_string_value(json_object_get(pn, url_key));
	const char *method = json_string_value(json_object_get(pn, method_key));
	char *want = xasprintf("%s%s", d->cfg.public_url, path);
	if (url == NULL || strcmp(url, want) != 0)
		say(d, "numbers", LV_FAIL, "%s: %s is %s%s%s, it must be %s; change it in the Console: Phone "
			"Numbers > Manage > Active numbers > %s > %s", number, url_key,
			url && *url ? "'" : "", url && *url ? url : "not set", url && *url ? "'" : "", want,
			number, console);
	else if (method == NULL || strcmp(method, "POST") != 0)
		say(d, "numbers", LV_FAIL, "%s: %s is %s, it must be POST; change it in the Console: Phone "
			"Numbers > Manage > Active numbers > %s > %s", number, method_key,
			method ? method : "not set", number, console);
	else
		say(d, "numbers", LV_OK, "%s: %s webhook POST %s", number, what, want);
	free(want);
}

/* The number as the account holds it (IncomingPhoneNumbers with the
 * PhoneNumber filter, which matches parts of numbers: the exact one is
 * picked out). */
static void check_number(struct doc *d, const char *number)
{
	struct fetched f;
	struct buf url = BUF_INIT;
	json_t *j = NULL, *list, *pn, *found = NULL;
	size_t i;

	buf_printf(&url, "%s/2010-04-01/Accounts/%s/IncomingPhoneNumbers.json?PhoneNumber=",
		d->cfg.api_url, d->cfg.account_sid);
	form_encode(&url, number, strlen(number));
	if (http_get(d, buf_str(&url), 1, &f) < 0) {
		say(d, "numbers", LV_FAIL, "%s: no answer from %s: %s", number, d->cfg.api_url, f.err);
		goto out;
	}
	if (f.status != 200 || (j = body_json(&f)) == NULL ||
		!json_is_array(list = json_object_get(j, "incoming_phone_numbers"))) {
		say(d, "numbers", LV_FAIL, "%s: IncomingPhoneNumbers answered %ld", number, f.status);
		goto out;
	}
	json_array_foreach(list, i, pn) {
		const char *p = json_string_value(json_object_get(pn, "phone_number"));
		if (p && strcmp(p, number) == 0)
			found = pn;
	}
	if (found == NULL) {
		say(d, "numbers", LV_FAIL, "%s: this account (%s) does not own it; buy or move the number "
			"to this account, or correct TWILIO_FROM_NUMBER / the business's number", number,
			d->cfg.account_sid);
		goto out;
	}
	check_hook(d, number, found, "voice", "voice_url", "voice_method", "/twilio/voice/inbound",
		"Voice Configuration > A call comes in: Webhook, HTTP POST");
	check_hook(d, number, found, "messaging", "sms_url", "sms_method", "/twilio/sms/inbound",
		"Messaging Configuration > A message comes in: Webhook, HTTP POST");
out:
	json_decref(j);
	buf_free(&f.body);
	buf_free(&url);
}

static void check_numbers(struct doc *d)
{
	PGresult *res = NULL;
	int n = 0;

	if (d->cfg.from_number)
		check_number(d, d->cfg.from_number);
	if (d->db)
		res = db_exec(d->db, "SELECT DISTINCT twilio_from::text FROM businesses"
				     " WHERE twilio_from IS NOT NULL AND twilio_from::text <> $1"
				     " ORDER BY 1 LIMIT " "200",
			1, (const char *const[]){ d->cfg.from_number ? d->cfg.from_number : "" });
	if (res) {
		n = PQntuples(res);
		for (int i = 0; i < n; i++)
			check_number(d, PQgetvalue(res, i, 0));
		PQclear(res);
	} else if (d->db) {
		say(d, "numbers", LV_FAIL, "cannot read the businesses' own numbers: %s", db_last_error(d->db));
	}
	if (d->cfg.from_number == NULL && n == 0)
		say(d, "numbers", LV_WARN, "no number to check: neither TWILIO_FROM_NUMBER nor a business's "
			"own number is set");
}

/* ---- the public URL and the audio ---------------------------------------- */

static void check_public_url(struct doc *d)
{
	unsigned char raw[16];
	char nonce[33], want[65], *url = NULL;
	struct fetched f;
	json_t *j = NULL;
	const char *proof;
	int https = strncmp(d->cfg.public_url, "https://", 8) == 0;

	buf_init(&f.body);
	if (config_is_production(&d->cfg) && !https) {
		say(d, "public-url", LV_FAIL, "RINGFENCE_PUBLIC_URL is %s: production needs https (Twilio "
			"sends webhooks with the auth token's signature; run certbot, then set https://)",
			d->cfg.public_url);
		return;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1 || doctor_proof(d->cfg.auth_token,
		(util_hex(raw, sizeof(raw), nonce), nonce), want) < 0) {
		say(d, "public-url", LV_FAIL, "cannot make a nonce (libcrypto)");
		return;
	}
	url = xasprintf("%s%s?nonce=%s", d->cfg.public_url, DOCTOR_PATH, nonce);
	if (http_get(d, url, 0, &f) < 0) {
		say(d, "public-url", LV_FAIL, "%s does not answer: %s%s", d->cfg.public_url, f.err,
			https ? " (a certificate that does not verify fails here too)" : "");
		goto out;
	}
	j = body_json(&f);
	proof = j ? json_string_value(json_object_get(j, "proof")) : NULL;
	if (f.status >= 300 && f.status < 400) {
		say(d, "public-url", LV_FAIL, "RINGFENCE_PUBLIC_URL reaches a different server: %s answers "
			"with a redirect (%ld); it must be the exact base URL nginx serves ringfence on",
			d->cfg.public_url, f.status);
	} else if (f.status != 200 || proof == NULL || strlen(proof) != 64 ||
		!util_ct_equal(proof, 64, want, 64)) {
		say(d, "public-url", LV_FAIL, "RINGFENCE_PUBLIC_URL reaches a different server: %s answered "
			"%ld without this deployment's proof (another site, or one with another "
			"TWILIO_AUTH_TOKEN)", d->cfg.public_url, f.status);
	} else if (https && f.cert_days >= 0 && f.cert_days < CERT_WARN_DAYS) {
		say(d, "public-url", LV_WARN, "reaches this deployment, but its certificate expires in %ld "
			"day(s): renew it (certbot renew) and reload nginx", f.cert_days);
	} else {
		say(d, "public-url", LV_OK, "%s reaches this deployment%s", d->cfg.public_url,
			https ? " with a valid certificate" : "");
	}
out:
	json_decref(j);
	buf_free(&f.body);
	free(url);
}

/* Calls fn for the file of every <Play> in one template. */
static void plays_of(xmlNode *n, void (*fn)(void *, const char *), void *ctx)
{
	for (; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)n->name, "Play") == 0) {
			xmlChar *t = xmlNodeGetContent(n);
			if (t && *t && strstr((const char *)t, "{{") == NULL)
				fn(ctx, (const char *)t);
			xmlFree(t);
		}
		plays_of(n->children, fn, ctx);
	}
}

struct audio_ctx {
	struct doc *d;
	const char *flow, *state;
	int ok, bad;
};

static void audio_one(void *ctx, const char *file)
{
	struct audio_ctx *a = ctx;
	struct fetched f;
	char *url = xasprintf("%s/audio/%s/%s/%s", a->d->cfg.public_url, a->flow, a->state, file);
	if (http_get(a->d, url, 0, &f) < 0) {
		say(a->d, "audio", LV_FAIL, "%s: no answer: %s", url, f.err);
		a->bad++;
	} else if (f.status != 200 || strncasecmp(f.type, "audio/", 6) != 0) {
		say(a->d, "audio", LV_FAIL, "%s answered %ld (%s): copy the release's audio/ (make audio) "
			"and check nginx's /audio/ location", url, f.status, f.type[0] ? f.type : "no type");
		a->bad++;
	} else {
		a->ok++;
	}
	buf_free(&f.body);
	free(url);
}

static void check_audio(struct doc *d)
{
	char *dir = xasprintf("%s/state_tables", d->cfg.root);
	struct audio_ctx a = { d, NULL, NULL, 0, 0 };
	struct dirent **flows = NULL;
	int nf = scandir(dir, &flows, NULL, alphasort);

	if (nf < 0) {
		say(d, "audio", LV_FAIL, "cannot read %s (RINGFENCE_ROOT)", dir);
		free(dir);
		return;
	}
	for (int i = 0; i < nf; i++) {
		struct dirent **states = NULL;
		char *fdir = xasprintf("%s/%s", dir, flows[i]->d_name);
		int ns = flow_dir_is_flow(flows[i]->d_name) ? scandir(fdir, &states, NULL, alphasort) : -1;
		for (int k = 0; k < ns; k++) {
			const char *name = states[k]->d_name;
			size_t len = strlen(name);
			if (len > 4 && strcmp(name + len - 4, ".xml") == 0) {
				char *path = xasprintf("%s/%s", fdir, name);
				char *state = xstrndup(name, len - 4);
				xmlDoc *doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR |
					XML_PARSE_NOWARNING);
				a.flow = flows[i]->d_name;
				a.state = state;
				if (doc)
					plays_of(xmlDocGetRootElement(doc), audio_one, &a);
				xmlFreeDoc(doc);
				free(state);
				free(path);
			}
			free(states[k]);
		}
		free(states);
		free(fdir);
		free(flows[i]);
	}
	free(flows);
	free(dir);
	if (a.bad == 0)
		say(d, "audio", LV_OK, "%d audio file(s) of the flows served from %s/audio/", a.ok,
			d->cfg.public_url);
}

/* ---- processes, failsafe, pool ------------------------------------------- */

static void check_processes(struct doc *d)
{
	PGresult *res;
	int sched = 0, workers = 0, n;

	res = db_exec(d->db,
		"SELECT kind, host, pid::text, version,"
		" (kind = 'scheduler' AND last_tick_at > now() - interval '3 minutes')::text,"
		" (beat_at > now() - 3 * beat_every_s * interval '1 second')::text,"
		" COALESCE(extract(epoch FROM now() - last_tick_at)::bigint::text, 'never')"
		" FROM process_heartbeats WHERE kind IN ('scheduler', 'worker') ORDER BY kind, host, pid",
		0, NULL);
	if (res == NULL) {
		say(d, "processes", LV_FAIL, "cannot read process_heartbeats: %s", db_last_error(d->db));
		return;
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		const char *kind = PQgetvalue(res, i, 0), *version = PQgetvalue(res, i, 3);
		int ticking = strcmp(PQgetvalue(res, i, 4), "true") == 0;
		int alive = strcmp(PQgetvalue(res, i, 5), "true") == 0;
		if (strcmp(kind, "scheduler") == 0 && ticking)
			sched++;
		if (strcmp(kind, "worker") == 0 && alive)
			workers++;
		if (alive && *version && strcmp(version, rf_version) != 0)
			say(d, "processes", LV_WARN, "%s %s:%s runs release %s, this is %s: restart it "
				"(or finish the upgrade)", kind, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
				version, rf_version);
	}
	PQclear(res);
	if (sched == 0)
		say(d, "scheduler", LV_FAIL, "no scheduler ticked within 3 minutes: nothing is queued; "
			"start it (systemctl start ringfence-scheduler) and read its log");
	else
		say(d, "scheduler", LV_OK, "%d scheduler(s) ticked within 3 minutes", sched);
	if (workers == 0)
		say(d, "workers", LV_FAIL, "no worker alive (no beat within 3 x its interval): nothing is "
			"sent; start them (systemctl start ringfence-worker) and read their log");
	else
		say(d, "workers", LV_OK, "%d worker(s) alive", workers);
}

static void check_failsafe(struct doc *d)
{
	char reason[512];
	int t = failsafe_tripped(d->db, reason, sizeof(reason));
	if (t < 0)
		say(d, "failsafe", LV_FAIL, "cannot read its state: %s", db_last_error(d->db));
	else if (t == 1)
		say(d, "failsafe", LV_FAIL, "tripped: %s; nothing is sent until an operator runs "
			"ringfence failsafe resume --reason ... after finding the cause", reason);
	else
		say(d, "failsafe", LV_OK, "armed");
}

static void check_pool(struct doc *d)
{
	char *path = xasprintf("%s/fcgi.status", d->cfg.run_dir);
	json_error_t jerr;
	json_t *j = json_load_file(path, 0, &jerr);
	const char *version;
	if (j == NULL) {
		say(d, "pool", LV_WARN, "no readable %s (the pool writes it while it runs): cannot tell "
			"the pool's release and workers", path);
	} else {
		version = json_string_value(json_object_get(j, "version"));
		say(d, "pool", version && strcmp(version, rf_version) != 0 ? LV_WARN : LV_OK,
			"release %s, generation %lld, %zu worker(s)%s", version ? version : "?",
			(long long)json_integer_value(json_object_get(j, "generation")),
			json_is_array(json_object_get(j, "workers"))
				? json_array_size(json_object_get(j, "workers"))
				: (size_t)json_integer_value(json_object_get(j, "workers")),
			version && strcmp(version, rf_version) != 0 ? ": not this release; reload the pool"
								 : "");
	}
	json_decref(j);
	free(path);
}

/* ---- the command --------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ringfence doctor [--json] [--timeout S]\n\n"
		"Checks this deployment end to end, one line per check (ok, WARN, FAIL and\n"
		"what to do): configuration, database and migrations, Redis, the Twilio\n"
		"credentials, every number's voice and messaging webhooks, that\n"
		"RINGFENCE_PUBLIC_URL reaches this server (with a valid certificate), the\n"
		"flows' audio, the scheduler and workers, the failsafe and the pool.\n"
		"Reads the same environment as the services.\n\n"
		"  --json       one JSON document instead of lines\n"
		"  --timeout S  each network request's bound, 1 to 120 seconds (default 10)\n\n"
		"Exit status: 0 nothing FAILed (WARNs allowed), 1 something FAILed, 2 bad\n"
		"arguments.\n");
}

int doctor_main(int argc, char **argv)
{
	struct doc d;
	long t;

	memset(&d, 0, sizeof(d));
	d.timeout_s = 10;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--json") == 0) {
			d.json = 1;
		} else if (strcmp(argv[i], "--timeout") == 0) {
			if (cli_int_arg(PROG, "--timeout", i + 1 < argc ? argv[++i] : NULL, 1, 120, &t) < 0)
				return 2;
			d.timeout_s = t;
		} else {
			fprintf(stderr, PROG ": unknown argument '%s' (see --help)\n", argv[i]);
			return 2;
		}
	}
	d.checks = json_array();
	if (check_config(&d) == 0) {
		check_database(&d);
		check_redis(&d);
		if (check_twilio(&d) == 0)
			check_numbers(&d);
		check_public_url(&d);
		check_audio(&d);
		if (d.db) {
			check_processes(&d);
			check_failsafe(&d);
		}
		check_pool(&d);
	}
	if (d.json) {
		json_t *doc = json_pack("{s:b, s:i, s:i, s:s, s:O}", "ok", d.fails == 0, "failures", d.fails,
			"warnings", d.warns, "version", rf_version, "checks", d.checks);
		char *s = doc ? json_dumps(doc, JSON_INDENT(1)) : NULL;
		if (s)
			puts(s);
		free(s);
		json_decref(doc);
	} else {
		printf("%d failure(s), %d warning(s)\n", d.fails, d.warns);
	}
	json_decref(d.checks);
	db_close(d.db);
	rds_close(d.rds);
	return d.fails ? 1 : 0;
}
