/* dash_operator: the failsafe banner and page; see include/dash_operator.h. */
#include "dash_operator.h"
#include "app.h"
#include "arena.h"
#include "buf.h"
#include "db.h"
#include "html.h"
#include "log.h"
#include "page.h"
#include "session.h"

#include <stdlib.h>
#include <string.h>

static const char tmpl_banner[] =
	"<div class=\"banner\" role=\"alert\"><div class=\"wrap\">"
	"<strong>Outbound messages are paused:</strong> the failsafe tripped at {{at}}. "
	"No calls, texts or emails go out until an operator resumes them.</div></div>\n";
static const char tmpl_banner_operator[] =
	"<div class=\"banner\" role=\"alert\"><div class=\"wrap\">"
	"<strong>Outbound messages are paused:</strong> the failsafe tripped at {{at}}. "
	"Reason: {{reason}} <a href=\"/operator/failsafe\">Review and resume</a></div></div>\n";
static const char tmpl_banner_unknown[] =
	"<div class=\"banner\" role=\"alert\"><div class=\"wrap\">"
	"<strong>The failsafe's state cannot be read right now.</strong> Nothing is sent "
	"while it is unknown.</div></div>\n";

/* See dash_operator.h.  The time is shown in the business's zone. */
void dash_failsafe_banner(struct app *app, const struct session_user *u, struct buf *b)
{
	PGresult *res = db_exec_prepared(app->db, "dash_failsafe_banner",
		"SELECT tripped, coalesce(reason, ''), coalesce(extract(epoch FROM tripped_at)::bigint, 0)"
		" FROM failsafe_state WHERE id = 1", 0, NULL);
	struct arena *a = b->arena;

	if (res == NULL || PQntuples(res) != 1) {
		if (res == NULL)
			log_error("dashboard: cannot read the failsafe state: %s", db_last_error(app->db));
		(void)html_render(b, tmpl_banner_unknown, NULL);
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		const char *at = page_time(a, strtoll(PQgetvalue(res, 0, 2), NULL, 10),
			u->business_tz);
		const char *const f[] = { "at", at, "reason", arena_strdup(a, PQgetvalue(res, 0, 1)),
			NULL };
		(void)html_render(b, u->operator ? tmpl_banner_operator : tmpl_banner, f);
	}
out:
	if (res)
		PQclear(res);
}
