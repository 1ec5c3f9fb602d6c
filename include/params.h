/* params: decoded name/value pairs, the shape form.c parses a query
 * string, a form body or a Cookie header into and valid.c validates.
 * Types only, so that both can use them without depending on each other
 * (form.c checks UTF-8 with valid.h; valid.c reads pairs, not forms). */
#ifndef RF_PARAMS_H
#define RF_PARAMS_H

#include <stddef.h>

struct param {
	const char *name;  /* decoded, NUL-terminated, never empty */
	const char *value; /* decoded, NUL-terminated, may be "" */
	size_t value_len;
};

/* Pairs in input order; repeated names stay repeated. */
struct params {
	struct param *v;
	size_t n;
};

#endif
