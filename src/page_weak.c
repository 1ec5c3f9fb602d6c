/* page_weak: weak stand-ins for the dashboard shell's writer (page.h), so
 * that everything links before the shell's page.c is merged; its
 * definitions override these, and this file goes once it is.  They
 * record only the status and title: ROUTE_RENDER_PAGE answers 500 until
 * the shell's renderer is there. */
#include "page.h"
#include "dispatch.h"

__attribute__((weak)) void page_begin(struct outcome *out, const char *title, const char *nav)
{
	out->page_title = title;
	out->page_nav = nav;
}

__attribute__((weak)) void page_add(struct outcome *out, const char *tmpl,
	const char *const *fields)
{
}

__attribute__((weak)) void page_text(struct outcome *out, const char *s)
{
}

__attribute__((weak)) void page_redirect(struct outcome *out, const char *fmt, ...)
{
	out->status = 303;
}

__attribute__((weak)) void page_error(struct outcome *out, int status, const char *title,
	const char *message)
{
	out->status = status;
	out->page_title = title;
}

__attribute__((weak)) void page_not_found(struct outcome *out)
{
	page_error(out, 404, "Not found", NULL);
}

__attribute__((weak)) void page_unavailable(struct outcome *out)
{
	page_error(out, 503, "Unavailable", NULL);
}

__attribute__((weak)) const char *page_time(struct arena *a, long long unix_s, const char *tz)
{
	return "";
}

__attribute__((weak)) const char *page_time_input(struct arena *a, long long unix_s,
	const char *tz)
{
	return "";
}
