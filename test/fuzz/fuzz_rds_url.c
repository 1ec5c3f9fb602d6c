/* libFuzzer harness for RINGFENCE_REDIS_URL's parser (rds_open): redis://,
 * unix:// and sentinel:// URLs, each input tried as it is and behind each
 * scheme.  rds_open only parses (it connects on first use), so nothing
 * here touches the network.  What it promises: no crash or leak, an
 * accepted URL has an endpoint for the logs, and that endpoint never
 * shows the URL's password. */
#include "fuzz.h"

#include "rds.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void one(const char *scheme, const uint8_t *data, size_t size)
{
	size_t n = strlen(scheme);
	char *url = xmalloc(n + size + 1);
	const char *at, *colon, *ep;
	struct rds *r;

	memcpy(url, scheme, n);
	memcpy(url + n, data, size);
	url[n + size] = '\0';
	r = rds_open(url);
	if (r != NULL) {
		ep = rds_endpoint(r);
		CHECK(ep != NULL && ep[0] != '\0');
		/* A password of four characters or more ([user]:pw@) is not
		 * in the endpoint... */
		at = strrchr(url, '@');
		colon = strstr(url, "://");
		if (at && colon && (colon = strchr(colon + 3, ':')) != NULL && colon < at &&
			at - colon > 4) {
			char *pw = xstrndup(colon + 1, (size_t)(at - colon - 1));
			/* ...unless the rest of the URL holds it too. */
			if (strstr(at + 1, pw) == NULL)
				CHECK(strstr(ep, pw) == NULL);
			free(pw);
		}
		rds_close(r);
	}
	free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (memchr(data, '\0', size) != NULL || size > 4096)
		return 0;
	one("", data, size);
	one("sentinel://", data, size);
	one("redis://", data, size);
	return 0;
}
