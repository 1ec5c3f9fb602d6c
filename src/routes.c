/* routes: the route table and the small handlers that need no module of
 * their own (health). */
#include "routes.h"
#include "api.h"
#include "app.h"
#include "db.h"
#include "failsafe.h"
#include "http.h"
#include "rds.h"
#include "unsubscribe.h"
#include "util.h"
#include "webhook.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct route {
	const char *method; /* NULL: any (the handler checks) */
	const char *path;   /* exact, or a prefix when it ends in '/' */
	route_handler handler;
};

/* A number field of an INFO reply ("name:123\r\n"), or -1. */
static long long info_field(const char *info, const char *name)
{
	size_t n = strlen(name);
	long long v = -1;
	const char *p = info;

	while (p && *p && v < 0) {
		if (strncmp(p, name, n) == 0 && p[n] == ':')
			v = strtoll(p + n + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return v;
}

/* Redis's memory as /healthz shows it: used and max bytes and
 * "pressure": "ok" (under 80% of maxmemory), "high" (80% or more: audit
 * writes soon fail over to the fallback log and the ready queue with
 * them), or "unbounded" (no maxmemory: Redis grows until the host runs
 * out, see the README's deploy notes); NULL when INFO cannot be read. */
static json_t *health_redis_memory(struct app *app)
{
	const char *argv[] = { "INFO", "memory" };
	redisReply *r = rds_command(app->rds, 2, argv, NULL);
	long long used, max;
	json_t *j = NULL;

	if (r == NULL)
		return NULL;
	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
		used = info_field(r->str, "used_memory");
		max = info_field(r->str, "maxmemory");
		if (used >= 0) {
			j = json_pack("{s:I}", "used_bytes", (json_int_t)used);
			if (max > 0) {
				json_object_set_new(j, "max_bytes", json_integer(max));
				json_object_set_new(j, "used_fraction", json_real((double)used / (double)max));
				json_object_set_new(j, "pressure",
					json_string(used * 5 >= max * 4 ? "high" : "ok"));
			} else {
				json_object_set_new(j, "pressure", json_string("unbounded"));
			}
		}
	}
	freeReplyObject(r);
	return j;
}

/* GET /healthz: 200 when PostgreSQL and Redis both answer and the
 * failsafe is armed, else 503 with the reason ("failsafe": "tripped:
 * <reason>"), for load balancers and the operator at 3 AM.  It also
 * shows Redis's memory ("redis_memory", health_redis_memory), which does
 * not change the status. */
static void health_handle(struct app *app, struct http_request *req, struct http_response *res)
{
	PGresult *pg = db_exec(app->db, "SELECT 1", 0, NULL);
	const char *argv[] = { "PING" };
	redisReply *r = rds_command(app->rds, 1, argv, NULL);
	int db_ok = pg != NULL, redis_ok = r != NULL, tripped = -1;
	char reason[512] = "", *failsafe, *body;
	json_t *j;

	if (pg)
		PQclear(pg);
	if (r)
		freeReplyObject(r);
	/* A tripped failsafe is an outage of everything outbound. */
	if (db_ok)
		tripped = failsafe_tripped(app->db, reason, sizeof(reason));
	failsafe = tripped == 1 ? xasprintf("tripped: %s", reason)
		: xstrdup(tripped == 0 ? "armed" : "unknown");
	res->status = (db_ok && redis_ok && tripped == 0) ? 200 : 503;
	res->content_type = "application/json";
	j = json_pack("{s:s, s:s, s:s, s:s}", "status", res->status == 200 ? "ok" : "degraded",
		"database", db_ok ? "ok" : "unavailable", "redis", redis_ok ? "ok" : "unavailable",
		"failsafe", failsafe);
	if (j && redis_ok) {
		json_t *mem = health_redis_memory(app);
		if (mem)
			json_object_set_new(j, "redis_memory", mem);
	}
	body = j ? json_dumps(j, JSON_PRESERVE_ORDER) : NULL;
	buf_printf(&res->body, "%s\n", body ? body : "{\"status\": \"degraded\"}");
	free(body);
	json_decref(j);
	free(failsafe);
}

static const struct route routes[] = {
	{ "GET", "/healthz", health_handle },
	{ NULL, "/twilio/", webhook_handle },
	{ NULL, "/api/v1/", api_handle },
	{ NULL, "/api/v1", api_handle }, /* answers a JSON 404 */
	{ NULL, "/unsubscribe", unsubscribe_handle },
};

static int path_matches(const char *pattern, const char *path)
{
	size_t n = strlen(pattern);
	if (n > 0 && pattern[n - 1] == '/')
		return strncmp(pattern, path, n) == 0;
	return strcmp(pattern, path) == 0;
}

void routes_dispatch(struct app *app, struct http_request *req, struct http_response *res)
{
	int path_seen = 0;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!path_matches(routes[i].path, req->path))
			continue;
		path_seen = 1;
		if (routes[i].method && strcmp(routes[i].method, req->method) != 0)
			continue;
		routes[i].handler(app, req, res);
		return;
	}
	if (path_seen)
		http_response_text(res, 405, "method not allowed");
	else
		http_response_text(res, 404, "not found");
}
