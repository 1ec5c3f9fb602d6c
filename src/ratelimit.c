/* ratelimit: the fast pre-check of the contact limits and the
 * per-account pacer, each one Lua script so that checking and counting
 * cannot be interleaved by another worker.  Scripts are called by EVALSHA and sent whole (EVAL, which also
 * caches them) only when Redis answers NOSCRIPT. */
#include "ratelimit.h"
#include "log.h"
#include "rds.h"
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RL_DAY_MS 86400000LL
#define RL_HOUR_MS 3600000LL
#define RL_MAX_ADDRESS 320

/* KEYS: recipient-from-this-business zset, recipient zset, business zset.
 * ARGV: now_ms, the three limits in that order, a unique member.  Entries
 * older than their window are dropped first; over a limit, the answer
 * carries when the oldest entry that keeps the count at the limit leaves
 * the window.  Returns {0, 0} counted, {1, free_ms} recipient from this
 * business, {3, free_ms} recipient from all businesses, {2, free_ms}
 * business. */
static const char rl_take_lua[] =
	"local now = tonumber(ARGV[1])\n"
	"local day, hour = 86400000, 3600000\n"
	"local win = {day, day, hour}\n"
	"local kinds = {1, 3, 2}\n"
	"for i = 1, 3 do\n"
	"  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', string.format('%.0f', now - win[i]))\n"
	"end\n"
	"for i = 1, 3 do\n"
	"  local lim = tonumber(ARGV[1 + i])\n"
	"  local c = redis.call('ZCARD', KEYS[i])\n"
	"  if c >= lim then\n"
	"    local e = redis.call('ZRANGE', KEYS[i], c - lim, c - lim, 'WITHSCORES')\n"
	"    return {kinds[i], string.format('%.0f', tonumber(e[2]) + win[i])}\n"
	"  end\n"
	"end\n"
	"for i = 1, 3 do\n"
	"  redis.call('ZADD', KEYS[i], string.format('%.0f', now), ARGV[5])\n"
	"  redis.call('PEXPIRE', KEYS[i], win[i] + 60000)\n"
	"end\n"
	"return {0, '0'}\n";

/* KEYS: the pace key.  ARGV: interval in microseconds.  The slot is the
 * later of now (Redis TIME) and the stored next slot; the next slot moves
 * one interval past it.  Returns the microseconds to wait, as a string. */
static const char rl_pace_lua[] =
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
	"local iv = tonumber(ARGV[1])\n"
	"local nxt = tonumber(redis.call('GET', KEYS[1]) or '0') or 0\n"
	"local slot = now\n"
	"if nxt > now then slot = nxt end\n"
	"local ttl = math.floor((slot + iv - now) / 1000) + 60000\n"
	"redis.call('SET', KEYS[1], string.format('%.0f', slot + iv), 'PX', ttl)\n"
	"return string.format('%.0f', slot - now)\n";

/* KEYS: the pace key.  ARGV: seconds.  No slot before now + seconds. */
static const char rl_backoff_lua[] =
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
	"local until_us = now + tonumber(ARGV[1]) * 1000000\n"
	"local nxt = tonumber(redis.call('GET', KEYS[1]) or '0') or 0\n"
	"if nxt > until_us then until_us = nxt end\n"
	"local ttl = math.floor((until_us - now) / 1000) + 60000\n"
	"redis.call('SET', KEYS[1], string.format('%.0f', until_us), 'PX', ttl)\n"
	"return string.format('%.0f', until_us - now)\n";

/* A reply that is a decimal integer (as integer or string) into *v. */
static int rl_reply_ll(const redisReply *e, long long *v)
{
	char *end;
	if (e == NULL)
		return -1;
	if (e->type == REDIS_REPLY_INTEGER) {
		*v = e->integer;
		return 0;
	}
	if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len > 20)
		return -1;
	*v = strtoll(e->str, &end, 10);
	return end == e->str + e->len ? 0 : -1;
}

/* See ratelimit.h. */
enum ratelimit_verdict ratelimit_take(struct rds *r, const char *recipient, long long business_id,
	int recipient_per_day, int recipient_all_day, int business_per_hour, long long now_s,
	long long *retry_at_s)
{
	enum ratelimit_verdict v = RATELIMIT_ERROR;
	char akey[RL_MAX_ADDRESS + 16], rkey[RL_MAX_ADDRESS + 48], bkey[48], now_ms[24];
	char rl[16], al[16], bl[16], member[64];
	unsigned char rnd[12];
	char hex[25];
	const char *args[8];
	size_t lens[8];
	redisReply *reply = NULL;
	long long kind, free_ms;
	size_t n;

	if (retry_at_s)
		*retry_at_s = 0;
	if (r == NULL || recipient == NULL || (n = strlen(recipient)) == 0 || n > RL_MAX_ADDRESS ||
		business_id <= 0 || now_s <= 0) {
		log_error("ratelimit: bad arguments (recipient, business or time)");
		goto out;
	}
	/* A limit of zero or less refuses everything, without asking Redis. */
	if (recipient_per_day <= 0 || recipient_all_day <= 0 || business_per_hour <= 0) {
		v = recipient_per_day <= 0 ? RATELIMIT_RECIPIENT
			: recipient_all_day <= 0 ? RATELIMIT_RECIPIENT_ALL : RATELIMIT_BUSINESS;
		if (retry_at_s)
			*retry_at_s = now_s + (v == RATELIMIT_BUSINESS ? 3600 : 86400);
		goto out;
	}
	/* Emails differ only in case count as one recipient. */
	memcpy(akey, "rf:rl:to:", 9);
	for (size_t i = 0; i <= n; i++)
		akey[9 + i] = (char)tolower((unsigned char)recipient[i]);
	snprintf(rkey, sizeof(rkey), "rf:rl:to:%lld:%s", business_id, akey + 9);
	snprintf(bkey, sizeof(bkey), "rf:rl:biz:%lld", business_id);
	snprintf(now_ms, sizeof(now_ms), "%lld", now_s * 1000);
	snprintf(rl, sizeof(rl), "%d", recipient_per_day);
	snprintf(al, sizeof(al), "%d", recipient_all_day);
	snprintf(bl, sizeof(bl), "%d", business_per_hour);
	if (util_random(rnd, sizeof(rnd)) < 0) {
		log_error("ratelimit: no random bytes");
		goto out;
	}
	util_hex(rnd, sizeof(rnd), hex);
	snprintf(member, sizeof(member), "%s:%s", now_ms, hex);
	args[0] = rkey;
	args[1] = akey;
	args[2] = bkey;
	args[3] = now_ms;
	args[4] = rl;
	args[5] = al;
	args[6] = bl;
	args[7] = member;
	for (int i = 0; i < 8; i++)
		lens[i] = strlen(args[i]);
	reply = rds_eval(r, rl_take_lua, 3, 8, args, lens);
	if (reply == NULL) {
		log_error("ratelimit: Redis could not check the limits: %s", rds_last_error(r));
		goto out;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
		rl_reply_ll(reply->element[0], &kind) < 0 || rl_reply_ll(reply->element[1], &free_ms) < 0 ||
		kind < 0 || kind > 3) {
		log_error("ratelimit: unexpected answer from the limit script");
		goto out;
	}
	if (kind == 0) {
		v = RATELIMIT_OK;
	} else {
		v = kind == 1 ? RATELIMIT_RECIPIENT : kind == 3 ? RATELIMIT_RECIPIENT_ALL
			: RATELIMIT_BUSINESS;
		if (retry_at_s)
			*retry_at_s = (free_ms + 999) / 1000;
	}
out:
	if (reply)
		freeReplyObject(reply);
	return v;
}

/* Runs a pace-key script with one numeric argument; the microseconds it
 * returns, or -1. */
static long long rl_pace_script(struct rds *r, const char *script, const char *account_sid,
	const char *arg)
{
	char key[96];
	const char *args[2];
	size_t lens[2];
	redisReply *reply;
	long long us = -1;

	if (r == NULL || account_sid == NULL || account_sid[0] == '\0' || strlen(account_sid) > 64) {
		log_error("ratelimit: pacer: bad account");
		return -1;
	}
	snprintf(key, sizeof(key), "rf:pace:%s", account_sid);
	args[0] = key;
	args[1] = arg;
	lens[0] = strlen(key);
	lens[1] = strlen(arg);
	reply = rds_eval(r, script, 1, 2, args, lens);
	if (reply == NULL) {
		log_error("ratelimit: pacer: Redis unavailable: %s", rds_last_error(r));
		return -1;
	}
	if (rl_reply_ll(reply, &us) < 0 || us < 0) {
		log_error("ratelimit: pacer: unexpected answer");
		us = -1;
	}
	freeReplyObject(reply);
	return us;
}

/* See ratelimit.h. */
long long ratelimit_pace(struct rds *r, const char *account_sid, double cps)
{
	char iv[32];
	long long us;

	if (!(cps > 0) || !isfinite(cps) || cps > 1000) {
		log_error("ratelimit: pacer: bad rate %g", cps);
		return -1;
	}
	snprintf(iv, sizeof(iv), "%.0f", 1e6 / cps);
	us = rl_pace_script(r, rl_pace_lua, account_sid, iv);
	return us < 0 ? -1 : (us + 999) / 1000;
}

/* See ratelimit.h. */
int ratelimit_backoff(struct rds *r, const char *account_sid, long long seconds)
{
	char s[24];
	if (seconds < 0 || seconds > 86400) {
		log_error("ratelimit: backoff: bad duration %lld", seconds);
		return -1;
	}
	snprintf(s, sizeof(s), "%lld", seconds);
	return rl_pace_script(r, rl_backoff_lua, account_sid, s) < 0 ? -1 : 0;
}
