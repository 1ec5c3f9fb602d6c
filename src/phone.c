/* phone: the one normalisation of a typed phone number into E.164
 * (include/phone.h). */
#include "phone.h"

#include <string.h>

#include "valid.h"

/* 1 for the characters people put between digits. */
static int is_separator(char c)
{
	return c == ' ' || c == '\t' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')';
}

/* Contract: phone.h.  Trims blanks, takes "+" or "00" as the
 * international prefix, then keeps digits and drops separators; refuses
 * anything else, a "(0)" right after the country code's digits or
 * anywhere after the prefix, and a digit count valid_e164 refuses. */
enum phone_error phone_normalise(const char *in, size_t len, char *out, size_t outsize)
{
	enum phone_error e = PHONE_OK;
	size_t i = 0, n = 0;

	if (out != NULL && outsize > 0)
		out[0] = '\0';
	if (out == NULL || outsize < PHONE_E164_SIZE)
		return PHONE_BAD_LENGTH;
	if (in == NULL)
		return PHONE_EMPTY;
	while (len > 0 && (in[len - 1] == ' ' || in[len - 1] == '\t'))
		len--;
	while (i < len && (in[i] == ' ' || in[i] == '\t'))
		i++;
	if (i == len)
		return PHONE_EMPTY;

	if (in[i] == '+') {
		i++;
	} else if (len - i >= 2 && in[i] == '0' && in[i + 1] == '0') {
		i += 2;
	} else {
		/* A national number, or junk: say what is missing unless it
		 * holds something no phone number can. */
		for (size_t k = i; k < len; k++)
			if (!(in[k] >= '0' && in[k] <= '9') && !is_separator(in[k]))
				return PHONE_BAD_CHARACTER;
		return PHONE_NO_COUNTRY;
	}

	out[n++] = '+';
	for (; i < len; i++) {
		char c = in[i];
		if (c >= '0' && c <= '9') {
			if (n >= PHONE_E164_SIZE - 1) {
				e = PHONE_BAD_LENGTH;
				goto out;
			}
			out[n++] = c;
		} else if (c == '(' && i + 2 < len && in[i + 1] == '0' && in[i + 2] == ')') {
			e = PHONE_TRUNK_ZERO;
			goto out;
		} else if (!is_separator(c)) {
			e = PHONE_BAD_CHARACTER;
			goto out;
		}
	}
	out[n] = '\0';
	if (!valid_e164(out, n))
		e = PHONE_BAD_LENGTH;
out:
	if (e != PHONE_OK)
		out[0] = '\0';
	return e;
}

/* Contract: phone.h. */
const char *phone_error_text(enum phone_error e)
{
	switch (e) {
	case PHONE_OK:
		return "is valid";
	case PHONE_EMPTY:
		return "is empty";
	case PHONE_NO_COUNTRY:
		return "must start with + and the country code, e.g. +1 555 010 0123";
	case PHONE_BAD_CHARACTER:
		return "may hold only +, digits, spaces, dashes, dots and brackets, "
			"e.g. +1 555 010 0123";
	case PHONE_TRUNK_ZERO:
		return "must not hold (0): write the country code and the number "
			"without its leading 0, e.g. +44 20 7946 0958";
	case PHONE_BAD_LENGTH:
		return "must have 7 to 15 digits after the +, the country code first "
			"(it never starts with 0), e.g. +1 555 010 0123";
	}
	return "is not a phone number";
}
