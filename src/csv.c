/* csv: a bounded RFC 4180 parser (include/csv.h). */
#include "csv.h"

#include <string.h>

#include "arena.h"
#include "valid.h"

const struct csv_limits csv_default_limits = {
	.max_record = 4096,
	.max_field = 1000,
	.max_fields = 32,
	.max_records = 5001,
};

/* The parser's state over one input. */
struct csv_state {
	struct arena *a;
	const struct csv_limits *lim;
	char *field;           /* the field being read: lim->max_field + 1 bytes */
	size_t flen;
	const char **fields;   /* the record being read: lim->max_fields entries */
	size_t nfields;
	struct csv_record *records;
	size_t nrecords, cap;
};

/* Appends byte c to the field being read.  0, or the error when the
 * field is full. */
static enum csv_err add_byte(struct csv_state *s, char c)
{
	if (s->flen >= s->lim->max_field)
		return CSV_FIELD_TOO_LONG;
	s->field[s->flen++] = c;
	return CSV_OK;
}

/* 1 when data[i] ends a line: LF, or CR not followed by LF (CR LF counts
 * once, at its LF). */
static int line_end_at(const char *data, size_t len, size_t i)
{
	return data[i] == '\n' || (data[i] == '\r' && (i + 1 >= len || data[i + 1] != '\n'));
}

/* Ends the current field: copies it into the record.  0, or the error. */
static enum csv_err end_field(struct csv_state *s)
{
	if (s->nfields >= s->lim->max_fields)
		return CSV_TOO_MANY_FIELDS;
	s->fields[s->nfields++] = arena_strndup(s->a, s->field, s->flen);
	s->flen = 0;
	return CSV_OK;
}

/* Ends the current record (starting on line) and keeps it.  0, or the
 * error. */
static enum csv_err end_record(struct csv_state *s, size_t line)
{
	struct csv_record *r;

	if (s->nrecords >= s->lim->max_records)
		return CSV_TOO_MANY_RECORDS;
	if (s->nrecords == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct csv_record *n = arena_alloc(s->a, cap * sizeof(*n));
		if (s->nrecords)
			memcpy(n, s->records, s->nrecords * sizeof(*n));
		s->records = n;
		s->cap = cap;
	}
	r = &s->records[s->nrecords++];
	r->line = line;
	r->nfields = s->nfields;
	r->fields = arena_alloc(s->a, s->nfields * sizeof(*r->fields));
	memcpy(r->fields, s->fields, s->nfields * sizeof(*r->fields));
	s->nfields = 0;
	return CSV_OK;
}

/* Contract: csv.h.  One pass over the bytes: a record starts at pos
 * (line rline); each field is read unquoted or quoted up to a comma, a
 * line end or the end of the data. */
enum csv_err csv_parse(struct arena *a, const char *data, size_t len,
	const struct csv_limits *lim, struct csv_table *out, size_t *err_line)
{
	struct csv_state s;
	enum csv_err e = CSV_OK;
	size_t i = 0, line = 1, rline = 1, rstart = 0;

	out->records = NULL;
	out->nrecords = 0;
	*err_line = 0;
	if (lim == NULL)
		lim = &csv_default_limits;
	memset(&s, 0, sizeof(s));
	s.a = a;
	s.lim = lim;
	if (data == NULL)
		len = 0;
	if (len && !valid_utf8(data, len)) {
		/* Point at the line of the first bad byte: walk the characters,
		 * each 1 to 4 bytes long, until one is not valid. */
		size_t p = 0, k;
		while (p < len) {
			for (k = 1; k <= 4 && p + k <= len; k++)
				if (valid_utf8(data + p, k))
					break;
			if (k > 4 || p + k > len)
				break;
			if (line_end_at(data, len, p))
				line++;
			p += k;
		}
		*err_line = line;
		return CSV_BAD_UTF8;
	}
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	s.field = arena_alloc(a, lim->max_field + 1);
	s.fields = arena_alloc(a, (lim->max_fields ? lim->max_fields : 1) * sizeof(*s.fields));

	while (i < len) {
		int quoted = 0, record_end = 0;

		if (s.nfields == 0) {
			/* A record starts: skip blank lines. */
			if (data[i] == '\n' || data[i] == '\r') {
				i += (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n') ? 2 : 1;
				line++;
				continue;
			}
			rline = line;
			rstart = i;
		}
		if (data[i] == '"') {
			quoted = 1;
			i++;
			for (;;) {
				if (i >= len) {
					e = CSV_UNCLOSED_QUOTE;
					goto out;
				}
				if (data[i] == '"') {
					if (i + 1 < len && data[i + 1] == '"') {
						i += 2;
						if ((e = add_byte(&s, '"')) != CSV_OK)
							goto out;
						continue;
					}
					i++;
					break;
				}
				if (line_end_at(data, len, i))
					line++;
				if ((e = add_byte(&s, data[i++])) != CSV_OK)
					goto out;
				if (i - rstart > lim->max_record) {
					e = CSV_RECORD_TOO_LONG;
					goto out;
				}
			}
		}
		while (i < len && data[i] != ',' && data[i] != '\n' && data[i] != '\r') {
			if (quoted) {
				e = CSV_AFTER_QUOTE;
				goto out;
			}
			if (data[i] == '"') {
				e = CSV_STRAY_QUOTE;
				goto out;
			}
			if ((e = add_byte(&s, data[i++])) != CSV_OK)
				goto out;
		}
		if (i - rstart > lim->max_record) {
			e = CSV_RECORD_TOO_LONG;
			goto out;
		}
		if ((e = end_field(&s)) != CSV_OK)
			goto out;
		if (i >= len) {
			record_end = 1;
		} else if (data[i] == ',') {
			i++;
			if (i >= len) {
				/* "a," at the end: one more, empty, field. */
				if ((e = end_field(&s)) != CSV_OK)
					goto out;
				record_end = 1;
			}
		} else {
			i += (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n') ? 2 : 1;
			record_end = 1;
		}
		if (record_end) {
			if ((e = end_record(&s, rline)) != CSV_OK)
				goto out;
			line++;
		}
	}
	out->records = s.records;
	out->nrecords = s.nrecords;
out:
	if (e != CSV_OK)
		*err_line = rline;
	return e;
}

/* Contract: csv.h. */
const char *csv_strerror(enum csv_err e)
{
	switch (e) {
	case CSV_OK:
		return "no error";
	case CSV_BAD_UTF8:
		return "the file is not UTF-8 text (save it as \"CSV UTF-8\")";
	case CSV_RECORD_TOO_LONG:
		return "the row is too long";
	case CSV_FIELD_TOO_LONG:
		return "a value is too long";
	case CSV_TOO_MANY_FIELDS:
		return "the row has too many columns";
	case CSV_TOO_MANY_RECORDS:
		return "the file has too many rows";
	case CSV_STRAY_QUOTE:
		return "a \" inside a value that does not start with \" (write \"\" inside a quoted value)";
	case CSV_AFTER_QUOTE:
		return "something follows a closing \" before the next comma";
	case CSV_UNCLOSED_QUOTE:
		return "a quoted value is not closed";
	}
	return "the file cannot be read as CSV";
}
