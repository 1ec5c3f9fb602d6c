/* Unit tests: the editable lines of the reminder text and email (only the
 * allowed placeholders, {notes} refused by name), the messages built from
 * the shipped templates and them, SMS segment counts in GSM-7 and UCS-2,
 * the business name in texts, the keyword rule, and `ringfence check` on
 * a copy of state_tables/ with broken message templates, table-driven. */
#include "unit.h"

#include "arena.h"
#include "buf.h"
#include "check.h"
#include "diag.h"
#include "util.h"
#include "wording.h"

#include <string.h>

static const struct wording_values vals = { "Ann & Bo's <Salon>", "Tuesday, December 8",
	"2:30 PM", "+15550100123" };

static const struct {
	const char *line;
	int ok;
	const char *why; /* a part of the refusal */
} check_cases[] = {
	{ "Hello from {business}!", 1, NULL },
	{ "{business} {date} {time} {callback}", 1, NULL },
	{ "No placeholders at all.", 1, NULL },
	{ "Héllo – ünïcode is fine", 1, NULL },
	{ "Your notes: {notes}", 0, "{notes} cannot be used" },
	{ "{client_name} hi", 0, "{client_name} is not a placeholder" },
	{ "{Business}", 0, "{Business} is not a placeholder" },
	{ "a { b", 0, "opens no placeholder" },
	{ "a {{business}}", 0, "opens no placeholder" },
	{ "a } b", 0, "'}'" },
	{ "", 0, "empty" },
	{ "two\nlines", 0, "one line" },
	{ "tab\there", 0, "one line" },
	{ "\xff\xfe", 0, "one line" },
};

static void test_check(void **state)
{
	char err[256];
	(void)state;
	for (size_t i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
		int r = wording_check(check_cases[i].line, err, sizeof(err));
		if ((r == 0) != check_cases[i].ok)
			fail_msg("'%s': %d (%s)", check_cases[i].line, r, r ? err : "");
		if (!check_cases[i].ok && strstr(err, check_cases[i].why) == NULL)
			fail_msg("'%s': reason '%s' lacks '%s'", check_cases[i].line, err,
				check_cases[i].why);
	}
	assert_int_equal(wording_check(NULL, err, sizeof(err)), -1);
}

static void test_length_in_characters(void **state)
{
	char line[4 * WORDING_LINE_MAX + 8], err[256];
	(void)state;
	/* WORDING_LINE_MAX two-byte characters pass; one more does not. */
	line[0] = '\0';
	for (int i = 0; i < WORDING_LINE_MAX; i++)
		strcat(line, "\xc3\xa9");
	assert_int_equal(wording_check(line, err, sizeof(err)), 0);
	strcat(line, "e");
	assert_int_equal(wording_check(line, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than"));
}

static void test_defaults_pass_their_check(void **state)
{
	char err[256];
	(void)state;
	assert_int_equal(wording_check(wording_default_greeting, err, sizeof(err)), 0);
	assert_int_equal(wording_check(wording_default_closing, err, sizeof(err)), 0);
}

static void test_sms(void **state)
{
	struct arena *a = arena_new(4096);
	struct wording def = { wording_default_greeting, wording_default_closing };
	struct wording mine = { "Hi from {business} ({callback})!", "Questions? {callback}" };
	struct wording bad = { "Hi {notes}", "ok" };
	struct wording huge = { "{business} {business} {business} {business} {business}",
		"{business} {business} {business} {business} {business} {business}" };
	struct wording_values long_name = vals;
	char err[200];
	(void)state;
	assert_string_equal(wording_sms(a, &def, &vals, err, sizeof(err)),
		"This is a reminder from Ann & Bo's <Salon>: you have an appointment on Tuesday,"
		" December 8 at 2:30 PM. To change it, call +15550100123. Reply 1 to confirm,"
		" 2 to cancel, 3 for a call back, 4 to reschedule. Reply STOP to stop these texts.");
	assert_string_equal(wording_sms(a, &mine, &vals, err, sizeof(err)),
		"Hi from Ann & Bo's <Salon> (+15550100123)! you have an appointment on Tuesday,"
		" December 8 at 2:30 PM. Questions? +15550100123 Reply 1 to confirm, 2 to cancel,"
		" 3 for a call back, 4 to reschedule. Reply STOP to stop these texts.");
	assert_null(wording_sms(a, &bad, &vals, err, sizeof(err)));
	assert_non_null(strstr(err, "does not pass its check"));
	/* The name in a text is its SMS form, in the lines and the template. */
	long_name.business = "Zo\xc3\xab\xe2\x80\x99s Extraordinarily Long Salon Name & Spa";
	assert_non_null(strstr(wording_sms(a, &def, &long_name, err, sizeof(err)),
		"This is a reminder from Zoe's Extraordinarily Long ...: you have"));
	/* Lines stored before the segment rule: the text is not built. */
	long_name.business = "Salon Twenty-Eight Characters";
	assert_null(wording_sms(a, &huge, &long_name, err, sizeof(err)));
	assert_non_null(strstr(err, "SMS segments (at most 2)"));
	arena_free(a);
}

static void test_email(void **state)
{
	struct arena *a = arena_new(4096);
	struct wording mine = { "<b>{business}</b> says:", "Call {callback} & ask." };
	struct wording bad = { "fine", "{notes}" };
	struct buf html;
	char *text;
	(void)state;
	text = wording_email_text(a, &mine, &vals, "https://x.example/u?t=1");
	assert_non_null(text);
	assert_non_null(strstr(text, "<b>Ann & Bo's <Salon></b> says: you have an appointment"
				     " on Tuesday, December 8 at 2:30 PM.\n\nCall +15550100123 & ask.\n"));
	assert_non_null(strstr(text, "https://x.example/u?t=1"));
	buf_init_arena(&html, a);
	assert_int_equal(wording_email_html(a, &html, &mine, &vals, "https://x.example/u?t=1"), 0);
	/* The business's line is text in the HTML part, never markup. */
	assert_null(strstr(buf_str(&html), "<b>"));
	assert_non_null(strstr(buf_str(&html), "&lt;b&gt;Ann &amp; Bo&#39;s &lt;Salon&gt;&lt;/b&gt;"
						" says: you have"));
	assert_string_equal(wording_email_subject(a, &mine, &vals),
		"Appointment reminder from Ann & Bo's <Salon>");
	/* The email carries the full name, not the SMS form. */
	assert_non_null(strstr(text, "reminders from Ann & Bo's <Salon> (calls, texts"));
	assert_null(wording_email_text(a, &bad, &vals, "https://x.example/u"));
	assert_int_equal(wording_email_html(a, &html, &bad, &vals, "https://x.example/u"), -1);
	arena_free(a);
}

/* The booking confirmation: its own templates, the same fields, lines
 * and escaping. */
static void test_booking(void **state)
{
	struct arena *a = arena_new(4096);
	struct wording def = { wording_default_greeting, wording_default_closing };
	struct wording bad = { "fine", "{notes}" };
	struct buf html;
	char err[200], *text;
	(void)state;
	assert_string_equal(wording_message_sms(a, WORDING_BOOKING, &def, &vals, err, sizeof(err)),
		"Ann & Bo's <Salon>: your appointment on Tuesday, December 8 at 2:30 PM is booked."
		" To change it, call +15550100123. Reply 1 to confirm, 2 to cancel, 3 for a call"
		" back. Reply STOP to stop these texts.");
	assert_null(wording_message_sms(a, WORDING_BOOKING, &bad, &vals, err, sizeof(err)));
	assert_string_equal(wording_message_subject(a, WORDING_BOOKING, &def, &vals),
		"Your appointment with Ann & Bo's <Salon> is booked");
	text = wording_message_text(a, WORDING_BOOKING, &def, &vals, "https://x.example/u?t=1");
	assert_non_null(text);
	assert_non_null(strstr(text, "Your appointment with Ann & Bo's <Salon> on Tuesday,"
				     " December 8 at 2:30 PM is booked.\n\nTo change it, call"
				     " +15550100123."));
	assert_non_null(strstr(text, "https://x.example/u?t=1"));
	buf_init_arena(&html, a);
	assert_int_equal(wording_message_html(a, WORDING_BOOKING, &html, &def, &vals,
		"https://x.example/u?t=1"), 0);
	assert_non_null(strstr(buf_str(&html), "Ann &amp; Bo&#39;s &lt;Salon&gt; on Tuesday"));
	assert_non_null(strstr(buf_str(&html), "href=\"https://x.example/u?t=1\""));
	assert_null(wording_message_text(a, WORDING_BOOKING, &bad, &vals, "https://x.example/u"));
	arena_free(a);
}

/* n copies of s. */
static char *rep(struct arena *a, const char *s, int n)
{
	size_t l = strlen(s);
	char *out = arena_alloc(a, l * (size_t)n + 1);
	for (int i = 0; i < n; i++)
		memcpy(out + l * (size_t)i, s, l);
	out[l * (size_t)n] = '\0';
	return out;
}

static void test_segments(void **state)
{
	struct arena *a = arena_new(65536);
	struct wording_segments sg;
	const struct {
		const char *text;
		int ucs2, units, segments;
	} cases[] = {
		{ "", 0, 0, 0 },
		{ "Hello", 0, 5, 1 },
		{ rep(a, "a", 160), 0, 160, 1 },
		{ rep(a, "a", 161), 0, 161, 2 },
		{ rep(a, "a", 306), 0, 306, 2 },
		{ rep(a, "a", 307), 0, 307, 3 },
		/* Extension characters take two septets. */
		{ rep(a, "{", 80), 0, 160, 1 },
		{ rep(a, "\xe2\x82\xac", 81), 0, 162, 2 },   /* euro sign */
		/* ... and are not split: 152 'a' then '[' needs 2 of the 1 left. */
		{ arena_printf(a, "%s[%s", rep(a, "a", 152), rep(a, "a", 10)), 0, 164, 2 },
		{ arena_printf(a, "%s[%s", rep(a, "a", 152), rep(a, "a", 152)), 0, 306, 3 },
		/* GSM-7's own accented letters and Greek capitals stay GSM-7. */
		{ "\xc3\xa9\xc3\xa8\xc3\xbc \xce\x94\xce\xa9 \xc2\xa3", 0, 8, 1 },
		/* Anything else makes the whole text UCS-2. */
		{ "caf\xc3\xaa", 1, 4, 1 },               /* e with circumflex */
		{ "`", 1, 1, 1 },
		{ rep(a, "\xd0\x96", 70), 1, 70, 1 },     /* Cyrillic */
		{ rep(a, "\xd0\x96", 71), 1, 71, 2 },
		{ rep(a, "\xd0\x96", 134), 1, 134, 2 },
		{ rep(a, "\xd0\x96", 135), 1, 135, 3 },
		/* An emoji is two UTF-16 units, never split across segments. */
		{ rep(a, "\xf0\x9f\x98\x80", 35), 1, 70, 1 },
		{ arena_printf(a, "%s\xf0\x9f\x98\x80%s", rep(a, "x", 66), rep(a, "x", 3)), 1, 71, 2 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		wording_sms_segments(cases[i].text, &sg);
		if (sg.ucs2 != cases[i].ucs2 || sg.units != cases[i].units
			|| sg.segments != cases[i].segments)
			fail_msg("case %zu: ucs2 %d units %d segments %d, expected %d %d %d", i,
				sg.ucs2, sg.units, sg.segments, cases[i].ucs2, cases[i].units,
				cases[i].segments);
	}
	arena_free(a);
}


static void test_sms_name(void **state)
{
	struct arena *a = arena_new(4096);
	const struct {
		const char *name, *want;
	} cases[] = {
		{ "Ann & Bo's Salon", "Ann & Bo's Salon" },
		/* GSM's own accents stay; others become their plain letter. */
		{ "Caf\xc3\xa9 \xc3\x84rzte", "Caf\xc3\xa9 \xc3\x84rzte" },
		{ "Cr\xc3\xaape \xe2\x80\x9c" "Chez L\xc3\xa9on\xe2\x80\x9d \xe2\x80\x93 Z\xc3\xb4", "Crepe \"Chez L\xc3\xa9on\" - Zo" },
		{ "\xe5\x8c\xbb\xe9\x99\xa2 Clinic \xf0\x9f\x98\x80", "?? Clinic ?" },
		{ "Exactly thirty characters here", "Exactly thirty characters here" },
		{ "Thirty-one characters are here!", "Thirty-one characters are h..." },
		{ "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
		  "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
		  "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
		  "\xe2\x82\xac",
		  "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
		  "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
		  "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac..." },
		{ "", "" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = wording_sms_name(a, cases[i].name);
		struct wording_segments sg;
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: '%s', expected '%s'", i, got, cases[i].want);
		wording_sms_segments(got, &sg);
		assert_int_equal(sg.ucs2, 0);
		assert_true(sg.units <= 2 * WORDING_SMS_NAME_MAX);
	}
	arena_free(a);
}

static void test_segments_bound(void **state)
{
	struct arena *a = arena_new(65536);
	const struct {
		const char *text;
		int bound;
	} cases[] = {
		{ "", 0 },
		{ rep(a, "a", 160), 1 },
		{ rep(a, "a", 161), 2 },
		{ rep(a, "a", 304), 2 },
		{ rep(a, "a", 305), 3 },          /* 2 by the exact count: not safe */
		{ rep(a, "\xd0\x96", 70), 1 },
		{ rep(a, "\xd0\x96", 132), 2 },
		{ rep(a, "\xd0\x96", 133), 3 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (wording_sms_segments_bound(cases[i].text) != cases[i].bound)
			fail_msg("case %zu: %d, expected %d", i,
				wording_sms_segments_bound(cases[i].text), cases[i].bound);
	arena_free(a);
}

static const struct {
	const char *text;
	const char *why; /* NULL: passes; else a part of the reason */
} keyword_cases[] = {
	{ "Reply 1 to confirm, 2 to cancel, 3 for a call back. Reply STOP to stop these texts.", NULL },
	{ "Reply STOP to opt out.", NULL },
	{ "Text STOP or END to stop reminders.", NULL },
	{ "Reply STOP, QUIT or UNSUBSCRIBE to unsubscribe.", NULL },
	{ "Reply START to start texts again. Reply HELP for help.", NULL },
	{ "Text START to get our texts again.", NULL },
	{ "Text START to receive reminders.", NULL },
	{ "Text START to get a discount.", "START is a carrier opt-in keyword" },
	{ "Reply INFO for more information.", NULL },
	{ "To cancel, call us. We hope it is not the end.", NULL },   /* plain words */
	{ "Reply 2 to cancel.", NULL },
	{ "Reply YES to confirm.", NULL },                           /* YES: see wording.c */
	{ "Reply CANCEL to cancel", "text CANCEL for something else: CANCEL is a carrier opt-out" },
	{ "Reply cancel to cancel", "text cancel for something else" },
	{ "Reply 2 or cancel to cancel your visit", "text cancel for something else" },
	{ "text END", "text END without saying what it does" },
	{ "reply STOP to confirm", "text STOP for something else" },
	{ "Reply STOP to stop, CANCEL to cancel.", "text CANCEL for something else" },
	{ "Send \"quit\" to leave the queue.", "text quit for something else" },
	{ "Reply \xe2\x80\x9c" "end\xe2\x80\x9d to finish.", "text end for something else" },
	{ "Reply HELP to stop.", "HELP is a carrier help keyword" },
	{ "Reply START to confirm.", "START is a carrier opt-in keyword" },
	{ "Questions? INFO", "text INFO without saying what it does" },
	{ "Reply 1 to confirm. STOPALL", "text STOPALL without saying" },
};

static void test_keyword_rule(void **state)
{
	char err[400];
	(void)state;
	for (size_t i = 0; i < sizeof(keyword_cases) / sizeof(keyword_cases[0]); i++) {
		int r = wording_keyword_problem(keyword_cases[i].text, err, sizeof(err));
		if ((r == 0) != (keyword_cases[i].why == NULL))
			fail_msg("'%s': %d (%s)", keyword_cases[i].text, r, r ? err : "");
		if (r != 0 && strstr(err, keyword_cases[i].why) == NULL)
			fail_msg("'%s': reason '%s' lacks '%s'", keyword_cases[i].text, err,
				keyword_cases[i].why);
	}
}

static void test_check_lines(void **state)
{
	struct arena *a = arena_new(4096);
	const struct {
		struct wording w;
		const char *field, *why; /* why NULL: passes */
	} cases[] = {
		{ { wording_default_greeting, wording_default_closing }, NULL, NULL },
		{ { "Hi from {business}!", "Reply CANCEL to cancel." }, "closing",
		  "Closing line: it tells people to text CANCEL" },
		{ { "Text END, {business} here.", "Bye" }, "greeting", "Greeting: it tells people" },
		/* 160 + 86 characters with the template's 149 and the name's
		 * 60 septets: over 304. */
		{ { "Hello from {business}, we look forward to seeing you again soon for your"
		    " visit, please bring your card and arrive ten minutes early to fill in forms",
		    "Thank you for choosing us, call {callback} with any question you have." },
		  "greeting", "would take 3 SMS segments" },
		/* One character outside GSM makes the text UCS-2: no room. */
		{ { "Hi from {business} \xe2\x98\xba", "Bye" }, "greeting",
		  "The character \xe2\x98\xba is not in the GSM alphabet" },
		{ { "Hi from {business}", "Bye \xe2\x98\xba" }, "closing", "UCS-2" },
		/* The booking confirmation's text carries the business name
		 * beside the closing: 60 septets more than this reminder text
		 * (251 septets), so over 304. */
		{ { "Hi", "Please arrive ten minutes early and bring your insurance card and a list of the medicines you take." }, "greeting", "would take 3 SMS segments" },
	};
	char err[512];
	const char *field;
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = wording_check_lines(a, &cases[i].w, err, sizeof(err), &field);
		if ((r == 0) != (cases[i].why == NULL))
			fail_msg("case %zu: %d (%s)", i, r, r ? err : "");
		if (r != 0 && (strstr(err, cases[i].why) == NULL || strcmp(field, cases[i].field)))
			fail_msg("case %zu: %s: '%s' lacks '%s'", i, field, err, cases[i].why);
	}
	arena_free(a);
}

/* Runs `ringfence check` (check_run) on root; returns its output. */
static char *check_output(const char *root, int *problems)
{
	char *out = NULL;
	size_t len = 0;
	struct check_stats st;
	FILE *m = open_memstream(&out, &len);

	assert_non_null(m);
	*problems = check_run(root, 0, NULL, 0, m, &st);
	fclose(m);
	return out;
}

/* Writes text to root/rel. */
static void put(const char *root, const char *rel, const char *text)
{
	unit_write_file(root, rel, text);
}

/* A copy of the shipped state_tables/ and audio/ in a new directory. */
static char *copy_tree(void)
{
	char tmpl[] = "/tmp/rf_wording_XXXXXX";
	char *root = xstrdup(mkdtemp(tmpl)), *cmd;
	cmd = xasprintf("cp -r state_tables audio '%s'/", root);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return root;
}

static void remove_tree(char *root)
{
	char *cmd = xasprintf("rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(root);
}

static const struct {
	const char *file, *text;
	const char *want; /* the whole output, after the root */
} broken_cases[] = {
	/* The shipped templates pass. */
	{ NULL, NULL, "" },
	{ "state_tables/messages/sms_reminder.txt",
	  "{{greeting}} on {{appointment_date}}: {{notes}}. Reply STOP to stop these texts.\n",
	  "/state_tables/messages/sms_reminder.txt: placeholder {{notes}} is not an allowed field"
	  " (business_name, appointment_date, appointment_time, callback_number, greeting,"
	  " closing)\n" },
	{ "state_tables/messages/email_reminder.txt",
	  "Hello,\n{{greeting}} Notes: {{notes}}\n{{unsubscribe_url}}\n",
	  "/state_tables/messages/email_reminder.txt: placeholder {{notes}} is not an allowed"
	  " field (business_name, appointment_date, appointment_time, callback_number, greeting,"
	  " closing, unsubscribe_url)\n" },
	{ "state_tables/messages/email_reminder.html",
	  "<p>{{greeting}} {{notes}}</p><a href=\"{{unsubscribe_url}}\">unsubscribe</a>\n",
	  "/state_tables/messages/email_reminder.html: placeholder {{notes}} is not an allowed"
	  " field (business_name, appointment_date, appointment_time, callback_number, greeting,"
	  " closing, unsubscribe_url)\n" },
	{ "state_tables/messages/email_reminder_subject.txt", "Notes: {{notes}}\n",
	  "/state_tables/messages/email_reminder_subject.txt: placeholder {{notes}} is not an"
	  " allowed field (business_name, appointment_date, appointment_time, callback_number,"
	  " greeting, closing)\n" },
	{ "state_tables/reminder_call/confirmed.xml",
	  "<Response><Say>{{notes}}</Say><Hangup/></Response>\n",
	  "/state_tables/reminder_call/confirmed.xml:1: state 'confirmed': placeholder {{notes}}"
	  " is not an allowed field (business_name, appointment_date, appointment_time,"
	  " callback_number)\n" },
	{ "state_tables/messages/sms_reminder.txt",
	  "{{greeting}} Reply CANCEL to cancel. {{closing}} Reply STOP to stop these texts.\n",
	  "/state_tables/messages/sms_reminder.txt: it tells people to text CANCEL for something"
	  " else: CANCEL is a carrier opt-out keyword (texting it stops every text from this"
	  " number), so it may only be suggested for stopping texts (\"to stop ...\")\n" },
	{ "state_tables/messages/sms_reminder.txt",
	  "{{greeting}} you have an appointment on {{appointment_date}}. {{closing}}\n",
	  "/state_tables/messages/sms_reminder.txt: no opt-out: a reminder text must tell people"
	  " to reply STOP to stop these texts\n" },
	{ "state_tables/messages/sms_booking.txt",
	  "{{business_name}}: booked for {{appointment_date}}. {{notes}} Reply STOP to stop these"
	  " texts.\n",
	  "/state_tables/messages/sms_booking.txt: placeholder {{notes}} is not an allowed field"
	  " (business_name, appointment_date, appointment_time, callback_number, greeting,"
	  " closing)\n" },
	{ "state_tables/messages/sms_booking.txt",
	  "{{business_name}}: your appointment on {{appointment_date}} is booked.\n",
	  "/state_tables/messages/sms_booking.txt: no opt-out: a reminder text must tell people"
	  " to reply STOP to stop these texts\n" },
	{ "state_tables/messages/email_booking.txt", "Booked with {{business_name}}.\n",
	  "/state_tables/messages/email_booking.txt: no {{unsubscribe_url}}: every reminder"
	  " email must carry its unsubscribe link\n" },
	{ "state_tables/messages/email_reminder.html", "<p>{{greeting}}</p>\n",
	  "/state_tables/messages/email_reminder.html: no {{unsubscribe_url}}: every reminder"
	  " email must carry its unsubscribe link\n" },
	/* 30 + 28 + 23 + 4 + 8 + 60 + 16 + ...: 2 segments at the longest
	 * only without the second sentence. */
	{ "state_tables/messages/sms_reminder.txt",
	  "{{business_name}}: you have an appointment on {{appointment_date}} at"
	  " {{appointment_time}}. Call {{callback_number}} to change it, or come by; we are open"
	  " every day from nine to five, and our staff will be glad to help you with anything"
	  " you need. Reply STOP to stop these texts.\n",
	  "/state_tables/messages/sms_reminder.txt: at its longest (business name 30 characters,"
	  " date \"Wednesday, September 30\", callback number 16 characters) the text takes 3"
	  " SMS segments (309 septets of GSM-7; at most 2 segments: 304 septets)\n" },
};

/* ringfence check on a copy of state_tables/ with one template broken:
 * exactly that problem, one line naming the file and the field. */
static void test_check_templates(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(broken_cases) / sizeof(broken_cases[0]); i++) {
		char *root = copy_tree(), *want, *out;
		int problems, lines = 0;
		if (broken_cases[i].file)
			put(root, broken_cases[i].file, broken_cases[i].text);
		out = check_output(root, &problems);
		want = broken_cases[i].want[0] ? xasprintf("%s%s", root, broken_cases[i].want)
			: xstrdup("");
		for (const char *p = want; *p; p++)
			lines += *p == '\n';
		if (strcmp(out, want) != 0 || problems != lines)
			fail_msg("case %zu: %d problems:\n%s\nwant:\n%s", i, problems, out, want);
		free(want);
		free(out);
		remove_tree(root);
	}
}

/* A flow's <Message> reply is held to the same rules, and a process does
 * not start on templates that fail them. */
static void test_flow_messages_and_init(void **state)
{
	char *root = copy_tree(), *out, err[300];
	int problems;
	(void)state;
	put(root, "state_tables/reminder_call/confirmed.xml",
		"<Response><Message>Done. Reply CANCEL to cancel, {{notes}}</Message>"
		"<Hangup/></Response>\n");
	out = check_output(root, &problems);
	assert_non_null(strstr(out, "confirmed.xml:1: state 'confirmed': <Message>: placeholder"
		" {{notes}} is not an allowed field (business_name, appointment_date,"
		" appointment_time, callback_number)\n"));
	assert_non_null(strstr(out, "confirmed.xml:1: state 'confirmed': <Message>: it tells"
		" people to text CANCEL for something else"));
	free(out);
	put(root, "state_tables/reminder_call/confirmed.xml",
		"<Response><Message><Body>{{business_name}}: confirmed for {{appointment_date}} at"
		" {{appointment_time}}. Call {{callback_number}} to change it, or come by; we are"
		" open every day from nine to five, and our staff will be glad to help you with"
		" anything you need, any day of the week, come rain or shine.</Body></Message>"
		"<Hangup/></Response>\n");
	out = check_output(root, &problems);
	assert_non_null(strstr(out, "state 'confirmed': <Message>: at its longest"));
	free(out);

	put(root, "state_tables/messages/sms_reminder.txt", "{{greeting}} {{notes}}\n");
	assert_int_equal(wording_init(root, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "the message templates do not pass ringfence check: "));
	assert_non_null(strstr(err, "{{notes}} is not an allowed field"));
	remove_tree(root);
	/* The shipped ones again, for the other tests. */
	assert_int_equal(wording_init(".", err, sizeof(err)), 0);
}

static int setup(void **state)
{
	char err[300];
	(void)state;
	if (wording_init(".", err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_length_in_characters),
		cmocka_unit_test(test_defaults_pass_their_check),
		cmocka_unit_test(test_sms),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_segments),
		cmocka_unit_test(test_sms_name),
		cmocka_unit_test(test_segments_bound),
		cmocka_unit_test(test_keyword_rule),
		cmocka_unit_test(test_booking),
		cmocka_unit_test(test_check_lines),
		cmocka_unit_test(test_check_templates),
		cmocka_unit_test(test_flow_messages_and_init),
	};
	return cmocka_run_group_tests_name("wording", tests, setup, NULL);
}
