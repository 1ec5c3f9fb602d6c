/* Unit tests: arena, buf and util. */
#include "unit.h"

#include "arena.h"
#include "buf.h"
#include "util.h"

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
		cmocka_unit_test(test_ct_equal),
		cmocka_unit_test(test_hex_and_random),
		cmocka_unit_test(test_read_file),
	};
	return cmocka_run_group_tests_name("arena", tests, NULL, NULL);
}
