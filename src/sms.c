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

const struct valid_field sms_inbound_fields[SMS_NFIELDS] = {
	[SMS_SID] = { "MessageSid", valid_message_sid, 1, VALID_TEXT },
	[SMS_ACCOUNT] = { "AccountSid", valid_account_sid, 1, VALID_TEXT },
	[SMS_FROM] = { "From", valid_e164, 1, VALID_TEXT },
	[SMS_TO] = { "To", valid_e164, 1, VALID_TEXT },
	[SMS_BODY] = { "Body", valid_sms_body, 0, VALID_TEXT },
	[SMS_OPT] = { "OptOutType", valid_opt_out_type, 0, VALID_TEXT },
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
void sms_inbound_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	const struct valid_value *f = in->form.v;
	struct arena *a = in->req->arena;
	const char *from = f[SMS_FROM].s, *to = f[SMS_TO].s, *opt = f[SMS_OPT].s;
	const char *body = f[SMS_BODY].s ? f[SMS_BODY].s : "";
	long businesses = 0, clients = 0;

	out->action = "inbound text recorded; no action";
	if (!((opt && strcmp(opt, "STOP") == 0) || sms_opt_keyword(body) > 0))
		return;
	if (opt_out_for_sender(app->db, from, to, app->cfg.from_number, &businesses,
		    &clients) < 0) {
		out->error = out->action = arena_printf(a,
			"opt-out keyword from %s to %s received but the opt-out could not be"
			" recorded: %s", from, to, db_last_error(app->db));
		log_error("sms: %s", out->error);
		return;
	}
	if (businesses == 0) {
		out->error = out->action = arena_printf(a,
			"opt-out keyword from %s to %s, a number no business texts from: nobody"
			" opted out", from, to);
		log_warn("sms: %s", out->error);
		return;
	}
	out->action = arena_printf(a,
		"opt-out keyword from %s to %s: opted out of %ld business(es) texting from it"
		" (%ld client record(s))", from, to, businesses, clients);
	log_info("sms: %s", out->action);
}
