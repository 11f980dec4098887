/* Unit tests for sasl.c: strict base64 and SASL PLAIN messages. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sasl.h"

#define PLAIN(s, sp)	sasl_plain_parse((s), strlen(s), (sp))

/* Valid and invalid base64. */
static void
test_b64(void **state)
{
	static const char *const bad[] = {
		"YWJ", "YW=j", "YW Jj", " YWJ", "YWJj\r\n", "Y===", "====",
		"YWJ-", "YWJ_", "YQ=a", "YW\0j",
	};
	unsigned char	 out[64];
	size_t		 i;

	(void)state;
	assert_int_equal(sasl_b64_decode("", 0, out, sizeof(out)), 0);
	assert_int_equal(sasl_b64_decode("YQ==", 4, out, sizeof(out)), 1);
	assert_memory_equal(out, "a", 1);
	assert_int_equal(sasl_b64_decode("YWI=", 4, out, sizeof(out)), 2);
	assert_memory_equal(out, "ab", 2);
	assert_int_equal(sasl_b64_decode("YWJj", 4, out, sizeof(out)), 3);
	assert_memory_equal(out, "abc", 3);
	assert_int_equal(sasl_b64_decode("+/+/", 4, out, sizeof(out)), 3);
	assert_memory_equal(out, "\xfb\xff\xbf", 3);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sasl_b64_decode(bad[i], i == 10 ? 4 :
		    strlen(bad[i]), out, sizeof(out)), -1);
	/* The output must fit. */
	assert_int_equal(sasl_b64_decode("YWJj", 4, out, 2), -1);
}

/* authzid NUL authcid NUL passwd. */
static void
test_plain(void **state)
{
	struct sasl_plain	 sp;

	(void)state;
	/* "\0joe\0secret" */
	assert_int_equal(PLAIN("AGpvZQBzZWNyZXQ=", &sp), SASL_OK);
	assert_int_equal(sp.sp_authzidlen, 0);
	assert_int_equal(sp.sp_authcidlen, 3);
	assert_memory_equal(sp.sp_authcid, "joe", 3);
	assert_int_equal(sp.sp_passwdlen, 6);
	assert_memory_equal(sp.sp_passwd, "secret", 6);
	/* "joe\0joe\0s3cret pass": spaces are kept. */
	assert_int_equal(PLAIN("am9lAGpvZQBzM2NyZXQgcGFzcw==", &sp), SASL_OK);
	assert_int_equal(sp.sp_authzidlen, 3);
	assert_memory_equal(sp.sp_authzid, "joe", 3);
	assert_int_equal(sp.sp_passwdlen, 11);
	assert_memory_equal(sp.sp_passwd, "s3cret pass", 11);
	sasl_plain_wipe(&sp);
	assert_int_equal(sp.sp_passwdlen, 0);
	assert_int_equal(sp.sp_buf[4], '\0');
}

/* Malformed messages. */
static void
test_plain_bad(void **state)
{
	struct sasl_plain	 sp;

	(void)state;
	assert_int_equal(PLAIN("=", &sp), SASL_EFORM);
	assert_int_equal(PLAIN("", &sp), SASL_EFORM);
	assert_int_equal(PLAIN("AGpvZXNlY3JldA==", &sp), SASL_EFORM);
	/* "\0\0secret", "\0joe\0", "a\0b\0c\0d" */
	assert_int_equal(PLAIN("AABzZWNyZXQ=", &sp), SASL_EFORM);
	assert_int_equal(PLAIN("AGpvZQA=", &sp), SASL_EFORM);
	assert_int_equal(PLAIN("YQBiAGMAZA==", &sp), SASL_EFORM);
	assert_int_equal(PLAIN("AGpvZQBzZWNyZXQ", &sp), SASL_EBASE64);
	assert_int_equal(PLAIN("*", &sp), SASL_EBASE64);
}

/* The longest response accepted, and one more quantum. */
static void
test_plain_long(void **state)
{
	struct sasl_plain	 sp;
	char			 b64[SASL_B64_MAX + 5];

	(void)state;
	memset(b64, 'A', sizeof(b64));
	/* 768 NULs: too many NULs, but decoded. */
	assert_int_equal(sasl_plain_parse(b64, SASL_B64_MAX, &sp), SASL_EFORM);
	assert_int_equal(sasl_plain_parse(b64, SASL_B64_MAX + 4, &sp),
	    SASL_EBASE64);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_plain_bad),
		cmocka_unit_test(test_plain_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
