/* harness: HTTP, signing, TwiML, database, Redis and stack helpers for
 * the integration tests.  See harness.h. */
#include "harness.h"
#include "apikey.h"
#include "arena.h"
#include "db.h"
#include "form.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct hx_env hx_env;

/* The harness's own connections, used only from the test thread. */
static PGconn *pg;
static redisContext *redis;

/* Where the stack's Redis listens, parsed from RINGFENCE_REDIS_URL. */
static struct {
	char host[256];
	int port;
	char socket[512];
	int db;
} redis_addr;

long long hx_now_ms(void)
{
	return util_now_ms();
}

void hx_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- environment ---------------------------------------------------- */

static const char *env_required(const char *name, int *missing, char *err, size_t errlen)
{
	const char *v = getenv(name);
	if (v == NULL || *v == '\0') {
		if (!*missing)
			snprintf(err, errlen, "%s is not set: run against a running stack "
				"(deploy/stack start, then source its ringfence.env)", name);
		*missing = 1;
		return NULL;
	}
	return v;
}

/* Accepts redis://host[:port][/db] and unix:///path[?db=N]; 0 or -1. */
static int parse_redis_url(const char *url)
{
	memset(&redis_addr, 0, sizeof(redis_addr));
	redis_addr.port = 6379;
	if (strncmp(url, "redis://", 8) == 0) {
		const char *h = url + 8, *end = h + strcspn(h, ":/");
		size_t n = (size_t)(end - h);
		if (n == 0 || n >= sizeof(redis_addr.host))
			return -1;
		memcpy(redis_addr.host, h, n);
		if (*end == ':') {
			char *e;
			long port = strtol(end + 1, &e, 10);
			if (port < 1 || port > 65535)
				return -1;
			redis_addr.port = (int)port;
			end = e;
		}
		if (*end == '/' && end[1] != '\0')
			redis_addr.db = atoi(end + 1);
		return 0;
	}
	if (strncmp(url, "unix://", 7) == 0) {
		const char *path = url + 7;
		size_t n = strcspn(path, "?");
		const char *q = path + n;
		if (n == 0 || n >= sizeof(redis_addr.socket))
			return -1;
		memcpy(redis_addr.socket, path, n);
		if (strncmp(q, "?db=", 4) == 0)
			redis_addr.db = atoi(q + 4);
		return 0;
	}
	return -1;
}

static void redis_drop(void)
{
	if (redis)
		redisFree(redis);
	redis = NULL;
}

static int redis_connect(char *err, size_t errlen)
{
	struct timeval tv = { 2, 0 };
	redisReply *r;

	if (redis)
		return 0;
	if (redis_addr.socket[0])
		redis = redisConnectUnixWithTimeout(redis_addr.socket, tv);
	else
		redis = redisConnectWithTimeout(redis_addr.host, redis_addr.port, tv);
	if (redis == NULL || redis->err) {
		snprintf(err, errlen, "cannot connect to Redis at %s: %s", hx_env.redis_url,
			redis ? redis->errstr : "out of memory");
		redis_drop();
		return -1;
	}
	redisSetTimeout(redis, tv);
	if (redis_addr.db != 0) {
		r = redisCommand(redis, "SELECT %d", redis_addr.db);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "Redis SELECT %d failed", redis_addr.db);
			if (r)
				freeReplyObject(r);
			redis_drop();
			return -1;
		}
		freeReplyObject(r);
	}
	return 0;
}

/* Runs one Redis command argv-style, reconnecting once when the
 * connection died (hiredis contexts are unusable after a NULL reply). */
static redisReply *redis_command(int argc, const char **argv, char *err, size_t errlen)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		redisReply *r;
		if (redis_connect(err, errlen) < 0)
			continue;
		r = redisCommandArgv(redis, argc, argv, NULL);
		if (r == NULL) {
			snprintf(err, errlen, "Redis: %s", redis->errstr);
			redis_drop();
			continue;
		}
		if (r->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "Redis: %s", r->str);
			freeReplyObject(r);
			return NULL;
		}
		return r;
	}
	return NULL;
}

static int pg_connect(char *err, size_t errlen)
{
	/* No statement of a test waits forever on a lock a stuck process
	 * holds: it fails after two minutes, naming what it waited for. */
	const char *keys[] = { "dbname", "connect_timeout", "application_name", "options", NULL };
	const char *vals[] = { hx_env.database_url, "3", "ringfence-integration",
		"-c statement_timeout=120s", NULL };

	if (pg && PQstatus(pg) == CONNECTION_OK)
		return 0;
	if (pg)
		PQfinish(pg);
	pg = PQconnectdbParams(keys, vals, 1);
	if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to PostgreSQL (%s): %s", hx_env.database_url,
			pg ? PQerrorMessage(pg) : "out of memory");
		if (pg)
			PQfinish(pg);
		pg = NULL;
		return -1;
	}
	return 0;
}

/* deploy/stack, found next to the tree the tests run from: RINGFENCE_ROOT
 * when set, else the current directory (test/run runs from the root). */
static char *find_stack_script(void)
{
	const char *root = getenv("RINGFENCE_ROOT");
	char *path = xasprintf("%s/deploy/stack", root && *root ? root : ".");
	if (access(path, X_OK) != 0) {
		free(path);
		return NULL;
	}
	return path;
}

int hx_init(char *err, size_t errlen)
{
	int missing = 0;
	size_t n;

	memset(&hx_env, 0, sizeof(hx_env));
	hx_env.public_url = env_required("RINGFENCE_PUBLIC_URL", &missing, err, errlen);
	hx_env.database_url = env_required("RINGFENCE_DATABASE_URL", &missing, err, errlen);
	hx_env.redis_url = env_required("RINGFENCE_REDIS_URL", &missing, err, errlen);
	hx_env.account_sid = env_required("TWILIO_ACCOUNT_SID", &missing, err, errlen);
	hx_env.auth_token = env_required("TWILIO_AUTH_TOKEN", &missing, err, errlen);
	hx_env.audit_fallback = env_required("RINGFENCE_AUDIT_FALLBACK", &missing, err, errlen);
	hx_env.stack_dir = env_required("RINGFENCE_STACK_DIR", &missing, err, errlen);
	if (missing)
		return -1;
	n = strlen(hx_env.public_url);
	if (strncmp(hx_env.public_url, "http", 4) != 0 || hx_env.public_url[n - 1] == '/') {
		snprintf(err, errlen, "RINGFENCE_PUBLIC_URL must be scheme://host[:port] with no "
			"trailing slash, not '%s'", hx_env.public_url);
		return -1;
	}
	if (parse_redis_url(hx_env.redis_url) < 0) {
		snprintf(err, errlen, "RINGFENCE_REDIS_URL is malformed: '%s'", hx_env.redis_url);
		return -1;
	}
	hx_env.stack_script = find_stack_script();
	if (hx_env.stack_script == NULL) {
		snprintf(err, errlen, "deploy/stack not found or not executable (run from the "
			"source tree or set RINGFENCE_ROOT)");
		return -1;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init failed");
		return -1;
	}
	xmlInitParser();
	if (pg_connect(err, errlen) < 0 || redis_connect(err, errlen) < 0)
		return -1;
	return 0;
}

void hx_fini(void)
{
	if (pg)
		PQfinish(pg);
	pg = NULL;
	redis_drop();
	free(hx_env.stack_script);
	hx_env.stack_script = NULL;
	curl_global_cleanup();
	xmlCleanupParser();
}

int hx_group_setup(void **state)
{
	char err[512];
	(void)state;
	if (hx_init(err, sizeof(err)) < 0) {
		fprintf(stderr, "# run_integration: %s\n", err);
		return -1;
	}
	return 0;
}

int hx_group_teardown(void **state)
{
	(void)state;
	hx_fini();
	return 0;
}

const char *hx_ringfence_bin(const char *who)
{
	const char *bin = getenv("RINGFENCE_BIN");
	if (bin == NULL || bin[0] == '\0')
		bin = "bin/ringfence";
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "# %s: %s is not executable (run from the source tree or set "
				"RINGFENCE_BIN)\n", who, bin);
		return NULL;
	}
	return bin;
}

char *hx_mail_dir(const char *who)
{
	char *dir;

	if (hx_env.stack_dir == NULL) {
		fprintf(stderr, "%s tests: RINGFENCE_STACK_DIR is not set (the stack's SMTP sink)\n",
			who);
		return NULL;
	}
	dir = xasprintf("%s/mail", hx_env.stack_dir);
	if (access(dir, R_OK) != 0) {
		fprintf(stderr, "%s tests: %s is not readable (is the SMTP sink running?)\n", who,
			dir);
		free(dir);
		return NULL;
	}
	return dir;
}

int hx_init_sim_api(const char *who, const char **api_url, char *base, size_t baselen)
{
	char err[512];
	const char *url;

	if (hx_init(err, sizeof(err)) < 0) {
		fprintf(stderr, "# %s: %s\n", who, err);
		return -1;
	}
	url = getenv("TWILIO_API_URL");
	if (url == NULL || strncmp(url, "http", 4) != 0) {
		fprintf(stderr, "# %s: TWILIO_API_URL is not set (the stack's simulator)\n", who);
		return -1;
	}
	*api_url = url;
	snprintf(base, baselen, "%s/2010-04-01/Accounts/%s", url, hx_env.account_sid);
	return 0;
}

int hx_wait_child(pid_t pid, long timeout_s)
{
	long long deadline = hx_now_ms() + timeout_s * 1000LL;
	int status;

	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (hx_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		hx_sleep_ms(50);
	}
}

void hx_worker_child_env(const char *allowed)
{
	setenv("RINGFENCE_ALLOWED_CONTACTS", allowed, 1);
	setenv("RINGFENCE_FAILSAFE_FLOOR", "100000", 1);
	setenv("RINGFENCE_CPS", "50", 1);
	if (getenv("RINGFENCE_MAIL_FROM") == NULL)
		setenv("RINGFENCE_MAIL_FROM", "reminders@example.com", 1);
	unsetenv("RINGFENCE_NOW");
	unsetenv("RINGFENCE_TEST_CRASH_AT");
}

/* ---- random identifiers --------------------------------------------- */

void hx_random_hex(char *out, size_t n)
{
	unsigned char raw[64];
	if (n > sizeof(raw) || util_random(raw, n) < 0)
		abort();
	util_hex(raw, n, out);
}

void hx_random_call_sid(char out[35])
{
	out[0] = 'C';
	out[1] = 'A';
	hx_random_hex(out + 2, 16);
}

void hx_random_message_sid(char out[35])
{
	out[0] = 'S';
	out[1] = 'M';
	hx_random_hex(out + 2, 16);
}

void hx_random_phone(char out[13])
{
	unsigned char raw[10];
	if (util_random(raw, sizeof(raw)) < 0)
		abort();
	/* +1 NXX NXX XXXX: area code and exchange must not start with 0 or 1 */
	out[0] = '+';
	out[1] = '1';
	for (int i = 0; i < 10; i++) {
		int d = raw[i] % 10;
		if ((i == 0 || i == 3) && d < 2)
			d += 2;
		out[2 + i] = (char)('0' + d);
	}
	out[12] = '\0';
}

/* ---- HTTP ------------------------------------------------------------ */

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
	buf_append(user, data, size * nmemb);
	return size * nmemb;
}

/* Feeds the request body to a chunked upload. */
struct upload {
	const char *data;
	size_t len, off;
};

static size_t on_read(char *dst, size_t size, size_t nmemb, void *user)
{
	struct upload *u = user;
	size_t n = size * nmemb;
	if (n > u->len - u->off)
		n = u->len - u->off;
	memcpy(dst, u->data + u->off, n);
	u->off += n;
	return n;
}

int hx_http(void *handle, const struct hx_request *rq, struct hx_response *rs)
{
	CURL *curl = handle ? handle : curl_easy_init();
	struct curl_slist *headers = NULL;
	struct upload up = { rq->body, rq->body_len, 0 };
	char errbuf[CURL_ERROR_SIZE] = "";
	char *line = NULL;
	char *ct = NULL;
	CURLcode cc;
	int rc = -1;

	memset(rs, 0, sizeof(*rs));
	buf_init(&rs->body);
	if (curl == NULL) {
		snprintf(rs->error, sizeof(rs->error), "curl_easy_init failed");
		return -1;
	}
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, rq->url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, rq->timeout_ms > 0 ? rq->timeout_ms : 15000L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &rs->body);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "TwilioProxy/1.1 ringfence-integration");
	if (strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(curl, CURLOPT_POST, 1L);
		if (rq->chunked) {
			curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(curl, CURLOPT_READDATA, &up);
			headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
		} else {
			curl_easy_setopt(curl, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
			curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
				(curl_off_t)(rq->body ? rq->body_len : 0));
		}
		line = xasprintf("Content-Type: %s", rq->content_type ? rq->content_type
			: "application/x-www-form-urlencoded");
		headers = curl_slist_append(headers, line);
		free(line);
		/* curl decides on its own when to wait for 100 Continue; the
		 * tests decide instead. */
		headers = curl_slist_append(headers, rq->expect_continue ? "Expect: 100-continue"
			: "Expect:");
	} else if (strcmp(rq->method, "GET") != 0) {
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, rq->method);
		if (rq->body) {
			/* PATCH and the like: the body as given. */
			curl_easy_setopt(curl, CURLOPT_POSTFIELDS, rq->body);
			curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
			line = xasprintf("Content-Type: %s", rq->content_type ? rq->content_type
				: "application/x-www-form-urlencoded");
			headers = curl_slist_append(headers, line);
			free(line);
		}
	}
	if (rq->signature) {
		/* "Name;" is how curl sends a header with an empty value. */
		line = rq->signature[0] ? xasprintf("X-Twilio-Signature: %s", rq->signature)
					: xstrdup("X-Twilio-Signature;");
		headers = curl_slist_append(headers, line);
		free(line);
	}
	if (rq->authorization) {
		line = xasprintf("Authorization: %s", rq->authorization);
		headers = curl_slist_append(headers, line);
		free(line);
	}
	if (rq->host) {
		line = xasprintf("Host: %s", rq->host);
		headers = curl_slist_append(headers, line);
		free(line);
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

	cc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &rs->status);
	if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		snprintf(rs->content_type, sizeof(rs->content_type), "%s", ct);
	if (cc != CURLE_OK) {
		snprintf(rs->error, sizeof(rs->error), "%.60s: %.190s", curl_easy_strerror(cc), errbuf);
		/* A server may answer (413) and close while the body is still
		 * going out; the answer is what the tests look at. */
		if (rs->status > 0 && (cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR))
			rc = 0;
		goto out;
	}
	rc = 0;
out:
	/* The handle keeps a pointer to the list and to errbuf. */
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(headers);
	if (handle == NULL)
		curl_easy_cleanup(curl);
	return rc;
}

void hx_response_free(struct hx_response *rs)
{
	buf_free(&rs->body);
}

int hx_get(const char *url, struct hx_response *rs)
{
	struct hx_request rq = { .method = "GET" };
	char *full = url[0] == '/' ? xasprintf("%s%s", hx_env.public_url, url) : xstrdup(url);
	int rc;
	rq.url = full;
	rc = hx_http(NULL, &rq, rs);
	free(full);
	return rc;
}

/* ---- the Twilio simulator's API ---------------------------------------- */

int hx_sim_request(const char *url, const char *user, const char *pass, const char *body,
	struct hx_sim_res *r)
{
	const char *api = getenv("TWILIO_API_URL");
	CURL *c = curl_easy_init();
	char *full = NULL, *userpwd;
	json_error_t jerr;
	CURLcode rc = CURLE_FAILED_INIT;

	memset(r, 0, sizeof(*r));
	buf_init(&r->body);
	if (url[0] == '/')
		full = xasprintf("%s%s", api ? api : "", url);
	userpwd = xasprintf("%s:%s", user ? user : hx_env.account_sid, pass ? pass : hx_env.auth_token);
	if (c != NULL && (url[0] != '/' || api != NULL)) {
		curl_easy_setopt(c, CURLOPT_URL, full ? full : url);
		curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
		if (body)
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		rc = curl_easy_perform(c);
		if (rc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		else
			snprintf(r->error, sizeof(r->error), "%s", curl_easy_strerror(rc));
	} else {
		snprintf(r->error, sizeof(r->error), "%s", c ? "TWILIO_API_URL is not set" : "no curl handle");
	}
	if (c)
		curl_easy_cleanup(c);
	free(full);
	free(userpwd);
	if (rc != CURLE_OK)
		return -1;
	r->json = json_loads(buf_str(&r->body), 0, &jerr);
	return 0;
}

void hx_sim_res_free(struct hx_sim_res *r)
{
	buf_free(&r->body);
	json_decref(r->json);
	r->json = NULL;
}

json_t *hx_sim_json_or_fail(const char *url, const char *form)
{
	struct hx_sim_res r;
	json_t *j;

	if (hx_sim_request(url, NULL, NULL, form, &r) < 0 || r.status >= 400)
		fail_msg("simulator %s: %s (HTTP %ld) %s", url, r.error, r.status, buf_str(&r.body));
	if (r.json == NULL)
		fail_msg("simulator %s: not JSON", url);
	j = json_incref(r.json);
	hx_sim_res_free(&r);
	return j;
}

json_t *hx_sim_messages_to_or_fail(const char *phone)
{
	char *esc = curl_easy_escape(NULL, phone, 0);
	char *url = xasprintf("/2010-04-01/Accounts/%s/Messages.json?To=%s&PageSize=100",
		hx_env.account_sid, esc);
	json_t *j = hx_sim_json_or_fail(url, NULL);
	json_t *arr = json_incref(json_object_get(j, "messages"));

	json_decref(j);
	curl_free(esc);
	free(url);
	if (!json_is_array(arr))
		fail_msg("simulator messages to %s: no \"messages\" array", phone);
	return arr;
}

void hx_sim_callee_or_fail(const char *number, const char *behaviour)
{
	struct hx_form f;
	struct hx_sim_res r;
	char *body;

	hx_form_init(&f);
	hx_form_add(&f, "Number", number);
	hx_form_add(&f, "Behaviour", behaviour);
	body = hx_form_encode(&f);
	hx_form_free(&f);
	if (hx_sim_request("/sim/callees", NULL, NULL, body, &r) < 0)
		fail_msg("POST /sim/callees %s: %s", number, r.error);
	if (r.status != 201 && r.status != 200)
		fail_msg("POST /sim/callees %s '%s': HTTP %ld %s", number, behaviour, r.status,
			buf_str(&r.body));
	hx_sim_res_free(&r);
	free(body);
}

/* ---- forms and signatures ------------------------------------------- */

void hx_form_init(struct hx_form *f)
{
	memset(f, 0, sizeof(*f));
	f->arena = arena_new(0);
}

void hx_form_free(struct hx_form *f)
{
	free(f->p.v);
	arena_free(f->arena);
	memset(f, 0, sizeof(*f));
}

void hx_form_add(struct hx_form *f, const char *name, const char *value)
{
	struct param *p;
	if (f->p.n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 16;
		f->p.v = xrealloc(f->p.v, f->cap * sizeof(*f->p.v));
	}
	p = &f->p.v[f->p.n++];
	p->name = arena_strdup(f->arena, name);
	p->value = arena_strdup(f->arena, value);
	p->value_len = strlen(value);
}

void hx_form_del(struct hx_form *f, const char *name)
{
	size_t j = 0;
	for (size_t i = 0; i < f->p.n; i++)
		if (strcmp(f->p.v[i].name, name) != 0)
			f->p.v[j++] = f->p.v[i];
	f->p.n = j;
}

void hx_sms_form(struct hx_form *f, const char *sid, const char *from, const char *to,
	const char *body)
{
	hx_form_init(f);
	hx_form_add(f, "MessageSid", sid);
	hx_form_add(f, "SmsSid", sid);
	hx_form_add(f, "AccountSid", hx_env.account_sid);
	hx_form_add(f, "From", from);
	hx_form_add(f, "To", to);
	if (body)
		hx_form_add(f, "Body", body);
	hx_form_add(f, "NumMedia", "0");
	hx_form_add(f, "NumSegments", "1");
	hx_form_add(f, "ApiVersion", "2010-04-01");
}

void hx_form_set(struct hx_form *f, const char *name, const char *value)
{
	hx_form_del(f, name);
	hx_form_add(f, name, value);
}

char *hx_form_encode(const struct hx_form *f)
{
	struct buf b = BUF_INIT;
	char *s;
	form_encode_params(&b, &f->p);
	s = xstrdup(buf_str(&b));
	buf_free(&b);
	return s;
}

void hx_form_voice(struct hx_form *f, const char *call_sid, const char *from, const char *to)
{
	hx_form_add(f, "AccountSid", hx_env.account_sid);
	hx_form_add(f, "ApiVersion", "2010-04-01");
	hx_form_add(f, "CallSid", call_sid);
	hx_form_add(f, "CallStatus", "in-progress");
	hx_form_add(f, "Called", to);
	hx_form_add(f, "Caller", from);
	hx_form_add(f, "Direction", "outbound-api");
	hx_form_add(f, "From", from);
	hx_form_add(f, "To", to);
	hx_form_add(f, "ToCountry", "US");
}

int hx_sign(const char *key, const char *url, const struct hx_form *f,
	char out[SIGNATURE_LEN + 1])
{
	return signature_compute(key ? key : hx_env.auth_token, url, f ? &f->p : NULL, out);
}

void hx_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != sizeof(md))
		abort();
	util_hex(md, sizeof(md), out);
}

int hx_post_form(const char *url, const struct hx_form *f, enum hx_sign_mode mode,
	struct hx_response *rs)
{
	struct hx_request rq = { .method = "POST", .url = url };
	char sig[SIGNATURE_LEN + 1];
	char *body = hx_form_encode(f);
	int rc = -1;

	rq.body = body;
	rq.body_len = strlen(body);
	if (mode == HX_SIGNED || mode == HX_BAD_SIG) {
		/* A wrong key gives a signature of the right shape that
		 * cannot match. */
		if (hx_sign(mode == HX_SIGNED ? NULL : "not-the-auth-token", url, f, sig) < 0) {
			memset(rs, 0, sizeof(*rs));
			buf_init(&rs->body);
			snprintf(rs->error, sizeof(rs->error), "signature_compute failed");
			goto out;
		}
		rq.signature = sig;
	}
	rc = hx_http(NULL, &rq, rs);
out:
	free(body);
	return rc;
}

/* ---- TwiML ------------------------------------------------------------ */

static char *attr_dup(xmlNodePtr n, const char *name)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	char *s = v ? xstrdup((const char *)v) : NULL;
	xmlFree(v);
	return s;
}

static char *text_dup(xmlNodePtr n)
{
	xmlChar *v = xmlNodeGetContent(n);
	char *s = xstrdup(v ? (const char *)v : "");
	xmlFree(v);
	return s;
}

static void push(char ***arr, size_t *n, char *s)
{
	*arr = xrealloc(*arr, (*n + 1) * sizeof(**arr));
	(*arr)[(*n)++] = s;
}

static int is_elem(xmlNodePtr n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

/* Collects Say and Play below n (Gather nests them). */
static void collect(struct hx_twiml *t, xmlNodePtr n)
{
	for (xmlNodePtr c = n->children; c; c = c->next) {
		if (is_elem(c, "Say")) {
			char *s = text_dup(c);
			if (t->say_text.len)
				buf_putc(&t->say_text, '\n');
			buf_puts(&t->say_text, s);
			push(&t->says, &t->nsay, s);
		} else if (is_elem(c, "Play")) {
			push(&t->plays, &t->nplay, text_dup(c));
		} else if (is_elem(c, "Gather")) {
			t->has_gather = 1;
			if (t->gather_count++ == 0) {
				t->gather_action = attr_dup(c, "action");
				t->gather_method = attr_dup(c, "method");
				t->gather_on_empty = attr_dup(c, "actionOnEmptyResult");
			}
			collect(t, c);
		}
	}
}

void hx_twiml_parse(const char *body, size_t len, struct hx_twiml *t)
{
	xmlDocPtr doc;
	xmlNodePtr root, last = NULL;

	memset(t, 0, sizeof(*t));
	buf_init(&t->say_text);
	doc = xmlReadMemory(body, (int)len, "twiml.xml", NULL,
		XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL)
		return;
	t->well_formed = 1;
	root = xmlDocGetRootElement(doc);
	if (root && is_elem(root, "Response")) {
		t->root_response = 1;
		for (xmlNodePtr c = root->children; c; c = c->next) {
			if (c->type != XML_ELEMENT_NODE)
				continue;
			push(&t->verbs, &t->nverbs, xstrdup((const char *)c->name));
			last = c;
			if (is_elem(c, "Redirect") && t->redirect == NULL) {
				xmlChar *u = xmlNodeGetContent(c), *m = xmlGetProp(c, BAD_CAST "method");
				t->redirect = xstrdup(u ? (const char *)u : "");
				t->redirect_method = m ? xstrdup((const char *)m) : NULL;
				xmlFree(u);
				xmlFree(m);
			}
			if (is_elem(c, "Pause") && t->pause_length == 0) {
				xmlChar *l = xmlGetProp(c, BAD_CAST "length");
				t->pause_length = l ? atoi((const char *)l) : -1;
				xmlFree(l);
			}
		}
		collect(t, root);
		t->ends_with_hangup = last && (is_elem(last, "Hangup") || is_elem(last, "Reject"));
	}
	xmlFreeDoc(doc);
}

void hx_twiml_free(struct hx_twiml *t)
{
	for (size_t i = 0; i < t->nsay; i++)
		free(t->says[i]);
	for (size_t i = 0; i < t->nplay; i++)
		free(t->plays[i]);
	for (size_t i = 0; i < t->nverbs; i++)
		free(t->verbs[i]);
	free(t->says);
	free(t->plays);
	free(t->verbs);
	free(t->gather_action);
	free(t->gather_method);
	free(t->gather_on_empty);
	free(t->redirect);
	free(t->redirect_method);
	buf_free(&t->say_text);
	memset(t, 0, sizeof(*t));
}

void hx_expect_hold(const char *body, size_t len, const char *want_url, int seconds,
	const char *what)
{
	struct hx_twiml t;
	int ok;

	hx_twiml_parse(body, len, &t);
	ok = t.root_response && t.nverbs == 3 && strcmp(t.verbs[0], "Play") == 0 &&
		strcmp(t.verbs[1], "Pause") == 0 && strcmp(t.verbs[2], "Redirect") == 0 &&
		t.nplay == 1 && strstr(t.plays[0], "/audio/hold/one_moment_please.mp3") &&
		t.pause_length == seconds && t.redirect_method &&
		strcmp(t.redirect_method, "POST") == 0 && t.redirect &&
		strcmp(t.redirect, want_url) == 0 && !t.has_gather;
	hx_twiml_free(&t);
	if (!ok)
		fail_msg("%s: want the hold document (Play, Pause %d, Redirect POST %s), got:\n%.*s",
			what, seconds, want_url, (int)len, body);
}

int hx_twiml_says(const struct hx_twiml *t, const char *needle)
{
	for (size_t i = 0; i < t->nsay; i++)
		if (strcasestr(t->says[i], needle))
			return 1;
	return 0;
}

/* ---- PostgreSQL --------------------------------------------------------- */

PGresult *hx_db_exec(const char *sql, int n, const char *const *params, char *err, size_t errlen)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		PGresult *res;
		ExecStatusType st;
		if (pg_connect(err, errlen) < 0)
			return NULL;
		res = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
		st = PQresultStatus(res);
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
			return res;
		snprintf(err, errlen, "%s", PQerrorMessage(pg));
		PQclear(res);
		/* The server restarted under us (the outage tests do that):
		 * one fresh connection, then give up. */
		if (PQstatus(pg) == CONNECTION_OK)
			return NULL;
	}
	return NULL;
}

char *hx_db_value_or_fail(const char *sql, int n, const char *const *params)
{
	char err[512];
	char *v = NULL;
	PGresult *res = hx_db_exec(sql, n, params, err, sizeof(err));
	if (res == NULL)
		fail_msg("database: %s\n  in: %s", err, sql);
	if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
		v = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

PGresult *hx_db_exec_or_fail(const char *sql, int n, const char *const *params)
{
	char err[512];
	PGresult *r = hx_db_exec(sql, n, params, err, sizeof(err));
	if (r == NULL)
		fail_msg("SQL failed: %s\n%s", err, sql);
	return r;
}

void hx_db_cmd_or_fail(const char *sql, int n, const char *const *params)
{
	PQclear(hx_db_exec_or_fail(sql, n, params));
}

char *hx_api_key_or_fail(long long business_id, const char *label)
{
	char key[APIKEY_LEN + 1], err[256];
	struct db *db = db_open(hx_env.database_url);
	long long id;

	assert_non_null(db);
	id = apikey_create(db, business_id, label, key, err, sizeof(err));
	db_close(db);
	if (id < 0)
		fail_msg("apikey_create: %s", err);
	return xstrdup(key);
}

void hx_rfix_or_fail(struct hx_rfix *f, const struct hx_rfix_opts *o)
{
	char hex[9], retry[16], delay[16], stale[16];
	PGresult *r;

	memset(f, 0, sizeof(*f));
	hx_random_phone(f->phone);
	if (o->email_prefix) {
		hx_random_hex(hex, 4);
		snprintf(f->email, sizeof(f->email), "%s%s@example.com", o->email_prefix, hex);
	}
	snprintf(retry, sizeof(retry), "%d", o->retry_count);
	snprintf(delay, sizeof(delay), "%d", o->retry_delay_minutes);
	snprintf(stale, sizeof(stale), "%d", o->stale_min);
	const char *p[10] = { f->phone, o->email_prefix ? f->email : NULL, o->business_name,
		o->client_name, o->channel, strcmp(o->channel, "email") == 0 ? f->email : f->phone,
		stale, retry, delay, o->notes };
	r = hx_db_exec_or_fail(
		"WITH b AS (INSERT INTO businesses (name, time_zone, callback_phone, status, verified,"
		" window_start, window_end, twilio_from, retry_count, retry_delay_minutes)"
		" VALUES ($3, 'UTC', '+15005550006', 'active', true, '00:00',"
		" '23:59:59', '+15005550006', $8::int, $9::int) RETURNING id),"
		" c AS (INSERT INTO clients (business_id, name, phone, email, time_zone)"
		" SELECT id, $4, $1, $2, 'UTC' FROM b RETURNING id, business_id),"
		" a AS (INSERT INTO appointments (business_id, client_id, starts_at, notes)"
		" SELECT business_id, id, now() + interval '1 day', COALESCE($10, '') FROM c"
		" RETURNING id, business_id),"
		" r AS (INSERT INTO reminders (business_id, appointment_id, channel, offset_minutes,"
		" due_at, stale_at, to_address) SELECT business_id, id, $5, 1440,"
		" now() - interval '1 minute', now() + make_interval(mins => $7::int), $6 FROM a RETURNING id)"
		" SELECT b.id, c.id, a.id, r.id FROM b, c, a, r", 10, p);
	assert_int_equal(PQntuples(r), 1);
	snprintf(f->business, sizeof(f->business), "%s", PQgetvalue(r, 0, 0));
	snprintf(f->client, sizeof(f->client), "%s", PQgetvalue(r, 0, 1));
	snprintf(f->appt, sizeof(f->appt), "%s", PQgetvalue(r, 0, 2));
	snprintf(f->reminder, sizeof(f->reminder), "%s", PQgetvalue(r, 0, 3));
	PQclear(r);
}

long long hx_db_int_or_fail(const char *sql, int n, const char *const *params)
{
	char *v = hx_db_value_or_fail(sql, n, params);
	long long x;
	if (v == NULL)
		fail_msg("database: no value from: %s", sql);
	x = strtoll(v, NULL, 10);
	free(v);
	return x;
}

/* Runs an INSERT ... RETURNING id and copies the id into out. */
static void insert_id_or_fail(const char *sql, int n, const char *const *params, char out[24])
{
	char *v = hx_db_value_or_fail(sql, n, params);
	if (v == NULL)
		fail_msg("database: no id returned by: %s", sql);
	snprintf(out, 24, "%s", v);
	free(v);
}

/* The appointment every fixture books: Friday 14 March 2031, 3:30 PM in
 * the business's zone (the client has no zone of its own).  The tests
 * expect the engine to speak exactly this date and time. */
#define FIXTURE_TZ "America/Chicago"
#define FIXTURE_LOCAL_START "2031-03-14 15:30:00"

void hx_fixture_call_or_fail(struct hx_call *c)
{
	char tag[9];

	memset(c, 0, sizeof(*c));
	hx_random_hex(tag, 4);
	/* An ampersand and an apostrophe: the name must come back as text,
	 * escaped by the writer and unescaped by the parser. */
	snprintf(c->business_name, sizeof(c->business_name), "Smith & O'Hara Dental %s", tag);
	hx_random_phone(c->callback_phone);
	hx_random_phone(c->client_phone);
	hx_random_phone(c->from_number);
	hx_random_hex(c->token, 16);
	hx_random_call_sid(c->call_sid);

	{
		const char *p[3] = { c->business_name, FIXTURE_TZ, c->callback_phone };
		insert_id_or_fail("INSERT INTO businesses (name, time_zone, callback_phone, status, verified)"
			" VALUES ($1, $2, $3, 'active', true) RETURNING id", 3, p, c->business_id);
	}
	{
		const char *p[2] = { c->business_id, c->client_phone };
		insert_id_or_fail("INSERT INTO clients (business_id, name, phone)"
			" VALUES ($1, 'Integration Client', $2) RETURNING id", 2, p, c->client_id);
	}
	{
		const char *p[4] = { c->business_id, c->client_id, FIXTURE_LOCAL_START, FIXTURE_TZ };
		insert_id_or_fail("INSERT INTO appointments (business_id, client_id, starts_at, notes)"
			" VALUES ($1, $2, ($3::timestamp AT TIME ZONE $4),"
			" 'CONFIDENTIAL: allergic to latex') RETURNING id", 4, p, c->appointment_id);
	}
	{
		/* Two reminders still to send and one already sent: cancelling
		 * must stop the first two and leave the history alone. */
		const char *p[2] = { c->appointment_id, c->business_id };
		char *v = hx_db_value_or_fail(
			"WITH a AS (SELECT starts_at FROM appointments WHERE id = $1::bigint)"
			" INSERT INTO reminders (business_id, appointment_id, channel, offset_minutes, due_at,"
			"  stale_at, status)"
			" SELECT $2::bigint, $1::bigint, ch, off, a.starts_at - make_interval(mins => off),"
			"  LEAST(a.starts_at - make_interval(mins => off) + interval '2 hours', a.starts_at), st"
			" FROM a, (VALUES ('voice', 1440, 'pending'), ('sms', 120, 'pending'),"
			"              ('email', 4320, 'completed')) AS r(ch, off, st)"
			" RETURNING id", 2, p);
		free(v);
		c->nreminders_pending = 2;
	}
	{
		const char *p[4] = { c->token, c->business_id, c->appointment_id, NULL };
		insert_id_or_fail("INSERT INTO calls (token, business_id, appointment_id, flow, state, seq)"
			" VALUES ($1, $2, $3, 'reminder_call', 'announce', 0) RETURNING id", 3, p, c->call_id);
	}
	snprintf(c->first_url, sizeof(c->first_url), "%s/twilio/voice/reminder_call?c=%s",
		hx_env.public_url, c->token);
}

static void copy_col(PGresult *res, int col, char *dst, size_t n)
{
	snprintf(dst, n, "%s", PQgetisnull(res, 0, col) ? "" : PQgetvalue(res, 0, col));
}

void hx_snapshot_or_fail(const struct hx_call *c, struct hx_snapshot *s)
{
	const char *p[1] = { c->call_id };
	char err[512];
	PGresult *res = hx_db_exec(
		"SELECT c.state, c.seq, (SELECT count(*) FROM call_events e WHERE e.call_id = c.id),"
		" c.call_sid, a.status, a.confirmed_at, a.cancelled_at, a.callback_requested_at,"
		" (SELECT count(*) FROM reminders r WHERE r.appointment_id = a.id AND r.status = 'pending'),"
		" (SELECT count(*) FROM reminders r WHERE r.appointment_id = a.id AND r.status = 'cancelled'),"
		" a.updated_at"
		" FROM calls c JOIN appointments a ON a.id = c.appointment_id WHERE c.id = $1",
		1, p, err, sizeof(err));

	memset(s, 0, sizeof(*s));
	if (res == NULL)
		fail_msg("database: snapshot of call %s: %s", c->call_id, err);
	if (PQntuples(res) != 1) {
		PQclear(res);
		fail_msg("database: call %s is gone", c->call_id);
	}
	copy_col(res, 0, s->state, sizeof(s->state));
	s->seq = atoll(PQgetvalue(res, 0, 1));
	s->events = atoll(PQgetvalue(res, 0, 2));
	copy_col(res, 3, s->call_sid, sizeof(s->call_sid));
	copy_col(res, 4, s->appointment_status, sizeof(s->appointment_status));
	copy_col(res, 5, s->confirmed_at, sizeof(s->confirmed_at));
	copy_col(res, 6, s->cancelled_at, sizeof(s->cancelled_at));
	copy_col(res, 7, s->callback_requested_at, sizeof(s->callback_requested_at));
	s->reminders_pending = atoll(PQgetvalue(res, 0, 8));
	s->reminders_cancelled = atoll(PQgetvalue(res, 0, 9));
	copy_col(res, 10, s->updated_at, sizeof(s->updated_at));
	PQclear(res);
}

void hx_notified_or_fail(const char *appointment_id, const char *kind, const char *like,
	const char *never, long long want)
{
	const char *p[4] = { appointment_id, kind, like, never };
	long long all = hx_db_int_or_fail("SELECT count(*) FROM office_notifications"
		" WHERE appointment_id = $1::bigint", 1, p);
	long long ok = hx_db_int_or_fail("SELECT count(*) FROM office_notifications o"
		" JOIN appointments a ON a.id = o.appointment_id"
		" WHERE o.appointment_id = $1::bigint AND o.kind = $2 AND o.detail LIKE $3"
		" AND strpos(o.detail, $4) = 0"
		" AND o.business_id = a.business_id AND o.client_id = a.client_id", 4, p);

	if (all != want || ok != want) {
		char *got = hx_db_value_or_fail("SELECT string_agg(kind || ': ' || detail, '; ')"
			" FROM office_notifications WHERE appointment_id = $1::bigint", 1, p);
		fail_msg("appointment %s: %lld notification(s) (%s), expected %lld of %s '%s'",
			appointment_id, all, got ? got : "none", want, kind, like);
	}
}

void hx_snapshot_same_or_fail(const struct hx_snapshot *a, const struct hx_snapshot *b,
	const char *what)
{
	const struct {
		const char *name, *x, *y;
	} str[] = {
		{ "calls.state", a->state, b->state },
		{ "calls.call_sid", a->call_sid, b->call_sid },
		{ "appointments.status", a->appointment_status, b->appointment_status },
		{ "appointments.confirmed_at", a->confirmed_at, b->confirmed_at },
		{ "appointments.cancelled_at", a->cancelled_at, b->cancelled_at },
		{ "appointments.callback_requested_at", a->callback_requested_at, b->callback_requested_at },
		{ "appointments.updated_at", a->updated_at, b->updated_at },
	};
	const struct {
		const char *name;
		long long x, y;
	} num[] = {
		{ "calls.seq", a->seq, b->seq },
		{ "call_events rows", a->events, b->events },
		{ "pending reminders", a->reminders_pending, b->reminders_pending },
		{ "cancelled reminders", a->reminders_cancelled, b->reminders_cancelled },
	};
	for (size_t i = 0; i < ARRAY_LEN(str); i++)
		if (strcmp(str[i].x, str[i].y) != 0)
			fail_msg("%s changed %s: was '%s', now '%s'", str[i].name, what, str[i].x, str[i].y);
	for (size_t i = 0; i < ARRAY_LEN(num); i++)
		if (num[i].x != num[i].y)
			fail_msg("%s changed %s: was %lld, now %lld", num[i].name, what, num[i].x, num[i].y);
}

/* ---- Redis audit trail --------------------------------------------------- */

/* Decodes an XRANGE/XREVRANGE reply into an array of the entries' "json"
 * records; an entry without a parsable "json" field becomes a string
 * holding its problem, so a test that looks for a record sees it. */
static json_t *stream_records(redisReply *r)
{
	json_t *arr = json_array();
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		redisReply *entry = r->element[i], *fields;
		json_t *rec = NULL;
		if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2)
			continue;
		fields = entry->element[1];
		for (size_t j = 0; fields->type == REDIS_REPLY_ARRAY && j + 1 < fields->elements; j += 2) {
			redisReply *k = fields->element[j], *v = fields->element[j + 1];
			if (k->type == REDIS_REPLY_STRING && strcmp(k->str, "json") == 0 &&
				v->type == REDIS_REPLY_STRING) {
				rec = json_loadb(v->str, v->len, 0, NULL);
				break;
			}
		}
		json_array_append_new(arr, rec ? rec : json_string("entry without a JSON record"));
	}
	return arr;
}

static json_t *audit_range(const char *cmd, const char *a, const char *b, const char *key,
	size_t max, char *err, size_t errlen)
{
	char count[24];
	const char *argv[6] = { cmd, key, a, b, "COUNT", count };
	redisReply *r;
	json_t *arr;

	snprintf(count, sizeof(count), "%zu", max);
	r = redis_command(max ? 6 : 4, argv, err, errlen);
	if (r == NULL)
		return NULL;
	arr = stream_records(r);
	freeReplyObject(r);
	return arr;
}

json_t *hx_audit_read(const char *key, size_t max, char *err, size_t errlen)
{
	return audit_range("XRANGE", "-", "+", key, max, err, errlen);
}

json_t *hx_audit_read_newest(const char *key, size_t max, char *err, size_t errlen)
{
	return audit_range("XREVRANGE", "+", "-", key, max, err, errlen);
}

size_t hx_audit_vcount(json_t *arr, va_list ap)
{
	const char *want[32];
	size_t nwant = 0, count = 0, i;
	json_t *rec;

	for (const char *s; nwant < ARRAY_LEN(want) && (s = va_arg(ap, const char *)) != NULL;)
		want[nwant++] = s;
	json_array_foreach(arr, i, rec) {
		size_t k;
		if (!json_is_object(rec))
			continue;
		for (k = 0; k + 1 < nwant; k += 2) {
			const char *v = json_string_value(json_object_get(rec, want[k]));
			if (v == NULL || strcmp(v, want[k + 1]) != 0)
				break;
		}
		if (k + 1 >= nwant)
			count++;
	}
	return count;
}

size_t hx_audit_count(json_t *arr, ...)
{
	va_list ap;
	size_t n;
	va_start(ap, arr);
	n = hx_audit_vcount(arr, ap);
	va_end(ap);
	return n;
}

long hx_audit_wait(const char *key, size_t min, long timeout_ms, ...)
{
	long long deadline = hx_now_ms() + timeout_ms;
	long found = -1;
	char err[256];

	for (;;) {
		json_t *arr = hx_audit_read(key, 0, err, sizeof(err));
		if (arr) {
			va_list ap;
			va_start(ap, timeout_ms);
			found = (long)hx_audit_vcount(arr, ap);
			va_end(ap);
			json_decref(arr);
		}
		if ((found >= 0 && (size_t)found >= min) || hx_now_ms() >= deadline)
			break;
		hx_sleep_ms(50);
	}
	return found;
}

long hx_audit_vwait_or_fail(const char *key, size_t newest, size_t min, long timeout_ms,
	va_list ap)
{
	long long deadline = hx_now_ms() + timeout_ms;
	char err[256];
	long n = -1;

	do {
		json_t *arr = newest ? hx_audit_read_newest(key, newest, err, sizeof(err))
			: hx_audit_read(key, 0, err, sizeof(err));
		va_list aq;
		if (arr == NULL)
			fail_msg("cannot read %s: %s", key, err);
		va_copy(aq, ap);
		n = (long)hx_audit_vcount(arr, aq);
		va_end(aq);
		json_decref(arr);
		if ((size_t)n >= min)
			break;
		hx_sleep_ms(50);
	} while (hx_now_ms() < deadline);
	return n;
}

static int json_mentions(json_t *v, const char *needle)
{
	const char *key;
	size_t i;
	json_t *x;

	if (json_is_string(v))
		return strstr(json_string_value(v), needle) != NULL;
	if (json_is_object(v)) {
		json_object_foreach(v, key, x)
			if (json_mentions(x, needle))
				return 1;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			if (json_mentions(x, needle))
				return 1;
	}
	return 0;
}

json_t *hx_fallback_read(const char *needle)
{
	FILE *fp = fopen(hx_env.audit_fallback, "r");
	char *line = NULL;
	size_t cap = 0;
	json_t *arr;

	if (fp == NULL)
		return errno == ENOENT ? json_array() : NULL;
	arr = json_array();
	while (getline(&line, &cap, fp) > 0) {
		json_t *rec;
		if (strstr(line, needle) == NULL)
			continue;
		rec = json_loads(line, 0, NULL);
		if (json_is_object(rec) && json_mentions(rec, needle))
			json_array_append(arr, rec);
		json_decref(rec);
	}
	free(line);
	fclose(fp);
	return arr;
}

int hx_redis_up(void)
{
	const char *argv[1] = { "PING" };
	char err[256];
	redisReply *r = redis_command(1, argv, err, sizeof(err));
	if (r == NULL)
		return 0;
	freeReplyObject(r);
	return 1;
}

int hx_redis(int argc, const char **argv, long long *integer, char *err, size_t errlen)
{
	redisReply *r = redis_command(argc, argv, err, errlen);
	if (integer)
		*integer = 0;
	if (r == NULL)
		return -1;
	if (integer && r->type == REDIS_REPLY_INTEGER)
		*integer = r->integer;
	freeReplyObject(r);
	return 0;
}

void hx_taskcode_reset_or_fail(void)
{
	static const char script[] =
		"local k = redis.call('KEYS', ARGV[1]) for i = 1, #k do redis.call('DEL', k[i]) end"
		" return #k";
	const char *argv[] = { "EVAL", script, "0", "rf:tc:fail:*" };
	char err[256];

	hx_db_cmd_or_fail("DELETE FROM task_code_attempts", 0, NULL);
	if (hx_redis(4, argv, NULL, err, sizeof(err)) < 0)
		fail_msg("cannot clear the task code counters in Redis: %s", err);
}

void hx_disconnect(void)
{
	if (pg)
		PQfinish(pg);
	pg = NULL;
	redis_drop();
}

/* ---- the stack ------------------------------------------------------------ */

/* Runs a child made by fork (its own process group, standard output into
 * a pipe) that execs what, with a deadline: the child's exit status, or
 * -1 when it could not run, was killed by a signal or ran past timeout_s
 * (then its whole process group is killed, and a line naming label goes
 * to stderr).  What it printed is appended to b. */
struct hx_child {
	const char *path;   /* execl this with argv1 ... */
	const char *argv1;
	const char *argv2;
	int stack;          /* deploy/stack: forget the stack's own URLs */
};

static int run_child(const struct hx_child *c, const char *label, struct buf *b, int timeout_s)
{
	int pipefd[2];
	pid_t pid;
	long long deadline = hx_now_ms() + (long long)timeout_s * 1000;
	int status = 0, rc = -1, open_fd;

	if (pipe(pipefd) < 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (pid == 0) {
		/* Its own process group, so a timeout can stop everything it
		 * started. */
		setpgid(0, 0);
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		close(pipefd[1]);
		if (c->stack) {
			/* The stack's own URLs, as its ringfence.env exports
			 * them, would be taken (and remembered) as given from
			 * outside: a later start would then leave the local
			 * SMTP sink out.  deploy/stack knows what the stack was
			 * started with. */
			unsetenv("RINGFENCE_SMTP_URL");
			unsetenv("TWILIO_API_URL");
		}
		execl(c->path, c->path, c->argv1, c->argv2, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	open_fd = 1;
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		pid_t w;
		if (open_fd) {
			struct pollfd pfd = { pipefd[0], POLLIN, 0 };
			char chunk[4096];
			ssize_t got;
			if (poll(&pfd, 1, 100) > 0) {
				got = read(pipefd[0], chunk, sizeof(chunk));
				if (got > 0)
					buf_append(b, chunk, (size_t)got);
				else if (got == 0)
					open_fd = 0;
			}
		} else {
			hx_sleep_ms(50);
		}
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			/* drain what is left */
			ssize_t got;
			char chunk[4096];
			while (open_fd && (got = read(pipefd[0], chunk, sizeof(chunk))) > 0)
				buf_append(b, chunk, (size_t)got);
			rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
			break;
		}
		if (hx_now_ms() > deadline) {
			fprintf(stderr, "# %s did not finish in %d s; killing it\n", label, timeout_s);
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			rc = -1;
			break;
		}
	}
	close(pipefd[0]);
	return rc;
}

int hx_stack(const char *sub, char **out, int timeout_s)
{
	struct hx_child c = { hx_env.stack_script, sub, NULL, 1 };
	struct buf b = BUF_INIT;
	char label[64];
	int rc;

	if (out)
		*out = NULL;
	snprintf(label, sizeof(label), "deploy/stack %s", sub);
	rc = run_child(&c, label, &b, timeout_s);
	if (out)
		*out = xstrdup(buf_str(&b));
	buf_free(&b);
	return rc;
}

int hx_shell(const char *cmd, struct buf *out, int timeout_s)
{
	struct hx_child c = { "/bin/sh", "-c", cmd, 0 };
	char label[96];

	snprintf(label, sizeof(label), "the command '%.60s%s'", cmd, strlen(cmd) > 60 ? "..." : "");
	return run_child(&c, label, out, timeout_s);
}

int hx_stack_start_stopped(const char *part, int *stopped, int timeout_s)
{
	char sub[32];
	if (!*stopped)
		return 0;
	snprintf(sub, sizeof(sub), "%s-start", part);
	if (hx_stack(sub, NULL, timeout_s) != 0) {
		fprintf(stderr, "# deploy/stack %s failed\n", sub);
		return -1;
	}
	*stopped = 0;
	return 0;
}

/* Parses fcgi-pids output.  Accepted shapes: "master PID" and "worker
 * PID" lines (or "workers PID PID ..."), or plain numbers, the first being
 * the master's. */
int hx_fcgi_pids(struct hx_pids *p)
{
	char *out = NULL;
	int rc = hx_stack("fcgi-pids", &out, 20);
	char *save = NULL;

	memset(p, 0, sizeof(*p));
	if (rc != 0 || out == NULL) {
		free(out);
		return -1;
	}
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int is_master = strstr(line, "master") != NULL;
		int labelled = is_master || strstr(line, "worker") != NULL;
		for (char *s = line; *s;) {
			char *end;
			long v;
			if (!isdigit((unsigned char)*s)) {
				s++;
				continue;
			}
			v = strtol(s, &end, 10);
			s = end;
			if (v <= 1)
				continue;
			if ((is_master || (!labelled && p->master == 0)) && p->master == 0)
				p->master = v;
			else if (p->nworkers < (int)ARRAY_LEN(p->workers))
				p->workers[p->nworkers++] = v;
		}
	}
	free(out);
	return p->master > 0 ? 0 : -1;
}

double hx_metric(const char *series)
{
	struct hx_response rs;
	size_t n = strlen(series);
	double v = -1;

	if (hx_get("/metrics", &rs) == 0 && rs.status == 200) {
		const char *p = buf_str(&rs.body);
		while (p && *p) {
			if (strncmp(p, series, n) == 0 && p[n] == ' ') {
				v = strtod(p + n + 1, NULL);
				break;
			}
			p = strchr(p, '\n');
			if (p)
				p++;
		}
	}
	hx_response_free(&rs);
	return v;
}

int hx_wait_healthy(long timeout_ms, char *err, size_t errlen)
{
	long long deadline = hx_now_ms() + timeout_ms;

	for (;;) {
		struct hx_response rs;
		int rc = hx_get("/readyz", &rs);
		long status = rs.status;
		if (rc < 0)
			snprintf(err, errlen, "GET /readyz: %s", rs.error);
		else
			snprintf(err, errlen, "GET /readyz: HTTP %ld %.200s", status, buf_str(&rs.body));
		hx_response_free(&rs);
		if (rc == 0 && status == 200)
			return 0;
		if (hx_now_ms() >= deadline)
			return -1;
		hx_sleep_ms(100);
	}
}

void hx_rstate_or_fail(const struct hx_rfix *f, struct hx_rstate *s)
{
	const char *p[1] = { f->reminder };
	PGresult *r = hx_db_exec_or_fail(
		"SELECT r.status, COALESCE(r.status_reason, ''), r.not_before IS NOT NULL,"
		" (SELECT count(*) FROM contact_attempts WHERE reminder_id = r.id),"
		" COALESCE((SELECT status FROM contact_attempts WHERE reminder_id = r.id), ''),"
		" COALESCE((SELECT provider_sid FROM contact_attempts WHERE reminder_id = r.id), '')"
		" FROM reminders r WHERE r.id = $1::bigint", 1, p);
	assert_int_equal(PQntuples(r), 1);
	memset(s, 0, sizeof(*s));
	snprintf(s->reminder, sizeof(s->reminder), "%s", PQgetvalue(r, 0, 0));
	snprintf(s->reason, sizeof(s->reason), "%s", PQgetvalue(r, 0, 1));
	s->not_before_set = PQgetvalue(r, 0, 2)[0] == 't';
	s->attempts = atoll(PQgetvalue(r, 0, 3));
	snprintf(s->attempt, sizeof(s->attempt), "%s", PQgetvalue(r, 0, 4));
	snprintf(s->sid, sizeof(s->sid), "%s", PQgetvalue(r, 0, 5));
	PQclear(r);
}

void hx_exec_worker(const char *bin, const char *const *args)
{
	const char *argv[16] = { bin, "worker" };
	int n = 2;

	setenv("RINGFENCE_FAILSAFE_FLOOR", "100000", 0);
	setenv("RINGFENCE_CPS", "50", 1);
	unsetenv("RINGFENCE_NOW");
	for (int i = 0; args && args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	execv(bin, (char *const *)argv);
	_exit(127);
}

/* See harness.h. */
static char hx_dead[64];

const char *hx_dead_origin(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd;

	if (hx_dead[0])
		return hx_dead;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		fail_msg("cannot bind a port for the dead node");
	/* fd stays open (not listening) until the program ends. */
	snprintf(hx_dead, sizeof(hx_dead), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	return hx_dead;
}
