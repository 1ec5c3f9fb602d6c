/* sms: inbound texts and opt-out keywords. */
#include "sms.h"
#include "app.h"
#include "arena.h"
#include "form.h"
#include "http.h"
#include "log.h"
#include "outbound.h"
#include "valid.h"

#include <ctype.h>
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

int sms_inbound_handle(struct app *app, struct http_request *req, struct http_response *res,
	const struct params *form, const char **note)
{
	const char *from = form_get(form, "From");
	const char *body = form_get(form, "Body");
	const char *opt = form_get(form, "OptOutType");
	int rc = 0;

	res->status = 200;
	res->content_type = "text/xml; charset=utf-8";
	buf_reset(&res->body);
	buf_puts(&res->body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response/>\n");
	*note = "inbound text recorded; no action";
	if (from == NULL || !valid_e164(from, strlen(from))) {
		*note = "inbound text without a valid From; no action";
		return 0;
	}
	if ((opt && strcasecmp(opt, "STOP") == 0) || (body && sms_opt_keyword(body) > 0)) {
		int f = outbound_flag_number(app->db, from, 21610, "replied STOP by text");
		if (f < 0) {
			*note = "opt-out keyword received but the opt-out could not be recorded";
			log_error("sms: %s from %s", *note, from);
			rc = -1;
		} else {
			*note = arena_printf(req->arena, "opt-out keyword: every client with %s opted out", from);
			log_info("sms: %s", *note);
		}
	}
	return rc;
}
