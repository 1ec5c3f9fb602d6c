/* allowlist: who may be contacted outside production (DESIGN.md rule 8).
 *
 * RINGFENCE_ALLOWED_CONTACTS is a comma and/or space separated list of
 * E.164 phone numbers (matched exactly) and email addresses (matched
 * case-insensitively).  In production every address is permitted; in any
 * other environment only listed ones, and an empty or unset list permits
 * nobody. */
#ifndef RF_ALLOWLIST_H
#define RF_ALLOWLIST_H

struct config;

/* 1 when address may be contacted, 0 when not (also for NULL or empty
 * address, and for a list entry that is neither a phone nor an email). */
int allowlist_permits(const struct config *cfg, const char *address);

/* The same decision for an explicit list, outside any config: 1 or 0. */
int allowlist_match(const char *list, const char *address);

/* The position (1, 2, ...) of the first entry of list that is neither an
 * E.164 phone number nor an email address, or 0 when every one is. */
int allowlist_first_bad(const char *list);

#endif
