/* diag: one-line problems, each kept once (see diag.h). */
#include "diag.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void flow_diag_add(struct flow_diag *d, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0) {
		fprintf(stderr, "ringfence: out of memory\n");
		abort();
	}
	for (size_t i = 0; i < d->n; i++) {
		if (strcmp(d->msgs[i], msg) == 0) {
			free(msg);
			return;
		}
	}
	d->msgs = xrealloc(d->msgs, (d->n + 1) * sizeof(*d->msgs));
	d->msgs[d->n++] = msg;
}

void flow_diag_free(struct flow_diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	d->msgs = NULL;
	d->n = 0;
}

void flow_diag_merge_state(struct flow_diag *d, const struct flow_diag *from,
	const char *path, const char *state)
{
	size_t plen = strlen(path);

	for (size_t i = 0; i < from->n; i++) {
		const char *m = from->msgs[i];
		const char *loc = m + plen;
		if (strncmp(m, path, plen) != 0 || *loc != ':') {
			flow_diag_add(d, "%s", m);
			continue;
		}
		loc++;
		while (*loc >= '0' && *loc <= '9')
			loc++;
		if (*loc == ':')
			loc++;
		if (*loc == ' ')
			loc++;
		flow_diag_add(d, "%.*sstate '%s': %s", (int)(loc - m), m, state, loc);
	}
}
