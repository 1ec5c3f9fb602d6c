/* html: the escaping template writer; see include/html.h. */
#include "html.h"
#include "buf.h"

#include <string.h>

/* See html.h. */
void html_escape(struct buf *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': buf_puts(out, "&amp;"); break;
		case '<': buf_puts(out, "&lt;"); break;
		case '>': buf_puts(out, "&gt;"); break;
		case '"': buf_puts(out, "&quot;"); break;
		case '\'': buf_puts(out, "&#39;"); break;
		default: buf_putc(out, *s);
		}
	}
}

/* See html.h. */
int html_render(struct buf *out, const char *tmpl, const char *const *fields)
{
	const char *p = tmpl;

	for (;;) {
		const char *open = strstr(p, "{{"), *close;
		size_t n;
		int found = 0;
		if (open == NULL) {
			buf_puts(out, p);
			return 0;
		}
		buf_append(out, p, (size_t)(open - p));
		close = strstr(open + 2, "}}");
		if (close == NULL)
			return -1;
		n = (size_t)(close - open - 2);
		for (size_t i = 0; fields && fields[i]; i += 2) {
			if (strlen(fields[i]) == n && memcmp(fields[i], open + 2, n) == 0) {
				html_escape(out, fields[i + 1]);
				found = 1;
				break;
			}
		}
		if (!found)
			return -1;
		p = close + 2;
	}
}
