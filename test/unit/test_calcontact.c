/* Unit tests: calcontact_find, the phone numbers and email addresses in
 * a calendar event's free text. */
#include "unit.h"

#include "calcontact.h"
#include "valid.h"

struct contact_case {
	const char *text, *country;
	const char *phones[3]; /* expected, in order; NULL ends */
	const char *emails[3];
};

static const struct contact_case cases[] = {
	/* national numbers, as people type them */
	{ "Call Jane 555-010-0123", "US", { "+15550100123" }, { NULL } },
	{ "Jane Doe (555) 010-0123", "US", { "+15550100123" }, { NULL } },
	{ "Jane: 1-555-010-0123", "US", { "+15550100123" }, { NULL } },
	{ "cell 555.010.0188.", "US", { "+15550100188" }, { NULL } },
	{ "Mark Evans, 555-010-0155", "CA", { "+15550100155" }, { NULL } },
	{ "Jane Doe (07700 900123)", "GB", { "+447700900123" }, { NULL } },
	{ "Tel 020 7946 0958 (office)", "GB", { "+442079460958" }, { NULL } },
	{ "Mobil 0151 23456789", "DE", { "+4915123456789" }, { NULL } },
	{ "Klaus 030/1234567", "DE", { "+49301234567" }, { NULL } },
	{ "Portable : 06 12 34 56 78", "FR", { "+33612345678" }, { NULL } },
	{ "Mob 0412 345 678", "AU", { "+61412345678" }, { NULL } },
	{ "ring 087 123 4567", "IE", { "+353871234567" }, { NULL } },
	{ "txt 021 123 4567", "NZ", { "+64211234567" }, { NULL } },
	{ "Call Jane 555-010-0123", "us", { "+15550100123" }, { NULL } },
	/* international ones, whatever the country */
	{ "Mobile +44 20 7946 0958 (visiting)", NULL, { "+442079460958" }, { NULL } },
	{ "0044 20 7946 0958", "FR", { "+442079460958" }, { NULL } },
	{ "from the US: 011 44 20 7946 0958", "US", { "+442079460958" }, { NULL } },
	{ "tel:+1-555-010-0123", NULL, { "+15550100123" }, { NULL } },
	{ "<a href=\"tel:+15550100123\">call</a>", NULL, { "+15550100123" }, { NULL } },
	{ "(+1 555 010 0123)", NULL, { "+15550100123" }, { NULL } },
	{ "Berlin office (Klaus: +49 30 1234567)", "US", { "+49301234567" }, { NULL } },
	/* national ones without a country: nothing */
	{ "Call Jane 555-010-0123", NULL, { NULL }, { NULL } },
	{ "Call Jane 555-010-0123", "XX", { NULL }, { NULL } },
	{ "Jane Doe (07700 900123)", "US", { NULL }, { NULL } },
	/* not phone numbers */
	{ "Order 12345", "US", { NULL }, { NULL } },
	{ "Order #5550100123", "US", { NULL }, { NULL } },
	{ "Invoice: 5550100123", "US", { NULL }, { NULL } },
	{ "Booking ref 5550100123", "GB", { NULL }, { NULL } },
	{ "2026-12-07 10:00", "US", { NULL }, { NULL } },
	{ "07.12.2026 um 10.00", "DE", { NULL }, { NULL } },
	{ "12/07/2026 3:30pm", "US", { NULL }, { NULL } },
	{ "10:00-11:30", "GB", { NULL }, { NULL } },
	{ "Meeting ID: 555 123 4567", "US", { NULL }, { NULL } },
	{ "https://zoom.us/j/5551234567?pwd=abc", "US", { NULL }, { NULL } },
	{ "https://example.com/+15550100123", NULL, { NULL }, { NULL } },
	{ "1234567890123456789", "US", { NULL }, { NULL } },
	{ "+1234567890123456789", NULL, { NULL }, { NULL } },
	{ "uid 040000008200E00074C5B7101A82E008", "GB", { NULL }, { NULL } },
	{ "Room 101, floor 2", "US", { NULL }, { NULL } },
	{ "1234567890", "US", { NULL }, { NULL } }, /* NANP area codes start 2-9 */
	{ "+44 (0)20 7946 0958", NULL, { NULL }, { NULL } }, /* phone.h refuses the (0) */
	{ "555-0123", "US", { NULL }, { NULL } },
	{ "Jane5550100123", "US", { NULL }, { NULL } },
	{ "5550100123abc", "US", { NULL }, { NULL } },
	{ "", "US", { NULL }, { NULL } },
	/* email addresses */
	{ "email tom.smith@example.org", NULL, { NULL }, { "tom.smith@example.org" } },
	{ "mailto:Sophie.Turner@Example.com", NULL, { NULL }, { "sophie.turner@example.com" } },
	{ "Contact Helen on 07700 900123 or helen.wright@example.co.uk.", "GB",
		{ "+447700900123" }, { "helen.wright@example.co.uk" } },
	{ "<jane+spa@example.com>, JANE+SPA@EXAMPLE.COM", NULL, { NULL }, { "jane+spa@example.com" } },
	{ "jane2024@example.com", "US", { NULL }, { "jane2024@example.com" } },
	{ "5550100123@example.com", "US", { NULL }, { "5550100123@example.com" } },
	{ "not@an address, @home, me@localhost", NULL, { NULL }, { NULL } },
	/* several, duplicates once */
	{ "Jane 555-010-0123 / 555-010-0199, again +1 555 010 0123", "US",
		{ "+15550100123", "+15550100199" }, { NULL } },
	{ "a@example.com b@example.com a@example.com", NULL, { NULL },
		{ "a@example.com", "b@example.com" } },
};

static void table(void **state)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct contact_case *t = &cases[i];
		struct cal_contact c;
		size_t np = 0, ne = 0;
		calcontact_find(t->text, t->country, &c);
		while (np < 3 && t->phones[np] != NULL)
			np++;
		while (ne < 3 && t->emails[ne] != NULL)
			ne++;
		if (c.n_phones != np || c.n_emails != ne)
			fail_msg("\"%s\" (%s): %zu phones (%s), %zu emails (%s); want %zu, %zu", t->text,
				t->country ? t->country : "no country", c.n_phones,
				c.n_phones ? c.phones[0] : "", c.n_emails, c.n_emails ? c.emails[0] : "",
				np, ne);
		for (size_t k = 0; k < np; k++) {
			if (strcmp(c.phones[k], t->phones[k]) != 0)
				fail_msg("\"%s\": phone %zu is %s, want %s", t->text, k, c.phones[k],
					t->phones[k]);
			assert_true(valid_e164(c.phones[k], strlen(c.phones[k])));
		}
		for (size_t k = 0; k < ne; k++)
			if (strcmp(c.emails[k], t->emails[k]) != 0)
				fail_msg("\"%s\": email %zu is %s, want %s", t->text, k, c.emails[k],
					t->emails[k]);
	}
}

static void limits(void **state)
{
	struct cal_contact c;
	char text[4096];
	size_t n = 0;
	/* at most CALCONTACT_MAX of each */
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "+1 555 010 01%02d, p%d@example.com; ",
			i, i);
	calcontact_find(text, NULL, &c);
	assert_int_equal(c.n_phones, CALCONTACT_MAX);
	assert_int_equal(c.n_emails, CALCONTACT_MAX);
	assert_string_equal(c.phones[7], "+15550100107");
	assert_string_equal(c.emails[7], "p7@example.com");
	/* NULL finds nothing and clears */
	calcontact_find(NULL, "US", &c);
	assert_int_equal(c.n_phones, 0);
	assert_int_equal(c.n_emails, 0);
	/* a long address is not cut into a shorter one */
	memset(text, 'a', 300);
	strcpy(text + 300, "@example.com");
	calcontact_find(text, NULL, &c);
	assert_int_equal(c.n_emails, 0);
	/* a run of digits and separators as long as the buffer */
	for (size_t i = 0; i < sizeof text - 1; i++)
		text[i] = i % 2 ? ' ' : '5';
	text[sizeof text - 1] = '\0';
	calcontact_find(text, "US", &c);
	assert_int_equal(c.n_phones, 0);
	assert_true(calcontact_country_known("gb"));
	assert_false(calcontact_country_known("ZZ"));
	assert_false(calcontact_country_known(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table),
		cmocka_unit_test(limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
