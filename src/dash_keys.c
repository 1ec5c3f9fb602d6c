/* dash_keys: the business's API keys on the settings pages; see
 * include/dash_keys.h. */
#include "dash_keys.h"
#include "apikey.h"
#include "app.h"
#include "arena.h"
#include "dash_settings.h"
#include "http.h"
#include "page.h"
#include "session.h"
#include "valid.h"

#include <stdio.h>
#include <string.h>

const struct valid_field dash_keys_create_fields[DK_NFIELDS] = {
	[DK_LABEL] = { "label", valid_any, 0, VALID_TEXT },
};

static const char tmpl_head[] =
	"<h1>API keys</h1>\n"
	"<p><a href=\"/settings\">Settings</a></p>\n"
	"<p class=\"hint\">A key lets your own software book and read appointments through the"
	" JSON API (/api/v1/). Anyone holding a key acts as your business: keep it secret, and"
	" revoke a key you no longer use.</p>\n";
static const char tmpl_error_top[] = "<p class=\"alert\" role=\"alert\">{{message}}</p>\n";
static const char tmpl_empty[] = "<p class=\"empty\">No API keys yet.</p>\n";
static const char tmpl_table[] =
	"<section class=\"card\"><h2>Keys</h2>\n<div class=\"table-wrap\"><table class=\"table\">"
	"<thead><tr><th scope=\"col\">Label</th><th scope=\"col\">Key</th>"
	"<th scope=\"col\">Created</th><th scope=\"col\">Last used</th>"
	"<th scope=\"col\">Status</th><th scope=\"col\"></th></tr></thead><tbody>\n";
static const char tmpl_row_active[] =
	"<tr><td data-label=\"Label\">{{label}}</td>"
	"<td data-label=\"Key\" class=\"mono\">rf_{{prefix}}_&hellip;</td>"
	"<td data-label=\"Created\">{{created}}</td><td data-label=\"Last used\">{{used}}</td>"
	"<td data-label=\"Status\"><span class=\"badge badge-ok\">active</span></td><td>";
static const char tmpl_row_revoke[] =
	"<form method=\"post\" action=\"/settings/api-keys/{{id}}/revoke\" class=\"inline-form\""
	" data-confirm=\"Revoke the key {{label}}? Software using it stops working at once.\">"
	PAGE_CSRF_INPUT "<button type=\"submit\" class=\"btn btn-danger btn-small\">Revoke</button>"
	"</form>";
static const char tmpl_row_revoked[] =
	"<tr><td data-label=\"Label\">{{label}}</td>"
	"<td data-label=\"Key\" class=\"mono\">rf_{{prefix}}_&hellip;</td>"
	"<td data-label=\"Created\">{{created}}</td><td data-label=\"Last used\">{{used}}</td>"
	"<td data-label=\"Status\"><span class=\"badge badge-muted\">revoked {{revoked}}</span>"
	"</td><td>";
static const char tmpl_row_end[] = "</td></tr>\n";
static const char tmpl_table_end[] = "</tbody></table></div></section>\n";
static const char tmpl_form[] =
	"<section class=\"card\"><h2>Create a key</h2>\n"
	"<form method=\"post\" action=\"/settings/api-keys\" class=\"form\">\n" PAGE_CSRF_INPUT "\n"
	"<div class=\"field{{cls}}\"><label for=\"label\">Label</label>\n"
	"<input id=\"label\" name=\"label\" value=\"{{label}}\" maxlength=\"200\""
	" aria-describedby=\"label-hint\">\n"
	"<p class=\"hint\" id=\"label-hint\">What the key is for, e.g. &ldquo;booking"
	" website&rdquo;.</p>\n";
static const char tmpl_field_error[] =
	"<p class=\"field-error\" id=\"label-error\">{{message}}</p>\n";
static const char tmpl_form_end[] =
	"</div><div class=\"form-actions\"><button type=\"submit\" class=\"btn btn-primary\">"
	"Create key</button></div>\n</form></section>\n";
static const char tmpl_created[] =
	"<h1>API key created</h1>\n"
	"<section class=\"card\">\n"
	"<p class=\"alert-info\">Copy this key now. It is shown only this once: ringfence keeps"
	" only a fingerprint of it.</p>\n"
	"<p>Label: {{label}}</p>\n"
	"<pre class=\"code\" id=\"new-key\">{{key}}</pre>\n"
	"<p class=\"hint\">Send it as <span class=\"mono\">Authorization: Bearer &lt;key&gt;</span>"
	" with each request to /api/v1/.</p>\n"
	"<p><a href=\"/settings/api-keys\" class=\"btn\">Back to API keys</a></p>\n</section>\n";

/* The list and, for an owner or operator, the create form with label
 * and the refusal err (NULL: none). */
static void render(struct app *app, const struct route_input *in, struct outcome *out,
	const char *label, const char *err)
{
	struct arena *a = in->req->arena;
	const char *tz = in->user->business_tz;
	int can = dash_settings_can_change(in);
	struct apikey_info *keys;
	size_t n;

	if (apikey_list(app->db, a, in->business_id, &keys, &n) < 0) {
		page_unavailable(out);
		return;
	}
	page_begin(out, "API keys", "settings");
	page_add(out, tmpl_head, NULL);
	if (err) {
		const char *const e[] = { "message", err, NULL };
		out->status = 422;
		page_add(out, tmpl_error_top, e);
	}
	if (n == 0)
		page_add(out, tmpl_empty, NULL);
	else
		page_add(out, tmpl_table, NULL);
	for (size_t i = 0; i < n; i++) {
		const struct apikey_info *k = &keys[i];
		const char *const f[] = { "id", arena_printf(a, "%lld", k->id),
			"label", k->label[0] ? k->label : "(no label)", "prefix", k->prefix,
			"created", page_time(a, k->created_at, tz),
			"used", k->last_used_at ? page_time(a, k->last_used_at, tz) : "never",
			"revoked", k->revoked_at ? page_time(a, k->revoked_at, tz) : "",
			"csrf", in->user->csrf, NULL };
		page_add(out, k->revoked_at ? tmpl_row_revoked : tmpl_row_active, f);
		if (can && !k->revoked_at)
			page_add(out, tmpl_row_revoke, f);
		page_add(out, tmpl_row_end, NULL);
	}
	if (n > 0)
		page_add(out, tmpl_table_end, NULL);
	if (!can)
		return;
	{
		const char *const f[] = { "csrf", in->user->csrf, "label", label,
			"cls", err ? " has-error" : "", NULL };
		page_add(out, tmpl_form, f);
	}
	if (err) {
		const char *const e[] = { "message", err, NULL };
		page_add(out, tmpl_field_error, e);
	}
	page_add(out, tmpl_form_end, NULL);
}

void dash_keys_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	render(app, in, out, "", NULL);
}

void dash_keys_create_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	const char *label = in->form.v[DK_LABEL].s ? in->form.v[DK_LABEL].s : "";
	char key[APIKEY_LEN + 1], err[256];
	size_t len = strlen(label);
	long long id;

	if (!dash_settings_can_change(in)) {
		page_error(out, 403, "Only an owner can create API keys",
			"Your login can see the keys but not change them. Nothing was changed.");
		return;
	}
	if (len == 0 || len > APIKEY_LABEL_MAX || !valid_utf8(label, len) ||
		!valid_no_controls(label, len, NULL)) {
		render(app, in, out, label, "Label: say what the key is for, in 1 to 200"
			" characters on one line.");
		return;
	}
	id = apikey_create(app->db, in->business_id, label, key, err, sizeof(err));
	if (id < 0) {
		page_unavailable(out);
		return;
	}
	/* Its public prefix only (rf_<prefix>_...), never the key. */
	{
		char prefix[APIKEY_PREFIX_LEN + 1];
		dash_settings_audit(in, out, "api_key_created", "key_id", id, "key_prefix",
			apikey_parse(key, prefix) ? prefix : NULL);
	}
	/* The key exists only in this answer from now on. */
	page_begin(out, "API key created", "settings");
	{
		const char *const f[] = { "label", label, "key", key, NULL };
		page_add(out, tmpl_created, f);
	}
	explicit_bzero(key, sizeof(key));
}

void dash_keys_revoke_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	int r;

	if (!dash_settings_can_change(in)) {
		page_error(out, 403, "Only an owner can revoke API keys",
			"Your login can see the keys but not change them. Nothing was changed.");
		return;
	}
	r = apikey_revoke(app->db, in->business_id, in->param_id);
	if (r == -2) {
		page_unavailable(out);
		return;
	}
	if (r < 0) {
		page_not_found(out);
		return;
	}
	dash_settings_audit(in, out, "api_key_revoked", "key_id", in->param_id,
		NULL, NULL);
	page_redirect(out, "/settings/api-keys?notice=revoked");
}
