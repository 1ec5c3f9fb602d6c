/* page: a minimal stand-in for the dashboard shell's writer (page.h),
 * until the shell's page.c replaces it. */
#include "page.h"
#include "arena.h"
#include "buf.h"
#include "dispatch.h"
#include "html.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void page_begin(struct outcome *out, const char *title, const char *nav)
{
	out->page_title = title;
	out->page_nav = nav;
}

void page_add(struct outcome *out, const char *tmpl, const char *const *fields)
{
	if (html_render(&out->page_body, tmpl, fields) < 0)
		out->status = 500;
}

void page_text(struct outcome *out, const char *s)
{
	html_escape(&out->page_body, s);
}

void page_redirect(struct outcome *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	out->redirect = arena_vprintf(out->page_body.arena, fmt, ap);
	va_end(ap);
}

void page_error(struct outcome *out, int status, const char *title, const char *message)
{
	const char *const f[] = { "title", title, "message", message, NULL };
	buf_reset(&out->page_body);
	out->redirect = NULL;
	out->status = status;
	out->page_title = title;
	html_render(&out->page_body, dispatch_page_message, f);
}

void page_not_found(struct outcome *out)
{
	page_error(out, 404, "Not found", "There is nothing here.");
}

void page_unavailable(struct outcome *out)
{
	page_error(out, 503, "Unavailable",
		"The database is unavailable; nothing was changed. Try again in a minute.");
}

const char *page_time(struct arena *a, long long unix_s, const char *tz)
{
	return arena_printf(a, "%lld", unix_s);
}

const char *page_time_input(struct arena *a, long long unix_s, const char *tz)
{
	return arena_printf(a, "%lld", unix_s);
}
