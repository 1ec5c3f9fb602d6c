/* calparse: the occurrences of an iCalendar feed in a window (calparse.h).
 *
 * The feed is parsed by libical into one VCALENDAR.  Its VEVENTs are
 * gathered by UID: the series (the VEVENT without RECURRENCE-ID) and its
 * overrides (those with one).  A series' original starts in the window
 * come from DTSTART, RRULE and RDATE less EXDATE, expanded in the local
 * time of DTSTART's zone (so 10:00 stays 10:00 across a DST change) and
 * converted to UTC.  An original start that an override names is
 * replaced by the override; the overrides left over (their original
 * start outside the window, or no series in the feed) count by their own
 * start.
 *
 * Zones are resolved in this order: the feed's VTIMEZONE of that TZID,
 * the system's zone of that name (libical on Debian reads
 * /usr/share/zoneinfo), a "/vendor/.../Area/City" TZID by its tail, and
 * a Windows zone name through the table below. */
#include "calparse.h"

#include "arena.h"
#include "util.h"
#include "valid.h"

#include <libical/ical.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Caps on what one event keeps, so that a series of many occurrences
 * costs a pointer per occurrence, not a copy of a huge text. */
#define TEXT_MAX_SUMMARY 1000
#define TEXT_MAX_LOCATION 1000
#define TEXT_MAX_DESCRIPTION 8000
#define UID_MAX 1000
#define ATTENDEES_MAX 50
/* Recurrence steps a whole feed may take (each libical iterator step
 * counts, in or before the window; fast_forward skips most of those
 * before it): bounds the time of a feed whose rule repeats every second
 * since 1970. */
#define STEPS_MAX 200000L

/* CLDR windowsZones.xml, territory "001" (the zone Windows means by the
 * name), for the names Outlook writes as TZID: all 139 of CLDR's, and the
 * retired "Mid-Atlantic Standard Time" that old exports still carry. */
static const struct {
	const char *windows, *iana;
} windows_zones[] = {
	{ "Dateline Standard Time", "Etc/GMT+12" },
	{ "UTC-11", "Etc/GMT+11" },
	{ "Aleutian Standard Time", "America/Adak" },
	{ "Hawaiian Standard Time", "Pacific/Honolulu" },
	{ "Marquesas Standard Time", "Pacific/Marquesas" },
	{ "Alaskan Standard Time", "America/Anchorage" },
	{ "UTC-09", "Etc/GMT+9" },
	{ "Pacific Standard Time (Mexico)", "America/Tijuana" },
	{ "UTC-08", "Etc/GMT+8" },
	{ "Pacific Standard Time", "America/Los_Angeles" },
	{ "US Mountain Standard Time", "America/Phoenix" },
	{ "Mountain Standard Time (Mexico)", "America/Mazatlan" },
	{ "Mountain Standard Time", "America/Denver" },
	{ "Yukon Standard Time", "America/Whitehorse" },
	{ "Central America Standard Time", "America/Guatemala" },
	{ "Central Standard Time", "America/Chicago" },
	{ "Easter Island Standard Time", "Pacific/Easter" },
	{ "Central Standard Time (Mexico)", "America/Mexico_City" },
	{ "Canada Central Standard Time", "America/Regina" },
	{ "SA Pacific Standard Time", "America/Bogota" },
	{ "Eastern Standard Time (Mexico)", "America/Cancun" },
	{ "Eastern Standard Time", "America/New_York" },
	{ "Haiti Standard Time", "America/Port-au-Prince" },
	{ "Cuba Standard Time", "America/Havana" },
	{ "US Eastern Standard Time", "America/Indiana/Indianapolis" },
	{ "Turks And Caicos Standard Time", "America/Grand_Turk" },
	{ "Paraguay Standard Time", "America/Asuncion" },
	{ "Atlantic Standard Time", "America/Halifax" },
	{ "Venezuela Standard Time", "America/Caracas" },
	{ "Central Brazilian Standard Time", "America/Cuiaba" },
	{ "SA Western Standard Time", "America/La_Paz" },
	{ "Pacific SA Standard Time", "America/Santiago" },
	{ "Newfoundland Standard Time", "America/St_Johns" },
	{ "Tocantins Standard Time", "America/Araguaina" },
	{ "E. South America Standard Time", "America/Sao_Paulo" },
	{ "SA Eastern Standard Time", "America/Cayenne" },
	{ "Argentina Standard Time", "America/Argentina/Buenos_Aires" },
	{ "Greenland Standard Time", "America/Nuuk" },
	{ "Montevideo Standard Time", "America/Montevideo" },
	{ "Magallanes Standard Time", "America/Punta_Arenas" },
	{ "Saint Pierre Standard Time", "America/Miquelon" },
	{ "Bahia Standard Time", "America/Bahia" },
	{ "UTC-02", "Etc/GMT+2" },
	{ "Mid-Atlantic Standard Time", "Etc/GMT+2" },
	{ "Azores Standard Time", "Atlantic/Azores" },
	{ "Cape Verde Standard Time", "Atlantic/Cape_Verde" },
	{ "UTC", "Etc/UTC" },
	{ "GMT Standard Time", "Europe/London" },
	{ "Greenwich Standard Time", "Atlantic/Reykjavik" },
	{ "Sao Tome Standard Time", "Africa/Sao_Tome" },
	{ "Morocco Standard Time", "Africa/Casablanca" },
	{ "W. Europe Standard Time", "Europe/Berlin" },
	{ "Central Europe Standard Time", "Europe/Budapest" },
	{ "Romance Standard Time", "Europe/Paris" },
	{ "Central European Standard Time", "Europe/Warsaw" },
	{ "W. Central Africa Standard Time", "Africa/Lagos" },
	{ "Jordan Standard Time", "Asia/Amman" },
	{ "GTB Standard Time", "Europe/Bucharest" },
	{ "Middle East Standard Time", "Asia/Beirut" },
	{ "Egypt Standard Time", "Africa/Cairo" },
	{ "E. Europe Standard Time", "Europe/Chisinau" },
	{ "Syria Standard Time", "Asia/Damascus" },
	{ "West Bank Standard Time", "Asia/Hebron" },
	{ "South Africa Standard Time", "Africa/Johannesburg" },
	{ "FLE Standard Time", "Europe/Kiev" },
	{ "Israel Standard Time", "Asia/Jerusalem" },
	{ "South Sudan Standard Time", "Africa/Juba" },
	{ "Kaliningrad Standard Time", "Europe/Kaliningrad" },
	{ "Sudan Standard Time", "Africa/Khartoum" },
	{ "Libya Standard Time", "Africa/Tripoli" },
	{ "Namibia Standard Time", "Africa/Windhoek" },
	{ "Arabic Standard Time", "Asia/Baghdad" },
	{ "Turkey Standard Time", "Europe/Istanbul" },
	{ "Arab Standard Time", "Asia/Riyadh" },
	{ "Belarus Standard Time", "Europe/Minsk" },
	{ "Russian Standard Time", "Europe/Moscow" },
	{ "E. Africa Standard Time", "Africa/Nairobi" },
	{ "Volgograd Standard Time", "Europe/Volgograd" },
	{ "Iran Standard Time", "Asia/Tehran" },
	{ "Arabian Standard Time", "Asia/Dubai" },
	{ "Astrakhan Standard Time", "Europe/Astrakhan" },
	{ "Azerbaijan Standard Time", "Asia/Baku" },
	{ "Russia Time Zone 3", "Europe/Samara" },
	{ "Mauritius Standard Time", "Indian/Mauritius" },
	{ "Saratov Standard Time", "Europe/Saratov" },
	{ "Georgian Standard Time", "Asia/Tbilisi" },
	{ "Caucasus Standard Time", "Asia/Yerevan" },
	{ "Afghanistan Standard Time", "Asia/Kabul" },
	{ "West Asia Standard Time", "Asia/Tashkent" },
	{ "Ekaterinburg Standard Time", "Asia/Yekaterinburg" },
	{ "Pakistan Standard Time", "Asia/Karachi" },
	{ "Qyzylorda Standard Time", "Asia/Qyzylorda" },
	{ "India Standard Time", "Asia/Kolkata" },
	{ "Sri Lanka Standard Time", "Asia/Colombo" },
	{ "Nepal Standard Time", "Asia/Kathmandu" },
	{ "Central Asia Standard Time", "Asia/Bishkek" },
	{ "Bangladesh Standard Time", "Asia/Dhaka" },
	{ "Omsk Standard Time", "Asia/Omsk" },
	{ "Myanmar Standard Time", "Asia/Yangon" },
	{ "SE Asia Standard Time", "Asia/Bangkok" },
	{ "Altai Standard Time", "Asia/Barnaul" },
	{ "W. Mongolia Standard Time", "Asia/Hovd" },
	{ "North Asia Standard Time", "Asia/Krasnoyarsk" },
	{ "N. Central Asia Standard Time", "Asia/Novosibirsk" },
	{ "Tomsk Standard Time", "Asia/Tomsk" },
	{ "China Standard Time", "Asia/Shanghai" },
	{ "North Asia East Standard Time", "Asia/Irkutsk" },
	{ "Singapore Standard Time", "Asia/Singapore" },
	{ "W. Australia Standard Time", "Australia/Perth" },
	{ "Taipei Standard Time", "Asia/Taipei" },
	{ "Ulaanbaatar Standard Time", "Asia/Ulaanbaatar" },
	{ "Aus Central W. Standard Time", "Australia/Eucla" },
	{ "Transbaikal Standard Time", "Asia/Chita" },
	{ "Tokyo Standard Time", "Asia/Tokyo" },
	{ "North Korea Standard Time", "Asia/Pyongyang" },
	{ "Korea Standard Time", "Asia/Seoul" },
	{ "Yakutsk Standard Time", "Asia/Yakutsk" },
	{ "Cen. Australia Standard Time", "Australia/Adelaide" },
	{ "AUS Central Standard Time", "Australia/Darwin" },
	{ "E. Australia Standard Time", "Australia/Brisbane" },
	{ "AUS Eastern Standard Time", "Australia/Sydney" },
	{ "West Pacific Standard Time", "Pacific/Port_Moresby" },
	{ "Tasmania Standard Time", "Australia/Hobart" },
	{ "Vladivostok Standard Time", "Asia/Vladivostok" },
	{ "Lord Howe Standard Time", "Australia/Lord_Howe" },
	{ "Bougainville Standard Time", "Pacific/Bougainville" },
	{ "Russia Time Zone 10", "Asia/Srednekolymsk" },
	{ "Magadan Standard Time", "Asia/Magadan" },
	{ "Norfolk Standard Time", "Pacific/Norfolk" },
	{ "Sakhalin Standard Time", "Asia/Sakhalin" },
	{ "Central Pacific Standard Time", "Pacific/Guadalcanal" },
	{ "Russia Time Zone 11", "Asia/Kamchatka" },
	{ "New Zealand Standard Time", "Pacific/Auckland" },
	{ "UTC+12", "Etc/GMT-12" },
	{ "Fiji Standard Time", "Pacific/Fiji" },
	{ "Chatham Islands Standard Time", "Pacific/Chatham" },
	{ "UTC+13", "Etc/GMT-13" },
	{ "Tonga Standard Time", "Pacific/Tongatapu" },
	{ "Samoa Standard Time", "Pacific/Apia" },
	{ "Line Islands Standard Time", "Pacific/Kiritimati" },
};

const char *calparse_windows_zone(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof windows_zones / sizeof windows_zones[0]; i++)
		if (strcasecmp(windows_zones[i].windows, name) == 0)
			return windows_zones[i].iana;
	return NULL;
}

/* libical's error handling: never abort the process, whatever the input
 * (its default for some errors is to abort when errors are fatal). */
static void ical_setup(void)
{
	static const icalerrorenum all[] = {
		ICAL_BADARG_ERROR, ICAL_NEWFAILED_ERROR, ICAL_ALLOCATION_ERROR,
		ICAL_MALFORMEDDATA_ERROR, ICAL_PARSE_ERROR, ICAL_INTERNAL_ERROR,
		ICAL_FILE_ERROR, ICAL_USAGE_ERROR, ICAL_UNIMPLEMENTED_ERROR,
		ICAL_UNKNOWN_ERROR,
	};
	icalerror_set_errors_are_fatal(0);
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		icalerror_set_error_state(all[i], ICAL_ERROR_NONFATAL);
	icalerror_clear_errno();
}

/* One parse. */
struct ctx {
	icalcomponent *cal;
	const icaltimezone *floating; /* the zone of floating times; NULL: UTC */
	struct cal_feed *out;
	struct arena *a;
	long long from_s, until_s;
	size_t max_occ, cap;
	long steps;
	long long cpu_start_ms;
	char *err;
	size_t errlen;
};

static long long cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	if (c->err != NULL && c->errlen > 0 && c->err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
		/* one line of text, whatever the feed put in it */
		utf8_repair(c->err, strlen(c->err), "\n\t");
		for (char *p = c->err; *p; p++)
			if (*p == '\n' || *p == '\t')
				*p = ' ';
	}
	return -1;
}

/* A zone libical knows by an IANA name (from the system's zoneinfo), or
 * NULL. */
static const icaltimezone *system_zone(const char *name)
{
	if (name == NULL || *name == '\0' || strlen(name) > 200)
		return NULL;
	if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0 || strcmp(name, "GMT") == 0 ||
		strcmp(name, "Etc/GMT") == 0)
		return icaltimezone_get_utc_timezone();
	/* Only names made of the characters zone names have: libical opens
	 * a file by this name under the zoneinfo directory. */
	for (const char *p = name; *p; p++) {
		char ch = *p;
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			    (ch >= '0' && ch <= '9') || ch == '/' || ch == '_' || ch == '-' || ch == '+'))
			return NULL;
	}
	if (name[0] == '/' || strstr(name, "..") != NULL)
		return NULL;
	return icaltimezone_get_builtin_timezone(name);
}

/* 1 when the feed's VTIMEZONE gives the zone's rules (a STANDARD or
 * DAYLIGHT part): one without them would silently mean UTC. */
static int vtimezone_usable(icaltimezone *z)
{
	icalcomponent *comp = icaltimezone_get_component(z);
	if (comp == NULL)
		return 0;
	return icalcomponent_get_first_component(comp, ICAL_XSTANDARD_COMPONENT) != NULL ||
		icalcomponent_get_first_component(comp, ICAL_XDAYLIGHT_COMPONENT) != NULL;
}

/* The zone a TZID names, or NULL when nothing knows it. */
static const icaltimezone *resolve_tzid(icalcomponent *cal, const char *tzid)
{
	const icaltimezone *z;
	const char *iana;

	if (tzid == NULL || *tzid == '\0')
		return NULL;
	if (cal != NULL) {
		icaltimezone *feed = icalcomponent_get_timezone(cal, tzid);
		if (feed != NULL && vtimezone_usable(feed))
			return feed;
	}
	if ((z = system_zone(tzid)) != NULL)
		return z;
	/* "/mozilla.org/20050126_1/America/New_York", "/citadel.org/...":
	 * the longest tail after a '/' that names a zone. */
	if (tzid[0] == '/')
		for (const char *p = tzid + 1; (p = strchr(p, '/')) != NULL; p++)
			if ((z = system_zone(p + 1)) != NULL)
				return z;
	if ((iana = calparse_windows_zone(tzid)) != NULL)
		return system_zone(iana);
	return NULL;
}

/* The zone a date-time property is in: UTC for "Z", its TZID, else the
 * floating zone.  -1 (err set) for a TZID nothing knows. */
static int prop_zone(struct ctx *c, icalproperty *p, struct icaltimetype t, const icaltimezone **zone)
{
	icalparameter *tz = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);
	if (icaltime_is_utc(t)) {
		*zone = icaltimezone_get_utc_timezone();
		return 0;
	}
	if (tz != NULL) {
		const char *tzid = icalparameter_get_tzid(tz);
		*zone = resolve_tzid(c->cal, tzid);
		if (*zone == NULL)
			return fail(c, "unknown time zone \"%.80s\"", tzid ? tzid : "");
		return 0;
	}
	*zone = c->floating;
	return 0;
}

static long long to_utc(struct icaltimetype t, const icaltimezone *zone)
{
	t.is_date = 0;
	return (long long)icaltime_as_timet_with_zone(t, zone ? zone : icaltimezone_get_utc_timezone());
}

/* A date-time value of p (a DTSTART, DTEND, RECURRENCE-ID, EXDATE or
 * RDATE) as UTC seconds; *is_date for a DATE value.  -1 (err set) when
 * it cannot be read. */
static int prop_time(struct ctx *c, icalproperty *p, struct icaltimetype t, long long *utc,
	int *is_date)
{
	const icaltimezone *zone;
	if (icaltime_is_null_time(t) || !icaltime_is_valid_time(t))
		return fail(c, "a %s has no valid date",
			icalproperty_kind_to_string(icalproperty_isa(p)));
	*is_date = icaltime_is_date(t);
	if (prop_zone(c, p, t, &zone) < 0)
		return -1;
	*utc = to_utc(t, zone);
	return 0;
}

/* s ("" when NULL), at most max bytes of it, as text (utf8_repair, keeping
 * newlines and tabs). */
static char *clean_text(struct arena *a, const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	char *out;
	if (n > max)
		n = max;
	out = arena_strndup(a, s ? s : "", n);
	utf8_repair(out, n, "\n\t");
	return out;
}

/* One VEVENT as gathered. */
struct ev {
	icalcomponent *comp;
	const char *uid;
	int has_rid;
	long long rid;  /* original start, UTC */
	int seq;        /* SEQUENCE */
	size_t index;   /* order in the feed */
	int used;       /* an override that replaced an expanded start */
};

static int ev_cmp(const void *pa, const void *pb)
{
	const struct ev *a = pa, *b = pb;
	int r = strcmp(a->uid, b->uid);
	if (r != 0)
		return r;
	if (a->has_rid != b->has_rid)
		return a->has_rid - b->has_rid;
	if (a->rid != b->rid)
		return a->rid < b->rid ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

/* What an event's occurrences share: copied once. */
struct shared {
	char *uid, *summary, *description, *location;
	struct cal_attendee *attendees;
	size_t n_attendees;
	int cancelled;
	long long duration; /* seconds from start to end */
};

static void share(struct ctx *c, const struct ev *e, struct shared *sh)
{
	icalcomponent *comp = e->comp;
	icalproperty *p;
	size_t n = 0;

	sh->uid = arena_strdup(c->a, e->uid);
	sh->summary = clean_text(c->a, icalcomponent_get_summary(comp), TEXT_MAX_SUMMARY);
	sh->description = clean_text(c->a, icalcomponent_get_description(comp), TEXT_MAX_DESCRIPTION);
	sh->location = clean_text(c->a, icalcomponent_get_location(comp), TEXT_MAX_LOCATION);
	sh->cancelled = icalcomponent_get_status(comp) == ICAL_STATUS_CANCELLED;
	for (p = icalcomponent_get_first_property(comp, ICAL_ATTENDEE_PROPERTY); p != NULL;
		p = icalcomponent_get_next_property(comp, ICAL_ATTENDEE_PROPERTY))
		n++;
	if (n > ATTENDEES_MAX)
		n = ATTENDEES_MAX;
	sh->attendees = n ? arena_calloc(c->a, n * sizeof *sh->attendees) : NULL;
	sh->n_attendees = 0;
	for (p = icalcomponent_get_first_property(comp, ICAL_ATTENDEE_PROPERTY);
		p != NULL && sh->n_attendees < n;
		p = icalcomponent_get_next_property(comp, ICAL_ATTENDEE_PROPERTY)) {
		const char *v = icalproperty_get_attendee(p);
		icalparameter *cn = icalproperty_get_first_parameter(p, ICAL_CN_PARAMETER);
		struct cal_attendee *at = &sh->attendees[sh->n_attendees];
		if (v != NULL && strncasecmp(v, "mailto:", 7) == 0 && v[7] != '\0')
			at->email = clean_text(c->a, v + 7, 254);
		if (cn != NULL && icalparameter_get_cn(cn) != NULL && *icalparameter_get_cn(cn))
			at->name = clean_text(c->a, icalparameter_get_cn(cn), 200);
		if (at->email != NULL || at->name != NULL)
			sh->n_attendees++;
	}
}

static void rid_text(long long utc, char out[17])
{
	time_t t = (time_t)utc;
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
		out[0] = '\0';
}

static int emit(struct ctx *c, const struct shared *sh, int recurring, long long original,
	long long start, int cancelled)
{
	struct cal_occurrence *o;
	if (c->out->n >= c->max_occ)
		return fail(c, "more than %zu occurrences in the window", c->max_occ);
	if (c->out->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		if (c->cap > c->max_occ)
			c->cap = c->max_occ;
		c->out->occ = xrealloc(c->out->occ, c->cap * sizeof *c->out->occ);
	}
	o = &c->out->occ[c->out->n++];
	memset(o, 0, sizeof *o);
	o->uid = sh->uid;
	if (recurring)
		rid_text(original, o->recurrence_id);
	o->starts_s = start;
	o->ends_s = start + sh->duration;
	o->summary = sh->summary;
	o->description = sh->description;
	o->location = sh->location;
	o->attendees = sh->attendees;
	o->n_attendees = sh->n_attendees;
	o->cancelled = cancelled;
	return 0;
}

/* DTSTART of an event as UTC seconds, with its local time and zone. */
struct start {
	struct icaltimetype local;
	const icaltimezone *zone;
	long long utc;
	int is_date;
};

static int event_start(struct ctx *c, icalcomponent *comp, struct start *s)
{
	icalproperty *p = icalcomponent_get_first_property(comp, ICAL_DTSTART_PROPERTY);
	if (p == NULL)
		return fail(c, "an event has no DTSTART (UID %.80s)", icalcomponent_get_uid(comp));
	s->local = icalproperty_get_dtstart(p);
	if (prop_time(c, p, s->local, &s->utc, &s->is_date) < 0)
		return -1;
	return prop_zone(c, p, s->local, &s->zone);
}

/* The length of an event: DTEND - DTSTART, else DURATION, else 0. */
static int event_duration(struct ctx *c, icalcomponent *comp, const struct start *s, long long *d)
{
	icalproperty *p = icalcomponent_get_first_property(comp, ICAL_DTEND_PROPERTY);
	*d = 0;
	if (p != NULL) {
		long long end;
		int is_date;
		if (prop_time(c, p, icalproperty_get_dtend(p), &end, &is_date) < 0)
			return -1;
		*d = end - s->utc;
	} else if ((p = icalcomponent_get_first_property(comp, ICAL_DURATION_PROPERTY)) != NULL) {
		*d = icaldurationtype_as_int(icalproperty_get_duration(p));
	}
	if (*d < 0 || *d > 366LL * 86400)
		*d = 0;
	return 0;
}

static int ll_cmp(const void *pa, const void *pb)
{
	long long a = *(const long long *)pa, b = *(const long long *)pb;
	return a < b ? -1 : a > b;
}

struct starts {
	long long *v;
	size_t n, cap;
};

static void starts_add(struct starts *s, long long t)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xrealloc(s->v, s->cap * sizeof *s->v);
	}
	s->v[s->n++] = t;
}

/* Moves dt (a series' DTSTART in local time) forward by whole periods of
 * rule to shortly before from_s, when that gives the same occurrences
 * from then on: a DAILY, WEEKLY or MONTHLY rule without COUNT (COUNT
 * counts from the first occurrence), whose BY parts depend only on the
 * date and time within a period (a WEEKLY BYDAY without an ordinal;
 * libical reads "2TU" in a WEEKLY rule its own way), and for MONTHLY a
 * day of month every month has.  libical does not return a shifted
 * DTSTART that does not match the rule, so nothing is added; DTSTART
 * itself is handled by the caller.  This keeps a series that began
 * years ago from costing an iteration per day since then. */
static void fast_forward(struct icaltimetype *dt, const struct icalrecurrencetype *rule,
	long long dtstart_s, long long from_s)
{
	long long gap_days = (from_s - dtstart_s) / 86400 - 2, k;
	int n = rule->interval > 0 ? rule->interval : 1;

	if (rule->count != 0 || gap_days <= 0)
		return;
	switch (rule->freq) {
	case ICAL_DAILY_RECURRENCE:
		k = gap_days / n;
		icaltime_adjust(dt, (int)(k * n), 0, 0, 0);
		break;
	case ICAL_WEEKLY_RECURRENCE:
		for (int i = 0; i < ICAL_BY_DAY_SIZE && rule->by_day[i] != ICAL_RECURRENCE_ARRAY_MAX; i++)
			if (icalrecurrencetype_day_position(rule->by_day[i]) != 0)
				return;
		k = gap_days / (7LL * n);
		icaltime_adjust(dt, (int)(k * 7 * n), 0, 0, 0);
		break;
	case ICAL_MONTHLY_RECURRENCE: {
		long long months;
		if (dt->day > 28)
			return;
		k = gap_days / 31 / n;
		months = (long long)dt->year * 12 + (dt->month - 1) + k * n;
		dt->year = (int)(months / 12);
		dt->month = (int)(months % 12) + 1;
		break;
	}
	default:
		break;
	}
}

/* 0 when rule has BYMONTH and BYMONTHDAY and no month of the list has
 * any of the days ("every 31 April"): libical would search centuries
 * for an occurrence. */
static int rule_can_match(const struct icalrecurrencetype *rule)
{
	static const int mdays[13] = { 0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (rule->by_month[0] == ICAL_RECURRENCE_ARRAY_MAX ||
		rule->by_month_day[0] == ICAL_RECURRENCE_ARRAY_MAX)
		return 1;
	for (int i = 0; i < ICAL_BY_MONTH_SIZE && rule->by_month[i] != ICAL_RECURRENCE_ARRAY_MAX; i++) {
		int m = icalrecurrencetype_month_month(rule->by_month[i]);
		if (m < 1 || m > 12)
			return 1; /* leave it to libical */
		for (int k = 0; k < ICAL_BY_MONTHDAY_SIZE &&
			rule->by_month_day[k] != ICAL_RECURRENCE_ARRAY_MAX; k++) {
			int d = rule->by_month_day[k] < 0 ? -rule->by_month_day[k] : rule->by_month_day[k];
			if (d >= 1 && d <= mdays[m])
				return 1;
		}
	}
	return 0;
}

/* 1 when a series repeats more often than daily. */
static int sub_daily(icalcomponent *comp)
{
	icalproperty *p;
	for (p = icalcomponent_get_first_property(comp, ICAL_RRULE_PROPERTY); p != NULL;
		p = icalcomponent_get_next_property(comp, ICAL_RRULE_PROPERTY)) {
		icalrecurrencetype_frequency f = icalproperty_get_rrule(p).freq;
		if (f == ICAL_SECONDLY_RECURRENCE || f == ICAL_MINUTELY_RECURRENCE ||
			f == ICAL_HOURLY_RECURRENCE)
			return 1;
	}
	return 0;
}

/* The original starts of a series in [from_s, until_s), sorted and
 * unique, EXDATEs removed. */
static int expand(struct ctx *c, icalcomponent *comp, const struct start *st, struct starts *out)
{
	icalproperty *p;
	struct icaltimetype dt = st->local;

	icaltime_set_timezone(&dt, st->zone);
	if (st->utc >= c->from_s && st->utc < c->until_s)
		starts_add(out, st->utc);
	for (p = icalcomponent_get_first_property(comp, ICAL_RRULE_PROPERTY); p != NULL;
		p = icalcomponent_get_next_property(comp, ICAL_RRULE_PROPERTY)) {
		struct icalrecurrencetype rule = icalproperty_get_rrule(p);
		icalrecur_iterator *it;
		struct icaltimetype t;
		if (rule.freq == ICAL_NO_RECURRENCE)
			return fail(c, "an event has an RRULE libical cannot read (UID %.80s)",
				icalcomponent_get_uid(comp));
		struct icaltimetype first = dt;
		if (!rule_can_match(&rule))
			continue;
		/* no need to look past the window: an UNTIL there stops libical's
		 * search for the next occurrence of a sparse rule */
		if (rule.count == 0 && (icaltime_is_null_time(rule.until) ||
			to_utc(rule.until, icaltime_is_utc(rule.until) ? NULL : st->zone) > c->until_s + 86400))
			rule.until = icaltime_from_timet_with_zone((time_t)(c->until_s + 86400), 0,
				icaltimezone_get_utc_timezone());
		fast_forward(&first, &rule, st->utc, c->from_s);
		it = icalrecur_iterator_new(rule, first);
		if (it == NULL)
			return fail(c, "an event has an RRULE libical cannot expand (UID %.80s)",
				icalcomponent_get_uid(comp));
		while (!icaltime_is_null_time(t = icalrecur_iterator_next(it))) {
			long long u = to_utc(t, st->zone);
			if (++c->steps > STEPS_MAX ||
				((c->steps & 1023) == 0 && cpu_ms() - c->cpu_start_ms > CALPARSE_CPU_MS)) {
				icalrecur_iterator_free(it);
				return fail(c, "a recurring event repeats too often (UID %.80s)",
					icalcomponent_get_uid(comp));
			}
			if (u >= c->until_s)
				break;
			if (u >= c->from_s && u != st->utc)
				starts_add(out, u);
		}
		icalrecur_iterator_free(it);
	}
	for (p = icalcomponent_get_first_property(comp, ICAL_RDATE_PROPERTY); p != NULL;
		p = icalcomponent_get_next_property(comp, ICAL_RDATE_PROPERTY)) {
		struct icaldatetimeperiodtype r = icalproperty_get_rdate(p);
		struct icaltimetype t = icaltime_is_null_time(r.time) ? r.period.start : r.time;
		long long u;
		int is_date;
		if (prop_time(c, p, t, &u, &is_date) < 0)
			return -1;
		if (is_date) /* a date in a timed series: at DTSTART's time of day */
			u = to_utc((struct icaltimetype){ t.year, t.month, t.day, st->local.hour,
					   st->local.minute, st->local.second, 0, 0, NULL },
				st->zone);
		if (u >= c->from_s && u < c->until_s)
			starts_add(out, u);
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof *out->v, ll_cmp);
	/* unique */
	size_t k = 0;
	for (size_t i = 0; i < out->n; i++)
		if (k == 0 || out->v[k - 1] != out->v[i])
			out->v[k++] = out->v[i];
	out->n = k;
	for (p = icalcomponent_get_first_property(comp, ICAL_EXDATE_PROPERTY); p != NULL;
		p = icalcomponent_get_next_property(comp, ICAL_EXDATE_PROPERTY)) {
		struct icaltimetype t = icalproperty_get_exdate(p);
		long long u, day_end = 0;
		int is_date;
		if (prop_time(c, p, t, &u, &is_date) < 0)
			return -1;
		if (is_date) { /* every start on that local date */
			u = to_utc((struct icaltimetype){ t.year, t.month, t.day, 0, 0, 0, 0, 0, NULL },
				st->zone);
			struct icaltimetype next = t;
			icaltime_adjust(&next, 1, 0, 0, 0);
			day_end = to_utc((struct icaltimetype){ next.year, next.month, next.day, 0, 0, 0,
						 0, 0, NULL },
				st->zone);
		}
		k = 0;
		for (size_t i = 0; i < out->n; i++) {
			int gone = is_date ? (out->v[i] >= u && out->v[i] < day_end) : out->v[i] == u;
			if (!gone)
				out->v[k++] = out->v[i];
		}
		out->n = k;
	}
	return 0;
}

static int transparent(icalcomponent *comp)
{
	icalproperty *p = icalcomponent_get_first_property(comp, ICAL_TRANSP_PROPERTY);
	return p != NULL && icalproperty_get_transp(p) == ICAL_TRANSP_TRANSPARENT;
}

/* An override's occurrence, when its own start is in the window. */
static int emit_override(struct ctx *c, const struct ev *o, int series_cancelled, int *emitted)
{
	struct start st;
	struct shared sh;
	*emitted = 0;
	if (event_start(c, o->comp, &st) < 0)
		return -1;
	if (st.is_date) {
		c->out->all_day++;
		return 0;
	}
	if (transparent(o->comp)) {
		c->out->transparent++;
		return 0;
	}
	if (st.utc < c->from_s || st.utc >= c->until_s)
		return 0;
	share(c, o, &sh);
	if (event_duration(c, o->comp, &st, &sh.duration) < 0)
		return -1;
	*emitted = 1;
	return emit(c, &sh, 1, o->rid, st.utc, sh.cancelled || series_cancelled);
}

static struct ev *find_override(struct ev *ov, size_t n, long long rid)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ov[mid].rid < rid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && ov[lo].rid == rid ? &ov[lo] : NULL;
}

/* One UID: its series (or NULL) and its overrides ov[0..nov), sorted by
 * rid, one per rid. */
static int one_uid(struct ctx *c, struct ev *series, struct ev *ov, size_t nov)
{
	size_t before = c->out->n;
	int series_cancelled = 0, emitted;

	if (series != NULL) {
		struct start st;
		struct shared sh;
		struct starts s = { NULL, 0, 0 };
		int recurring;

		if (event_start(c, series->comp, &st) < 0)
			return -1;
		recurring = icalcomponent_get_first_property(series->comp, ICAL_RRULE_PROPERTY) != NULL ||
			icalcomponent_get_first_property(series->comp, ICAL_RDATE_PROPERTY) != NULL;
		series_cancelled = icalcomponent_get_status(series->comp) == ICAL_STATUS_CANCELLED;
		if (st.is_date) {
			c->out->all_day++;
			return 0; /* its overrides are all-day too, or stray */
		}
		if (transparent(series->comp)) {
			c->out->transparent++;
			return 0;
		}
		if (sub_daily(series->comp)) {
			c->out->unsupported++;
			return 0;
		}
		if (!recurring) {
			if (st.utc >= c->from_s && st.utc < c->until_s) {
				share(c, series, &sh);
				if (event_duration(c, series->comp, &st, &sh.duration) < 0)
					return -1;
				if (emit(c, &sh, 0, 0, st.utc, sh.cancelled) < 0)
					return -1;
			}
			nov = 0; /* overrides of an event that does not repeat: nothing to replace */
		} else {
			int shared_done = 0;
			if (expand(c, series->comp, &st, &s) < 0) {
				free(s.v);
				return -1;
			}
			for (size_t i = 0; i < s.n; i++) {
				struct ev *o = find_override(ov, nov, s.v[i]);
				if (o != NULL) {
					o->used = 1;
					if (emit_override(c, o, series_cancelled, &emitted) < 0) {
						free(s.v);
						return -1;
					}
					continue;
				}
				if (!shared_done) {
					share(c, series, &sh);
					if (event_duration(c, series->comp, &st, &sh.duration) < 0) {
						free(s.v);
						return -1;
					}
					shared_done = 1;
				}
				if (emit(c, &sh, 1, s.v[i], s.v[i], sh.cancelled) < 0) {
					free(s.v);
					return -1;
				}
			}
			free(s.v);
		}
	}
	for (size_t i = 0; i < nov; i++)
		if (!ov[i].used && emit_override(c, &ov[i], series_cancelled, &emitted) < 0)
			return -1;
	if (c->out->n == before)
		c->out->outside++;
	return 0;
}

static int occ_cmp(const void *pa, const void *pb)
{
	const struct cal_occurrence *a = pa, *b = pb;
	int r;
	if (a->starts_s != b->starts_s)
		return a->starts_s < b->starts_s ? -1 : 1;
	if ((r = strcmp(a->uid, b->uid)) != 0)
		return r;
	return strcmp(a->recurrence_id, b->recurrence_id);
}

/* The first X-LIC-ERROR libical left in comp that matters, or NULL.
 * Not counted: an empty value ("LOCATION:", which Google writes for every
 * event without a location; libical drops the property, which is what
 * empty means; a DTSTART dropped so is refused later as missing), and
 * anything inside a VALARM (alarms are not read). */
static const char *first_error(icalcomponent *comp)
{
	icalproperty *p;
	icalcomponent *sub;
	if (icalcomponent_isa(comp) == ICAL_VALARM_COMPONENT)
		return NULL;
	for (p = icalcomponent_get_first_property(comp, ICAL_XLICERROR_PROPERTY); p != NULL;
		p = icalcomponent_get_next_property(comp, ICAL_XLICERROR_PROPERTY)) {
		const char *e = icalproperty_get_xlicerror(p);
		if (e != NULL && strncmp(e, "No value for ", 13) != 0)
			return e;
	}
	for (sub = icalcomponent_get_first_component(comp, ICAL_ANY_COMPONENT); sub != NULL;
		sub = icalcomponent_get_next_component(comp, ICAL_ANY_COMPONENT)) {
		const char *e = first_error(sub);
		if (e != NULL)
			return e;
	}
	return NULL;
}

/* Gathers the VEVENTs of cal into *evs (sorted by ev_cmp). */
static int gather(struct ctx *c, struct ev **evs, size_t *nevs)
{
	size_t n = 0, cap = 0;
	struct ev *v = NULL;
	icalcomponent *comp;

	for (comp = icalcomponent_get_first_component(c->cal, ICAL_VEVENT_COMPONENT); comp != NULL;
		comp = icalcomponent_get_next_component(c->cal, ICAL_VEVENT_COMPONENT)) {
		const char *uid = icalcomponent_get_uid(comp);
		icalproperty *rp = icalcomponent_get_first_property(comp, ICAL_RECURRENCEID_PROPERTY);
		icalproperty *sp = icalcomponent_get_first_property(comp, ICAL_SEQUENCE_PROPERTY);
		struct ev e = { comp, uid, 0, 0, sp ? icalproperty_get_sequence(sp) : 0, n, 0 };
		size_t ulen = uid ? strlen(uid) : 0;

		if (ulen == 0) {
			free(v);
			return fail(c, "an event has no UID (SUMMARY %.80s)",
				icalcomponent_get_summary(comp) ? icalcomponent_get_summary(comp) : "");
		}
		if (ulen > UID_MAX || !valid_utf8(uid, ulen) || !valid_no_controls(uid, ulen, NULL)) {
			free(v);
			return fail(c, "an event's UID is longer than %d bytes or not text", UID_MAX);
		}
		if (icalcomponent_get_first_property(comp, ICAL_DTSTART_PROPERTY) == NULL) {
			free(v);
			return fail(c, "an event has no DTSTART (UID %.80s)", uid);
		}
		if (rp != NULL) {
			int is_date;
			e.has_rid = 1;
			if (prop_time(c, rp, icalproperty_get_recurrenceid(rp), &e.rid, &is_date) < 0) {
				free(v);
				return -1;
			}
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[n++] = e;
	}
	if (n > 1)
		qsort(v, n, sizeof *v, ev_cmp);
	/* The same (UID, RECURRENCE-ID) twice: the highest SEQUENCE, then
	 * the last in the feed, wins (the sort put it last). */
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k > 0 && strcmp(v[k - 1].uid, v[i].uid) == 0 && v[k - 1].has_rid == v[i].has_rid &&
			v[k - 1].rid == v[i].rid)
			v[k - 1] = v[i];
		else
			v[k++] = v[i];
	}
	*evs = v;
	*nevs = k;
	return 0;
}

static int parse(struct ctx *c, const char *data, size_t len)
{
	char *text;
	icalcomponent *root;
	struct ev *evs = NULL;
	size_t nevs = 0;
	const char *e;
	int rc = 0;

	if (memchr(data, '\0', len) != NULL)
		return fail(c, "not a calendar: the data holds a NUL byte");
	text = xstrndup(data, len);
	root = icalparser_parse_string(text);
	free(text);
	if (root == NULL)
		return fail(c, "not a calendar: no BEGIN:VCALENDAR");
	if (icalcomponent_isa(root) != ICAL_VCALENDAR_COMPONENT) {
		icalcomponent_free(root);
		return fail(c, "not a calendar: %s", "the data is not one VCALENDAR");
	}
	c->cal = root;
	if ((e = first_error(root)) != NULL) {
		rc = fail(c, "invalid iCalendar: %.160s", e);
		goto out;
	}
	icalproperty *xwr;
	for (xwr = icalcomponent_get_first_property(root, ICAL_X_PROPERTY); xwr != NULL;
		xwr = icalcomponent_get_next_property(root, ICAL_X_PROPERTY)) {
		const char *name = icalproperty_get_x_name(xwr);
		const char *v = icalproperty_get_x(xwr);
		if (name != NULL && strcasecmp(name, "X-WR-TIMEZONE") == 0 && v != NULL) {
			const icaltimezone *z = resolve_tzid(root, v);
			if (strlen(v) < sizeof c->out->calendar_tz && valid_no_controls(v, strlen(v), NULL))
				snprintf(c->out->calendar_tz, sizeof c->out->calendar_tz, "%s", v);
			if (z != NULL)
				c->floating = z;
			break;
		}
	}
	if (gather(c, &evs, &nevs) < 0) {
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < nevs && rc == 0;) {
		size_t j = i;
		struct ev *series = NULL;
		while (j < nevs && strcmp(evs[j].uid, evs[i].uid) == 0)
			j++;
		if (!evs[i].has_rid)
			series = &evs[i];
		rc = one_uid(c, series, evs + i + (series != NULL), j - i - (series != NULL));
		i = j;
		if (rc == 0 && cpu_ms() - c->cpu_start_ms > CALPARSE_CPU_MS)
			rc = fail(c, "the calendar takes more than %d ms to read", CALPARSE_CPU_MS);
	}
	if (rc == 0 && c->out->n > 1)
		qsort(c->out->occ, c->out->n, sizeof *c->out->occ, occ_cmp);
out:
	free(evs);
	icalcomponent_free(root);
	c->cal = NULL;
	return rc;
}

int calparse_feed(const char *data, size_t len, const char *default_tz,
	long long from_s, long long until_s, size_t max_occ,
	struct cal_feed *out, char *err, size_t errlen)
{
	struct ctx c;
	int rc;

	memset(out, 0, sizeof *out);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	memset(&c, 0, sizeof c);
	c.out = out;
	c.from_s = from_s;
	c.until_s = until_s;
	c.max_occ = max_occ;
	c.err = err;
	c.errlen = errlen;
	c.cpu_start_ms = cpu_ms();
	ical_setup();
	if (data == NULL)
		return fail(&c, "not a calendar: no data");
	if (default_tz != NULL && *default_tz != '\0') {
		c.floating = resolve_tzid(NULL, default_tz);
		if (c.floating == NULL)
			return fail(&c, "unknown time zone \"%.80s\" for floating times", default_tz);
	} else {
		c.floating = icaltimezone_get_utc_timezone();
	}
	out->arena = arena_new(0);
	c.a = out->arena;
	rc = parse(&c, data, len);
	icalerror_clear_errno();
	if (rc < 0) {
		calparse_free(out);
		return -1;
	}
	return 0;
}

void calparse_free(struct cal_feed *f)
{
	if (f == NULL)
		return;
	free(f->occ);
	if (f->arena != NULL)
		arena_free(f->arena);
	memset(f, 0, sizeof *f);
}
