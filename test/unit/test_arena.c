/* Unit tests: arena, buf and util. */
#include "unit.h"

#include "arena.h"
#include "buf.h"
#include "util.h"

#include <jansson.h>
#include <libxml/tree.h>
#include <unistd.h>

static void test_arena_alignment_and_growth(void **state)
{
	struct arena *a = arena_new(128);
	(void)state;
	for (size_t n = 1; n < 2000; n += 37) {
		char *p = arena_alloc(a, n);
		assert_int_equal((uintptr_t)p % 16, 0);
		memset(p, 'x', n); /* ASan catches overflow of the block */
	}
	assert_true(arena_footprint(a) > 128);
	arena_reset(a);
	/* After a reset only the first block is kept. */
	assert_true(arena_footprint(a) < 1024);
	arena_free(a);
}

static void test_arena_strings(void **state)
{
	struct arena *a = arena_new(0);
	(void)state;
	assert_string_equal(arena_strdup(a, "hello"), "hello");
	assert_string_equal(arena_strndup(a, "hello world", 5), "hello");
	assert_string_equal(arena_printf(a, "%s=%d", "n", 42), "n=42");
	char *big = arena_calloc(a, 100000);
	for (size_t i = 0; i < 100000; i++)
		assert_int_equal(big[i], 0);
	/* A large allocation must not waste the head block. */
	assert_string_equal(arena_strdup(a, "after"), "after");
	arena_free(a);
}

static void test_buf(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;
	assert_string_equal(buf_str(&b), "");
	buf_puts(&b, "abc");
	buf_putc(&b, '-');
	buf_printf(&b, "%05d", 42);
	assert_string_equal(buf_str(&b), "abc-00042");
	assert_int_equal(b.len, 9);
	for (int i = 0; i < 1000; i++)
		buf_append(&b, "0123456789", 10);
	assert_int_equal(b.len, 10009);
	assert_int_equal(b.data[b.len], '\0');
	buf_reset(&b);
	assert_string_equal(buf_str(&b), "");
	buf_free(&b);
}

/* A buf on an arena grows inside it: the arena's footprint grows, the
 * contents survive each move, and nothing needs freeing (ASan's leak
 * checker would name a malloc'd block). */
static void test_buf_on_arena(void **state)
{
	struct arena *a = arena_new(0);
	struct buf b;
	size_t before = arena_footprint(a);
	(void)state;
	buf_init_arena(&b, a);
	assert_string_equal(buf_str(&b), "");
	buf_puts(&b, "abc");
	buf_printf(&b, "-%d", 7);
	for (int i = 0; i < 2000; i++)
		buf_append(&b, "0123456789", 10);
	assert_int_equal(b.len, 20005);
	assert_memory_equal(b.data, "abc-70123", 9);
	assert_int_equal(b.data[b.len], '\0');
	assert_true(arena_footprint(a) > before + 20005);
	buf_free(&b); /* only empties it */
	assert_ptr_equal(b.arena, a);
	buf_puts(&b, "again");
	assert_string_equal(buf_str(&b), "again");
	arena_free(a);
}

static void test_arena_json(void **state)
{
	struct arena *a = arena_new(0);
	json_t *j = json_pack("{s:s, s:i}", "a", "x\"y", "b", 2);
	json_t *big = json_array();
	char *s;
	(void)state;
	assert_string_equal(arena_json(a, j, JSON_COMPACT | JSON_PRESERVE_ORDER),
		"{\"a\":\"x\\\"y\",\"b\":2}");
	assert_string_equal(arena_json(a, j, JSON_PRESERVE_ORDER), "{\"a\": \"x\\\"y\", \"b\": 2}");
	for (int i = 0; i < 5000; i++)
		json_array_append_new(big, json_integer(i));
	s = arena_json(a, big, JSON_COMPACT);
	assert_non_null(s);
	assert_int_equal(strncmp(s, "[0,1,2,", 7), 0);
	assert_int_equal(s[strlen(s) - 1], ']');
	assert_null(arena_json(a, NULL, JSON_COMPACT));
	json_decref(j);
	json_decref(big);
	arena_free(a);
}

/* jansson and libxml2 allocate through util's aborting allocators once
 * the hooks are installed, and both still work through them. */
static void test_alloc_hooks(void **state)
{
	xmlDocPtr doc;
	xmlChar *mem = NULL;
	int len = 0;
	json_t *j;
	(void)state;
	util_alloc_hooks_install();
	assert_true(util_alloc_hooks_installed());
	util_alloc_hooks_install(); /* again: no change */
	assert_true(util_alloc_hooks_installed());
	j = json_pack("{s:s}", "k", "v");
	assert_non_null(j);
	json_decref(j);
	doc = xmlNewDoc(BAD_CAST "1.0");
	xmlDocSetRootElement(doc, xmlNewNode(NULL, BAD_CAST "Response"));
	xmlDocDumpMemory(doc, &mem, &len);
	assert_non_null(strstr((const char *)mem, "<Response/>"));
	xmlFree(mem);
	xmlFreeDoc(doc);
}

static void test_ct_equal(void **state)
{
	(void)state;
	assert_true(util_ct_equal("abc", 3, "abc", 3));
	assert_false(util_ct_equal("abc", 3, "abd", 3));
	assert_false(util_ct_equal("abc", 3, "ab", 2));
	assert_true(util_ct_equal("", 0, "", 0));
}

static void test_hex_and_random(void **state)
{
	unsigned char raw[4] = { 0x00, 0x9f, 0xa0, 0xff };
	unsigned char r1[16], r2[16];
	char hex[9];
	(void)state;
	util_hex(raw, 4, hex);
	assert_string_equal(hex, "009fa0ff");
	assert_int_equal(util_random(r1, sizeof(r1)), 0);
	assert_int_equal(util_random(r2, sizeof(r2)), 0);
	assert_memory_not_equal(r1, r2, sizeof(r1));
}

static void test_read_file(void **state)
{
	char path[] = "/tmp/rf_unit_XXXXXX";
	size_t len = 0;
	int fd = mkstemp(path);
	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello\n", 6), 6);
	close(fd);
	char *s = util_read_file(path, 100, &len);
	assert_non_null(s);
	assert_int_equal(len, 6);
	assert_string_equal(s, "hello\n");
	free(s);
	assert_null(util_read_file(path, 3, &len)); /* over the cap */
	unlink(path);
	assert_null(util_read_file(path, 100, &len)); /* missing */
	assert_null(util_read_file("/tmp", 100, &len)); /* not a regular file */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arena_alignment_and_growth),
		cmocka_unit_test(test_arena_strings),
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_buf_on_arena),
		cmocka_unit_test(test_arena_json),
		cmocka_unit_test(test_alloc_hooks),
		cmocka_unit_test(test_ct_equal),
		cmocka_unit_test(test_hex_and_random),
		cmocka_unit_test(test_read_file),
	};
	return cmocka_run_group_tests_name("arena", tests, NULL, NULL);
}
