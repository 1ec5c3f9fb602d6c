/* allowlist: who may be contacted outside production. */
#include "allowlist.h"
#include "config.h"
#include "valid.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#define ALLOWLIST_MAX_ENTRY 320 /* longer than any phone or email address */

static int allowlist_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The next entry of a list from *p on (separators skipped): its start,
 * its length in *n, *p moved past it; NULL when no entry is left. */
static const char *allowlist_next(const char **p, size_t *n)
{
	const char *s = *p, *start;

	while (*s && allowlist_sep(*s))
		s++;
	start = s;
	while (*s && !allowlist_sep(*s))
		s++;
	*p = s;
	*n = (size_t)(s - start);
	return *n ? start : NULL;
}

/* 1 when s[0..n) is a phone number: the product's one E.164 check. */
static int allowlist_is_phone(const char *s, size_t n)
{
	return valid_e164(s, n);
}

/* 1 when s[0..n) looks like an email address: one '@' with something on
 * both sides, no separators or control characters. */
static int allowlist_is_email(const char *s, size_t n)
{
	size_t at = n, ats = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f || c == '<' || c == '>')
			return 0;
		if (c == '@') {
			at = i;
			ats++;
		}
	}
	return ats == 1 && at > 0 && at + 1 < n;
}

/* See allowlist.h.  The address must itself be a phone or an email; an
 * entry matches a phone byte for byte and an email ignoring ASCII case. */
int allowlist_match(const char *list, const char *address)
{
	size_t alen, n;
	int phone, email;
	const char *p, *start;

	if (list == NULL || address == NULL)
		return 0;
	alen = strlen(address);
	phone = allowlist_is_phone(address, alen);
	email = !phone && allowlist_is_email(address, alen);
	if (!phone && !email)
		return 0;
	p = list;
	while ((start = allowlist_next(&p, &n)) != NULL) {
		if (n != alen || n > ALLOWLIST_MAX_ENTRY)
			continue;
		if (phone && allowlist_is_phone(start, n) && memcmp(start, address, n) == 0)
			return 1;
		if (email && allowlist_is_email(start, n) && strncasecmp(start, address, n) == 0)
			return 1;
	}
	return 0;
}

/* See allowlist.h. */
int allowlist_permits(const struct config *cfg, const char *address)
{
	if (cfg == NULL || address == NULL || address[0] == '\0')
		return 0;
	if (config_is_production(cfg))
		return 1;
	return allowlist_match(cfg->allowed_contacts, address);
}

int allowlist_first_bad(const char *list)
{
	const char *p = list, *start;
	size_t n;
	int i = 0;

	if (list == NULL)
		return 0;
	while ((start = allowlist_next(&p, &n)) != NULL) {
		i++;
		if (n > ALLOWLIST_MAX_ENTRY || !(allowlist_is_phone(start, n) || allowlist_is_email(start, n)))
			return i;
	}
	return 0;
}
