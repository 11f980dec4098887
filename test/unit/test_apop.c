/* Unit tests for APOP: challenge text, RFC 1939 digests, comparisons. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <limits.h>
#include <string.h>

#include <cmocka.h>

#include "apop.h"

/* The example of RFC 1939 §7. */
#define RFC_TIMESTAMP	"<1896.697170952@dbc.mtview.ca.us>"
#define RFC_SECRET	"tanstaaf"
#define RFC_DIGEST	"c4c9334bac560ecc979e58001b3e22fb"

static int	 verify(const char *, const char *);
static void	 test_timestamp(void **);
static void	 test_timestamp_fit(void **);
static void	 test_timestamp_hostname(void **);
static void	 test_digest_rfc(void **);
static void	 test_digest_md5(void **);
static void	 test_verify_ok(void **);
static void	 test_verify_bad(void **);
static void	 test_verify_lookalike(void **);
static void	 test_timingsafe_eq(void **);
static void	 test_nonce(void **);

/* apop_verify() on the RFC timestamp with a NUL-ended secret and digest. */
static int
verify(const char *secret, const char *digest)
{
	return apop_verify(RFC_TIMESTAMP, secret, strlen(secret), digest,
	    strlen(digest));
}

/* The challenge reads <pid.counter.time@hostname> and is unique. */
static void
test_timestamp(void **state)
{
	char	 a[APOP_TIMESTAMP_MAX], b[APOP_TIMESTAMP_MAX];
	int	 n;

	(void)state;
	n = apop_timestamp(a, sizeof(a), 1896, 7, 1700000000LL,
	    0x0123456789abcdefULL, "dbc.mtview.ca.us");
	assert_string_equal(a,
	    "<1896.7.1700000000.0123456789abcdef@dbc.mtview.ca.us>");
	assert_int_equal(n, strlen(a));

	n = apop_timestamp(b, sizeof(b), 1896, 8, 1700000000LL,
	    0x0123456789abcdefULL, "dbc.mtview.ca.us");
	assert_int_equal(n, strlen(b));
	assert_string_not_equal(a, b);

	/* The largest numbers and a 63-octet label fit the usual buffer. */
	n = apop_timestamp(a, sizeof(a), LONG_MAX, ULONG_MAX, LLONG_MAX,
	    UINT64_MAX,
	    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk");
	assert_true(n > 0);
	assert_int_equal(n, strlen(a));
	assert_int_equal(a[0], '<');
	assert_int_equal(a[n - 1], '>');
}

/* Exactly enough room works; one octet less is -1 and an empty string. */
static void
test_timestamp_fit(void **state)
{
	static const char	 want[] = "<42.1.99.000000000000002a@h>";
	char			 buf[64];

	(void)state;
	assert_int_equal(apop_timestamp(buf, sizeof(want), 42, 1, 99, 42, "h"),
	    sizeof(want) - 1);
	assert_string_equal(buf, want);

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(apop_timestamp(buf, sizeof(want) - 1, 42, 1, 99, 42,
	    "h"), -1);
	assert_string_equal(buf, "");
	assert_int_equal(apop_timestamp(buf, 1, 42, 1, 99, 42, "h"), -1);
	assert_string_equal(buf, "");
	buf[0] = 'x';
	assert_int_equal(apop_timestamp(buf, 0, 42, 1, 99, 42, "h"), -1);
	assert_int_equal(buf[0], 'x');
}

/* A host name that would break the <...> syntax is refused. */
static void
test_timestamp_hostname(void **state)
{
	char	 buf[APOP_TIMESTAMP_MAX];

	(void)state;
#define TS(host)	apop_timestamp(buf, sizeof(buf), 1, 1, 1, 1, (host))
	assert_int_equal(TS(""), -1);
	assert_int_equal(TS(NULL), -1);
	assert_int_equal(TS("a b"), -1);
	assert_int_equal(TS("a>b"), -1);
	assert_int_equal(TS("a<b"), -1);
	assert_int_equal(TS("a\r\nb"), -1);
	assert_int_equal(TS(
	    "mail-1.example.org"),
	    strlen("<1.1.1.0000000000000001@mail-1.example.org>"));
#undef TS
}

/* RFC 1939 §7: the example digest. */
static void
test_digest_rfc(void **state)
{
	char	 out[APOP_DIGEST_LEN + 1];

	(void)state;
	memset(out, 'x', sizeof(out));
	apop_digest(RFC_TIMESTAMP, RFC_SECRET, strlen(RFC_SECRET), out);
	assert_string_equal(out, RFC_DIGEST);

	/* Only secretlen octets count. */
	apop_digest(RFC_TIMESTAMP, RFC_SECRET "XYZ", strlen(RFC_SECRET), out);
	assert_string_equal(out, RFC_DIGEST);

	apop_digest(RFC_TIMESTAMP, "tanstaag", 8, out);
	assert_string_not_equal(out, RFC_DIGEST);
}

/* Plain MD5 test vectors (RFC 1321) through the same function. */
static void
test_digest_md5(void **state)
{
	char	 out[APOP_DIGEST_LEN + 1];

	(void)state;
	apop_digest("", "", 0, out);
	assert_string_equal(out, "d41d8cd98f00b204e9800998ecf8427e");
	apop_digest("a", "bc", 2, out);
	assert_string_equal(out, "900150983cd24fb0d6963f7d28e17f72");
	apop_digest("message ", "digest", 6, out);
	assert_string_equal(out, "f96b697d7cb7938d525a2f31aaf161d0");
	/* A NUL inside the secret is part of it. */
	apop_digest("a", "b\0c", 3, out);
	assert_string_not_equal(out, "900150983cd24fb0d6963f7d28e17f72");
}

/* The right digest, in any case. */
static void
test_verify_ok(void **state)
{
	(void)state;
	assert_int_equal(verify(RFC_SECRET, RFC_DIGEST), 1);
	assert_int_equal(verify(RFC_SECRET,
	    "C4C9334BAC560ECC979E58001B3E22FB"), 1);
	assert_int_equal(verify(RFC_SECRET,
	    "c4C9334bAc560eCc979E58001b3E22Fb"), 1);
}

/* Wrong secret, wrong digit, wrong length, nothing at all. */
static void
test_verify_bad(void **state)
{
	(void)state;
	assert_int_equal(verify("tanstaag", RFC_DIGEST), 0);
	assert_int_equal(verify("", RFC_DIGEST), 0);
	assert_int_equal(verify(RFC_SECRET "x", RFC_DIGEST), 0);
	assert_int_equal(verify(RFC_SECRET,
	    "c4c9334bac560ecc979e58001b3e22fc"), 0);
	assert_int_equal(verify(RFC_SECRET,
	    "d4c9334bac560ecc979e58001b3e22fb"), 0);
	assert_int_equal(verify(RFC_SECRET,
	    "c4c9334bac560ecc979e58001b3e22f"), 0);
	assert_int_equal(verify(RFC_SECRET,
	    "c4c9334bac560ecc979e58001b3e22fbb"), 0);
	assert_int_equal(verify(RFC_SECRET, "c4c9334bac560ecc"), 0);
	assert_int_equal(verify(RFC_SECRET, ""), 0);
	assert_int_equal(apop_verify(RFC_TIMESTAMP, RFC_SECRET,
	    strlen(RFC_SECRET), NULL, 0), 0);
	/* The right digest for another challenge. */
	assert_int_equal(apop_verify("<1896.697170953@dbc.mtview.ca.us>",
	    RFC_SECRET, strlen(RFC_SECRET), RFC_DIGEST, APOP_DIGEST_LEN), 0);
}

/* Case folding touches letters only: no control byte passes for a digit. */
static void
test_verify_lookalike(void **state)
{
	char	 d[APOP_DIGEST_LEN + 1];
	size_t	 i;

	(void)state;
	for (i = 0; i < APOP_DIGEST_LEN; i++) {
		memcpy(d, RFC_DIGEST, sizeof(d));
		/* Clear bit 5: 'c' becomes 'C' (a match), '4' 0x14 (none). */
		d[i] = (char)(d[i] & ~0x20);
		if (d[i] >= 'A' && d[i] <= 'F')
			assert_int_equal(verify(RFC_SECRET, d), 1);
		else
			assert_int_equal(verify(RFC_SECRET, d), 0);
		memcpy(d, RFC_DIGEST, sizeof(d));
		d[i] = (char)(d[i] ^ 0x80);
		assert_int_equal(verify(RFC_SECRET, d), 0);
		memcpy(d, RFC_DIGEST, sizeof(d));
		d[i] = (char)(d[i] + 17);	/* 'a' to 'r', '0' to 'A' */
		assert_int_equal(verify(RFC_SECRET, d), 0);
	}
}

/* Equal only when lengths and every octet agree. */
static void
test_timingsafe_eq(void **state)
{
	(void)state;
	assert_int_equal(timingsafe_eq("abc", 3, "abc", 3), 1);
	assert_int_equal(timingsafe_eq("", 0, "", 0), 1);
	assert_int_equal(timingsafe_eq(NULL, 0, NULL, 0), 1);
	assert_int_equal(timingsafe_eq("abc", 3, "abd", 3), 0);
	assert_int_equal(timingsafe_eq("abc", 3, "xbc", 3), 0);
	assert_int_equal(timingsafe_eq("abc", 3, "abcd", 4), 0);
	assert_int_equal(timingsafe_eq("abcd", 4, "abc", 3), 0);
	assert_int_equal(timingsafe_eq("abc", 3, "", 0), 0);
	/* A shorter string padded with NULs is still shorter. */
	assert_int_equal(timingsafe_eq("ab\0", 3, "ab", 2), 0);
	assert_int_equal(timingsafe_eq("a\0b", 3, "a\0c", 3), 0);
	assert_int_equal(timingsafe_eq("a\0b", 3, "a\0b", 3), 1);
	assert_int_equal(timingsafe_eq("\x80", 1, "\x00", 1), 0);
	assert_int_equal(timingsafe_eq("\x01", 1, "\x00", 1), 0);
}

/*
 * Challenges from one pid, counter and second differ by their nonces:
 * 1000 draws (across cache refills) are all distinct and none is 0.
 */
static void
test_nonce(void **state)
{
	uint64_t	 v[1000];
	size_t		 i, j;

	(void)state;
	for (i = 0; i < 1000; i++) {
		assert_int_equal(apop_nonce(&v[i]), 0);
		assert_true(v[i] != 0);
		for (j = 0; j < i; j++)
			assert_true(v[i] != v[j]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timestamp),
		cmocka_unit_test(test_timestamp_fit),
		cmocka_unit_test(test_timestamp_hostname),
		cmocka_unit_test(test_digest_rfc),
		cmocka_unit_test(test_digest_md5),
		cmocka_unit_test(test_verify_ok),
		cmocka_unit_test(test_verify_bad),
		cmocka_unit_test(test_verify_lookalike),
		cmocka_unit_test(test_timingsafe_eq),
		cmocka_unit_test(test_nonce),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
