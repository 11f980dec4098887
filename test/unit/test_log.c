/* Unit tests for log_escape(): client text must never inject log lines. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

/* Printable text passes through unchanged. */
static void
test_plain(void **state)
{
	char	 buf[64];

	(void)state;
	assert_string_equal(log_escape(buf, sizeof(buf), "joe+work", 8),
	    "joe+work");
}

/* Control characters, quotes and backslashes are escaped. */
static void
test_controls(void **state)
{
	char	 buf[128];
	const char in[] = "a\nb\rc\td\\e\"f\x01g\x7fh\xff";

	(void)state;
	log_escape(buf, sizeof(buf), in, sizeof(in) - 1);
	assert_string_equal(buf,
	    "a\\nb\\rc\\td\\\\e\\\"f\\x01g\\x7fh\\xff");
	assert_null(strchr(buf, '\n'));
}

/* A NUL byte inside the text is escaped, not a terminator. */
static void
test_nul(void **state)
{
	char	 buf[64];

	(void)state;
	assert_string_equal(log_escape(buf, sizeof(buf), "a\0b", 3),
	    "a\\x00b");
}

/* Text that does not fit ends in "..." and never splits an escape. */
static void
test_truncate(void **state)
{
	char	 buf[10];

	(void)state;
	log_escape(buf, sizeof(buf), "abcdefghijklmnop", 16);
	assert_string_equal(buf, "abcdef...");
	/* Exactly fitting text is not truncated. */
	log_escape(buf, sizeof(buf), "abcdefghi", 9);
	assert_string_equal(buf, "abcdefghi");
	/* An escape that does not fit is dropped whole. */
	log_escape(buf, sizeof(buf), "abcdefg\n\n\n", 10);
	assert_true(strlen(buf) < sizeof(buf));
	assert_non_null(strstr(buf, "..."));
	assert_null(strstr(buf, "\\..."));
}

/* A zero-sized or tiny buffer is still NUL-terminated. */
static void
test_tiny(void **state)
{
	char	 buf[2] = { 'x', 'x' };

	(void)state;
	log_escape(buf, 1, "abc", 3);
	assert_int_equal(buf[0], '\0');
	log_escape(buf, 2, "abc", 3);
	assert_true(strlen(buf) <= 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_controls),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_tiny),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
