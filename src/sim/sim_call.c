/* sim_call: one phone call played the way Twilio plays it.
 *
 * Time.  Every event carries simulated time: the waits (rings, Pause,
 * Gather and Record timeouts, the callee's waits) count at their full
 * length, HTTP requests at the time they really took.  The real sleep is
 * the simulated wait times params->time_scale (0: no sleeping at all),
 * taken in short slices.  CallDuration and TimeLimit use simulated time.
 *
 * The callee.  Its steps are done in order at the points where a callee
 * can act: a Gather listening, a Record, and the end of the call.
 * `expect` compares what was heard since the callee's previous action
 * (press, wait, silence) with the text, both folded to lowercase words
 * (letters and digits; every other run of bytes is one space), so
 * "press 1" matches "To hear it, press 1." and ".../to_hear_it_press_1.mp3".
 * What a Play is heard as is its URL, plus the text of the recorded
 * prompt when the URL's path has /audio/NAME.mp3 and
 * $RINGFENCE_ROOT/audio/NAME.txt exists (the prompts are spoken from
 * those files), or the words spoken into it when it is a recording of
 * the simulator (sim_audio.h).  A person's failed expectation ends the
 * call at once; an answering machine only listens, so its expectations
 * may be met later and are judged at the end of the call. */
#include "sim/sim_call.h"
#include "arena.h"
#include "buf.h"
#include "form.h"
#include "sim/sim_audio.h"
#include "sim/sim_callee.h"
#include "sim/sim_http.h"
#include "sim/sim_twiml.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_DOCUMENTS 100
#define MAX_PARAMS 32
/* Say and Play loops repeat at most this often (loop="0" is Twilio's
 * "until the call ends"). */
#define MAX_LOOP 10
#define PROMPT_MAX 4096
#define SLICE_MS 50
/* The words spoken into one recording that are kept (the simulator's
 * recordings table holds at most this many bytes). */
#define RECORD_WORDS_MAX 256

enum listen {
	LISTEN_DIGITS,   /* digits collected (maybe "" for a Record) */
	LISTEN_TIMEOUT,  /* nothing */
	LISTEN_HANGUP,   /* the callee hung up */
	LISTEN_OVER,     /* the call is over (a failed expectation, the time limit) */
};

struct call {
	const struct sim_call_params *p;
	const struct sim_callee *callee;
	sim_event_fn fn;
	void *ctx;
	struct sim_call_result *out;
	double scale;
	int http_timeout_ms;
	long long virt_ms;        /* simulated time since the call started */
	long long answered_ms;    /* virt_ms at answer, -1 before */
	int seq;                  /* next status callback SequenceNumber */
	int step;                 /* the callee's next step */
	double wait_left;         /* seconds left of a wait step begun */
	struct buf heard;         /* heard since the callee's previous action */
	struct buf heard_urls;    /* the audio URLs among it, matched too */
	int documents;
	int ended;                /* nobody is on the line any more */
	int app_hung_up;          /* the application ended the call */
	int limit_hit;
	const char *live_status;  /* CallStatus of the next TwiML request */
};

/* ---- events ------------------------------------------------------------- */

static void emit(struct call *c, enum sim_event_kind kind, int code, const char *text,
	const char *detail)
{
	struct sim_event ev;
	if (c->fn == NULL)
		return;
	ev.kind = kind;
	ev.text = text ? text : "";
	ev.detail = detail ? detail : "";
	ev.code = code;
	ev.at_ms = c->virt_ms;
	c->fn(c->ctx, &ev);
}

static void emitf(struct call *c, enum sim_event_kind kind, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void emitf(struct call *c, enum sim_event_kind kind, int code, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	emit(c, kind, code, text, NULL);
}

static void set_status(struct call *c, const char *status)
{
	snprintf(c->out->status, sizeof(c->out->status), "%s", status);
	emit(c, SIM_EV_STATUS, 0, status, NULL);
}

/* Ends the call with a Twilio error (or code 0: a failed expectation or
 * a guard). */
static void call_error(struct call *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void call_error(struct call *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->out->error_message, sizeof(c->out->error_message), fmt, ap);
	va_end(ap);
	c->out->error_code = code;
	emit(c, SIM_EV_ERROR, code, c->out->error_message, NULL);
	c->ended = 1;
}

/* ---- time ----------------------------------------------------------------- */

static long long since_answer_ms(const struct call *c)
{
	return c->answered_ms < 0 ? 0 : c->virt_ms - c->answered_ms;
}

static int over_limit(struct call *c)
{
	if (c->answered_ms >= 0 && since_answer_ms(c) >= (long long)c->p->time_limit_s * 1000) {
		if (!c->limit_hit) {
			c->limit_hit = 1;
			emitf(c, SIM_EV_NOTE, 0, "time limit of %d s reached: the call ends", c->p->time_limit_s);
			c->ended = 1;
		}
		return 1;
	}
	return 0;
}

/* Waits seconds of simulated time (cut at the call's time limit).
 * Returns 0, or -1 when the limit cut the wait. */
static int wait_s(struct call *c, double seconds)
{
	long long ms = (long long)(seconds * 1000 + 0.5), left;
	int cut = 0;
	if (c->answered_ms >= 0) {
		long long room = (long long)c->p->time_limit_s * 1000 - since_answer_ms(c);
		if (room < ms) {
			ms = room < 0 ? 0 : room;
			cut = 1;
		}
	}
	left = (long long)(ms * c->scale);
	while (left > 0) {
		long long slice = left < SLICE_MS ? left : SLICE_MS;
		struct timespec ts = { (time_t)(slice / 1000), (long)(slice % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		left -= slice;
	}
	c->virt_ms += ms;
	if (cut) {
		over_limit(c);
		return -1;
	}
	return 0;
}

/* ---- what the callee heard ------------------------------------------------ */

/* Folds s to lowercase words separated by single spaces into b. */
static void fold(const char *s, struct buf *b)
{
	int space = 0;
	buf_reset(b);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (isalnum(ch) || ch >= 0x80) {
			if (space && b->len > 0)
				buf_putc(b, ' ');
			space = 0;
			buf_putc(b, (char)tolower(ch));
		} else {
			space = 1;
		}
	}
}

static int heard_has(const struct call *c, const char *text)
{
	struct buf h = BUF_INIT, t = BUF_INIT;
	int found;
	fold(text, &t);
	fold(buf_str(&c->heard), &h);
	found = t.len > 0 && strstr(buf_str(&h), buf_str(&t)) != NULL;
	if (!found) {
		fold(buf_str(&c->heard_urls), &h);
		found = t.len > 0 && strstr(buf_str(&h), buf_str(&t)) != NULL;
	}
	buf_free(&h);
	buf_free(&t);
	return found;
}

static void hear_into(struct buf *b, const char *text)
{
	if (b->len > 0)
		buf_puts(b, " / ");
	/* Bounded: a long call's transcript is in the events, not here. */
	if (b->len < 64 * 1024)
		buf_puts(b, text);
}

static void hear(struct call *c, const char *text)
{
	hear_into(&c->heard, text);
}

/* A Play is heard as its prompt's text when there is one, else as its
 * URL; the URL is matched either way. */
static void hear_play(struct call *c, const char *url, const char *said)
{
	hear_into(&c->heard, said ? said : url);
	hear_into(&c->heard_urls, url);
}

/* The text of the recorded prompt behind an audio URL, or NULL. */
static char *prompt_text(const char *url)
{
	const char *a = strstr(url, "/audio/"), *root = getenv("RINGFENCE_ROOT");
	size_t n, len;
	char *rel, *path, *text, *dot;

	if (a == NULL)
		return NULL;
	a += 7;
	n = strcspn(a, "?#");
	rel = xstrndup(a, n);
	dot = strrchr(rel, '.');
	if (strstr(rel, "..") || strchr(rel, '%') || dot == NULL ||
		(strcmp(dot, ".mp3") != 0 && strcmp(dot, ".wav") != 0)) {
		free(rel);
		return NULL;
	}
	*dot = '\0';
	path = xasprintf("%s/audio/%s.txt", root && *root ? root : ".", rel);
	text = util_read_file(path, PROMPT_MAX, &len);
	free(path);
	free(rel);
	if (text) {
		for (char *p = text; *p; p++)
			if ((unsigned char)*p < 0x20)
				*p = ' ';
		for (char *e = text + strlen(text); e > text && e[-1] == ' '; e--)
			e[-1] = '\0';
	}
	return text;
}

/* ---- requests --------------------------------------------------------------- */

struct plist {
	struct param v[MAX_PARAMS];
	size_t n;
	struct arena *a;
};

static void padd(struct plist *pl, const char *name, const char *value)
{
	if (pl->n == MAX_PARAMS)
		abort();
	pl->v[pl->n].name = name;
	pl->v[pl->n].value = arena_strdup(pl->a, value);
	pl->v[pl->n].value_len = strlen(value);
	pl->n++;
}

/* The parameters of every request about this call. */
static void base_params(struct call *c, struct plist *pl, const char *status)
{
	padd(pl, "CallSid", c->p->call_sid);
	padd(pl, "AccountSid", c->p->account_sid);
	padd(pl, "From", c->p->from);
	padd(pl, "To", c->p->to);
	padd(pl, "CallStatus", status);
	padd(pl, "ApiVersion", "2010-04-01");
	padd(pl, "Direction", c->p->direction);
	padd(pl, "Caller", c->p->from);
	padd(pl, "Called", c->p->to);
	if (c->p->machine_detection && c->answered_ms >= 0 && c->out->answered_by[0])
		padd(pl, "AnsweredBy", c->out->answered_by);
}

static void rfc2822_now(char *out, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

/* Posts a callback (status or recording status) with pl, signed, and
 * writes it to the transcript.  Its failure is noted, never fatal
 * (Twilio logs it). */
static void post_callback(struct call *c, const char *what, const char *method, const char *url,
	struct plist *pl)
{
	struct params pp = { pl->v, pl->n };
	struct sim_http_response r;
	struct buf body = BUF_INIT;
	char *line = xasprintf("%s %s", method, url);

	sim_http_response_init(&r);
	form_encode_params(&body, &pp);
	if (sim_http_request(method, url, &pp, c->p->auth_token, c->http_timeout_ms, &r) < 0) {
		emit(c, SIM_EV_CALLBACK, 0, line, buf_str(&body));
		emitf(c, SIM_EV_NOTE, 0, "%s failed: %s", what, r.error);
	} else {
		emit(c, SIM_EV_CALLBACK, r.status, line, buf_str(&body));
		if (r.status < 200 || r.status > 299)
			emitf(c, SIM_EV_NOTE, 0, "%s answered HTTP %d", what, r.status);
	}
	c->virt_ms += r.elapsed_ms;
	free(line);
	buf_free(&body);
	sim_http_response_free(&r);
}

/* Posts the status callback for event (a SIM_STATUS_* bit) when it was
 * asked for. */
static void status_callback(struct call *c, unsigned event)
{
	unsigned events = c->p->status_events ? c->p->status_events : SIM_STATUS_COMPLETED;
	const char *method = c->p->status_callback_method ? c->p->status_callback_method : "POST";
	struct plist pl = { .n = 0 };
	char ts[64], num[24];

	if (c->p->status_callback == NULL || (events & event) == 0)
		return;
	pl.a = arena_new(0);
	base_params(c, &pl, c->out->status);
	rfc2822_now(ts, sizeof(ts));
	padd(&pl, "Timestamp", ts);
	snprintf(num, sizeof(num), "%d", c->seq++);
	padd(&pl, "SequenceNumber", num);
	padd(&pl, "CallbackSource", "call-progress-events");
	if (event == SIM_STATUS_COMPLETED) {
		snprintf(num, sizeof(num), "%d", c->out->duration_s);
		padd(&pl, "CallDuration", num);
	}
	post_callback(c, "status callback", method, c->p->status_callback, &pl);
	arena_free(pl.a);
}

/* Whether a Content-Type is TwiML's (text/xml or application/xml, any
 * parameters). */
static int is_xml_type(const char *ct)
{
	size_t n = strcspn(ct, "; \t");
	return (n == 8 && strncasecmp(ct, "text/xml", 8) == 0) ||
		(n == 15 && strncasecmp(ct, "application/xml", 15) == 0);
}

/* One request for a TwiML document with the parameters pl, parsed into
 * doc: 0, or -1 with Twilio's error code and message (the call goes on:
 * the caller decides). */
static int fetch_once(struct call *c, const char *method, const char *url, struct plist *pl,
	struct sim_twiml *doc, int *code, char *msg, size_t msglen)
{
	struct params pp = { pl->v, pl->n };
	struct sim_http_response r;
	struct buf body = BUF_INIT;
	char err[256], *line;
	int rc = -1;

	doc->verbs = NULL;
	doc->n = 0;
	sim_http_response_init(&r);
	form_encode_params(&body, &pp);
	line = xasprintf("%s %s", method, url);
	emit(c, SIM_EV_REQUEST, 0, line, buf_str(&body));
	*code = 11200;
	if (sim_http_request(method, url, &pp, c->p->auth_token, c->http_timeout_ms, &r) < 0) {
		c->virt_ms += r.elapsed_ms;
		/* Twilio's 11205: no TCP connection to the URL; any other failure
		 * to get an answer (a timeout, a dropped connection) stays 11200. */
		if (r.timed_out)
			snprintf(msg, msglen, "HTTP retrieval failure: no answer from %s within %d s", url,
				c->http_timeout_ms / 1000);
		else if (r.no_connection) {
			*code = 11205;
			snprintf(msg, msglen, "HTTP connection failure: %s: %s", url, r.error);
		} else
			snprintf(msg, msglen, "HTTP retrieval failure: %s: %s", url, r.error);
		goto out;
	}
	c->virt_ms += r.elapsed_ms;
	emit(c, SIM_EV_RESPONSE, r.status, r.content_type, buf_str(&r.body));
	if (r.status < 200 || r.status > 299) {
		snprintf(msg, msglen, "HTTP retrieval failure: %s answered HTTP %d", url, r.status);
		goto out;
	}
	if (!is_xml_type(r.content_type)) {
		*code = 12300;
		snprintf(msg, msglen, "Invalid Content-Type: '%s' (TwiML must be text/xml or "
			"application/xml)", r.content_type);
		goto out;
	}
	if (sim_twiml_parse(r.body.data, r.body.len, url, doc, err, sizeof(err)) != 0) {
		*code = 12100;
		snprintf(msg, msglen, "Document parse failure: %s", err);
		goto out;
	}
	*code = 0;
	rc = 0;
out:
	free(line);
	buf_free(&body);
	sim_http_response_free(&r);
	return rc;
}

/* Requests a TwiML document (the Url, an action, a Redirect) with the
 * standard parameters and extra name/value pairs (NULL-terminated), and
 * parses it into doc.  When that fails and the call has a FallbackUrl,
 * it is requested with the same parameters plus ErrorCode and ErrorUrl
 * (signed over the FallbackUrl, as every request is over its own URL)
 * and its document is the answer.  Returns 0, or -1 when the call ended
 * (error reported). */
static int fetch(struct call *c, const char *method, const char *url, struct sim_twiml *doc, ...)
{
	struct plist pl = { .n = 0 };
	const char *name;
	char msg[512], fb_msg[512], num[16];
	va_list ap;
	int code, fb_code, rc = -1;

	doc->verbs = NULL;
	doc->n = 0;
	pl.a = arena_new(0);
	if (++c->documents > MAX_DOCUMENTS) {
		call_error(c, 0, "more than %d TwiML documents in one call (a Redirect or action loop?)",
			MAX_DOCUMENTS);
		goto out;
	}
	base_params(c, &pl, c->live_status);
	va_start(ap, doc);
	while ((name = va_arg(ap, const char *)) != NULL)
		padd(&pl, name, va_arg(ap, const char *));
	va_end(ap);
	if (fetch_once(c, method, url, &pl, doc, &code, msg, sizeof(msg)) == 0) {
		rc = 0;
		goto out;
	}
	if (c->p->fallback_url == NULL) {
		call_error(c, code, "%s", msg);
		goto out;
	}
	emitf(c, SIM_EV_NOTE, code, "error %d (%s): requesting the FallbackUrl", code, msg);
	snprintf(num, sizeof(num), "%d", code);
	padd(&pl, "ErrorCode", num);
	padd(&pl, "ErrorUrl", url);
	if (fetch_once(c, c->p->fallback_method ? c->p->fallback_method : "POST",
		    c->p->fallback_url, &pl, doc, &fb_code, fb_msg, sizeof(fb_msg)) == 0) {
		rc = 0;
		goto out;
	}
	call_error(c, code, "%s; the FallbackUrl failed too (error %d: %s)", msg, fb_code, fb_msg);
out:
	arena_free(pl.a);
	return rc;
}

/* ---- the callee ---------------------------------------------------------- */

static int is_machine(const struct call *c)
{
	return c->callee->answer == SIM_ANSWER_MACHINE;
}

/* The callee acted: what it hears from now on is judged afresh. */
static void acted(struct call *c)
{
	buf_reset(&c->heard);
	buf_reset(&c->heard_urls);
}

static void expectation_failed(struct call *c, const char *text)
{
	char heard[160];
	snprintf(heard, sizeof(heard), "%s", c->heard.len ? buf_str(&c->heard) : "(nothing)");
	call_error(c, 0, "expected \"%s\" but heard: %s", text, heard);
}

/* Takes the expect steps that are met.  Returns the callee's next step
 * to act on, NULL when it has none (it stays silent) or is waiting to
 * hear something; sets *failed when a person's expectation failed (the
 * call is then over). */
static const struct sim_step *next_step(struct call *c, int *failed)
{
	const struct sim_step *s;
	*failed = 0;
	while (c->step < c->callee->nsteps) {
		s = &c->callee->steps[c->step];
		if (s->kind != SIM_STEP_EXPECT)
			return s;
		if (heard_has(c, s->text)) {
			emitf(c, SIM_EV_NOTE, 0, "expectation met: \"%s\"", s->text);
			c->step++;
			continue;
		}
		if (is_machine(c))
			return NULL;
		expectation_failed(c, s->text);
		*failed = 1;
		return NULL;
	}
	return NULL;
}

/* Listens for keys for a Gather: the callee's steps, the timeout since
 * the last key, numDigits and the finishing key.  digits gets the keys.
 * A callee speaking meanwhile only lets time pass (input is dtmf). */
static enum listen listen(struct call *c, const struct sim_verb *v, struct buf *digits)
{
	double remaining = v->timeout;
	int failed;

	buf_reset(digits);
	for (;;) {
		const struct sim_step *s;
		if (c->ended || over_limit(c))
			return LISTEN_OVER;
		s = next_step(c, &failed);
		if (failed)
			return LISTEN_OVER;
		if (s && is_machine(c) && s->kind == SIM_STEP_EXPECT_HANGUP)
			s = NULL;
		if (s == NULL || s->kind == SIM_STEP_SILENCE) {
			if (s) {
				c->step++;
				acted(c);
			}
			if (wait_s(c, remaining) < 0)
				return LISTEN_OVER;
			break;
		}
		switch (s->kind) {
		case SIM_STEP_WAIT:
		case SIM_STEP_SPEAK:
			if (c->wait_left <= 0)
				c->wait_left = s->seconds;
			acted(c);
			if (c->wait_left < remaining) {
				if (wait_s(c, c->wait_left) < 0)
					return LISTEN_OVER;
				remaining -= c->wait_left;
				c->wait_left = 0;
				c->step++;
				continue;
			}
			if (wait_s(c, remaining) < 0)
				return LISTEN_OVER;
			c->wait_left -= remaining;
			if (c->wait_left <= 0) {
				c->wait_left = 0;
				c->step++;
			}
			goto timed_out;
		case SIM_STEP_PRESS: {
			const char *k = s->text;
			int done = 0;
			emit(c, SIM_EV_PRESS, 0, s->text, NULL);
			c->step++;
			acted(c);
			for (; *k && !done; k++) {
				if (v->finish_on_key[0] && *k == v->finish_on_key[0]) {
					done = 1;
				} else {
					buf_putc(digits, *k);
					if (v->num_digits > 0 && digits->len >= (size_t)v->num_digits)
						done = 1;
				}
			}
			if (*k)
				emitf(c, SIM_EV_NOTE, 0, "keys after the Gather ended were lost: %s", k);
			if (done)
				return LISTEN_DIGITS;
			remaining = v->timeout;
			continue;
		}
		case SIM_STEP_HANGUP:
			c->step++;
			return LISTEN_HANGUP;
		case SIM_STEP_EXPECT_HANGUP:
			call_error(c, 0, "expected the application to hang up, but it asked for keys with"
				" <Gather> (line %ld)", v->line);
			return LISTEN_OVER;
		default:
			break;
		}
	}
timed_out:
	return digits->len > 0 ? LISTEN_DIGITS : LISTEN_TIMEOUT;
}

/* What a Record heard. */
struct take {
	struct buf key;      /* the finishOnKey pressed, "" when none */
	double spoken_s;     /* seconds of speech */
	double elapsed_s;    /* seconds from the beep to the end (do-not-trim) */
	struct buf words;    /* the callee's words, " / " between steps */
};

/* Records for a <Record>: speech (speak steps) fills it, silence (wait,
 * silence, no step left) ends it after timeout seconds (0: never), a
 * finishOnKey ends it at once (other keys are recorded as tones), and
 * maxLength ends it when reached.  LISTEN_DIGITS when it ended (t says
 * how), LISTEN_HANGUP when the callee hung up, LISTEN_OVER. */
static enum listen listen_record(struct call *c, const struct sim_verb *v, struct take *t)
{
	double quiet = 0;   /* seconds of silence since the last speech */
	int failed;

	for (;;) {
		const struct sim_step *s;
		double room = v->max_length - t->elapsed_s, w;
		if (c->ended || over_limit(c))
			return LISTEN_OVER;
		if (room <= 0) {
			emitf(c, SIM_EV_NOTE, 0, "maxLength %d s reached: the recording ends", v->max_length);
			return LISTEN_DIGITS;
		}
		s = next_step(c, &failed);
		if (failed)
			return LISTEN_OVER;
		if (s && is_machine(c) && s->kind == SIM_STEP_EXPECT_HANGUP)
			s = NULL;
		if (s == NULL || s->kind == SIM_STEP_SILENCE || s->kind == SIM_STEP_WAIT) {
			/* Silence: until the timeout ends the recording, or the
			 * wait step ends first. */
			double until_end = v->timeout > 0 ? v->timeout - quiet : room;
			if (s && s->kind == SIM_STEP_WAIT && c->wait_left <= 0)
				c->wait_left = s->seconds;
			w = s && s->kind == SIM_STEP_WAIT && c->wait_left < until_end ? c->wait_left : until_end;
			if (w > room)
				w = room;
			if (s)
				acted(c);
			if (wait_s(c, w) < 0)
				return LISTEN_OVER;
			t->elapsed_s += w;
			quiet += w;
			if (s && s->kind == SIM_STEP_WAIT) {
				c->wait_left -= w;
				if (c->wait_left <= 1e-9) {
					c->wait_left = 0;
					c->step++;
				}
			} else if (s) {
				c->step++;
			}
			if (v->timeout > 0 && quiet >= v->timeout - 1e-9) {
				emitf(c, SIM_EV_NOTE, 0, "%d s of silence: the recording ends", v->timeout);
				return LISTEN_DIGITS;
			}
			continue;
		}
		switch (s->kind) {
		case SIM_STEP_SPEAK:
			if (c->wait_left <= 0)
				c->wait_left = s->seconds;
			acted(c);
			w = c->wait_left < room ? c->wait_left : room;
			emitf(c, SIM_EV_NOTE, 0, "the callee speaks for %.1f s%s%s%s", w,
				s->text[0] ? ": \"" : "", s->text, s->text[0] ? "\"" : "");
			if (wait_s(c, w) < 0)
				return LISTEN_OVER;
			t->elapsed_s += w;
			t->spoken_s += w;
			quiet = 0;
			c->wait_left -= w;
			if (c->wait_left <= 1e-9) {
				c->wait_left = 0;
				if (s->text[0])
					hear_into(&t->words, s->text);
				c->step++;
			}
			continue;
		case SIM_STEP_PRESS: {
			const char *k = s->text;
			emit(c, SIM_EV_PRESS, 0, s->text, NULL);
			c->step++;
			acted(c);
			for (; *k; k++)
				if (strchr(v->finish_on_key, *k))
					break;
			if (*k == '\0')
				continue;   /* tones in the recording */
			buf_putc(&t->key, *k);
			if (k[1])
				emitf(c, SIM_EV_NOTE, 0, "keys after the Record ended were lost: %s", k + 1);
			return LISTEN_DIGITS;
		}
		case SIM_STEP_HANGUP:
			c->step++;
			return LISTEN_HANGUP;
		case SIM_STEP_EXPECT_HANGUP:
			call_error(c, 0, "expected the application to hang up, but it started a <Record>"
				" (line %ld)", v->line);
			return LISTEN_OVER;
		default:
			return LISTEN_OVER;
		}
	}
}

static void callee_hangs_up(struct call *c)
{
	emit(c, SIM_EV_HANGUP, 0, "callee", NULL);
	c->ended = 1;
}

/* ---- verbs --------------------------------------------------------------------- */

/* Say, Play and Pause.  Returns 0, or -1 when the call ended. */
static int prompt(struct call *c, const struct sim_verb *v)
{
	int loops = v->loop == 0 || v->loop > MAX_LOOP ? MAX_LOOP : v->loop;
	switch (v->kind) {
	case SIM_VERB_SAY:
		for (int i = 0; i < loops; i++) {
			emit(c, SIM_EV_SAY, 0, v->text, NULL);
			hear(c, v->text);
		}
		return 0;
	case SIM_VERB_PAUSE:
		emit(c, SIM_EV_PAUSE, v->length, "", NULL);
		return wait_s(c, v->length) < 0 ? -1 : 0;
	case SIM_VERB_PLAY:
		if (v->text[0] != '\0') {
			struct sim_http_response r;
			char *said;
			int bad;
			sim_http_response_init(&r);
			if (sim_http_get(v->text, c->http_timeout_ms, &r) < 0) {
				c->virt_ms += r.elapsed_ms;
				call_error(c, 11200, "HTTP retrieval failure: cannot fetch the audio %s: %s",
					v->text, r.error);
				sim_http_response_free(&r);
				return -1;
			}
			c->virt_ms += r.elapsed_ms;
			bad = r.status != 200 || strncasecmp(r.content_type, "audio/", 6) != 0;
			if (bad) {
				if (r.status != 200)
					call_error(c, 11200, "HTTP retrieval failure: the audio %s answered HTTP %d",
						v->text, r.status);
				else
					call_error(c, 11200, "HTTP retrieval failure: %s is not audio (Content-Type '%s')",
						v->text, r.content_type);
				sim_http_response_free(&r);
				return -1;
			}
			said = prompt_text(v->text);
			/* A recording is heard as the words spoken into it. */
			if (said == NULL)
				said = sim_audio_wav_words((const unsigned char *)r.body.data, r.body.len);
			for (int i = 0; i < loops; i++) {
				emit(c, SIM_EV_PLAY, 0, v->text, r.content_type);
				if (said)
					emitf(c, SIM_EV_NOTE, 0, "prompt: %s", said);
				hear_play(c, v->text, said);
			}
			free(said);
			sim_http_response_free(&r);
		}
		if (v->digits[0])
			emitf(c, SIM_EV_NOTE, 0, "plays the tones %s", v->digits);
		return 0;
	default:
		return 0;
	}
}

static void describe_gather(const struct sim_verb *v, char *out, size_t n)
{
	char nd[16];
	if (v->num_digits > 0)
		snprintf(nd, sizeof(nd), "%d", v->num_digits);
	else
		snprintf(nd, sizeof(nd), "any");
	snprintf(out, n, "numDigits=%s timeout=%d finishOnKey=%s actionOnEmptyResult=%s",
		nd, v->timeout, v->finish_on_key[0] ? v->finish_on_key : "none",
		v->action_on_empty_result ? "true" : "false");
}

/* Posts the recordingStatusCallback of v for status when it asked for
 * that event. */
static void recording_callback(struct call *c, const struct sim_verb *v, unsigned event,
	const char *status, const char *sid, const char *url, const char *started, int secs)
{
	struct plist pl = { .n = 0 };
	char num[16];
	if (v->rec_callback[0] == '\0' || (v->rec_events & event) == 0)
		return;
	pl.a = arena_new(0);
	padd(&pl, "AccountSid", c->p->account_sid);
	padd(&pl, "CallSid", c->p->call_sid);
	padd(&pl, "RecordingSid", sid);
	padd(&pl, "RecordingUrl", url);
	padd(&pl, "RecordingStatus", status);
	if (event != SIM_REC_IN_PROGRESS) {
		snprintf(num, sizeof(num), "%d", secs);
		padd(&pl, "RecordingDuration", num);
	}
	padd(&pl, "RecordingChannels", "1");
	padd(&pl, "RecordingStartTime", started);
	padd(&pl, "RecordingSource", "RecordVerb");
	padd(&pl, "ErrorCode", "0");
	post_callback(c, "recording status callback", v->rec_callback_method, v->rec_callback, &pl);
	arena_free(pl.a);
}

/* Plays a <Record>.  An empty recording (nothing spoken) requests no
 * action: the document goes on (returns 0, *has_next 0).  Otherwise the
 * action is requested with RecordingUrl, RecordingSid,
 * RecordingDuration and Digits (the finishing key, or "hangup"; none
 * when silence or maxLength ended it), its document becoming *next, and
 * the recordingStatusCallback follows.  Returns -1 when the call ended
 * (an error, the callee, the time limit). */
static int record(struct call *c, const struct sim_verb *v, struct sim_twiml *next, int *has_next)
{
	struct take t;
	unsigned char raw[16];
	char hex[33], sid[35], dur[16], started[64], *url;
	const char *api = c->p->api_url ? c->p->api_url : "https://api.twilio.com";
	enum listen l;
	size_t n;
	int secs, hung, rc = -1;

	if (util_random(raw, sizeof(raw)) < 0) {
		call_error(c, 0, "no random bytes for a RecordingSid");
		return -1;
	}
	util_hex(raw, sizeof(raw), hex);
	snprintf(sid, sizeof(sid), "RE%s", hex);
	n = strlen(api);
	while (n > 0 && api[n - 1] == '/')
		n--;
	url = xasprintf("%.*s/2010-04-01/Accounts/%s/Recordings/%s", (int)n, api, c->p->account_sid,
		sid);
	memset(&t, 0, sizeof(t));
	buf_init(&t.key);
	buf_init(&t.words);
	rfc2822_now(started, sizeof(started));
	if (v->play_beep)
		emit(c, SIM_EV_NOTE, 0, "beep", NULL);
	recording_callback(c, v, SIM_REC_IN_PROGRESS, "in-progress", sid, url, started, 0);
	l = listen_record(c, v, &t);
	if (l == LISTEN_OVER || c->ended)
		goto out;
	hung = l == LISTEN_HANGUP;
	if (t.spoken_s <= 0) {
		emitf(c, SIM_EV_NOTE, 0, "the recording is empty: its action is not requested");
		recording_callback(c, v, SIM_REC_ABSENT, "absent", sid, url, started, 0);
		if (hung)
			callee_hangs_up(c);
		rc = hung ? -1 : 0;
		goto out;
	}
	secs = (int)((v->trim ? t.spoken_s : t.elapsed_s) + 0.5);
	if (secs < 1)
		secs = 1;
	snprintf(dur, sizeof(dur), "%d", secs);
	/* The words kept with a recording are at most RECORD_WORDS_MAX bytes,
	 * cut at a character boundary. */
	if (t.words.len > RECORD_WORDS_MAX) {
		size_t cut = RECORD_WORDS_MAX;
		while (cut > 0 && ((unsigned char)t.words.data[cut] & 0xC0) == 0x80)
			cut--;
		t.words.len = cut;
		t.words.data[cut] = '\0';
	}
	/* The transcript's record line is what the driver stores, before
	 * the application can ask for it. */
	emit(c, SIM_EV_RECORD, secs, url, buf_str(&t.words));
	if (hung) {
		/* Twilio still tells the action about the recording, and
		 * ignores what it answers: nobody is on the line. */
		callee_hangs_up(c);
		if (fetch(c, v->method, v->action, next, "RecordingUrl", url, "RecordingDuration", dur,
			"RecordingSid", sid, "Digits", "hangup", (char *)NULL) == 0)
			sim_twiml_free(next);
	} else if (t.key.len > 0) {
		if (fetch(c, v->method, v->action, next, "RecordingUrl", url, "RecordingDuration", dur,
			"RecordingSid", sid, "Digits", buf_str(&t.key), (char *)NULL) == 0)
			*has_next = 1;
	} else if (fetch(c, v->method, v->action, next, "RecordingUrl", url, "RecordingDuration", dur,
		"RecordingSid", sid, (char *)NULL) == 0) {
		*has_next = 1;
	}
	recording_callback(c, v, SIM_REC_COMPLETED, "completed", sid, url, started, secs);
	rc = *has_next ? 0 : -1;
out:
	free(url);
	buf_free(&t.key);
	buf_free(&t.words);
	return rc;
}

/* Plays a document.  *next gets the next document when a Gather action,
 * a Record action or a Redirect leads to one; otherwise the call ended
 * (by a Hangup, the end of the document, an error or the callee). */
static void play(struct call *c, const struct sim_twiml *doc, struct sim_twiml *next, int *has_next)
{
	struct buf digits = BUF_INIT;
	*has_next = 0;
	for (size_t i = 0; i < doc->n && !c->ended; i++) {
		const struct sim_verb *v = &doc->verbs[i];
		enum listen l;

		if (over_limit(c))
			break;
		switch (v->kind) {
		case SIM_VERB_SAY:
		case SIM_VERB_PLAY:
		case SIM_VERB_PAUSE:
			if (prompt(c, v) < 0)
				goto out;
			break;
		case SIM_VERB_GATHER: {
			char desc[160];
			for (size_t k = 0; k < v->nchildren && !c->ended; k++)
				if (prompt(c, &v->children[k]) < 0)
					goto out;
			if (c->ended)
				goto out;
			describe_gather(v, desc, sizeof(desc));
			emit(c, SIM_EV_GATHER, 0, desc, NULL);
			l = listen(c, v, &digits);
			if (l == LISTEN_OVER || c->ended)
				goto out;
			if (l == LISTEN_HANGUP) {
				callee_hangs_up(c);
				goto out;
			}
			if (l == LISTEN_TIMEOUT) {
				emit(c, SIM_EV_SILENCE, 0, "", NULL);
				if (!v->action_on_empty_result)
					break;
			} else if (digits.len == 0) {
				/* The finishOnKey came before any digit: an empty
				 * result, as with a timeout.  Twilio submits it (empty
				 * Digits) only with actionOnEmptyResult; otherwise the
				 * verb after the Gather runs. */
				emitf(c, SIM_EV_NOTE, 0, "the finishOnKey %s ended the Gather before any digit",
					v->finish_on_key);
				if (!v->action_on_empty_result)
					break;
			}
			if (fetch(c, v->method, v->action, next, "Digits", buf_str(&digits), (char *)NULL) == 0)
				*has_next = 1;
			goto out;
		}
		case SIM_VERB_RECORD:
			if (record(c, v, next, has_next) < 0)
				goto out;
			if (*has_next || c->ended)
				goto out;
			break;
		case SIM_VERB_REDIRECT:
			if (fetch(c, v->method, v->text, next, (char *)NULL) == 0)
				*has_next = 1;
			goto out;
		case SIM_VERB_HANGUP:
			emit(c, SIM_EV_HANGUP, 0, "application", NULL);
			c->app_hung_up = 1;
			c->ended = 1;
			goto out;
		case SIM_VERB_REJECT:
			emitf(c, SIM_EV_NOTE, 0, "<Reject reason=\"%s\"> on an answered call ends it", v->reason);
			emit(c, SIM_EV_HANGUP, 0, "application", NULL);
			c->app_hung_up = 1;
			c->ended = 1;
			goto out;
		}
	}
	if (!c->ended) {
		emit(c, SIM_EV_NOTE, 0, "the document ended: Twilio hangs up", NULL);
		emit(c, SIM_EV_HANGUP, 0, "application", NULL);
		c->app_hung_up = 1;
		c->ended = 1;
	}
out:
	buf_free(&digits);
}

/* At the end of the call: the callee's remaining expectations (keys
 * and waits the call ended before are dropped). */
static void final_expectations(struct call *c)
{
	if (c->out->error_message[0])
		return;
	while (c->step < c->callee->nsteps) {
		const struct sim_step *s = &c->callee->steps[c->step];
		if (s->kind == SIM_STEP_EXPECT) {
			if (!heard_has(c, s->text)) {
				expectation_failed(c, s->text);
				return;
			}
			emitf(c, SIM_EV_NOTE, 0, "expectation met: \"%s\"", s->text);
		} else if (s->kind == SIM_STEP_EXPECT_HANGUP) {
			if (!c->app_hung_up) {
				call_error(c, 0, "expected the application to hang up, but %s",
					c->limit_hit ? "the time limit ended the call" : "the call ended otherwise");
				return;
			}
			emit(c, SIM_EV_NOTE, 0, "expectation met: the application hung up", NULL);
		}
		c->step++;
	}
}

/* ---- the call ----------------------------------------------------------------- */

static int check_params(const struct sim_call_params *p, struct sim_call_result *out)
{
	const char *what = NULL;
	if (p->call_sid == NULL || strlen(p->call_sid) != 34 || strncmp(p->call_sid, "CA", 2) != 0)
		what = "call_sid must be CA and 32 hex digits";
	else if (p->account_sid == NULL || strlen(p->account_sid) != 34 || strncmp(p->account_sid, "AC", 2) != 0)
		what = "account_sid must be AC and 32 hex digits";
	else if (p->from == NULL || p->to == NULL)
		what = "from and to are required";
	else if (p->url == NULL && p->twiml == NULL)
		what = "url or twiml is required";
	else if (p->direction && strcmp(p->direction, "inbound") == 0 && p->url == NULL)
		what = "an inbound call needs the number's voice url";
	else if (p->method && strcmp(p->method, "POST") != 0 && strcmp(p->method, "GET") != 0)
		what = "method must be GET or POST";
	else if (!(p->time_scale >= 0 && p->time_scale <= 100))
		what = "time_scale must be from 0 to 100";
	if (what)
		snprintf(out->error_message, sizeof(out->error_message), "sim_call_run: %s", what);
	return what ? -1 : 0;
}

/* See sim_call.h. */
int sim_call_run(const struct sim_call_params *p_in, const struct sim_callee *callee,
	sim_event_fn fn, void *ctx, struct sim_call_result *out)
{
	struct sim_call_params p = *p_in;
	struct sim_callee def;
	struct call c;
	struct sim_twiml doc = { NULL, 0 }, next = { NULL, 0 };
	double ring;
	int has_next;

	memset(out, 0, sizeof(*out));
	if (check_params(&p, out) < 0)
		return -1;
	if (callee == NULL) {
		sim_callee_default(&def);
		callee = &def;
	}
	if (p.method == NULL)
		p.method = "POST";
	if (p.direction == NULL)
		p.direction = "outbound-api";
	if (p.timeout_s <= 0)
		p.timeout_s = 60;
	if (p.time_limit_s <= 0)
		p.time_limit_s = 14400;
	if (p.http_timeout_s <= 0)
		p.http_timeout_s = 15;

	memset(&c, 0, sizeof(c));
	c.p = &p;
	c.callee = callee;
	c.fn = fn;
	c.ctx = ctx;
	c.out = out;
	c.scale = p.time_scale;
	c.http_timeout_ms = p.http_timeout_s * 1000;
	c.answered_ms = -1;
	buf_init(&c.heard);
	buf_init(&c.heard_urls);

	c.live_status = "in-progress";
	if (strcmp(p.direction, "inbound") == 0) {
		/* Someone calls the account's number: Twilio asks the number's
		 * voice URL what to do while the call rings, and the call is
		 * in progress once it has its TwiML. */
		set_status(&c, "ringing");
		status_callback(&c, SIM_STATUS_RINGING);
		c.answered_ms = c.virt_ms;
		c.live_status = "ringing";
		if (fetch(&c, p.method, p.url, &doc, (char *)NULL) < 0)
			goto ended;
		c.live_status = "in-progress";
		set_status(&c, "in-progress");
		status_callback(&c, SIM_STATUS_ANSWERED);
		goto play;
	}
	set_status(&c, "initiated");
	status_callback(&c, SIM_STATUS_INITIATED);
	if (callee->answer == SIM_ANSWER_FAIL) {
		set_status(&c, "failed");
		goto done;
	}
	set_status(&c, "ringing");
	status_callback(&c, SIM_STATUS_RINGING);
	ring = callee->ring_s;
	if (callee->answer == SIM_ANSWER_NO_ANSWER || ring >= p.timeout_s) {
		wait_s(&c, ring < p.timeout_s ? ring : p.timeout_s);
		set_status(&c, "no-answer");
		goto done;
	}
	wait_s(&c, ring);
	if (callee->answer == SIM_ANSWER_BUSY) {
		set_status(&c, "busy");
		goto done;
	}

	c.answered_ms = c.virt_ms;
	if (p.machine_detection)
		snprintf(out->answered_by, sizeof(out->answered_by), "%s",
			callee->answer == SIM_ANSWER_MACHINE ? callee->answered_by : "human");
	set_status(&c, "in-progress");
	if (out->answered_by[0])
		emitf(&c, SIM_EV_NOTE, 0, "AnsweredBy=%s", out->answered_by);
	status_callback(&c, SIM_STATUS_ANSWERED);

	if (p.url) {
		if (fetch(&c, p.method, p.url, &doc, (char *)NULL) < 0)
			goto ended;
	} else {
		char err[256], *base = xasprintf("https://api.twilio.com/2010-04-01/Accounts/%s/Calls/%s.xml",
			p.account_sid, p.call_sid);
		int rc = sim_twiml_parse(p.twiml, strlen(p.twiml), base, &doc, err, sizeof(err));
		free(base);
		if (rc != 0) {
			call_error(&c, 12100, "Document parse failure: %s", err);
			goto ended;
		}
	}
play:
	for (;;) {
		play(&c, &doc, &next, &has_next);
		sim_twiml_free(&doc);
		if (!has_next || c.ended)
			break;
		doc = next;
		next.verbs = NULL;
		next.n = 0;
	}
ended:
	sim_twiml_free(&next);
	final_expectations(&c);
	out->duration_s = (int)((since_answer_ms(&c) + 500) / 1000);
	set_status(&c, "completed");
done:
	status_callback(&c, SIM_STATUS_COMPLETED);
	sim_twiml_free(&doc);
	buf_free(&c.heard);
	buf_free(&c.heard_urls);
	return 0;
}

const char *sim_event_name(enum sim_event_kind kind)
{
	static const char *const names[] = {
		[SIM_EV_STATUS] = "status",
		[SIM_EV_REQUEST] = "request",
		[SIM_EV_RESPONSE] = "response",
		[SIM_EV_SAY] = "say",
		[SIM_EV_PLAY] = "play",
		[SIM_EV_PAUSE] = "pause",
		[SIM_EV_GATHER] = "gather",
		[SIM_EV_PRESS] = "press",
		[SIM_EV_SILENCE] = "silence",
		[SIM_EV_RECORD] = "record",
		[SIM_EV_CALLBACK] = "callback",
		[SIM_EV_HANGUP] = "hangup",
		[SIM_EV_ERROR] = "error",
		[SIM_EV_NOTE] = "note",
	};
	if ((size_t)kind < ARRAY_LEN(names) && names[kind])
		return names[kind];
	return "?";
}
