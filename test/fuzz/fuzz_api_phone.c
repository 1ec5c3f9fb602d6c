/* libFuzzer harness for the JSON API's phone number reader
 * (api_phone_normalize: "+1 555 010 0123" -> "+15550100123").
 *
 * Promises checked: an input is either read (1) or refused (0); a number
 * read is '+' and digits only, passes valid_e164, and reading it again
 * gives itself; an input without a leading '+' is never read (a local
 * number such as 555-0123 cannot be called).  Any broken promise
 * aborts. */
#include "fuzz.h"

#include "api.h"
#include "valid.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[VALID_E164_MAX_DIGITS + 2], again[VALID_E164_MAX_DIGITS + 2];
	size_t n;
	int rc;

	rc = api_phone_normalize((const char *)data, size, out);
	CHECK(rc == 0 || rc == 1);
	if (rc == 1) {
		n = strlen(out);
		CHECK(size > 0 && data[0] == '+');
		CHECK(out[0] == '+' && n >= 2 && n <= VALID_E164_MAX_DIGITS + 1);
		CHECK(strspn(out + 1, "0123456789") == n - 1);
		CHECK(valid_e164(out, n));
		CHECK(api_phone_normalize(out, n, again) == 1);
		CHECK(strcmp(out, again) == 0);
	}
	return 0;
}
