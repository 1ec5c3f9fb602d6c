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

/* One validator for the API and the mailer: every address it takes, the
 * mailer builds a message to; every address it refuses, the mailer
 * refuses too. */
struct addr_case {
	const char *addr;
	int valid;
};

static const struct addr_case addrs[] = {
	{ "ann@example.com", 1 },
	{ "Ann.Lee+reminders@mail.example.co.uk", 1 },
	{ "o'brien@example.ie", 1 },
	{ "x_y-z!#$%&*/=?^`{|}~@example.com", 1 },
	{ "a@b.c", 1 },
	{ "reminders@127.0.0.1", 1 },
	{ "ann@xn--bcher-kva.example", 1 },
	{ "a,b@example.com", 0 },           /* a comma: two recipients to a mailer */
	{ "(x)@example.com", 0 },           /* an RFC 5322 comment */
	{ "ann\xc2\xa0lee@example.com", 0 }, /* a no-break space */
	{ "ann lee@example.com", 0 },
	{ "\"ann lee\"@example.com", 0 },   /* quoted local parts are not taken */
	{ "ann@example.com ", 0 },
	{ "Ann <ann@example.com>", 0 },
	{ "ann;bob@example.com", 0 },
	{ "ann:bob@example.com", 0 },
	{ "ann[1]@example.com", 0 },
	{ "ann\\@example.com", 0 },
	{ "\xc3\xa9mile@example.com", 0 },   /* non-ASCII local part (SMTPUTF8) */
	{ "ann@b\xc3\xbc" "cher.example", 0 },  /* non-ASCII domain: IDNA form only */
	{ ".ann@example.com", 0 },
	{ "ann.@example.com", 0 },
	{ "an..n@example.com", 0 },
	{ "ann@example", 0 },               /* no dot in the domain */
	{ "ann@.example.com", 0 },
	{ "ann@example.com.", 0 },
	{ "ann@example..com", 0 },
	{ "ann@-example.com", 0 },
	{ "ann@example-.com", 0 },
	{ "ann@exa_mple.com", 0 },
	{ "ann@[127.0.0.1]", 0 },
	{ "a@b@example.com", 0 },
	{ "@example.com", 0 },
	{ "ann@", 0 },
	{ "annexample.com", 0 },
	{ "", 0 },
	{ "ann@example.com\r\nBcc: x@example.com", 0 },
	{ "ann\t@example.com", 0 },
};

static void test_address_valid(void **state)
{
	char local65[80], label64[80], *big;
	(void)state;
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		struct mail_message m;
		char err[256] = "";
		char *msg;
		if (mail_address_valid(addrs[i].addr) != addrs[i].valid)
			fail_msg("'%s': mail_address_valid says %d, expected %d", addrs[i].addr,
				!addrs[i].valid, addrs[i].valid);
		base_message(&m);
		m.to = addrs[i].addr;
		msg = mail_build(&m, DATE_S, err, sizeof(err));
		if ((msg != NULL) != addrs[i].valid)
			fail_msg("'%s': mail_build %s it (%s)", addrs[i].addr,
				msg ? "took" : "refused", err);
		free(msg);
	}
	assert_int_equal(mail_address_valid(NULL), 0);
	/* Lengths: a 64-byte local part and a 63-byte label are the limits. */
	memset(local65, 'a', 65);
	strcpy(local65 + 65, "@example.com");
	assert_int_equal(mail_address_valid(local65), 0);
	assert_int_equal(mail_address_valid(local65 + 1), 1);
	strcpy(label64, "a@");
	memset(label64 + 2, 'b', 64);
	strcpy(label64 + 66, ".com");
	assert_int_equal(mail_address_valid(label64), 0);
	label64[2] = 'a';
	assert_int_equal(mail_address_valid(label64), 0);
	memmove(label64 + 2, label64 + 3, strlen(label64 + 3) + 1);
	assert_int_equal(mail_address_valid(label64), 1);
	/* 255 bytes in all is over the limit even with valid parts. */
	big = malloc(300);
	assert_non_null(big);
	strcpy(big, "a@");
	for (int i = 0; i < 4; i++)
		strcat(big, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.");
	strcat(big, "cc"); /* 2 + 4 * 63 + 2 = 256 */
	assert_int_equal(mail_address_valid(big), 0);
	big[strlen(big) - 3] = '\0'; /* "a@" + 3 labels + "bbb...b" = 253 */
	assert_true(strlen(big) <= 254);
	assert_int_equal(mail_address_valid(big), 1);
	free(big);
}

/* RFC 8058: one-click adds List-Unsubscribe-Post and needs one HTTP(S) URI. */
static void test_one_click(void **state)
{
	struct mail_message m;
	char err[256] = "";
	char *msg;
	static const char *const bad_uris[] = {
		"<mailto:reminders@clinic.example?subject=unsubscribe>",
		"<https://clinic.example/u?t=1>, <mailto:x@clinic.example>",
		"<https://clinic.example/u?t=1> <https://evil.example/>",
	};
	(void)state;
	base_message(&m);
	msg = mail_build(&m, DATE_S, err, sizeof(err));
	assert_non_null(msg);
	assert_null(strstr(msg, "List-Unsubscribe-Post"));
	free(msg);
	base_message(&m);
	m.one_click = 1;
	m.list_unsubscribe = "<https://clinic.example/unsubscribe?c=1&b=2&t=ab>";
	msg = mail_build(&m, DATE_S, err, sizeof(err));
	assert_non_null(msg);
	assert_non_null(strstr(msg, "\r\nList-Unsubscribe: <https://clinic.example/unsubscribe?c=1&b=2&t=ab>\r\n"
				    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
	free(msg);
	for (size_t i = 0; i < sizeof(bad_uris) / sizeof(bad_uris[0]); i++) {
		base_message(&m);
		m.one_click = 1;
		m.list_unsubscribe = bad_uris[i];
		err[0] = '\0';
		msg = mail_build(&m, DATE_S, err, sizeof(err));
		if (msg != NULL)
			fail_msg("'%s': built a one-click message", bad_uris[i]);
		assert_non_null(strstr(err, "one-click"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers_and_parts),
		cmocka_unit_test(test_encodings),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_address_valid),
		cmocka_unit_test(test_one_click),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
