/* webhook-load: sends validly signed Twilio webhooks at a steady rate and
 * counts what came back, for reload and upgrade tests under load.
 *
 *   bin/webhook-load --url BASE [--token T] [--account SID] [--rate R]
 *                    [--seconds S] [--conns C] [--fresh] [--slow N]
 *                    [--slow-ms MS] [--database CONNINFO] [--to NUMBER]
 *
 * A mix like Twilio's: new inbound calls (POST /twilio/voice/inbound),
 * inbound texts (/twilio/sms/inbound) and call status callbacks
 * (/twilio/status/call), each with a fresh CallSid or MessageSid, signed
 * with the auth token over BASE + path (signature.c, the same code the
 * application checks with).  --slow N makes every Nth request one that
 * the application holds: the tool locks, in its own PostgreSQL
 * transaction, the calls row of an inbound call it made earlier and sends
 * that call's webhook again (a retry, as Twilio sends one); the
 * application's worker waits on the row lock until the tool lets go
 * after --slow-ms (default 1500, below the application's 3 s
 * lock_timeout), so a worker has that request in hand meanwhile.
 *
 * A webhook answered 200 with a TwiML document (root <Response>) is ok;
 * anything else failed.  The last line on stdout is
 *   sent N ok N failed N (502: n, 503: n, connect: n, reset: n, other: n) p50 ms p99 ms
 * and the exit status is 1 when any failed (2: bad arguments or set-up). */
#include "buf.h"
#include "form.h"
#include "params.h"
#include "signature.h"
#include "util.h"

#include <curl/curl.h>
#include <libpq-fe.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SLOW_CONNS 64

enum outcome { OUT_OK, OUT_502, OUT_503, OUT_CONNECT, OUT_RESET, OUT_OTHER, OUT_N };

struct opts {
	const char *url, *token, *account, *database, *to;
	double rate;
	int seconds, conns, fresh, slow, slow_ms, timeout_s, verbose;
};

/* A calls row the tool may lock: an inbound call it made that was
 * answered. */
struct known_call {
	char sid[40];
	char from[20];
};

/* One request in flight; owned by the main loop, freed when it ends. */
struct req {
	struct buf body;     /* the form sent */
	struct buf answer;   /* what came back */
	char path[64];
	long long sent_ms;
	int slow;            /* holds a row lock of lock_conn */
	PGconn *lock_conn;
	long long release_ms;
	struct curl_slist *headers;
	struct known_call made; /* a new inbound call's sid, "" otherwise */
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fresh_sid(const char *prefix, char out[40])
{
	unsigned char raw[16];
	if (util_random(raw, sizeof(raw)) < 0) {
		fprintf(stderr, "webhook-load: no random bytes\n");
		exit(2);
	}
	memcpy(out, prefix, 2);
	util_hex(raw, sizeof(raw), out + 2);
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	if (b->len < 65536)
		buf_append(b, p, size * n);
	return size * n;
}

/* Whether body is a TwiML document: XML whose root is <Response>. */
static int is_twiml(const struct buf *b)
{
	xmlDocPtr doc;
	xmlNodePtr root;
	int ok;

	if (b->len == 0)
		return 0;
	doc = xmlReadMemory(buf_str(b), (int)b->len, "answer.xml", NULL,
		XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL)
		return 0;
	root = xmlDocGetRootElement(doc);
	ok = root && xmlStrcmp(root->name, (const xmlChar *)"Response") == 0;
	xmlFreeDoc(doc);
	return ok;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: webhook-load --url BASE [--token T] [--account SID] [--rate R] [--seconds S]\n"
		"                    [--conns C] [--fresh] [--slow N] [--slow-ms MS]\n"
		"                    [--database CONNINFO] [--to NUMBER] [--timeout S] [--verbose]\n"
		"\n"
		"Sends signed Twilio webhooks (inbound calls, inbound texts, call status\n"
		"callbacks) to BASE at R per second (default 25) for S seconds (default 20)\n"
		"over at most C connections (default 8; --fresh: a new connection per\n"
		"request).  --slow N: every Nth request is held in the application by a row\n"
		"lock for MS ms (default 1500; needs --database or RINGFENCE_DATABASE_URL).\n"
		"Defaults: --token TWILIO_AUTH_TOKEN, --account TWILIO_ACCOUNT_SID.\n"
		"Prints: sent N ok N failed N (502: n, 503: n, connect: n, reset: n, other: n)\n"
		"p50 ms p99 ms; exit 1 when any request failed.\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->token = getenv("TWILIO_AUTH_TOKEN");
	o->account = getenv("TWILIO_ACCOUNT_SID");
	o->database = getenv("RINGFENCE_DATABASE_URL");
	o->to = "+15005550006";
	o->rate = 25;
	o->seconds = 20;
	o->conns = 8;
	o->slow_ms = 1500;
	o->timeout_s = 30;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--fresh") == 0) {
			o->fresh = 1;
			continue;
		} else if (strcmp(a, "--verbose") == 0) {
			o->verbose = 1;
			continue;
		}
		if (v == NULL) {
			fprintf(stderr, "webhook-load: %s needs a value (see --help)\n", a);
			return -1;
		}
		i++;
		if (strcmp(a, "--url") == 0)
			o->url = v;
		else if (strcmp(a, "--token") == 0)
			o->token = v;
		else if (strcmp(a, "--account") == 0)
			o->account = v;
		else if (strcmp(a, "--database") == 0)
			o->database = v;
		else if (strcmp(a, "--to") == 0)
			o->to = v;
		else if (strcmp(a, "--rate") == 0) {
			o->rate = strtod(v, &end);
			if (*end || !(o->rate > 0 && o->rate <= 10000)) {
				fprintf(stderr, "webhook-load: --rate must be from 0 to 10000, not '%s'\n", v);
				return -1;
			}
		} else {
			long n = strtol(v, &end, 10);
			int *dst = strcmp(a, "--seconds") == 0 ? &o->seconds :
				strcmp(a, "--conns") == 0 ? &o->conns :
				strcmp(a, "--slow") == 0 ? &o->slow :
				strcmp(a, "--slow-ms") == 0 ? &o->slow_ms :
				strcmp(a, "--timeout") == 0 ? &o->timeout_s : NULL;
			if (dst == NULL) {
				fprintf(stderr, "webhook-load: unknown argument '%s' (see --help)\n", a);
				return -1;
			}
			if (*end || n < (dst == &o->slow ? 0 : 1) || n > 100000) {
				fprintf(stderr, "webhook-load: %s must be a whole number from %d to 100000, not '%s'\n",
					a, dst == &o->slow ? 0 : 1, v);
				return -1;
			}
			*dst = (int)n;
		}
	}
	if (o->url == NULL || o->token == NULL || o->account == NULL) {
		fprintf(stderr, "webhook-load: --url, --token (or TWILIO_AUTH_TOKEN) and --account (or "
			"TWILIO_ACCOUNT_SID) are needed\n");
		return -1;
	}
	if (o->slow && o->database == NULL) {
		fprintf(stderr, "webhook-load: --slow needs --database (or RINGFENCE_DATABASE_URL)\n");
		return -1;
	}
	return 0;
}

static void add(struct params *p, const char *name, const char *value)
{
	p->v[p->n].name = name;
	p->v[p->n].value = value;
	p->v[p->n].value_len = strlen(value);
	p->n++;
}

/* Builds request k's form and path.  A slow one (call != NULL) repeats
 * that call's first webhook. */
static void build(const struct opts *o, long k, const struct known_call *call, struct req *r,
	struct known_call *made)
{
	struct param pv[12];
	struct params p = { pv, 0 };
	char sid[40], from[20];
	int kind = (int)(k % 4);

	snprintf(from, sizeof(from), "+1555%07ld", 1000000 + k % 9000000);
	made->sid[0] = '\0';
	if (call || kind <= 1) {
		if (call) {
			snprintf(sid, sizeof(sid), "%s", call->sid);
			snprintf(from, sizeof(from), "%s", call->from);
		} else {
			fresh_sid("CA", sid);
			snprintf(made->sid, sizeof(made->sid), "%s", sid);
			snprintf(made->from, sizeof(made->from), "%s", from);
		}
		snprintf(r->path, sizeof(r->path), "/twilio/voice/inbound");
		add(&p, "AccountSid", o->account);
		add(&p, "ApiVersion", "2010-04-01");
		add(&p, "CallSid", sid);
		add(&p, "CallStatus", "ringing");
		add(&p, "Called", o->to);
		add(&p, "Caller", from);
		add(&p, "Direction", "inbound");
		add(&p, "From", from);
		add(&p, "To", o->to);
	} else if (kind == 2) {
		fresh_sid("SM", sid);
		snprintf(r->path, sizeof(r->path), "/twilio/sms/inbound");
		add(&p, "AccountSid", o->account);
		add(&p, "ApiVersion", "2010-04-01");
		add(&p, "Body", "See you then");
		add(&p, "From", from);
		add(&p, "MessageSid", sid);
		add(&p, "NumMedia", "0");
		add(&p, "NumSegments", "1");
		add(&p, "SmsSid", sid);
		add(&p, "To", o->to);
	} else {
		fresh_sid("CA", sid);
		snprintf(r->path, sizeof(r->path), "/twilio/status/call");
		add(&p, "AccountSid", o->account);
		add(&p, "ApiVersion", "2010-04-01");
		add(&p, "CallDuration", "12");
		add(&p, "CallSid", sid);
		add(&p, "CallStatus", "completed");
		add(&p, "Direction", "outbound-api");
		add(&p, "From", o->to);
		add(&p, "SequenceNumber", "3");
		add(&p, "To", from);
	}
	buf_init(&r->body);
	buf_init(&r->answer);
	form_encode_params(&r->body, &p);
	{
		char url[512], sig[SIGNATURE_LEN + 1], hdr[64 + SIGNATURE_LEN];
		snprintf(url, sizeof(url), "%s%s", o->url, r->path);
		if (signature_compute(o->token, url, &p, sig) < 0) {
			fprintf(stderr, "webhook-load: cannot sign %s\n", url);
			exit(2);
		}
		snprintf(hdr, sizeof(hdr), "X-Twilio-Signature: %s", sig);
		r->headers = curl_slist_append(NULL, hdr);
		r->headers = curl_slist_append(r->headers,
			"Content-Type: application/x-www-form-urlencoded");
		r->headers = curl_slist_append(r->headers, "User-Agent: TwilioProxy/1.1");
	}
}

/* Locks call's row in a transaction of a free connection of conns; the
 * connection, or NULL (nothing locked: the request goes out unheld). */
static PGconn *lock_call(const struct opts *o, PGconn **conns, int *busy, const char *sid)
{
	const char *params[1] = { sid };
	PGresult *res;
	int i;

	for (i = 0; i < MAX_SLOW_CONNS && busy[i]; i++)
		;
	if (i == MAX_SLOW_CONNS)
		return NULL;
	if (conns[i] == NULL) {
		conns[i] = PQconnectdb(o->database);
		if (PQstatus(conns[i]) != CONNECTION_OK) {
			fprintf(stderr, "webhook-load: cannot connect to the database: %s",
				PQerrorMessage(conns[i]));
			PQfinish(conns[i]);
			conns[i] = NULL;
			return NULL;
		}
	}
	PQclear(PQexec(conns[i], "BEGIN"));
	res = PQexecParams(conns[i], "SELECT 1 FROM calls WHERE call_sid = $1 FOR UPDATE", 1, NULL,
		params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		PQclear(res);
		PQclear(PQexec(conns[i], "ROLLBACK"));
		return NULL;
	}
	PQclear(res);
	busy[i] = 1;
	return conns[i];
}

static void unlock_call(PGconn *c, PGconn **conns, int *busy)
{
	PQclear(PQexec(c, "ROLLBACK"));
	for (int i = 0; i < MAX_SLOW_CONNS; i++)
		if (conns[i] == c)
			busy[i] = 0;
}

/* Hands request k to multi. */
static void send_one(const struct opts *o, CURLM *multi, struct req *r)
{
	CURL *h = curl_easy_init();
	char url[512];

	if (h == NULL) {
		fprintf(stderr, "webhook-load: curl_easy_init failed\n");
		exit(2);
	}
	snprintf(url, sizeof(url), "%s%s", o->url, r->path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, buf_str(&r->body));
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)r->body.len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->answer);
	curl_easy_setopt(h, CURLOPT_PRIVATE, r);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)o->timeout_s);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (o->fresh) {
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	}
	curl_multi_add_handle(multi, h);
}

/* How a finished transfer went. */
static enum outcome classify(CURLcode rc, long code, const struct buf *answer)
{
	switch (rc) {
	case CURLE_OK:
		if (code == 200 && is_twiml(answer))
			return OUT_OK;
		return code == 502 ? OUT_502 : code == 503 ? OUT_503 : OUT_OTHER;
	case CURLE_COULDNT_CONNECT:
		return OUT_CONNECT;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
		return OUT_RESET;
	default:
		return OUT_OTHER;
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	CURLM *multi;
	long total, next = 0, done = 0, counts[OUT_N] = { 0 }, slow_sent = 0, shown = 0;
	long long start, *lat, slow_min = -1;
	struct known_call *calls;
	long ncalls = 0, slow_next = 0, failed;
	PGconn *pg[MAX_SLOW_CONNS] = { NULL };
	int pg_busy[MAX_SLOW_CONNS] = { 0 };
	struct req *held[MAX_SLOW_CONNS] = { NULL };

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	util_alloc_hooks_install();
	total = (long)(o.rate * o.seconds + 0.5);
	if (total < 1)
		total = 1;
	lat = xcalloc((size_t)total, sizeof(*lat));
	calls = xcalloc((size_t)total, sizeof(*calls));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)o.conns);
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)o.conns);
	start = now_ms();

	while (done < total) {
		long long now = now_ms(), wait;
		int running, left;
		CURLMsg *m;

		/* Send what is due. */
		while (next < total && start + (long long)(next * 1000.0 / o.rate) <= now) {
			struct req *r = xcalloc(1, sizeof(*r));
			const struct known_call *call = NULL;

			/* A slow one retries an answered call whose row is not
			 * held yet (each call is held once, so the tool never
			 * waits on its own lock). */
			if (o.slow > 0 && next % o.slow == o.slow - 1 && slow_next < ncalls) {
				call = &calls[slow_next++];
				r->lock_conn = lock_call(&o, pg, pg_busy, call->sid);
				if (r->lock_conn == NULL) {
					call = NULL;
				} else {
					r->slow = 1;
					slow_sent++;
					r->release_ms = now + o.slow_ms;
					for (int i = 0; i < MAX_SLOW_CONNS; i++)
						if (held[i] == NULL) {
							held[i] = r;
							break;
						}
				}
			}
			build(&o, next, call, r, &r->made);
			r->sent_ms = now;
			send_one(&o, multi, r);
			next++;
		}
		/* Let go of the locks whose time has come. */
		for (int i = 0; i < MAX_SLOW_CONNS; i++)
			if (held[i] && held[i]->release_ms <= now) {
				unlock_call(held[i]->lock_conn, pg, pg_busy);
				held[i]->lock_conn = NULL;
				held[i] = NULL;
			}
		curl_multi_perform(multi, &running);
		while ((m = curl_multi_info_read(multi, &left)) != NULL) {
			struct req *r;
			long code = 0;
			enum outcome out;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
			curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
			out = classify(m->data.result, code, &r->answer);
			counts[out]++;
			if (out != OUT_OK && (o.verbose || shown++ < 20))
				fprintf(stderr, "webhook-load: %s: %s (HTTP %ld) %.200s\n", r->path,
					m->data.result == CURLE_OK ? "answer" : curl_easy_strerror(m->data.result),
					code, buf_str(&r->answer));
			lat[done] = now_ms() - r->sent_ms;
			if (r->slow && (slow_min < 0 || lat[done] < slow_min))
				slow_min = lat[done];
			/* An answered new inbound call: its row exists now. */
			if (out == OUT_OK && r->made.sid[0])
				calls[ncalls++] = r->made;
			done++;
			curl_multi_remove_handle(multi, m->easy_handle);
			curl_easy_cleanup(m->easy_handle);
			curl_slist_free_all(r->headers);
			buf_free(&r->body);
			buf_free(&r->answer);
			if (r->lock_conn) {
				/* Answered while its row was still locked. */
				for (int i = 0; i < MAX_SLOW_CONNS; i++)
					if (held[i] == r)
						held[i] = NULL;
				unlock_call(r->lock_conn, pg, pg_busy);
			}
			free(r);
		}
		now = now_ms();
		wait = next < total ? start + (long long)(next * 1000.0 / o.rate) - now : 100;
		for (int i = 0; i < MAX_SLOW_CONNS; i++)
			if (held[i] && held[i]->release_ms - now < wait)
				wait = held[i]->release_ms - now;
		if (wait > 0)
			curl_multi_poll(multi, NULL, 0, (int)(wait > 100 ? 100 : wait), NULL);
	}
	qsort(lat, (size_t)total, sizeof(*lat), cmp_ll);
	if (o.slow)
		fprintf(stderr, "webhook-load: %ld requests held by a row lock for %d ms (fastest answer "
			"of those: %lld ms)\n", slow_sent, o.slow_ms, slow_min);
	failed = total - counts[OUT_OK];
	printf("sent %ld ok %ld failed %ld (502: %ld, 503: %ld, connect: %ld, reset: %ld, other: %ld) "
	       "p50 %lld ms p99 %lld ms\n",
		total, counts[OUT_OK], failed, counts[OUT_502], counts[OUT_503], counts[OUT_CONNECT],
		counts[OUT_RESET], counts[OUT_OTHER], lat[total / 2], lat[(total * 99) / 100]);
	for (int i = 0; i < MAX_SLOW_CONNS; i++)
		if (pg[i])
			PQfinish(pg[i]);
	curl_multi_cleanup(multi);
	curl_global_cleanup();
	free(lat);
	free(calls);
	return failed ? 1 : 0;
}
