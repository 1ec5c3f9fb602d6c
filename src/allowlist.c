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
	size_t alen;
	int phone, email;
	const char *p;

	if (list == NULL || address == NULL)
		return 0;
	alen = strlen(address);
	phone = allowlist_is_phone(address, alen);
	email = !phone && allowlist_is_email(address, alen);
	if (!phone && !email)
		return 0;
	p = list;
	while (*p) {
		const char *start;
		size_t n;
		while (*p && allowlist_sep(*p))
			p++;
		start = p;
		while (*p && !allowlist_sep(*p))
			p++;
		n = (size_t)(p - start);
		if (n == 0 || n != alen || n > ALLOWLIST_MAX_ENTRY)
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
	const char *p = list;
	int i = 0;

	while (p && *p) {
		const char *start;
		size_t n;
		while (*p && allowlist_sep(*p))
			p++;
		start = p;
		while (*p && !allowlist_sep(*p))
			p++;
		n = (size_t)(p - start);
		if (n == 0)
			continue;
		i++;
		if (n > ALLOWLIST_MAX_ENTRY || !(allowlist_is_phone(start, n) || allowlist_is_email(start, n)))
			return i;
	}
	return 0;
}
