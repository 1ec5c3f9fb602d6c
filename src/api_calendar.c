/* api_calendar: the JSON API's calendar feeds and the confirmation of
 * clients proposed from calendar events (see include/api.h).  A feed's
 * address is a secret: every answer shows it masked (scheme and host),
 * and no error repeats it. */
#include "api.h"
#include "api_int.h"
#include "apikey.h"
#include "app.h"
#include "arena.h"
#include "dash_calendar.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "util.h"
#include "valid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One feed (row f) as the API shows it, without its address (added
 * masked by api_feed_mask). */
#define API_FEED_JSON \
	"json_build_object('id', f.id, 'name', f.name, 'enabled', f.enabled, " \
	"  'last_status', f.last_status, 'last_error', f.last_error, " \
	"  'last_polled_at', " API_TS("f.last_polled_at") ", " \
	"  'last_ok_at', " API_TS("f.last_ok_at") ", " \
	"  'next_poll_at', " API_TS("f.next_poll_at") ", " \
	"  'failures', f.failures, 'events_in_feed', f.events_in_feed, " \
	"  'held', EXISTS (SELECT 1 FROM calendar_holds h WHERE h.feed_id = f.id " \
	"    AND h.business_id = f.business_id AND h.decision IS NULL AND h.applied_at IS NULL), " \
	"  'created_at', " API_TS("f.created_at") ")::text, f.url"

/* Shapes only; what makes a name or an address acceptable is the
 * handler's question, so that the answer can say why. */
static int api_feed_text(const char *v, size_t len)
{
	return len <= 4096 && memchr(v, '\0', len) == NULL;
}

const struct json_field api_feed_fields[AF_NFIELDS] = {
	[AF_NAME] = { "name", JSON_MEMBER_STRING, 1, api_feed_text, VALID_TEXT,
		"field 'name' must be 1 to 100 printable characters" },
	[AF_URL] = { "url", JSON_MEMBER_STRING, 1, api_feed_text, VALID_TEXT,
		"field 'url' must be the calendar's https:// or webcal:// address" },
};

/* A page's message ("Address: it must ...") without the field's name. */
static const char *after_field(const char *msg)
{
	const char *p = strstr(msg, ": ");
	return p ? p + 2 : msg;
}

/* Sets member "url" of feed object o to url masked. */
static void api_feed_mask(json_t *o, const char *url)
{
	char masked[300];

	calendar_mask_url(url, masked, sizeof(masked));
	json_object_set_new(o, "url", json_string(masked));
}

/* The database failed: 503, logged without the statement's error (which
 * could quote a feed's address). */
static void api_feed_unavailable(struct api_ctx *c)
{
	log_error("api: request %s %s %s: database error", c->req->request_id, c->req->method,
		c->req->path);
	api_error(c, 503, "unavailable", NULL,
		"the database is unavailable; nothing was changed, try again later");
}

/* Feed id of the business as a JSON object (masked), or NULL: *rc 0 no
 * such feed, -1 database. */
static json_t *api_feed_load(struct api_ctx *c, long long id, int *rc)
{
	const char *p[] = { arena_printf(c->req->arena, "%lld", id), c->business }, *row[2];
	json_t *o;
	int r = db_row_prepared(c->app->db, c->req->arena, "api_feed",
		"SELECT " API_FEED_JSON " FROM calendar_feeds f"
		" WHERE f.id = $1::bigint AND f.business_id = $2::bigint", 2, p, 2, row);

	*rc = r < 0 ? -1 : 0;
	if (r != 1)
		return NULL;
	o = json_loads(row[0], 0, NULL);
	if (o)
		api_feed_mask(o, row[1]);
	else
		*rc = -1;
	return o;
}

/* GET /api/v1/calendar-feeds */
static void api_list_feeds(struct api_ctx *c)
{
	static const char *const known[] = { "limit", "cursor", NULL };
	const char *after = NULL;
	long long a, b;
	char lim[16];
	int limit;
	PGresult *res;

	c->out->action = "list_calendar_feeds";
	if (api_query_check(c, known) < 0 || api_query_limit(c, &limit) < 0)
		return;
	if (api_query(c, "cursor")) {
		if (api_cursor_decode(c, api_query(c, "cursor"), &a, &b) < 0)
			return;
		after = arena_printf(c->req->arena, "%lld", b);
	}
	snprintf(lim, sizeof(lim), "%d", limit + 1);
	{
		const char *p[] = { c->business, after, lim };
		res = db_exec_prepared(c->app->db, "api_list_feeds",
			"SELECT " API_FEED_JSON ", f.id FROM calendar_feeds f"
			" WHERE f.business_id = $1::bigint AND ($2::bigint IS NULL OR f.id > $2::bigint)"
			" ORDER BY f.id LIMIT $3::int", 3, p);
	}
	if (res == NULL) {
		api_feed_unavailable(c);
		return;
	}
	api_send_rows(c, res, limit, -1, 2);
	if (c->out->status == 200) {
		json_t *data = json_object_get(c->out->json, "data");
		for (size_t i = 0; i < json_array_size(data); i++)
			api_feed_mask(json_array_get(data, i), PQgetvalue(res, (int)i, 1));
	}
	PQclear(res);
}

/* POST /api/v1/calendar-feeds */
static void api_create_feed(struct api_ctx *c)
{
	struct arena *a = c->req->arena;
	const char *name = c->members[AF_NAME].s, *url = c->members[AF_URL].s, *problem;
	char prefix[APIKEY_PREFIX_LEN + 1] = "";
	const char *auth = c->req->authorization;
	long long id;
	json_t *o;
	int rc;

	c->out->action = "create_calendar_feed";
	problem = calendar_name_problem(name);
	if (problem) {
		api_error(c, 422, "invalid_field", "name", "field 'name': %s", after_field(problem));
		return;
	}
	problem = calendar_url_problem(url, calendar_allow_http(c->app));
	if (problem) {
		api_error(c, 422, "invalid_field", "url", "field 'url': %s", after_field(problem));
		return;
	}
	if (auth && strncmp(auth, "Bearer ", 7) == 0)
		(void)apikey_parse(auth + 7, prefix);
	id = calendar_feed_add(c->app->db, a, c->business, name, url,
		arena_printf(a, "API key %s", prefix[0] ? prefix : "(unknown)"));
	if (id < 0) {
		api_feed_unavailable(c);
		return;
	}
	if (id == 0) {
		api_error(c, 409, "conflict", "url", "this calendar address is already added");
		return;
	}
	o = api_feed_load(c, id, &rc);
	if (o == NULL) {
		api_feed_unavailable(c);
		return;
	}
	c->out->location = arena_printf(a, API_PREFIX "calendar-feeds/%lld", id);
	api_send_json(c, 201, o);
}

/* DELETE /api/v1/calendar-feeds/{id}: answers the feed as it was. */
static void api_delete_feed(struct api_ctx *c, long long id)
{
	const char *p[] = { arena_printf(c->req->arena, "%lld", id), c->business };
	json_t *o;
	int rc;

	c->out->action = "delete_calendar_feed";
	o = api_feed_load(c, id, &rc);
	if (o == NULL) {
		if (rc < 0)
			api_feed_unavailable(c);
		else
			api_error(c, 404, "not_found", NULL, "no calendar feed %lld", id);
		return;
	}
	if (db_cmd_prepared(c->app->db, "api_delete_feed",
		    "DELETE FROM calendar_feeds WHERE id = $1::bigint AND business_id = $2::bigint",
		    2, p) < 0) {
		json_decref(o);
		api_feed_unavailable(c);
		return;
	}
	api_send_json(c, 200, o);
}

/* The client as GET /api/v1/clients/{id} answers it. */
static void api_confirmed_client(struct api_ctx *c, const struct route_input *in)
{
	api_get_client_handle(c->app, in, c->out);
}

/* POST /api/v1/clients/{id}/confirm */
static void api_confirm_client(struct api_ctx *c, const struct route_input *in)
{
	char prefix[APIKEY_PREFIX_LEN + 1] = "";
	const char *auth = c->req->authorization;
	long long id = in->param_id;

	if (api_empty_body(c) < 0)
		return;
	if (auth && strncmp(auth, "Bearer ", 7) == 0)
		(void)apikey_parse(auth + 7, prefix);
	switch (calendar_client_confirm(c->app->db, c->req->arena, c->business, id,
		arena_printf(c->req->arena, "API key %s", prefix[0] ? prefix : "(unknown)"))) {
	case CALENDAR_CONFIRM_DB:
		api_unavailable(c);
		return;
	case CALENDAR_CONFIRM_NOT_FOUND:
		api_error(c, 404, "not_found", NULL, "no client %lld", id);
		return;
	case CALENDAR_CONFIRM_NOT_PROPOSED:
		api_error(c, 409, "conflict", NULL, "client %lld was not proposed from a calendar "
			"event: there is nothing to confirm", id);
		return;
	case CALENDAR_CONFIRM_DONE:
	case CALENDAR_CONFIRM_ALREADY:
		break;
	}
	api_confirmed_client(c, in);
	c->out->action = "confirm_client";
}

/* ---- the routes' handlers ------------------------------------------------------ */

void api_list_feeds_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct api_ctx c;
	api_ctx_init(&c, app, in, out);
	api_list_feeds(&c);
}

void api_create_feed_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct api_ctx c;
	api_ctx_init(&c, app, in, out);
	api_create_feed(&c);
}

void api_delete_feed_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct api_ctx c;
	api_ctx_init(&c, app, in, out);
	api_delete_feed(&c, in->param_id);
}

void api_confirm_client_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct api_ctx c;
	api_ctx_init(&c, app, in, out);
	out->client_id = in->param_id;
	api_confirm_client(&c, in);
}
