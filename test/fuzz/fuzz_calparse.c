/* libFuzzer harness for calparse_feed (and calcontact_find on what it
 * returns).
 *
 * Each input is parsed as a feed over a fixed window with a small cap
 * on occurrences, and the result is checked against what calparse.h
 * promises: either an error with a reason and nothing returned, or
 * occurrences with a UID, a well-formed key, a start in the window, an
 * end not before it, texts of valid UTF-8, sorted.  The same input
 * parsed again gives the same keys.  The texts are then searched for
 * contacts, which must be E.164 numbers and addresses mail.h accepts.
 * Any broken promise aborts; so does any crash or abort inside libical. */
#include "fuzz.h"

#include "calcontact.h"
#include "calparse.h"
#include "mail.h"
#include "valid.h"

#include <stdint.h>
#include <string.h>

#define FROM_S 1764547200LL  /* 2025-12-01T00:00:00Z */
#define UNTIL_S 1830297600LL /* 2028-01-01T00:00:00Z */
#define MAX_OCC 500

static void check_text(const char *s)
{
	CHECK(s != NULL);
	CHECK(valid_utf8(s, strlen(s)));
}

static void check_contacts(const char *text)
{
	struct cal_contact c;
	calcontact_find(text, "GB", &c);
	CHECK(c.n_phones <= CALCONTACT_MAX && c.n_emails <= CALCONTACT_MAX);
	for (size_t i = 0; i < c.n_phones; i++)
		CHECK(valid_e164(c.phones[i], strlen(c.phones[i])));
	for (size_t i = 0; i < c.n_emails; i++)
		CHECK(mail_address_valid(c.emails[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cal_feed f, g;
	char err[256];
	int rc = calparse_feed((const char *)data, size, "America/New_York", FROM_S, UNTIL_S, MAX_OCC,
		&f, err, sizeof err);

	if (rc != 0) {
		CHECK(rc == -1);
		CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
		CHECK(f.occ == NULL && f.n == 0 && f.arena == NULL);
		return 0;
	}
	CHECK(f.n <= MAX_OCC);
	CHECK(strlen(f.calendar_tz) < sizeof f.calendar_tz);
	for (size_t i = 0; i < f.n; i++) {
		const struct cal_occurrence *o = &f.occ[i];
		size_t rl = strlen(o->recurrence_id);
		CHECK(o->uid != NULL && o->uid[0] != '\0' && strlen(o->uid) <= 1000);
		check_text(o->uid);
		CHECK(rl == 0 || (rl == 16 && o->recurrence_id[8] == 'T' && o->recurrence_id[15] == 'Z'));
		CHECK(o->starts_s >= FROM_S && o->starts_s < UNTIL_S);
		CHECK(o->ends_s >= o->starts_s);
		CHECK(o->cancelled == 0 || o->cancelled == 1);
		check_text(o->summary);
		check_text(o->description);
		check_text(o->location);
		CHECK(o->n_attendees == 0 || o->attendees != NULL);
		for (size_t k = 0; k < o->n_attendees; k++) {
			CHECK(o->attendees[k].email != NULL || o->attendees[k].name != NULL);
			if (o->attendees[k].email)
				check_contacts(o->attendees[k].email);
		}
		if (i > 0)
			CHECK(f.occ[i - 1].starts_s <= o->starts_s);
		check_contacts(o->summary);
		check_contacts(o->description);
	}
	CHECK(calparse_feed((const char *)data, size, "America/New_York", FROM_S, UNTIL_S, MAX_OCC,
		      &g, err, sizeof err) == 0);
	CHECK(g.n == f.n);
	for (size_t i = 0; i < f.n; i++) {
		CHECK(strcmp(f.occ[i].uid, g.occ[i].uid) == 0);
		CHECK(strcmp(f.occ[i].recurrence_id, g.occ[i].recurrence_id) == 0);
		CHECK(f.occ[i].starts_s == g.occ[i].starts_s);
	}
	calparse_free(&g);
	calparse_free(&f);
	return 0;
}
