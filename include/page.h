/* page: the dashboard's pages.
 *
 * A dashboard handler (a route with ROUTE_RENDER_PAGE) writes only its
 * page's main content, into out->page_body, through page_add (an
 * html_render template: every value escaped by construction).  The
 * renderer puts it in the shell: the head with the one stylesheet
 * (/static/app.css) and script (/static/app.js), the header with the
 * business's name and the menu (out->page_nav marks the current item),
 * the failsafe banner while it is tripped, a notice (?notice=<code>, one
 * of page_notices), and the footer; and it sets the headers of every
 * HTML answer: Content-Security-Policy (script-src 'self', no inline
 * script, frame-ancestors 'none'), Referrer-Policy, X-Content-Type-
 * Options, and Cache-Control: no-store on authenticated pages.  After a
 * successful POST a handler answers page_redirect (303), never a page.
 *
 * Templates put the CSRF token in every form with PAGE_CSRF_INPUT and the
 * field "csrf" (in->user->csrf). */
#ifndef RF_PAGE_H
#define RF_PAGE_H

#include <stddef.h>

struct outcome;
struct route_input;
struct arena;

#define PAGE_CSRF_INPUT "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">"

/* Sets the page's title (the <title> and nothing else) and menu item. */
void page_begin(struct outcome *out, const char *title, const char *nav);

/* Appends tmpl with fields (NULL-terminated name, value pairs) to the
 * page's body, escaped.  A template that does not render turns the
 * answer into the 500 page (a bug, logged once). */
void page_add(struct outcome *out, const char *tmpl, const char *const *fields);

/* Appends s to the page's body as escaped text. */
void page_text(struct outcome *out, const char *s);

/* 303 See Other to the local path (printf-style; must start with '/'
 * and not "//"), e.g. page_redirect(out, "/appointments/%lld?notice=saved", id). */
void page_redirect(struct outcome *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The product's error pages: 404 "Not found" (also for another
 * business's ids: never a hint that they exist), 403, 400/422 with a
 * message naming the field, 503 "the database is unavailable; nothing
 * was changed".  They replace whatever the body held. */
void page_not_found(struct outcome *out);
void page_error(struct outcome *out, int status, const char *title, const char *message);
void page_unavailable(struct outcome *out);

/* Times as the pages show them, in the business's zone tz: "Tue 8 Dec
 * 2026, 14:30" (page_time) and "2026-12-08T14:30" (the value of an
 * <input type="datetime-local">, page_time_input); unix seconds in, a
 * string in the arena out. */
const char *page_time(struct arena *a, long long unix_s, const char *tz);
const char *page_time_input(struct arena *a, long long unix_s, const char *tz);

/* ---- for the dispatcher, the route table and the other pages ---------- */

/* Body limits of dashboard routes (a route row's body_max): a form, and
 * a file upload (the CSV import; nginx lets 2 MiB through on /import). */
#define PAGE_MAX_FORM (64 * 1024)
#define PAGE_MAX_UPLOAD (2 * 1024 * 1024)

/* The Content-Security-Policy of every HTML answer. */
extern const char page_csp[];

/* The notices a ?notice=<code> may show, in one table (page.c's
 * page_notices): a code that is not there shows nothing.  Add a row
 * there for a new code. */
struct page_notice {
	const char *code;
	const char *text;
};
extern const struct page_notice page_notices[];
/* The text of code, or NULL when the table lacks it. */
const char *page_notice_text(const char *code);

/* 1 when s is a local path a redirect may go to: it starts with one "/"
 * (not "//" nor "/\", which browsers take for another host), and holds
 * only printable ASCII without a backslash.  For any ?next= too. */
int page_local_path(const char *s);

/* The headers of every HTML answer: the CSP above, nosniff, DENY
 * framing and referrer (the Referrer-Policy value: "same-origin", or
 * "no-referrer" for pages whose links carry a secret).  Cache-Control
 * stays http.c's no-store. */
struct http_response;
void page_headers(struct http_response *res, const char *referrer);

/* The answer of a ROUTE_RENDER_PAGE route into res: the 303 to
 * out->redirect, or out->page_body in the shell (with in->user: header,
 * menu, failsafe banner, notice; without: the minimal shell), or the 500
 * page when the handler's template did not render.  Never fails. */
struct app;
void page_render(struct app *app, const struct route_input *in, struct outcome *out,
	struct http_response *res);

/* A whole ROUTE_RENDER_HTML page (the unsubscribe page: out->page_title,
 * out->page_tmpl, out->page_fields) in the minimal shell; the headers
 * are the caller's (page_headers).  -1 when the template does not
 * render (res->body must then not be sent). */
int page_render_plain(const struct outcome *out, struct http_response *res);

/* The stylesheet and the script, compiled in (src/www/, built into
 * build/gen/www.c): GET /static/{name}, cacheable for a year, since
 * their URL carries their content's hash (?v=...); ETag too. */
int page_static_name(const char *v, size_t len); /* "app.css" or "app.js" */
void page_static_handle(struct app *app, const struct route_input *in, struct outcome *out);

/* Any path no other row serves (the table's last rows): the 404 page. */
void page_not_found_handle(struct app *app, const struct route_input *in, struct outcome *out);

#endif
