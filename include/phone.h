/* phone: the one normalisation of a phone number a person typed (the
 * dashboard's client form, CSV import, the JSON API) into E.164.
 *
 * Accepted: a leading "+" or international "00", then the country code
 * and number, with spaces, dashes, dots, slashes and brackets between
 * digits as people write them: "+1 555 010 0123", "+1 (555) 010-0123",
 * "00 44 20 7946 0958" all become "+15550100123" / "+442079460958".
 * Leading and trailing blanks are ignored.  The result always passes
 * valid_e164 (valid.h): a first digit 1-9, 7 to 15 digits.
 *
 * Refused: a national number without the country code ("555-0123",
 * "020 7946 0958"): no country is ever guessed, since a guess that is
 * wrong contacts somebody else.  Also refused: letters or other
 * characters, a "(0)" trunk prefix after the country code ("+44 (0)20
 * ..."; whether to drop the 0 is a guess too), too few or too many
 * digits.  Pure: no I/O, no allocation, no locale. */
#ifndef RF_PHONE_H
#define RF_PHONE_H

#include <stddef.h>

/* Room for the longest result: "+", 15 digits, NUL. */
#define PHONE_E164_SIZE 17

enum phone_error {
	PHONE_OK = 0,
	PHONE_EMPTY,          /* nothing but blanks */
	PHONE_NO_COUNTRY,     /* does not start with + or 00 */
	PHONE_BAD_CHARACTER,  /* a letter, or anything but digits and the separators */
	PHONE_TRUNK_ZERO,     /* "(0)" after the country code */
	PHONE_BAD_LENGTH,     /* fewer than 7 or more than 15 digits, or the first is 0 */
};

/* Normalises in[0..len) (need not be NUL-terminated; NULL counts as
 * empty) into out (outsize >= PHONE_E164_SIZE), e.g. "+15550100123".
 * Returns PHONE_OK, or the reason it refused with out set to "".
 * outsize < PHONE_E164_SIZE is refused as PHONE_BAD_LENGTH. */
enum phone_error phone_normalise(const char *in, size_t len, char *out, size_t outsize);

/* The reason in words a business owner understands, as a predicate to
 * put after the field's name: "a phone number " + text, or "phone
 * '555-0123' " + text.  PHONE_NO_COUNTRY: "must start with + and the
 * country code, e.g. +1 555 010 0123".  Never NULL (PHONE_OK: "is
 * valid"). */
const char *phone_error_text(enum phone_error e);

#endif
