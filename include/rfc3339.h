/* rfc3339: the one parser of RFC 3339 date-times (RINGFENCE_NOW, the
 * API's timestamps through valid_timestamp).  Pure: no clock, no
 * configuration, so that the validators and the clock both use it. */
#ifndef RF_RFC3339_H
#define RF_RFC3339_H

/* Parses an RFC 3339 date-time (section 5.6: full-date "T" full-time with
 * Z or a numeric offset, optional fractional seconds, which are dropped)
 * into Unix seconds.  Returns 0, or -1 when s is NULL, malformed or out of
 * range (years 1970-9999, the instant itself in UTC). */
int rfc3339_parse(const char *s, long long *unix_s);

#endif
