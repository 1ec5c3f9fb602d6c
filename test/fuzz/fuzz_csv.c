/* libFuzzer harness for csv_parse.
 *
 * Each input is parsed with the default limits and with tight ones (so
 * that every limit is reached quickly), and the result is checked
 * against what csv.h promises.  A successful parse is written out again
 * (every field quoted, "" for '"', CRLF) and parsed again, which must
 * give the same records: what the parser accepts must mean one thing.
 * Any broken promise aborts. */
#include "fuzz.h"

#include "arena.h"
#include "buf.h"
#include "csv.h"
#include "valid.h"

#include <stdint.h>
#include <string.h>

static const struct csv_limits tight = { 24, 6, 3, 4 };
static const struct csv_limits roomy = { 1 << 22, 1 << 20, 1 << 12, 1 << 20 };

static void check_table(const struct csv_table *t, const struct csv_limits *lim, size_t len)
{
	size_t last = 0;
	CHECK(t->nrecords <= lim->max_records);
	CHECK((t->nrecords == 0) == (t->records == NULL));
	for (size_t i = 0; i < t->nrecords; i++) {
		const struct csv_record *r = &t->records[i];
		CHECK(r->line > last && r->line <= len + 1);
		last = r->line;
		CHECK(r->nfields >= 1 && r->nfields <= lim->max_fields);
		for (size_t j = 0; j < r->nfields; j++) {
			size_t n = strlen(r->fields[j]);
			CHECK(n <= lim->max_field);
			CHECK(valid_utf8(r->fields[j], n));
		}
	}
}

/* Writes t back as CSV into b. */
static void write_table(struct buf *b, const struct csv_table *t)
{
	for (size_t i = 0; i < t->nrecords; i++) {
		for (size_t j = 0; j < t->records[i].nfields; j++) {
			buf_puts(b, j ? ",\"" : "\"");
			for (const char *p = t->records[i].fields[j]; *p; p++) {
				if (*p == '"')
					buf_putc(b, '"');
				buf_putc(b, *p);
			}
			buf_putc(b, '"');
		}
		buf_puts(b, "\r\n");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct csv_limits *lims[] = { NULL, &tight };
	struct arena *a = arena_new(0);

	for (size_t k = 0; k < 2; k++) {
		const struct csv_limits *lim = lims[k] ? lims[k] : &csv_default_limits;
		struct csv_table t, t2;
		size_t line = 0, line2 = 0;
		struct buf b;
		enum csv_err e = csv_parse(a, (const char *)data, size, lims[k], &t, &line);

		if (e != CSV_OK) {
			CHECK(t.records == NULL && t.nrecords == 0);
			CHECK(line >= 1 && line <= size + 1);
			CHECK(csv_strerror(e) != NULL);
			continue;
		}
		CHECK(line == 0);
		check_table(&t, lim, size);
		buf_init_arena(&b, a);
		write_table(&b, &t);
		CHECK(csv_parse(a, b.data ? b.data : "", b.len, &roomy, &t2, &line2) == CSV_OK);
		CHECK(t2.nrecords == t.nrecords);
		for (size_t i = 0; i < t.nrecords; i++) {
			CHECK(t2.records[i].nfields == t.records[i].nfields);
			for (size_t j = 0; j < t.records[i].nfields; j++)
				CHECK(strcmp(t2.records[i].fields[j], t.records[i].fields[j]) == 0);
		}
	}
	arena_free(a);
	return 0;
}
