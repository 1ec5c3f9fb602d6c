/* libFuzzer harness for the RFC 3339 parser behind RINGFENCE_NOW and the
 * API's starts_at (rfc3339_parse).
 *
 * Promises checked: an input is either read (0) or refused (-1); a time
 * read lies between 1970 and 9999 UTC, and formatting it with
 * clock_sql and reading that back gives the same second.  Any broken
 * promise aborts. */
#include "fuzz.h"

#include "clock.h"
#include "rfc3339.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), out[32];
	long long t = -12345, back = -1;
	int rc;

	CHECK(s != NULL);
	memcpy(s, data, size);
	s[size] = '\0';
	rc = rfc3339_parse(s, &t);
	CHECK(rc == 0 || rc == -1);
	if (rc == 0) {
		/* The instant itself lies in 1970-9999 UTC. */
		CHECK(t >= 0 && t <= 253402300799LL);
		clock_sql(t, out);
		CHECK(strlen(out) < sizeof(out));
		CHECK(rfc3339_parse(out, &back) == 0);
		CHECK(back == t);
	}
	free(s);
	return 0;
}
