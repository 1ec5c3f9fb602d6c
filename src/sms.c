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

/* Records the inbound text sid (from, to, body, keyword: "stop",
 * "start" or NULL) in inbound_texts, a replayed sid adding nothing, and,
 * when stop is set, in the same statement (so the same transaction) opts
 * from out with every business that texts from to: its own twilio_from,
 * or TWILIO_FROM_NUMBER (default_from, may be NULL) when it has none
 * (rf_business_sms_from), the caller id the worker gives its texts.  Sets
 * *recorded to 1 when the row is new, *businesses to how many businesses
 * send from to (0 unless stop) and *clients to how many client rows now
 * carry the opt-out.  Returns 0, or -1 on a database error (nothing
 * recorded, nobody opted out). */
static int sms_record(struct db *db, const char *sid, const char *from, const char *to,
	const char *body, const char *keyword, int stop, const char *default_from,
	long *recorded, long *businesses, long *clients)
{
	const char *p[7] = { from, to, default_from, sid, body, keyword, stop ? "true" : "false" };
	PGresult *res = db_exec_prepared(db, "sms_inbound",
		"WITH i AS (INSERT INTO inbound_texts (message_sid, from_number, to_number, body,"
		"  opt_keyword) VALUES ($4, $1, $2, $5, $6)"
		"  ON CONFLICT (message_sid) DO NOTHING RETURNING id),"
		" b AS (SELECT id FROM businesses"
		"  WHERE $7::boolean AND rf_business_sms_from(twilio_from, $3) = $2),"
		" u AS (UPDATE clients SET opted_out_at = COALESCE(opted_out_at, now())"
		"  WHERE phone = $1 AND business_id IN (SELECT id FROM b) RETURNING id)"
		" SELECT (SELECT count(*) FROM i), (SELECT count(*) FROM b), (SELECT count(*) FROM u)",
		7, p);
	if (res == NULL)
		return -1;
	*recorded = atol(PQgetvalue(res, 0, 0));
	*businesses = atol(PQgetvalue(res, 0, 1));
	*clients = atol(PQgetvalue(res, 0, 2));
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
	int word = sms_opt_keyword(body);
	int stop = (opt && strcmp(opt, "STOP") == 0) || word > 0;
	int start = !stop && ((opt && strcmp(opt, "START") == 0) || word < 0);
	long recorded = 0, businesses = 0, clients = 0;

	if (sms_record(app->db, f[SMS_SID].s, from, to, body,
		    stop ? "stop" : start ? "start" : NULL, stop, app->cfg.from_number, &recorded,
		    &businesses, &clients) < 0) {
		out->error = out->action = arena_printf(a,
			"%s from %s to %s received but could not be recorded: %s",
			stop ? "opt-out keyword" : "text", from, to, db_last_error(app->db));
		log_error("sms: %s", out->error);
		return;
	}
	out->replay = recorded == 0;
	if (!stop) {
		out->action = recorded ? "inbound text recorded; no action"
				       : "inbound text already recorded (a replay); no action";
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
