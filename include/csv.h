/* csv: a bounded RFC 4180 parser for the files owners upload (CSV
 * import, src/dash_import.c).
 *
 * Fields are separated by commas; records end with CRLF, LF or a lone
 * CR (the last may have none).  A field may be quoted with '"': inside
 * it commas and line breaks are data and "" is one '"'.  A '"' inside an
 * unquoted field, or anything but a comma or a line end after a closing
 * quote, is an error, not a guess.  A UTF-8 byte order mark at the start
 * is skipped.  Input must be UTF-8 without NUL bytes (valid_utf8).
 * Blank lines (no characters at all) are skipped; a record's line number
 * is the line of the file it starts on, counting from 1, so messages can
 * point at the line an editor shows.  Every field is NUL-terminated and
 * copied into the caller's arena; nothing is kept on error. */
#ifndef RF_CSV_H
#define RF_CSV_H

#include <stddef.h>

struct arena;

struct csv_limits {
	size_t max_record;  /* bytes of one record, its line breaks included */
	size_t max_field;   /* bytes of one field, after unquoting */
	size_t max_fields;  /* fields per record */
	size_t max_records; /* records in the file (the header row counts) */
};

/* Uploads: 4096-byte records, 1000-byte fields, 32 fields, 5001 records. */
extern const struct csv_limits csv_default_limits;

struct csv_record {
	size_t line;          /* the file line it starts on, from 1 */
	size_t nfields;
	const char **fields;  /* nfields NUL-terminated strings */
};

struct csv_table {
	struct csv_record *records;
	size_t nrecords;
};

enum csv_err {
	CSV_OK = 0,
	CSV_BAD_UTF8,        /* not UTF-8, or a NUL byte */
	CSV_RECORD_TOO_LONG,
	CSV_FIELD_TOO_LONG,
	CSV_TOO_MANY_FIELDS,
	CSV_TOO_MANY_RECORDS,
	CSV_STRAY_QUOTE,     /* a '"' inside an unquoted field */
	CSV_AFTER_QUOTE,     /* something other than , or a line end after a closing '"' */
	CSV_UNCLOSED_QUOTE,  /* the file ends inside a quoted field */
};

/* Parses data[0..len) into out (lim NULL: csv_default_limits).  Returns
 * CSV_OK, or the error with *err_line set to the line of the file (from
 * 1) where the record at fault starts (CSV_BAD_UTF8: the line of the
 * first bad byte) and out set to {NULL, 0}. */
enum csv_err csv_parse(struct arena *a, const char *data, size_t len,
	const struct csv_limits *lim, struct csv_table *out, size_t *err_line);

/* The error in words an owner understands ("a quoted field is not
 * closed"), never NULL. */
const char *csv_strerror(enum csv_err e);

#endif
