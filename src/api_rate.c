/* api_rate: the JSON API's per-key request rate (see include/api_rate.h). */
#include "api_rate.h"
#include "app.h"
#include "log.h"
#include "rds.h"

#include <stdio.h>
#include <stdlib.h>

/* One round trip: the counter and, for the minute's first request, its
 * expiry (two windows, so a slow clock step cannot leave it forever). */
static const char api_rate_script[] =
	"local n = redis.call('INCR', KEYS[1]) "
	"if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end "
	"return n";

int api_rate_allow(struct app *app, const char *key_prefix, int limit, long long now_s,
	int *retry_after)
{
	char key[80];
	const char *args[] = { key, "120" };
	long long minute = now_s / 60;
	redisReply *r;
	int allow = 1;

	*retry_after = 0;
	snprintf(key, sizeof(key), "rf:rl:api:%s:%lld", key_prefix, minute);
	r = rds_eval(app->rds, api_rate_script, 1, 2, args, NULL);
	if (r == NULL) {
		/* Not a safety rule (see api_rate.h): let it through. */
		log_error("api_rate: counting key %s: %s; the request is let through", key_prefix,
			rds_last_error(app->rds));
		goto out;
	}
	if (r->type == REDIS_REPLY_INTEGER && r->integer > limit) {
		allow = 0;
		*retry_after = (int)(60 - now_s % 60);
	}
	freeReplyObject(r);
out:
	return allow;
}
