/* libFuzzer harness for the simulator's TwiML reader: sim_twiml_parse
 * and sim_twiml_resolve.
 *
 * Promises checked: a document is either read (0) or refused with 12100
 * and a one-line message, leaving nothing behind; a document read holds
 * only the verbs the simulator plays, with only Say, Play and Pause
 * inside a Gather, attribute values in their ranges and every URL an
 * absolute http(s) URL; reading the same bytes twice gives the same
 * answer.  The input is also resolved as a reference against a fixed
 * base: the result is NULL or an absolute http(s) URL without a fragment
 * or a dot segment.  Any broken promise aborts. */
#include "fuzz.h"

#include "sim/sim_twiml.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DOC "https://rf.example.com/twilio/voice/f?c=t&s=a&n=1"

static int is_abs(const char *u)
{
	return strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0;
}

static void check_verbs(const struct sim_verb *v, size_t n, int in_gather)
{
	for (size_t i = 0; i < n; i++) {
		const struct sim_verb *x = &v[i];
		CHECK(x->kind >= SIM_VERB_SAY && x->kind <= SIM_VERB_REJECT);
		if (in_gather)
			CHECK(x->kind == SIM_VERB_SAY || x->kind == SIM_VERB_PLAY || x->kind == SIM_VERB_PAUSE);
		switch (x->kind) {
		case SIM_VERB_SAY:
			CHECK(x->text && x->text[0] != '\0');
			CHECK(x->loop >= 0 && x->loop <= 1000);
			break;
		case SIM_VERB_PLAY:
			CHECK(x->text && x->digits);
			CHECK(x->text[0] != '\0' ? is_abs(x->text) : x->digits[0] != '\0');
			break;
		case SIM_VERB_PAUSE:
			CHECK(x->length >= 0 && x->length <= 3600);
			break;
		case SIM_VERB_GATHER:
			CHECK(x->action && is_abs(x->action));
			CHECK(x->timeout >= 1 && x->timeout <= 3600);
			CHECK(x->num_digits >= 0);
			CHECK(strlen(x->finish_on_key) <= 1);
			CHECK(strcmp(x->method, "GET") == 0 || strcmp(x->method, "POST") == 0);
			check_verbs(x->children, x->nchildren, 1);
			break;
		case SIM_VERB_RECORD:
			CHECK(x->action && is_abs(x->action));
			CHECK(x->max_length >= 1);
			break;
		case SIM_VERB_REDIRECT:
			CHECK(x->text && is_abs(x->text));
			break;
		case SIM_VERB_HANGUP:
			break;
		case SIM_VERB_REJECT:
			CHECK(strcmp(x->reason, "rejected") == 0 || strcmp(x->reason, "busy") == 0);
			break;
		}
		if (x->kind != SIM_VERB_GATHER)
			CHECK(x->nchildren == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_twiml t, again;
	char err[256], err2[256];
	int rc = sim_twiml_parse((const char *)data, size, DOC, &t, err, sizeof(err));
	int rc2 = sim_twiml_parse((const char *)data, size, DOC, &again, err2, sizeof(err2));
	char *ref, *res;

	CHECK(rc == 0 || rc == SIM_TWIML_INVALID);
	CHECK(rc == rc2);
	if (rc != 0) {
		CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
		CHECK(strcmp(err, err2) == 0);
		CHECK(t.n == 0 && t.verbs == NULL);
	} else {
		CHECK(t.n == again.n);
		check_verbs(t.verbs, t.n, 0);
	}
	sim_twiml_free(&t);
	sim_twiml_free(&again);

	ref = malloc(size + 1);
	CHECK(ref != NULL);
	memcpy(ref, data, size);
	ref[size] = '\0';
	res = sim_twiml_resolve(DOC, ref);
	if (res) {
		const char *path = strchr(res + 8, '/');
		CHECK(is_abs(res));
		CHECK(strchr(res, '#') == NULL);
		if (path && strncasecmp(ref, "http", 4) != 0 && strncmp(ref, "//", 2) != 0) {
			size_t plen = strcspn(path, "?");
			for (const char *p = path; p < path + plen; p++) {
				CHECK(!(p[0] == '/' && p[1] == '.' && (p[2] == '/' || p + 2 == path + plen)));
				CHECK(!(p[0] == '/' && p[1] == '.' && p[2] == '.' &&
					(p[3] == '/' || p + 3 == path + plen)));
			}
		}
		free(res);
	}
	free(ref);
	return 0;
}
