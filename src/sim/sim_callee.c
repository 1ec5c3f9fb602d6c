/* sim_callee: the behaviour lines of simulated phone numbers.
 *
 * The grammar is in sim_callee.h.  Parsing is strict: every step is
 * known, every number is a plain decimal within bounds, every quoted text
 * is closed and holds no control characters, and anything left over is
 * an error naming the step.  A script file's comments are whole lines
 * starting with '#' ('#' is also a key, so "press #" keeps its meaning). */
#include "sim/sim_callee.h"
#include "util.h"
#include "valid.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A behaviour line longer than this is refused (64 steps of 256 bytes
 * fit, with room for an SMS reply). */
#define SPEC_MAX 24576
/* Waits, rings: an hour at most; a simulated call is not a soak test. */
#define SECONDS_MAX 3600.0
#define SCRIPT_FILE_MAX (1024 * 1024)

static const char *const answered_by_values[] = {
	"human", "machine_start", "machine_end_beep", "machine_end_silence",
	"machine_end_other", "fax", "unknown", NULL,
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void sim_callee_default(struct sim_callee *out)
{
	memset(out, 0, sizeof(*out));
	out->answer = SIM_ANSWER_PERSON;
	out->ring_s = 1.0;
	snprintf(out->answered_by, sizeof(out->answered_by), "human");
	out->sms_replies[0].wait_s = -1; /* no sms-wait yet: the default gap */
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Parses a plain decimal ("2", "1.5", ".5" is refused) of the whole
 * string s into *v.  0 or -1. */
static int parse_seconds(const char *s, double *v)
{
	const char *p = s;
	double x = 0, scale = 0.1;
	int digits = 0;
	while (*p >= '0' && *p <= '9') {
		x = x * 10 + (*p - '0');
		p++;
		digits++;
		if (digits > 6)
			return -1;
	}
	if (digits == 0)
		return -1;
	if (*p == '.') {
		int frac = 0;
		p++;
		while (*p >= '0' && *p <= '9') {
			x += (*p - '0') * scale;
			scale /= 10;
			p++;
			if (++frac > 3)
				return -1;
		}
		if (frac == 0)
			return -1;
	}
	if (*p != '\0' || x > SECONDS_MAX)
		return -1;
	*v = x;
	return 0;
}

/* Parses a quoted text ("..." with \" and \\ as the only escapes) that
 * makes up the whole of s into out (outlen bytes with its NUL).
 * Returns 0, or -1 with a reason in err. */
static int parse_quoted(const char *s, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t n = 0;
	const char *p = s;
	if (*p != '"') {
		seterr(err, errlen, "text must be in double quotes");
		return -1;
	}
	p++;
	for (;;) {
		unsigned char c = (unsigned char)*p;
		if (c == '\0') {
			seterr(err, errlen, "unterminated quoted text");
			return -1;
		}
		if (c == '"')
			break;
		if (c == '\\') {
			p++;
			c = (unsigned char)*p;
			if (c != '"' && c != '\\') {
				seterr(err, errlen, "unknown escape in quoted text (only \\\" and \\\\)");
				return -1;
			}
		} else if (c < 0x20 || c == 0x7f) {
			seterr(err, errlen, "control character in quoted text");
			return -1;
		}
		if (n + 1 >= outlen) {
			seterr(err, errlen, "quoted text longer than %zu bytes", outlen - 1);
			return -1;
		}
		out[n++] = (char)c;
		p++;
	}
	p++;
	if (*p != '\0') {
		seterr(err, errlen, "unexpected text after the closing quote");
		return -1;
	}
	out[n] = '\0';
	if (n == 0) {
		seterr(err, errlen, "quoted text is empty");
		return -1;
	}
	return 0;
}

/* Splits spec at ';' outside quotes.  Returns the number of pieces, each
 * trimmed and copied into pieces (malloc'd, caller frees each), or -1
 * (reason in err) for an unterminated quote or an empty step. */
static int split_steps(const char *spec, char ***pieces_out, char *err, size_t errlen)
{
	char **pieces = NULL;
	int n = 0, cap = 0, inq = 0, rc = -1;
	const char *start = spec, *p = spec;

	for (;; p++) {
		if (*p == '\\' && inq && p[1] != '\0') {
			p++;
			continue;
		}
		if (*p == '"')
			inq = !inq;
		if (*p == '\0' && inq) {
			seterr(err, errlen, "step %d: unterminated quoted text", n + 1);
			goto out;
		}
		if (*p == '\0' || (*p == ';' && !inq)) {
			const char *a = start, *b = p;
			while (a < b && is_blank(*a))
				a++;
			while (b > a && is_blank(b[-1]))
				b--;
			if (a == b) {
				seterr(err, errlen, "step %d is empty", n + 1);
				goto out;
			}
			if (n == SIM_CALLEE_MAX_STEPS + 1) {
				seterr(err, errlen, "more than %d steps", SIM_CALLEE_MAX_STEPS);
				goto out;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 8;
				pieces = xrealloc(pieces, (size_t)cap * sizeof(*pieces));
			}
			pieces[n++] = xstrndup(a, (size_t)(b - a));
			if (*p == '\0')
				break;
			start = p + 1;
		}
	}
	rc = n;
out:
	if (rc < 0) {
		for (int i = 0; i < n; i++)
			free(pieces[i]);
		free(pieces);
		pieces = NULL;
	}
	*pieces_out = pieces;
	return rc;
}

/* Splits piece into its keyword and the rest (both trimmed); the
 * keyword is written into word (wordlen bytes). */
static const char *keyword(const char *piece, char *word, size_t wordlen)
{
	size_t n = 0;
	const char *p = piece;
	while (*p && !is_blank(*p)) {
		if (n + 1 < wordlen)
			word[n++] = *p;
		p++;
	}
	word[n] = '\0';
	while (is_blank(*p))
		p++;
	return p;
}

/* The answer word that opens a line, with its optional
 * answered_by=VALUE for a machine.  0 or -1. */
static int parse_answer(const char *piece, struct sim_callee *out, char *err, size_t errlen)
{
	char word[32];
	const char *rest = keyword(piece, word, sizeof(word));

	if (strcmp(word, "person") == 0) {
		out->answer = SIM_ANSWER_PERSON;
	} else if (strcmp(word, "machine") == 0) {
		out->answer = SIM_ANSWER_MACHINE;
		snprintf(out->answered_by, sizeof(out->answered_by), "machine_start");
		if (*rest != '\0') {
			const char *v;
			int ok = 0;
			if (strncmp(rest, "answered_by=", 12) != 0) {
				seterr(err, errlen, "step 1: 'machine' takes only answered_by=VALUE, not '%.40s'", rest);
				return -1;
			}
			v = rest + 12;
			for (size_t i = 0; answered_by_values[i]; i++)
				if (strcmp(v, answered_by_values[i]) == 0)
					ok = 1;
			if (!ok) {
				seterr(err, errlen, "step 1: answered_by '%.40s' is not one of Twilio's AnsweredBy values"
					" (human, machine_start, machine_end_beep, machine_end_silence,"
					" machine_end_other, fax, unknown)", v);
				return -1;
			}
			snprintf(out->answered_by, sizeof(out->answered_by), "%s", v);
		}
		return 0;
	} else if (strcmp(word, "busy") == 0) {
		out->answer = SIM_ANSWER_BUSY;
	} else if (strcmp(word, "no-answer") == 0) {
		out->answer = SIM_ANSWER_NO_ANSWER;
	} else if (strcmp(word, "fail") == 0) {
		out->answer = SIM_ANSWER_FAIL;
	} else {
		seterr(err, errlen, "step 1: '%.40s' is not an answer (person, machine, busy, no-answer, fail)",
			piece);
		return -1;
	}
	if (*rest != '\0') {
		seterr(err, errlen, "step 1: '%s' takes no argument", word);
		return -1;
	}
	return 0;
}

/* Whether step kind k makes sense for answer a: only a person presses
 * or lets a Gather time out on purpose; a line that never answers
 * takes no call steps at all. */
static const char *step_refused(enum sim_answer a, const char *word)
{
	int call_step = strncmp(word, "sms-", 4) != 0 && strcmp(word, "ring") != 0;
	if ((a == SIM_ANSWER_BUSY || a == SIM_ANSWER_NO_ANSWER || a == SIM_ANSWER_FAIL) && call_step)
		return "a line that does not answer takes no call steps";
	if (a == SIM_ANSWER_MACHINE && (strcmp(word, "press") == 0 || strcmp(word, "silence") == 0))
		return "an answering machine presses nothing";
	return NULL;
}

/* Parses one step (not the first) into out.  0 or -1. */
static int parse_step(int idx, const char *piece, int *seen_ring, struct sim_callee *out,
	char *err, size_t errlen)
{
	char word[32], why[160];
	const char *arg = keyword(piece, word, sizeof(word));
	const char *refused = step_refused(out->answer, word);
	struct sim_step *st;

	if (refused) {
		seterr(err, errlen, "step %d: '%s': %s", idx, word, refused);
		return -1;
	}
	if (strcmp(word, "ring") == 0) {
		if (*seen_ring || out->nsteps > 0) {
			seterr(err, errlen, "step %d: 'ring' comes once, right after the answer", idx);
			return -1;
		}
		if (parse_seconds(arg, &out->ring_s) < 0) {
			seterr(err, errlen, "step %d: 'ring' needs seconds (0 to 3600, e.g. 2 or 1.5), not '%.40s'",
				idx, arg);
			return -1;
		}
		*seen_ring = 1;
		return 0;
	}
	if (strcmp(word, "sms-reply") == 0) {
		struct sim_sms_reply *r = &out->sms_replies[out->nsms_replies];
		if (out->nsms_replies == SIM_CALLEE_MAX_SMS_REPLIES) {
			seterr(err, errlen, "step %d: more than %d 'sms-reply' steps", idx,
				SIM_CALLEE_MAX_SMS_REPLIES);
			return -1;
		}
		if (parse_quoted(arg, r->text, sizeof(r->text), why, sizeof(why)) < 0) {
			seterr(err, errlen, "step %d: 'sms-reply': %s", idx, why);
			return -1;
		}
		if (r->wait_s < 0)
			r->wait_s = SIM_CALLEE_SMS_GAP_S;
		out->nsms_replies++;
		if (out->nsms_replies < SIM_CALLEE_MAX_SMS_REPLIES)
			out->sms_replies[out->nsms_replies].wait_s = -1;
		return 0;
	}
	if (strcmp(word, "sms-wait") == 0) {
		struct sim_sms_reply *r = &out->sms_replies[out->nsms_replies];
		if (out->nsms_replies == SIM_CALLEE_MAX_SMS_REPLIES || r->wait_s >= 0) {
			seterr(err, errlen, "step %d: 'sms-wait' comes once before an 'sms-reply'", idx);
			return -1;
		}
		if (parse_seconds(arg, &r->wait_s) < 0) {
			seterr(err, errlen, "step %d: 'sms-wait' needs seconds (0 to 3600, e.g. 2 or 1.5),"
				" not '%.40s'", idx, arg);
			return -1;
		}
		return 0;
	}
	if (strcmp(word, "sms-undelivered") == 0) {
		char *end;
		long code;
		errno = 0;
		code = strtol(arg, &end, 10);
		if (arg[0] < '1' || arg[0] > '9' || *end != '\0' || errno || code < 10000 || code > 99999) {
			seterr(err, errlen, "step %d: 'sms-undelivered' needs a 5-digit Twilio error code"
				" (e.g. 30003), not '%.40s'", idx, arg);
			return -1;
		}
		if (out->sms_error_code) {
			seterr(err, errlen, "step %d: 'sms-undelivered' given twice", idx);
			return -1;
		}
		out->sms_error_code = (int)code;
		return 0;
	}

	if (out->nsteps == SIM_CALLEE_MAX_STEPS) {
		seterr(err, errlen, "step %d: more than %d steps", idx, SIM_CALLEE_MAX_STEPS);
		return -1;
	}
	st = &out->steps[out->nsteps];
	memset(st, 0, sizeof(*st));
	if (strcmp(word, "wait") == 0) {
		st->kind = SIM_STEP_WAIT;
		if (parse_seconds(arg, &st->seconds) < 0) {
			seterr(err, errlen, "step %d: 'wait' needs seconds (0 to 3600, e.g. 2 or 1.5), not '%.40s'",
				idx, arg);
			return -1;
		}
	} else if (strcmp(word, "speak") == 0) {
		/* speak SECONDS ["WORDS"] */
		char secs[16];
		size_t n = strcspn(arg, " \t");
		const char *rest = arg + n;
		st->kind = SIM_STEP_SPEAK;
		while (is_blank(*rest))
			rest++;
		snprintf(secs, sizeof(secs), "%.*s", (int)(n < sizeof(secs) ? n : 0), arg);
		if (n == 0 || n >= sizeof(secs) || parse_seconds(secs, &st->seconds) < 0 ||
			st->seconds <= 0) {
			seterr(err, errlen, "step %d: 'speak' needs seconds above 0 (at most 3600, e.g. 2 or"
				" 1.5), then optionally the words in quotes, not '%.40s'", idx, arg);
			return -1;
		}
		if (*rest && parse_quoted(rest, st->text, sizeof(st->text), why, sizeof(why)) < 0) {
			seterr(err, errlen, "step %d: 'speak': %s", idx, why);
			return -1;
		}
	} else if (strcmp(word, "press") == 0) {
		size_t n = strlen(arg);
		st->kind = SIM_STEP_PRESS;
		if (n == 0 || n >= sizeof(st->text) || strspn(arg, "0123456789*#") != n) {
			seterr(err, errlen, "step %d: 'press' needs keys 0-9, * or # (at most %zu), not '%.40s'",
				idx, sizeof(st->text) - 1, arg);
			return -1;
		}
		memcpy(st->text, arg, n + 1);
	} else if (strcmp(word, "expect") == 0) {
		st->kind = SIM_STEP_EXPECT;
		if (parse_quoted(arg, st->text, sizeof(st->text), why, sizeof(why)) < 0) {
			seterr(err, errlen, "step %d: 'expect': %s", idx, why);
			return -1;
		}
	} else if (strcmp(word, "silence") == 0 || strcmp(word, "hangup") == 0 ||
		strcmp(word, "expect-hangup") == 0) {
		st->kind = word[0] == 's' ? SIM_STEP_SILENCE :
			strcmp(word, "hangup") == 0 ? SIM_STEP_HANGUP : SIM_STEP_EXPECT_HANGUP;
		if (*arg != '\0') {
			seterr(err, errlen, "step %d: '%s' takes no argument", idx, word);
			return -1;
		}
	} else {
		seterr(err, errlen, "step %d: unknown step '%.40s' (ring, wait, speak, press, silence,"
			" hangup, expect, expect-hangup, sms-reply, sms-wait, sms-undelivered)", idx, word);
		return -1;
	}
	out->nsteps++;
	return 0;
}

/* See sim_callee.h.  On error *out holds the default behaviour. */
int sim_callee_parse(const char *spec, struct sim_callee *out, char *err, size_t errlen)
{
	char **pieces = NULL;
	int n = 0, rc = -1, seen_ring = 0;

	sim_callee_default(out);
	if (spec == NULL || strlen(spec) > SPEC_MAX) {
		seterr(err, errlen, "behaviour is missing or longer than %d bytes", SPEC_MAX);
		goto out;
	}
	for (const char *p = spec; *p; p++) {
		if ((unsigned char)*p < 0x20 && *p != '\t') {
			seterr(err, errlen, "control character in the behaviour line");
			goto out;
		}
	}
	n = split_steps(spec, &pieces, err, errlen);
	if (n < 0)
		goto out;
	if (parse_answer(pieces[0], out, err, errlen) < 0)
		goto out;
	for (int i = 1; i < n; i++)
		if (parse_step(i + 1, pieces[i], &seen_ring, out, err, errlen) < 0)
			goto out;
	if (out->nsms_replies < SIM_CALLEE_MAX_SMS_REPLIES &&
		out->sms_replies[out->nsms_replies].wait_s >= 0) {
		seterr(err, errlen, "step %d: 'sms-wait' must come before an 'sms-reply'", n);
		goto out;
	}
	rc = 0;
out:
	for (int i = 0; i < n; i++)
		free(pieces[i]);
	free(pieces);
	if (rc < 0)
		sim_callee_default(out);
	return rc;
}

/* See sim_callee.h. */
int sim_callee_load_file(const char *path,
	int (*fn)(void *ctx, const char *number, const char *spec, const struct sim_callee *c),
	void *ctx, char *err, size_t errlen)
{
	size_t len = 0;
	char *text = util_read_file(path, SCRIPT_FILE_MAX, &len);
	char *line, *next;
	long lineno = 0;
	int rc = -1;
	struct sim_callee *c = xmalloc(sizeof(*c));

	if (text == NULL) {
		seterr(err, errlen, "%s: cannot read (%s, or larger than %d bytes)", path,
			strerror(errno), SCRIPT_FILE_MAX);
		goto out;
	}
	if (memchr(text, '\0', len) != NULL) {
		seterr(err, errlen, "%s: holds a NUL byte; not a text file", path);
		goto out;
	}
	for (line = text; line != NULL; line = next) {
		char number[24], why[256];
		char *p = line, *end, *spec;
		size_t nlen;

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		end = line + strlen(line);
		if (end > line && end[-1] == '\r')
			*--end = '\0';
		while (is_blank(*p))
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		nlen = strcspn(p, " \t");
		if (!valid_e164(p, nlen)) {
			seterr(err, errlen, "%s:%ld: '%.*s' is not an E.164 number (+ and 7 to 15 digits)",
				path, lineno, (int)(nlen > 20 ? 20 : nlen), p);
			goto out;
		}
		memcpy(number, p, nlen);
		number[nlen] = '\0';
		spec = p + nlen;
		while (is_blank(*spec))
			spec++;
		if (*spec == '\0') {
			seterr(err, errlen, "%s:%ld: %s has no behaviour", path, lineno, number);
			goto out;
		}
		if (sim_callee_parse(spec, c, why, sizeof(why)) < 0) {
			seterr(err, errlen, "%s:%ld: %s", path, lineno, why);
			goto out;
		}
		if (fn(ctx, number, spec, c) != 0) {
			seterr(err, errlen, "%s:%ld: %s was not accepted", path, lineno, number);
			goto out;
		}
	}
	rc = 0;
out:
	free(c);
	free(text);
	return rc;
}
