/* Unit tests: the source layout rules that keep the transport behind the
 * guards (outbound_grant.h, DESIGN.md rule 8).  They read the files under
 * src/ as text, so a rule broken by any file, new or moved (src/sim/...),
 * fails `make test`:
 *
 *   - no file under src/ includes outbound_test.h (the test-only seam);
 *   - only src/outbound.c (which makes grants), src/twilio.c and
 *     src/mail.c (which check them) include outbound_grant.h or name
 *     OUTBOUND_GRANT_MAGIC;
 *   - only src/outbound.c calls twilio_call_create, twilio_message_create
 *     and mail_send (twilio.c and mail.c define them). */
#include "unit.h"

#include "util.h"

#include <ftw.h>
#include <regex.h>

/* An #include of outbound_test.h / outbound_grant.h (any path, "" or <>),
 * and a call of a transport function. */
#define RE_TEST_INCLUDE "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]*/)?outbound_test\\.h[>\"]"
#define RE_GRANT_INCLUDE "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]*/)?outbound_grant\\.h[>\"]"
#define RE_TRANSPORT_CALL "(^|[^A-Za-z0-9_])(twilio_call_create|twilio_message_create|mail_send)[ \t]*\\("

/* What one walk over src/ found, as "path: what" lines. */
static char g_found[8192];

static void found(const char *path, const char *what)
{
	size_t n = strlen(g_found);
	snprintf(g_found + n, sizeof(g_found) - n, "%s: %s\n", path, what);
}

static int one_of(const char *path, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (strcmp(path, *allowed) == 0)
			return 1;
	return 0;
}

/* 1 when text has a match of the extended regex re (REG_NEWLINE). */
static int matches(const char *text, const char *re)
{
	regex_t r;
	int hit;
	assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NEWLINE | REG_NOSUB), 0);
	hit = regexec(&r, text, 0, NULL, 0) == 0;
	regfree(&r);
	return hit;
}

static const char *const grant_users[] = { "src/outbound.c", "src/twilio.c", "src/mail.c", NULL };
static const char *const transport_files[] = { "src/outbound.c", "src/twilio.c", "src/mail.c", NULL };

static int visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	size_t len = strlen(path), n;
	char *text;
	(void)st;
	(void)ftw;

	if (flag != FTW_F || len < 2 || (strcmp(path + len - 2, ".c") != 0 &&
		    strcmp(path + len - 2, ".h") != 0))
		return 0;
	text = util_read_file(path, 1 << 24, &n);
	if (text == NULL) {
		found(path, "cannot be read");
		return 0;
	}
	if (matches(text, RE_TEST_INCLUDE))
		found(path, "includes outbound_test.h");
	if (!one_of(path, grant_users) &&
		(matches(text, RE_GRANT_INCLUDE) ||
			matches(text, "OUTBOUND_GRANT_MAGIC")))
		found(path, "uses outbound_grant.h");
	if (!one_of(path, transport_files) &&
		matches(text, RE_TRANSPORT_CALL))
		found(path, "calls the transport");
	free(text);
	return 0;
}

static void test_transport_behind_the_guards(void **state)
{
	(void)state;
	g_found[0] = '\0';
	assert_int_equal(nftw("src", visit, 16, FTW_PHYS), 0);
	if (g_found[0])
		fail_msg("the transport is reachable around outbound_send:\n%s", g_found);
}

/* The rules catch what they are for: each of these texts breaks one. */
static void test_rules_catch(void **state)
{
	(void)state;
	assert_true(matches("#include \"outbound_test.h\"\n",
		RE_TEST_INCLUDE));
	assert_true(matches("x\n  # include <../include/outbound_grant.h>\n",
		RE_GRANT_INCLUDE));
	assert_false(matches("/* see outbound_grant.h */\n",
		RE_GRANT_INCLUDE));
	assert_true(matches("\tr = mail_send (g, cfg, &m, &out);\n",
		RE_TRANSPORT_CALL));
	assert_false(matches("outbound_test_mail_send(cfg, &m, &out);\n",
		RE_TRANSPORT_CALL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transport_behind_the_guards),
		cmocka_unit_test(test_rules_catch),
	};
	return cmocka_run_group_tests(tests, unit_go_to_repo_root, NULL);
}
