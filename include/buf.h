/* buf: a growable byte buffer, always NUL-terminated after its data.
 * A plain buf (buf_init, BUF_INIT) owns its malloc'd data and buf_free
 * releases it; a buf on an arena (buf_init_arena) grows inside the
 * arena, which owns every byte: the request path's buffers are of this
 * kind and need no buf_free (arena.h's memory rule). */
#ifndef RF_BUF_H
#define RF_BUF_H

#include <stddef.h>

struct arena;

struct buf {
	char *data; /* NULL until the first append */
	size_t len;
	size_t cap;
	struct arena *arena; /* NULL: data is malloc'd; else the arena holds it */
};

#define BUF_INIT { NULL, 0, 0, NULL }

void buf_init(struct buf *b);
/* An empty buf whose data lives in a (released with the arena). */
void buf_init_arena(struct buf *b, struct arena *a);
/* A plain buf's data is freed; an arena buf is only emptied. */
void buf_free(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps memory */
/* Room for n more bytes (and the NUL) without growing again: a writer
 * that knows its size writes to data + len, then sets len and the NUL. */
void buf_reserve(struct buf *b, size_t n);
void buf_append(struct buf *b, const void *data, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The contents as a C string ("" when empty); valid until the next change. */
const char *buf_str(const struct buf *b);

#endif
