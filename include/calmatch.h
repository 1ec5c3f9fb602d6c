/* calmatch: the client of a calendar event (issue 11, item 2).
 *
 * In this order:
 *   1. an existing client of the business whose phone or email appears
 *      in the event's summary, description, location or attendees
 *      (calcontact_find with the business's country), the first contact
 *      found in that order deciding;
 *   2. else the one client whose name equals the summary
 *      (case-insensitive, trimmed; two such clients: none is taken);
 *   3. else a new client proposed from the first phone number found (an
 *      email when there is no phone): proposed_at and proposed_from say
 *      where it came from (the feed's name, never its address), and it
 *      is confirmed at once only when the business turned on
 *      auto_confirm_clients.  A later event naming the same number finds
 *      that client by step 1, so both share it;
 *   4. else no client: the event is listed as having no contact.
 *
 * A proposed, unconfirmed client is never contacted (reminder_block). */
#ifndef RF_CALMATCH_H
#define RF_CALMATCH_H

#include <stddef.h>

struct db;
struct cal_occurrence;

/* Where in the event a contact was written. */
enum calmatch_field {
	CALMATCH_SUMMARY,
	CALMATCH_DESCRIPTION,
	CALMATCH_LOCATION,
	CALMATCH_ATTENDEE,
};

#define CALMATCH_MAX_CONTACTS 32

struct calmatch_contact {
	char value[255];          /* E.164 phone or lower-case email */
	int is_phone;
	enum calmatch_field field;
	const char *name;         /* the attendee's CN for an attendee's email, else NULL
	                           * (points into the occurrence) */
};

/* The contacts of one event, phones and emails in the order of the
 * fields above, each once. */
struct calmatch_found {
	struct calmatch_contact c[CALMATCH_MAX_CONTACTS];
	size_t n;
};

/* Pure: the contacts written in o (country: ISO 3166 alpha-2 of national
 * numbers, NULL: international numbers only). */
void calmatch_collect(const struct cal_occurrence *o, const char *country,
	struct calmatch_found *out);

/* Pure: "the summary", "the description", "the location", "the attendees". */
const char *calmatch_field_name(enum calmatch_field f);

/* Pure: the first phone of found, else the first email; NULL when none. */
const struct calmatch_contact *calmatch_first(const struct calmatch_found *found);

/* Pure: s without leading and trailing blanks (spaces, tabs, line
 * breaks) into out, cut to outlen - 1 bytes on a UTF-8 boundary. */
void calmatch_trim(const char *s, char *out, size_t outlen);

/* Pure: the proposed_from text of a client proposed from contact c of
 * the event named summary on date ("2026-12-09", the business's day) of
 * feed feed_name: "calendar feed 'Front desk', event 'Jane cut' on
 * 2026-12-09: phone +15550100123 in the description".  Names are cut so
 * that the whole fits 500 characters (the column's limit); out needs
 * outlen >= 2048 bytes for any input. */
void calmatch_proposed_from(const char *feed_name, const char *summary, const char *date,
	const struct calmatch_contact *c, char *out, size_t outlen);

/* Pure: the name of a client proposed from contact c of an event named
 * summary: the attendee's CN for an attendee's email, else the trimmed
 * summary, else the contact itself; 1..200 characters. */
void calmatch_client_name(const char *summary, const struct calmatch_contact *c, char *out,
	size_t outlen);

/* The business whose event is matched. */
struct calmatch_business {
	const char *id;           /* as text */
	const char *time_zone;
	const char *country;      /* NULL when unknown */
	int auto_confirm;
};

struct calmatch_result {
	long long client_id;       /* 0: none */
	int proposed;              /* 1: a client was created (proposed) for this event */
	char client_name[201];
	char contact[501];         /* how it was found, or why there is none */
};

/* The business's clients by phone, email and name, read from the
 * database at the first calmatch_find and kept up to date with the
 * clients it proposes: one per sync (per transaction). */
struct calmatch_dir;
struct calmatch_dir *calmatch_dir_new(void);
void calmatch_dir_free(struct calmatch_dir *d);

/* Inside the caller's transaction: finds (or proposes) the client of
 * occurrence o of feed feed_name, with d (of this business and this
 * transaction).  Returns 1 (out->client_id set), 0 no usable contact
 * (out->contact says why), or -1 on a database error (err). */
int calmatch_find(struct db *db, struct calmatch_dir *d, const struct calmatch_business *b,
	const char *feed_name, const struct cal_occurrence *o, long long now_s,
	struct calmatch_result *out, char *err, size_t errlen);

#endif
