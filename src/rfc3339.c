/* rfc3339: RFC 3339 date-times to Unix seconds, without state. */
#include "rfc3339.h"

#include <ctype.h>
#include <stddef.h>

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil). */
static long long rfc3339_days(long long y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int rfc3339_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Reads exactly n digits at *s into *v, advancing *s.  0 or -1. */
static int rfc3339_digits(const char **s, int n, int *v)
{
	int x = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return -1;
		x = x * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*v = x;
	return 0;
}

/* RFC 3339 section 5.6 date-time: full-date "T" full-time, where
 * full-time is HH:MM:SS[.frac] followed by Z or +HH:MM / -HH:MM.  Leap
 * seconds (:60) are refused: nothing here needs them and PostgreSQL would
 * read them as the next minute. */
/* 9999-12-31T23:59:59Z. */
#define RFC3339_MAX_S 253402300799LL

/* See rfc3339.h. */
int rfc3339_parse(const char *s, long long *unix_s)
{
	long long t;
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0, rc = -1;
	const char *p = s;

	if (s == NULL)
		goto out;
	if (rfc3339_digits(&p, 4, &y) < 0 || *p++ != '-' || rfc3339_digits(&p, 2, &mo) < 0 ||
		*p++ != '-' || rfc3339_digits(&p, 2, &d) < 0)
		goto out;
	if (*p != 'T' && *p != 't')
		goto out;
	p++;
	if (rfc3339_digits(&p, 2, &h) < 0 || *p++ != ':' || rfc3339_digits(&p, 2, &mi) < 0 ||
		*p++ != ':' || rfc3339_digits(&p, 2, &sec) < 0)
		goto out;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			goto out;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (rfc3339_digits(&p, 2, &oh) < 0 || *p++ != ':' || rfc3339_digits(&p, 2, &om) < 0)
			goto out;
	} else {
		goto out;
	}
	if (*p != '\0')
		goto out;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59 ||
		oh > 23 || om > 59)
		goto out;
	if (d > mdays[mo - 1] + (mo == 2 && rfc3339_leap(y)))
		goto out;
	t = rfc3339_days(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL + sec -
		sign * (oh * 3600LL + om * 60LL);
	/* The instant itself must lie in 1970-9999 UTC, not just its local
	 * reading: "9999-12-31T23:59:59-01:00" is in the year 10000. */
	if (t < 0 || t > RFC3339_MAX_S)
		goto out;
	*unix_s = t;
	rc = 0;
out:
	return rc;
}
