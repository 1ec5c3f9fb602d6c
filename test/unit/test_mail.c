/* Unit tests: the reminder email as built by mail_build (headers, MIME
 * structure, encodings, refusal of header injection). */
#include "unit.h"

#include "mail.h"

#include <openssl/evp.h>

#define DATE_S 1795600800LL /* Wed, 25 Nov 2026 10:00:00 +0000 */

static void base_message(struct mail_message *m)
{
	memset(m, 0, sizeof(*m));
	m->to = "ann@example.com";
	m->from = "reminders@clinic.example";
	m->subject = "Your appointment on Friday";
	m->text = "Hello,\nsee you Friday at 3:30 PM.\n";
	m->html = "<p>Hello,</p><p>see you Friday at 3:30 PM.</p>";
	m->list_unsubscribe = "<mailto:reminders@clinic.example?subject=unsubscribe>";
}

/* The value of header name (first occurrence, unfolded), malloc'd, or NULL. */
static char *header(const char *msg, const char *name)
{
	const char *end = strstr(msg, "\r\n\r\n"), *p = msg;
	size_t n = strlen(name);
	while (p && p < end) {
		if (strncmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *e = v;
			char *out = malloc(strlen(msg) + 1), *o = out;
			while (*v == ' ')
				v++;
			for (e = v; e < end; e++) {
				if (e[0] == '\r' && e[1] == '\n') {
					if (e[2] != ' ' && e[2] != '\t')
						break;
					e += 1;
					continue;
				}
				*o++ = *e;
			}
			*o = '\0';
			return out;
		}
		p = strstr(p, "\r\n");
		if (p)
			p += 2;
	}
	return NULL;
}

static void test_headers_and_parts(void **state)
{
	struct mail_message m;
	char err[256] = "";
	char *msg, *v;
	(void)state;

	base_message(&m);
	msg = mail_build(&m, DATE_S, err, sizeof(err));
	if (msg == NULL)
		fail_msg("mail_build: %s", err);
	v = header(msg, "Date");
	assert_string_equal(v, "Wed, 25 Nov 2026 10:00:00 +0000");
	free(v);
	v = header(msg, "Message-ID");
	assert_non_null(v);
	assert_string_equal(v, m.message_id);
	assert_int_equal(strlen(v), strlen("<EM") + 32 + strlen("@clinic.example>"));
	assert_true(strncmp(v, "<EM", 3) == 0);
	assert_non_null(strstr(v, "@clinic.example>"));
	free(v);
	v = header(msg, "From");
	assert_string_equal(v, "reminders@clinic.example");
	free(v);
	v = header(msg, "To");
	assert_string_equal(v, "ann@example.com");
	free(v);
	v = header(msg, "Subject");
	assert_string_equal(v, "Your appointment on Friday");
	free(v);
	v = header(msg, "List-Unsubscribe");
	assert_string_equal(v, "<mailto:reminders@clinic.example?subject=unsubscribe>");
	free(v);
	v = header(msg, "MIME-Version");
	assert_string_equal(v, "1.0");
	free(v);
	v = header(msg, "Content-Type");
	assert_non_null(strstr(v, "multipart/alternative; boundary=\"=_rf_"));
	free(v);
	assert_non_null(strstr(msg, "Content-Type: text/plain; charset=UTF-8\r\n"
				    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
				    "Hello,\r\nsee you Friday at 3:30 PM.\r\n"));
	assert_non_null(strstr(msg, "Content-Type: text/html; charset=UTF-8\r\n"
				    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
				    "<p>Hello,</p><p>see you Friday at 3:30 PM.</p>\r\n"));
	/* every line ends in CRLF and fits SMTP's limit */
	for (const char *p = msg; *p;) {
		const char *e = strstr(p, "\r\n");
		assert_non_null(e);
		assert_true(e - p <= 78);
		assert_null(memchr(p, '\n', (size_t)(e - p)));
		p = e + 2;
	}
	/* a fresh Message-ID every time */
	{
		char first[128];
		char *again;
		snprintf(first, sizeof(first), "%s", m.message_id);
		again = mail_build(&m, DATE_S, err, sizeof(err));
		assert_non_null(again);
		assert_string_not_equal(first, m.message_id);
		free(again);
	}
	free(msg);
}

static void test_encodings(void **state)
{
	struct mail_message m;
	char err[256] = "", long_line[300];
	char *msg, *v;
	unsigned char dec[256];
	(void)state;

	base_message(&m);
	m.subject = "Rendez-vous chez Zoë à 15 h — confirmé";
	memset(long_line, 'x', sizeof(long_line) - 1);
	long_line[sizeof(long_line) - 1] = '\0';
	m.text = long_line;
	m.html = ".leading dot\nend = sign \nü";
	msg = mail_build(&m, DATE_S, err, sizeof(err));
	if (msg == NULL)
		fail_msg("mail_build: %s", err);
	/* Subject: encoded-words of base64 UTF-8 that decode back */
	v = header(msg, "Subject");
	assert_true(strncmp(v, "=?UTF-8?B?", 10) == 0);
	{
		char joined[256] = "";
		char *p = v;
		while ((p = strstr(p, "=?UTF-8?B?")) != NULL) {
			char *e = strstr(p + 10, "?=");
			int n;
			assert_non_null(e);
			n = EVP_DecodeBlock(dec, (unsigned char *)p + 10, (int)(e - p - 10));
			assert_true(n > 0);
			/* EVP_DecodeBlock counts padding bytes as zeros */
			while (n > 0 && dec[n - 1] == '\0')
				n--;
			strncat(joined, (char *)dec, (size_t)n);
			p = e + 2;
		}
		assert_string_equal(joined, m.subject);
	}
	free(v);
	/* quoted-printable: soft line breaks, '=' and trailing space and
	 * non-ASCII and a leading dot encoded */
	assert_non_null(strstr(msg, "=\r\nxxx"));
	assert_non_null(strstr(msg, "=2Eleading dot\r\nend =3D sign=20\r\n=C3=BC\r\n"));
	free(msg);
}

struct bad_case {
	const char *field;
	const char *value;
	const char *error;
};

static const struct bad_case bad[] = {
	{ "subject", "Hi\r\nBcc: victim@example.org", "line break" },
	{ "subject", "Hi\nBcc: victim@example.org", "line break" },
	{ "subject", "Hi\rthere", "line break" },
	{ "subject", "tab\there", "control" },
	{ "subject", "", "required" },
	{ "subject", "\xff\xfe", "UTF-8" },
	{ "to", "ann@example.com\r\nBcc: x@y.z", "line break" },
	{ "to", "Ann <ann@example.com>", "plain email" },
	{ "to", "ann@example.com, bob@example.com", "plain email" },
	{ "to", "annexample.com", "plain email" },
	{ "to", "a@b@c", "plain email" },
	{ "to", "@example.com", "plain email" },
	{ "to", "ann@", "plain email" },
	{ "to", NULL, "required" },
	{ "from", "x@y.z\nX: 1", "line break" },
	{ "from", "x@y_z", "plain email" },
	{ "unsub", "<mailto:x@y.z>\r\nBcc: v@e.org", "line break" },
	{ "unsub", "mailto:x@y.z", "List-Unsubscribe" },
	{ "unsub", NULL, "required" },
	{ "text", NULL, "text and the HTML" },
	{ "html", "", "text and the HTML" },
	{ "text", "bad \xc3\x28 utf8", "UTF-8" },
};

static void test_refusals(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mail_message m;
		char err[256] = "";
		char *msg;
		base_message(&m);
		if (strcmp(bad[i].field, "subject") == 0)
			m.subject = bad[i].value;
		else if (strcmp(bad[i].field, "to") == 0)
			m.to = bad[i].value;
		else if (strcmp(bad[i].field, "from") == 0)
			m.from = bad[i].value;
		else if (strcmp(bad[i].field, "unsub") == 0)
			m.list_unsubscribe = bad[i].value;
		else if (strcmp(bad[i].field, "text") == 0)
			m.text = bad[i].value;
		else
			m.html = bad[i].value;
		msg = mail_build(&m, DATE_S, err, sizeof(err));
		if (msg != NULL)
			fail_msg("case %zu (%s): built a message", i, bad[i].field);
		if (strstr(err, bad[i].error) == NULL)
			fail_msg("case %zu (%s): error '%s' does not mention '%s'", i, bad[i].field, err,
				bad[i].error);
		assert_string_equal(m.message_id, "");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers_and_parts),
		cmocka_unit_test(test_encodings),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
