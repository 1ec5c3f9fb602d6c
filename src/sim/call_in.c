/* call_in: `ringfence-sim call-in`, a simulated person calling one of the
 * account's numbers through the local simulator (POST /sim/inbound-calls). */
#include "sim/call_in.h"
#include "buf.h"
#include "cli.h"
#include "config.h"
#include "curl_easy.h"
#include "form.h"
#include "util.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROG "ringfence-sim call-in"
#define POLL_MS 250
#define HTTP_MS 15000

static const char usage_text[] =
	"usage: ringfence-sim call-in --from E164 --to E164 --behaviour SCRIPT [--url URL]\n"
	"                             [--method GET|POST] [--wait] [--timeout S]\n"
	"\n"
	"Makes a simulated person call the account's number TO from FROM through the\n"
	"local Twilio simulator (TWILIO_API_URL): the simulator requests the number's\n"
	"voice URL (--url, else RINGFENCE_SIM_VOICE_URL of the simulator, else its\n"
	"RINGFENCE_PUBLIC_URL/twilio/voice/inbound) as Twilio does for an incoming\n"
	"call, and the caller does what SCRIPT says, e.g.\n"
	"\n"
	"  'person; wait 1; press 123456; speak 3 \"Hello from the salon\"; press #'\n"
	"\n"
	"Prints the call's sid.  With --wait, waits for the call to end (at most\n"
	"--timeout seconds, default 600) and prints its transcript.\n"
	"\n"
	"Needs TWILIO_API_URL, TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.  Exit status:\n"
	"0 when the call was placed (with --wait: ended without an error or a failed\n"
	"expectation), 1 when it was refused or ended with one, 2 for a usage or\n"
	"configuration error.\n";

struct opts {
	const char *from, *to, *behaviour, *url, *method;
	int wait;
	long timeout_s;
};

static size_t sink(char *p, size_t size, size_t n, void *ctx)
{
	buf_append(ctx, p, size * n);
	return size * n;
}

/* One request to the simulator as the account: GET (body NULL) or POST.
 * The HTTP status, 0 with a reason on stderr when none came. */
static long request(const struct config *cfg, const char *path, const char *body, struct buf *out)
{
	char err[CURL_ERROR_SIZE] = "", *url = xasprintf("%s%s", cfg->api_url, path);
	CURL *c = curl_easy_new();
	long status = 0;

	buf_reset(out);
	if (c == NULL || curl_easy_defaults(c, CURL_EASY_HTTP, 5000, HTTP_MS, err) < 0) {
		fprintf(stderr, "%s: libcurl could not be set up\n", PROG);
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(c, CURLOPT_USERNAME, cfg->account_sid);
	curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->auth_token);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(c) != CURLE_OK) {
		fprintf(stderr, "%s: %s: %s\n", PROG, url, err[0] ? err : "no answer");
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
out:
	if (c)
		curl_easy_cleanup(c);
	free(url);
	return status;
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{ "from", required_argument, NULL, 'f' }, { "to", required_argument, NULL, 't' },
		{ "behaviour", required_argument, NULL, 'b' }, { "url", required_argument, NULL, 'u' },
		{ "method", required_argument, NULL, 'm' }, { "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 'T' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->timeout_s = 600;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (ch) {
		case 'f': o->from = optarg; break;
		case 't': o->to = optarg; break;
		case 'b': o->behaviour = optarg; break;
		case 'u': o->url = optarg; break;
		case 'm': o->method = optarg; break;
		case 'w': o->wait = 1; break;
		case 'T':
			if (cli_int_arg(PROG, "--timeout", optarg, 1, 86400, &o->timeout_s) < 0)
				return -1;
			break;
		case 'h': fputs(usage_text, stdout); return 1;
		default: fputs(usage_text, stderr); return -1;
		}
	}
	if (optind != argc || !o->from || !o->to || !o->behaviour) {
		fprintf(stderr, "%s: --from, --to and --behaviour are required (and nothing else)\n%s",
			PROG, usage_text);
		return -1;
	}
	return 0;
}

/* Waits for sid to end, prints its transcript; 0 when it ended cleanly. */
static int wait_call(const struct config *cfg, const char *sid, long timeout_s)
{
	struct buf b = BUF_INIT;
	char *path = xasprintf("/2010-04-01/Accounts/%s/Calls/%s.json", cfg->account_sid, sid);
	long long deadline = util_now_ms() + timeout_s * 1000;
	int rc = 1;

	for (;;) {
		json_t *j;
		const char *st;
		if (request(cfg, path, NULL, &b) != 200 || (j = json_loads(buf_str(&b), 0, NULL)) == NULL) {
			fprintf(stderr, "%s: GET %s: %s\n", PROG, path, buf_str(&b));
			goto out;
		}
		st = json_string_value(json_object_get(j, "status"));
		if (st && strcmp(st, "queued") != 0 && strcmp(st, "ringing") != 0 &&
			strcmp(st, "in-progress") != 0) {
			printf("status %s\n", st);
			json_decref(j);
			break;
		}
		json_decref(j);
		if (util_now_ms() > deadline) {
			fprintf(stderr, "%s: the call %s did not end within %ld s\n", PROG, sid, timeout_s);
			goto out;
		}
		struct timespec ts = { 0, POLL_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
	free(path);
	path = xasprintf("/sim/calls/%s/transcript", sid);
	if (request(cfg, path, NULL, &b) != 200) {
		fprintf(stderr, "%s: GET %s: %s\n", PROG, path, buf_str(&b));
		goto out;
	}
	fputs(buf_str(&b), stdout);
	/* Transcript lines are "   1.250s kind text". */
	rc = strstr(buf_str(&b), "s error ") ? 1 : 0;
out:
	free(path);
	buf_free(&b);
	return rc;
}

int call_in_main(int argc, char **argv)
{
	struct opts o;
	struct config cfg;
	struct params p;
	struct param v[5];
	struct buf body = BUF_INIT, out = BUF_INIT;
	char err[512];
	json_t *j = NULL;
	long status;
	int rc = 2, r = parse(argc, argv, &o);

	if (r != 0)
		return r > 0 ? 0 : 2;
	if (config_load(&cfg, CFG_NEED_TWILIO, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", PROG, err);
		return 2;
	}
	p.v = v;
	p.n = 0;
	v[p.n++] = (struct param){ "From", o.from, strlen(o.from) };
	v[p.n++] = (struct param){ "To", o.to, strlen(o.to) };
	v[p.n++] = (struct param){ "Behaviour", o.behaviour, strlen(o.behaviour) };
	if (o.url)
		v[p.n++] = (struct param){ "Url", o.url, strlen(o.url) };
	if (o.method)
		v[p.n++] = (struct param){ "Method", o.method, strlen(o.method) };
	form_encode_params(&body, &p);
	status = request(&cfg, "/sim/inbound-calls", buf_str(&body), &out);
	j = json_loads(buf_str(&out), 0, NULL);
	if (status != 201 || json_string_value(json_object_get(j, "sid")) == NULL) {
		const char *m = json_string_value(json_object_get(j, "message"));
		if (status)
			fprintf(stderr, "%s: the simulator refused the call (HTTP %ld): %s\n", PROG, status,
				m ? m : buf_str(&out));
		rc = 1;
		goto out;
	}
	printf("%s\n", json_string_value(json_object_get(j, "sid")));
	fflush(stdout);
	rc = o.wait ? wait_call(&cfg, json_string_value(json_object_get(j, "sid")), o.timeout_s) : 0;
out:
	json_decref(j);
	buf_free(&body);
	buf_free(&out);
	return rc;
}
