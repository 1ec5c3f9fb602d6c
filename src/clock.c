/* clock: the process's notion of "now" (real, or fixed by RINGFENCE_NOW). */
#include "clock.h"
#include "config.h"
#include "rfc3339.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Set once by clock_init before any other thread or child exists. */
static int clock_fixed;
static long long clock_fixed_s;

int clock_init(const struct config *cfg, char *err, size_t errlen)
{
	long long t;

	if (cfg->now == NULL) {
		clock_fixed = 0;
		return 0;
	}
	if (rfc3339_parse(cfg->now, &t) < 0 || t < 0) {
		snprintf(err, errlen, "RINGFENCE_NOW is not an RFC 3339 time such as "
			"2026-11-25T10:00:00Z or 2026-11-25T05:00:00-05:00: '%.64s'", cfg->now);
		return -1;
	}
	clock_fixed_s = t;
	clock_fixed = 1;
	return 0;
}

long long clock_now_s(void)
{
	return clock_fixed ? clock_fixed_s : (long long)time(NULL);
}

void clock_sql(long long unix_s, char out[32])
{
	time_t t = (time_t)unix_s;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}
