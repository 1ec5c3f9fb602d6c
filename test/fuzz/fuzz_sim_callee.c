/* libFuzzer harness for the simulator's callee behaviour lines
 * (sim_callee_parse).
 *
 * Promises checked: a line is either read (0) or refused (-1) with a
 * non-empty one-line reason; a line read has an answer kind in range, at
 * most SIM_CALLEE_MAX_STEPS steps, every text NUL-terminated within its
 * field, pressed keys only 0-9 * #, waits and rings finite and not
 * negative (a speak step's above 0); reading the same bytes twice gives the same answer.  Any
 * broken promise aborts. */
#include "fuzz.h"

#include "sim/sim_callee.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_callee *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	char err[256], err2[256];
	char *line = malloc(size + 1);
	int ra, rb;

	CHECK(a && b && line);
	memcpy(line, data, size);
	line[size] = '\0';
	err[0] = err2[0] = '\0';
	ra = sim_callee_parse(line, a, err, sizeof(err));
	rb = sim_callee_parse(line, b, err2, sizeof(err2));
	CHECK(ra == rb);
	CHECK(ra == 0 || ra == -1);
	if (ra < 0) {
		CHECK(err[0] != '\0');
		CHECK(strchr(err, '\n') == NULL);
		CHECK(strcmp(err, err2) == 0);
	} else {
		CHECK(a->answer >= SIM_ANSWER_PERSON && a->answer <= SIM_ANSWER_FAIL);
		CHECK(a->nsteps >= 0 && a->nsteps <= SIM_CALLEE_MAX_STEPS);
		CHECK(isfinite(a->ring_s) && a->ring_s >= 0);
		CHECK(memchr(a->answered_by, '\0', sizeof(a->answered_by)) != NULL);
		CHECK(a->nsms_replies >= 0 && a->nsms_replies <= SIM_CALLEE_MAX_SMS_REPLIES);
		for (int i = 0; i < a->nsms_replies; i++)
			CHECK(memchr(a->sms_replies[i].text, '\0', sizeof(a->sms_replies[i].text)) != NULL &&
				isfinite(a->sms_replies[i].wait_s) && a->sms_replies[i].wait_s >= 0);
		for (int i = 0; i < a->nsteps; i++) {
			const struct sim_step *s = &a->steps[i];
			CHECK(s->kind >= SIM_STEP_WAIT && s->kind <= SIM_STEP_SPEAK);
			CHECK(memchr(s->text, '\0', sizeof(s->text)) != NULL);
			CHECK(isfinite(s->seconds) && s->seconds >= 0);
			if (s->kind == SIM_STEP_PRESS) {
				CHECK(s->text[0] != '\0');
				CHECK(strspn(s->text, "0123456789*#") == strlen(s->text));
			}
			if (s->kind == SIM_STEP_SPEAK)
				CHECK(s->seconds > 0);
		}
		CHECK(memcmp(a, b, sizeof(*a)) == 0);
	}
	free(a);
	free(b);
	free(line);
	return 0;
}
