/* page: the dashboard's shell, its error pages, notices, redirects,
 * times and static files; see include/page.h.
 *
 * Every byte of markup here is a constant template; values reach it only
 * through html_render's {{name}} (escaped), and a handler's body, already
 * escaped by page_add, is copied in as it is. */
#include "page.h"
#include "app.h"
#include "arena.h"
#include "dash_inbox.h"
#include "dash_notify.h"
#include "dash_operator.h"
#include "dispatch.h"
#include "html.h"
#include "http.h"
#include "log.h"
#include "msgswitch.h"
#include "session.h"
#include "util.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The stylesheet and script, generated from src/www/ by the Makefile
 * (build/gen/www.c): static storage, for the process's life. */
extern const char www_app_css[];
extern const size_t www_app_css_len;
extern const char www_app_js[];
extern const size_t www_app_js_len;

const char page_csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
	"img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
	"object-src 'none'";

/* The notices of ?notice=<code>: one row per code, in words an owner
 * understands.  Add rows here. */
const struct page_notice page_notices[] = {
	{ "saved", "Your changes were saved." },
	{ "created", "Created." },
	{ "cancelled", "The appointment was cancelled; its unsent reminders will not go out." },
	{ "rescheduled", "The appointment was moved; its reminders were planned again." },
	{ "imported", "The import is done." },
	{ "queued", "Queued: it will be sent in a moment, and shows on the timeline." },
	{ "revoked", "Revoked." },
	{ "greeting_reverted", "Your reminder calls open with the synthesised greeting again." },
	{ "deleted", "Deleted." },
	{ "password_changed", "Your password was changed; your other sessions were logged out." },
	{ "logged_out", "You are logged out." },
	{ "decided", "Your decision was recorded." },
	{ "callback_done", "Marked as called back." },
	{ "reschedule_done", "The reschedule request was marked done." },
	{ "key_created", "The API key was created. Copy it now: it is not shown again." },
	{ "user_added", "The user was added." },
	{ "user_removed", "The user was removed." },
	{ "business_chosen", "You are now looking at this business." },
	{ "failsafe_resumed", "Outbound messages are running again." },
	{ "failsafe_tripped", "Outbound messages are paused." },
	{ "business_verified", "The business is verified: its reminders reach its clients." },
	{ "business_unverified", "The verification was taken back: only its own number is reached." },
	{ "business_resumed", "The business's hold is lifted: fresh reminders go out again." },
	{ "messages_off", "Automatic messages are off: nothing automatic goes out until they are"
		" turned on again." },
	{ "messages_on", "Automatic messages are on again: held reminders still in their time go"
		" out." },
	{ "messages_already_off", "Automatic messages were already off; nothing changed." },
	{ "messages_already_on", "Automatic messages were already on; nothing changed." },
	{ "notifications_seen", "Marked as seen." },
	{ "feed_added", "The calendar was added: it is read within a minute." },
	{ "feed_removed", "The calendar was removed; the appointments made from it stay." },
	{ "sync_requested", "The calendar is read again within a minute." },
	{ "hold_approved", "Approved: the next sync applies these changes, within a minute." },
	{ "hold_rejected", "Rejected: nothing was applied and the calendar is off." },
	{ "client_confirmed", "The client is confirmed: their reminders go out." },
	{ "reply_queued", "Your reply is queued: a worker sends it in a moment, and its delivery"
		" status shows below." },
	{ "answered", "The client's texts are marked answered." },
	{ NULL, NULL }
};

/* The menu: the current item is out->page_nav's key. */
static const struct nav_item {
	const char *key;
	const char *label;
	const char *href;
	int operator_only;
} nav_items[] = {
	{ "today", "Today", "/today", 0 },
	{ "inbox", "Inbox", "/inbox", 0 },
	{ "clients", "Clients", "/clients", 0 },
	{ "import", "Import", "/import", 0 },
	{ "decisions", "Needs a decision", "/decisions", 0 },
	{ "flows", "Flows", "/flows", 0 },
	{ "settings", "Settings", "/settings", 0 },
	{ "businesses", "Businesses", "/operator/businesses", 1 },
	{ "failsafe", "Failsafe", "/operator/failsafe", 1 },
};

static const char tmpl_head[] =
	"<!DOCTYPE html>\n"
	"<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<meta name=\"robots\" content=\"noindex\">\n"
	"<title>{{title}} - ringfence</title>\n"
	/* No favicon: a browser's request for one would be a 404 and a
	 * console error on every page. */
	"<link rel=\"icon\" href=\"data:,\">\n"
	"<link rel=\"stylesheet\" href=\"/static/app.css?v={{css}}\">\n"
	"<script src=\"/static/app.js?v={{js}}\" defer></script>\n"
	"</head>\n<body>\n"
	"<a class=\"skip\" href=\"#main\">Skip to the content</a>\n";

static const char tmpl_top_user[] =
	"<header class=\"top\"><div class=\"wrap top-in\">\n"
	"<a class=\"brand\" href=\"/today\">{{business}}</a>\n"
	"<nav class=\"nav\" aria-label=\"Main menu\"><ul>\n";
static const char tmpl_nav_item[] = "<li><a href=\"{{href}}\">{{label}}</a></li>\n";
static const char tmpl_nav_current[] =
	"<li><a href=\"{{href}}\" aria-current=\"page\">{{label}}</a></li>\n";
static const char tmpl_top_user_end[] =
	"</ul></nav>\n"
	"<form class=\"logout\" method=\"post\" action=\"/logout\">" PAGE_CSRF_INPUT
	"<span class=\"who\">{{email}}</span> "
	"<button type=\"submit\" class=\"btn btn-quiet\">Log out</button></form>\n"
	"</div></header>\n";

static const char tmpl_top_plain[] =
	"<header class=\"top\"><div class=\"wrap top-in\">\n"
	"<a class=\"brand\" href=\"/\">ringfence</a>\n"
	"</div></header>\n";

static const char tmpl_main[] = "<main id=\"main\" class=\"wrap\">\n";
static const char tmpl_notice[] = "<p class=\"notice\" role=\"status\">{{notice}}</p>\n";
static const char tmpl_tail[] =
	"</main>\n"
	"<footer class=\"foot\"><div class=\"wrap\">ringfence &middot; appointment reminders"
	"</div></footer>\n"
	"</body></html>\n";

/* The body of every error page: a title and one sentence. */
static const char tmpl_error[] =
	"<section class=\"card error-page\">\n<h1>{{title}}</h1>\n<p>{{message}}</p>\n"
	"<p><a class=\"btn\" href=\"/\">Go to the dashboard</a></p>\n</section>\n";

/* ---- the writer -------------------------------------------------------------- */

/* See page.h. */
void page_begin(struct outcome *out, const char *title, const char *nav)
{
	out->page_title = title;
	out->page_nav = nav;
}

/* See page.h.  After a failed template the body is not used again: the
 * renderer answers the 500 page. */
void page_add(struct outcome *out, const char *tmpl, const char *const *fields)
{
	if (out->page_broken)
		return;
	if (html_render(&out->page_body, tmpl, fields) < 0) {
		log_error("page: a template does not render (a bug): %.80s", tmpl);
		out->page_broken = 1;
	}
}

/* See page.h. */
void page_text(struct outcome *out, const char *s)
{
	html_escape(&out->page_body, s);
}

/* See page.h. */
int page_local_path(const char *s)
{
	if (s == NULL || s[0] != '/' || s[1] == '/' || s[1] == '\\')
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x21 || *p > 0x7e || *p == '\\')
			return 0;
	return 1;
}

/* See page.h.  A path that is not local is a bug of the caller: the
 * answer becomes the 500 page rather than a redirect anywhere else. */
void page_redirect(struct outcome *out, const char *fmt, ...)
{
	va_list ap;
	char *to;

	va_start(ap, fmt);
	to = arena_vprintf(out->page_body.arena, fmt, ap);
	va_end(ap);
	if (!page_local_path(to)) {
		log_error("page: refusing a redirect to a path that is not local");
		out->redirect = NULL;
		out->page_broken = 1;
		return;
	}
	out->redirect = to;
}

/* See page.h. */
void page_error(struct outcome *out, int status, const char *title, const char *message)
{
	const char *const f[] = { "title", title, "message", message, NULL };

	buf_reset(&out->page_body);
	out->redirect = NULL;
	out->page_broken = 0;
	out->status = status;
	out->page_title = title;
	page_add(out, tmpl_error, f);
}

/* See page.h. */
void page_not_found(struct outcome *out)
{
	page_error(out, 404, "Page not found",
		"There is nothing at this address. It may have been moved or deleted, "
		"or the link is mistyped.");
}

/* See page.h. */
void page_unavailable(struct outcome *out)
{
	page_error(out, 503, "Temporarily unavailable",
		"The database is unavailable; nothing was changed. Try again in a minute.");
}

/* The 500 page: nothing of what went wrong is shown (the log has it). */
static void page_internal(struct outcome *out)
{
	page_error(out, 500, "Something went wrong",
		"This page could not be shown because of an error on our side; nothing was "
		"changed. The error has been logged.");
}

/* See page.h. */
const char *page_notice_text(const char *code)
{
	for (size_t i = 0; code && page_notices[i].code; i++)
		if (strcmp(page_notices[i].code, code) == 0)
			return page_notices[i].text;
	return NULL;
}

/* ---- times ------------------------------------------------------------------- */

/* 1 when tz looks like an IANA zone name ("Europe/London", "UTC",
 * "America/Argentina/Buenos_Aires", "Etc/GMT+5"): never a path (glibc
 * reads a TZ of "/x" or ":x" or with ".." as a file). */
static int tz_name_ok(const char *tz)
{
	size_t n = tz ? strlen(tz) : 0;

	if (n == 0 || n > 64 || tz[0] == '/' || strstr(tz, "..") != NULL)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = tz[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			    c == '/' || c == '_' || c == '-' || c == '+'))
			return 0;
	}
	return 1;
}

/* unix_s broken down in zone tz (UTC when tz is not a zone name).  The
 * process is single-threaded, so TZ is swapped and restored around
 * localtime_r.  0, or -1 when the time cannot be represented. */
static int local_tm(long long unix_s, const char *tz, struct tm *tm)
{
	const char *old = getenv("TZ");
	char saved[128];
	int have_old = old != NULL && strlen(old) < sizeof(saved);
	time_t t = (time_t)unix_s;
	int rc;

	if (have_old)
		snprintf(saved, sizeof(saved), "%s", old);
	setenv("TZ", tz_name_ok(tz) ? tz : "UTC", 1);
	tzset();
	rc = localtime_r(&t, tm) ? 0 : -1;
	if (have_old)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	return rc;
}

/* See page.h: "Tue 8 Dec 2026, 14:30". */
const char *page_time(struct arena *a, long long unix_s, const char *tz)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
		"Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	if (local_tm(unix_s, tz, &tm) < 0 || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
		tm.tm_mon > 11)
		return "";
	return arena_printf(a, "%s %d %s %d, %02d:%02d", days[tm.tm_wday], tm.tm_mday,
		months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min);
}

/* See page.h: "2026-12-08T14:30". */
const char *page_time_input(struct arena *a, long long unix_s, const char *tz)
{
	struct tm tm;

	if (local_tm(unix_s, tz, &tm) < 0)
		return "";
	return arena_printf(a, "%04d-%02d-%02dT%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
		tm.tm_mday, tm.tm_hour, tm.tm_min);
}

/* ---- static files ------------------------------------------------------------ */

/* A compiled-in file and the hex of its SHA-256's first 8 bytes,
 * computed once (static storage: the process's life). */
struct asset {
	const char *name;
	const char *type;
	const char *data;
	const size_t *len;
	char hash[17];
};

static struct asset assets[] = {
	{ "app.css", "text/css; charset=utf-8", www_app_css, &www_app_css_len, "" },
	{ "app.js", "application/javascript; charset=utf-8", www_app_js, &www_app_js_len, "" },
};

/* The asset called name (len bytes), its hash computed, or NULL. */
static struct asset *asset_get(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_LEN(assets); i++) {
		struct asset *s = &assets[i];
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		if (strlen(s->name) != len || memcmp(s->name, name, len) != 0)
			continue;
		if (s->hash[0] == '\0') {
			if (EVP_Digest(s->data, *s->len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
				mdlen < 8)
				abort(); /* SHA-256 of static bytes cannot fail */
			util_hex(md, 8, s->hash);
		}
		return s;
	}
	return NULL;
}

/* See page.h. */
int page_static_name(const char *v, size_t len)
{
	return asset_get(v, len) != NULL;
}

/* See page.h.  The route's param_check (page_static_name) admitted the
 * name. */
void page_static_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct asset *s = asset_get(in->param, strlen(in->param));

	if (s == NULL) {
		page_not_found(out);
		return;
	}
	buf_append(&out->page_body, s->data, *s->len);
	out->asset_type = s->type;
	out->asset_etag = arena_printf(in->req->arena, "\"%s\"", s->hash);
}

/* See page.h.  A logged-in user gets the 404 page in the whole shell
 * (menu, failsafe banner); the session is only read, nothing else. */
void page_not_found_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	int db_err = 0;

	if (in->req->cookie)
		out->page_user = session_load(app, in->req, &db_err);
	page_not_found(out);
}

/* ---- the shell --------------------------------------------------------------- */

/* The headers of page_headers, with media_src (an origin, or NULL: none)
 * allowed to play in the page's <audio> and nothing else widened. */
static void page_headers_media(struct http_response *res, const char *referrer,
	const char *media_src)
{
	if (media_src) {
		char *csp = xasprintf("%s; media-src %s", page_csp, media_src);
		http_response_header(res, "Content-Security-Policy", csp);
		free(csp);
	} else {
		http_response_header(res, "Content-Security-Policy", page_csp);
	}
	http_response_header(res, "X-Frame-Options", "DENY");
	http_response_header(res, "Referrer-Policy", referrer);
	http_response_header(res, "X-Robots-Tag", "noindex");
}

/* See page.h. */
void page_headers(struct http_response *res, const char *referrer)
{
	page_headers_media(res, referrer, NULL);
}

/* Appends the head (title, stylesheet, script) to b. */
static int shell_head(struct buf *b, const char *title)
{
	const char *const f[] = { "title", title ? title : "ringfence",
		"css", asset_get("app.css", 7)->hash, "js", asset_get("app.js", 6)->hash, NULL };
	return html_render(b, tmpl_head, f);
}

/* Appends the logged-in header to b: the business, the menu (nav the
 * current item; the operator's items for an operator) and logout. */
static int shell_top(struct app *app, struct arena *a, struct buf *b,
	const struct session_user *u, const char *nav)
{
	const char *const top[] = { "business", u->business_name && u->business_name[0]
		? u->business_name : "ringfence", NULL };
	const char *const end[] = { "csrf", u->csrf ? u->csrf : "", "email",
		u->email ? u->email : "", NULL };
	int rc = html_render(b, tmpl_top_user, top);

	for (size_t i = 0; rc == 0 && i < ARRAY_LEN(nav_items); i++) {
		const struct nav_item *it = &nav_items[i];
		/* The inbox's label counts the clients waiting for an answer. */
		const char *const f[] = { "href", it->href, "label", strcmp(it->key, "inbox") == 0
			? dash_inbox_nav_label(app, a, u->business_id) : it->label, NULL };
		if (it->operator_only && !u->operator)
			continue;
		rc = html_render(b, nav && strcmp(nav, it->key) == 0 ? tmpl_nav_current
			: tmpl_nav_item, f);
	}
	/* What clients said: the unseen count (app.js keeps it current). */
	if (rc == 0)
		dash_notify_nav(app, u, b, nav && strcmp(nav, "notifications") == 0);
	return rc < 0 ? rc : html_render(b, tmpl_top_user_end, end);
}

/* The page in the shell: head, header (or the minimal one), banner,
 * notice, body, footer, into res->body.  -1 when a template fails. */
static int shell(struct app *app, const struct route_input *in, const struct outcome *out,
	struct http_response *res)
{
	const struct session_user *u = in ? (in->user ? in->user : out->page_user) : NULL;
	const struct params *q = in && in->req->query_ok ? &in->req->query_params : NULL;
	const char *notice = q ? page_notice_text(form_get(q, "notice")) : NULL;
	struct buf *b = &res->body;

	buf_reset(b);
	if (shell_head(b, out->page_title) < 0)
		return -1;
	if (u) {
		if (shell_top(app, in->req->arena, b, u, out->page_nav) < 0)
			return -1;
		dash_failsafe_banner(app, u, b);
		dash_business_banner(app, u, b);
		msgswitch_banner(app, u, b);
	} else if (html_render(b, tmpl_top_plain, NULL) < 0) {
		return -1;
	}
	if (html_render(b, tmpl_main, NULL) < 0)
		return -1;
	if (notice) {
		const char *const f[] = { "notice", notice, NULL };
		if (html_render(b, tmpl_notice, f) < 0)
			return -1;
	}
	buf_append(b, out->page_body.data, out->page_body.len);
	return html_render(b, tmpl_tail, NULL);
}

/* See page.h. */
void page_render(struct app *app, const struct route_input *in, struct outcome *out,
	struct http_response *res)
{
	if (out->redirect && !out->page_broken && page_local_path(out->redirect)) {
		res->status = 303;
		res->content_type = "text/plain; charset=utf-8";
		buf_reset(&res->body);
		http_response_header(res, "Location", out->redirect);
		page_headers(res, "same-origin");
		return;
	}
	if (out->page_broken || out->redirect)
		page_internal(out);
	/* An origin in a header: only characters a URL origin has. */
	page_headers_media(res, "same-origin", out->page_media_src &&
		strspn(out->page_media_src, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			"0123456789:/.-[]") == strlen(out->page_media_src) ? out->page_media_src : NULL);
	res->content_type = "text/html; charset=utf-8";
	res->status = out->status ? out->status : 200;
	if (out->page_fragment && res->status == 200) {
		buf_reset(&res->body);
		if (out->page_body.len)
			buf_append(&res->body, out->page_body.data, out->page_body.len);
		return;
	}
	if (shell(app, in, out, res) == 0)
		return;
	/* The shell's own templates are constants: only a bug gets here.
	 * The error page then goes out without the header. */
	log_error("page: the shell does not render (a bug)");
	page_internal(out);
	res->status = 500;
	if (shell(app, NULL, out, res) < 0)
		http_response_text(res, 500, "internal error");
}

/* See page.h. */
int page_render_plain(const struct outcome *out, struct http_response *res)
{
	struct buf *b = &res->body;

	buf_reset(b);
	if (out->page_tmpl == NULL || shell_head(b, out->page_title) < 0 ||
		html_render(b, tmpl_top_plain, NULL) < 0 || html_render(b, tmpl_main, NULL) < 0 ||
		html_render(b, "<section class=\"card\">\n", NULL) < 0 ||
		html_render(b, out->page_tmpl, out->page_fields) < 0 ||
		html_render(b, "</section>\n", NULL) < 0 || html_render(b, tmpl_tail, NULL) < 0)
		return -1;
	return 0;
}
