/* api_openapi: the OpenAPI 3.1 description of the JSON API
 * (src/www/openapi.json), built into the binary and served at GET
 * /api/v1/openapi.json. */
#include "api.h"
#include "app.h"
#include "log.h"

#include <jansson.h>

/* The file's bytes and a NUL, in read-only data; the Makefile rebuilds
 * this object when the file changes. */
__asm__(".section .rodata\n"
	".global api_openapi_json\n"
	".type api_openapi_json, @object\n"
	".balign 16\n"
	"api_openapi_json:\n"
	".incbin \"src/www/openapi.json\"\n"
	".byte 0\n"
	".size api_openapi_json, . - api_openapi_json\n"
	".previous\n");

void api_openapi_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	/* Parsed once per process; each answer takes a reference. */
	static json_t *doc;
	(void)app;
	(void)in;

	if (doc == NULL)
		doc = json_loads(api_openapi_json, JSON_REJECT_DUPLICATES, NULL);
	if (doc == NULL) {
		log_error("api: the built-in OpenAPI document does not parse");
		outcome_error(out, 500, "internal", NULL, "internal error");
		return;
	}
	out->action = "openapi";
	out->json = json_incref(doc);
}
