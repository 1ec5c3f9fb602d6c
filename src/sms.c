/* sms: inbound texts and opt-out keywords. */
#include "sms.h"
#include "app.h"
#include "arena.h"
#include "form.h"
#include "http.h"
#include "log.h"
#include "db.h"
#include "valid.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int sms_opt_keyword(const char *body)
{
	static const char *const out[] = { "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END",
		"QUIT", NULL };
	static const char *const in[] = { "START", "YES", "UNSTOP", NULL };
	char word[16];
	size_t n = 0;

	while (isspace((unsigned char)*body))
		body++;
	while (*body && n + 1 < sizeof(word) && !isspace((unsigned char)*body))
		word[n++] = *body++;
	word[n] = '\0';
	while (isspace((unsigned char)*body))
		body++;
	if (*body || n == 0)
		return 0;
	for (int i = 0; out[i]; i++)
		if (strcasecmp(word, out[i]) == 0)
			return 1;
	for (int i = 0; in[i]; i++)
		if (strcasecmp(word, in[i]) == 0)
			return -1;
	return 0;
}

static int valid_opt_out_type(const char *v, size_t len)
{
	return (len == 4 && strcmp(v, "STOP") == 0) || (len == 5 && strcmp(v, "START") == 0) ||
		(len == 4 && strcmp(v, "HELP") == 0);
}

enum { M_SID, M_ACCOUNT, M_FROM, M_TO, M_BODY, M_OPT, M_NFIELDS };
static const struct valid_field inbound_fields[M_NFIELDS] = {
	[M_SID] = { "MessageSid", valid_message_sid, 1 },
	[M_ACCOUNT] = { "AccountSid", valid_account_sid, 1 },
	[M_FROM] = { "From", valid_e164, 1 },
	[M_TO] = { "To", valid_e164, 1 },
	[M_BODY] = { "Body", valid_sms_body, 0 },
	[M_OPT] = { "OptOutType", valid_opt_out_type, 0 },
};

/* Opts from out with every business that texts from to: its own
 * twilio_from, or TWILIO_FROM_NUMBER (default_from, may be NULL) when it
 * has none, the caller id the worker gives its texts.  Sets *businesses
 * to how many businesses send from to and *clients to how many client
 * rows now carry the opt-out.  Returns 0, or -1 on a database error. */
static int opt_out_for_sender(struct db *db, const char *from, const char *to,
	const char *default_from, long *businesses, long *clients)
{
	const char *p[3] = { from, to, default_from };
	PGresult *res = db_exec_prepared(db, "sms_opt_out",
		"WITH b AS (SELECT id FROM businesses"
		"  WHERE COALESCE(twilio_from::text, $3) = $2),"
		" u AS (UPDATE clients SET opted_out_at = COALESCE(opted_out_at, now())"
		"  WHERE phone = $1 AND business_id IN (SELECT id FROM b) RETURNING id)"
		" SELECT (SELECT count(*) FROM b), (SELECT count(*) FROM u)", 3, p);
	if (res == NULL)
		return -1;
	*businesses = atol(PQgetvalue(res, 0, 0));
	*clients = atol(PQgetvalue(res, 0, 1));
	PQclear(res);
	return 0;
}

/* See sms.h. */
int sms_inbound_handle(struct app *app, struct http_request *req, struct http_response *res,
	const struct params *form, const char **note)
{
	struct valid_result vf;
	const char *from, *to, *body, *opt;
	char err[160];
	long businesses = 0, clients = 0;

	res->status = 200;
	res->content_type = "text/xml; charset=utf-8";
	buf_reset(&res->body);
	buf_puts(&res->body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response/>\n");
	*note = "inbound text recorded; no action";
	if (valid_params(req->arena, inbound_fields, M_NFIELDS, form, &vf, err, sizeof(err)) < 0) {
		*note = arena_printf(req->arena, "inbound text refused, no action: %s", err);
		return -1;
	}
	if (strcmp(vf.values[M_ACCOUNT], app->cfg.account_sid) != 0) {
		*note = "inbound text refused, no action: AccountSid is not this deployment's account";
		return -1;
	}
	from = vf.values[M_FROM];
	to = vf.values[M_TO];
	body = vf.values[M_BODY] ? vf.values[M_BODY] : "";
	opt = vf.values[M_OPT];
	if (!((opt && strcmp(opt, "STOP") == 0) || sms_opt_keyword(body) > 0))
		return 0;
	if (opt_out_for_sender(app->db, from, to, app->cfg.from_number, &businesses,
		    &clients) < 0) {
		*note = arena_printf(req->arena,
			"opt-out keyword from %s to %s received but the opt-out could not be"
			" recorded: %s", from, to, db_last_error(app->db));
		log_error("sms: %s", *note);
		return -1;
	}
	if (businesses == 0) {
		*note = arena_printf(req->arena,
			"opt-out keyword from %s to %s, a number no business texts from: nobody"
			" opted out", from, to);
		log_warn("sms: %s", *note);
		return -1;
	}
	*note = arena_printf(req->arena,
		"opt-out keyword from %s to %s: opted out of %ld business(es) texting from it"
		" (%ld client record(s))", from, to, businesses, clients);
	log_info("sms: %s", *note);
	return 0;
}
