/* arena: a chain of blocks; allocation bumps a pointer in the newest one. */
#include "arena.h"
#include "util.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_DEFAULT_CHUNK 8192
#define ARENA_ALIGN 16

struct block {
	struct block *next;
	size_t size; /* usable bytes after the header */
	size_t used;
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

struct arena {
	struct block *head; /* newest block first; the last one is kept on reset */
	size_t chunk;
	size_t footprint;
};

static struct block *block_new(struct arena *a, size_t need)
{
	size_t size = need > a->chunk ? need : a->chunk;
	struct block *b = xmalloc(sizeof(*b) + size);
	b->size = size;
	b->used = 0;
	b->next = a->head;
	a->head = b;
	a->footprint += sizeof(*b) + size;
	return b;
}

struct arena *arena_new(size_t chunk)
{
	struct arena *a = xcalloc(1, sizeof(*a));
	a->chunk = chunk ? chunk : ARENA_DEFAULT_CHUNK;
	block_new(a, 0);
	return a;
}

void arena_free(struct arena *a)
{
	if (a == NULL)
		return;
	struct block *b = a->head;
	while (b) {
		struct block *next = b->next;
		free(b);
		b = next;
	}
	free(a);
}

void arena_reset(struct arena *a)
{
	struct block *b = a->head;
	while (b && b->next) {
		struct block *next = b->next;
		a->footprint -= sizeof(*b) + b->size;
		free(b);
		b = next;
	}
	a->head = b;
	b->used = 0;
	b->next = NULL;
}

void *arena_alloc(struct arena *a, size_t n)
{
	struct block *b = a->head;
	size_t off = (b->used + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (n > SIZE_MAX / 2)
		abort();
	if (off + n > b->size) {
		/* A large allocation gets a block of its own behind the head so
		 * the head's free space is not wasted. */
		if (n > a->chunk / 4 && b->size - b->used > 64) {
			struct block *big = xmalloc(sizeof(*big) + n);
			big->size = n;
			big->used = n;
			big->next = b->next;
			b->next = big;
			a->footprint += sizeof(*big) + n;
			return big->data;
		}
		b = block_new(a, n);
		off = 0;
	}
	b->used = off + n;
	return b->data + off;
}

void *arena_calloc(struct arena *a, size_t n)
{
	void *p = arena_alloc(a, n);
	memset(p, 0, n);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		abort();
	char *p = arena_alloc(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

/* jansson tells the size it needs when the buffer is too small, so the
 * text is encoded twice and lands in the arena without a malloc. */
char *arena_json(struct arena *a, const struct json_t *json, size_t flags)
{
	size_t n = json ? json_dumpb(json, NULL, 0, flags) : 0;
	char *p;

	if (n == 0)
		return NULL;
	p = arena_alloc(a, n + 1);
	if (json_dumpb(json, p, n, flags) != n)
		return NULL;
	p[n] = '\0';
	return p;
}

size_t arena_footprint(const struct arena *a)
{
	return a->footprint;
}
