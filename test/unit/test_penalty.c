/* Unit tests for penalty.c: doubling, the cap, decay and the bound. */

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "penalty.h"

/* An IPv4 key for a.b.c.d. */
static struct addrkey
key4(unsigned a, unsigned b, unsigned c, unsigned d)
{
	struct addrkey	 k;

	memset(&k, 0, sizeof(k));
	k.ak_family = AF_INET;
	k.ak_addr[0] = a;
	k.ak_addr[1] = b;
	k.ak_addr[2] = c;
	k.ak_addr[3] = d;
	return k;
}

/* faildelay 2: 2, 4, 8, then capped at 15 s. */
static void
test_doubling_and_cap(void **state)
{
	struct penalty	*pt = penalty_new(1024);
	struct addrkey	 k = key4(192, 0, 2, 1);

	(void)state;
	assert_int_equal(penalty_fail(pt, &k, 1000, 2), 2);
	assert_int_equal(penalty_fail(pt, &k, 1001, 2), 4);
	assert_int_equal(penalty_fail(pt, &k, 1002, 2), 8);
	assert_int_equal(penalty_fail(pt, &k, 1003, 2), 15);
	assert_int_equal(penalty_fail(pt, &k, 1004, 2), 15);
	assert_int_equal(penalty_count(pt, &k, 1004), 5);
	/* Many more failures: still capped, no overflow. */
	for (int i = 0; i < 1000; i++)
		assert_int_equal(penalty_fail(pt, &k, 1005 + i, 2), 15);
	penalty_free(pt);
}

/* Other addresses are not punished for one address's failures. */
static void
test_per_address(void **state)
{
	struct penalty	*pt = penalty_new(1024);
	struct addrkey	 a = key4(192, 0, 2, 1), b = key4(192, 0, 2, 2);

	(void)state;
	penalty_fail(pt, &a, 10, 1);
	penalty_fail(pt, &a, 11, 1);
	assert_int_equal(penalty_fail(pt, &a, 12, 1), 4);
	assert_int_equal(penalty_fail(pt, &b, 12, 1), 1);
	assert_int_equal(penalty_count(pt, &b, 12), 1);
	penalty_free(pt);
}

/* Fifteen minutes without failures: forgiven; one second less: not. */
static void
test_decay(void **state)
{
	struct penalty	*pt = penalty_new(1024);
	struct addrkey	 k = key4(198, 51, 100, 7);

	(void)state;
	penalty_fail(pt, &k, 100, 2);
	penalty_fail(pt, &k, 200, 2);
	assert_int_equal(penalty_count(pt, &k, 200 + PENALTY_WINDOW - 1), 2);
	assert_int_equal(penalty_fail(pt, &k, 200 + PENALTY_WINDOW - 1, 2), 8);
	/* The window counts from the last failure. */
	assert_int_equal(penalty_count(pt, &k,
	    200 + 2 * PENALTY_WINDOW - 2), 3);
	assert_int_equal(penalty_count(pt, &k,
	    200 + 2 * PENALTY_WINDOW - 1), 0);
	assert_int_equal(penalty_fail(pt, &k, 200 + 2 * PENALTY_WINDOW - 1, 2),
	    2);
	penalty_free(pt);
}

/* faildelay 0 stays 0; a faildelay above the cap is kept as it is. */
static void
test_edges(void **state)
{
	struct penalty	*pt = penalty_new(16);
	struct addrkey	 a = key4(10, 0, 0, 1), b = key4(10, 0, 0, 2);

	(void)state;
	assert_int_equal(penalty_fail(pt, &a, 1, 0), 0);
	assert_int_equal(penalty_fail(pt, &a, 2, 0), 0);
	assert_int_equal(penalty_fail(pt, &b, 1, 20), 20);
	assert_int_equal(penalty_fail(pt, &b, 2, 20), 20);
	penalty_free(pt);
}

/* A flood of addresses never grows the table past its bound. */
static void
test_bounded(void **state)
{
	struct penalty	*pt = penalty_new(256);
	struct addrkey	 k, victim = key4(203, 0, 113, 9);
	unsigned int	 i;

	(void)state;
	penalty_fail(pt, &victim, 0, 2);
	for (i = 0; i < 100000; i++) {
		k = key4(10, i >> 16, (i >> 8) & 255, i & 255);
		penalty_fail(pt, &k, 1, 2);
	}
	assert_true(penalty_size(pt) <= 256);
	assert_true(penalty_size(pt) >= 200);
	/* The oldest entries were the ones evicted. */
	assert_int_equal(penalty_count(pt, &victim, 1), 0);
	/* Recent addresses are remembered. */
	k = key4(10, 99999 >> 16, (99999 >> 8) & 255, 99999 & 255);
	assert_int_equal(penalty_count(pt, &k, 1), 1);
	penalty_free(pt);
}

/* IPv6 keys work alike and do not collide with IPv4 ones. */
static void
test_ipv6(void **state)
{
	struct penalty	*pt = penalty_new(64);
	struct addrkey	 v6, v4 = key4(0, 0, 0, 1);

	(void)state;
	memset(&v6, 0, sizeof(v6));
	v6.ak_family = AF_INET6;
	v6.ak_addr[15] = 1;
	assert_int_equal(penalty_fail(pt, &v6, 5, 3), 3);
	assert_int_equal(penalty_fail(pt, &v6, 6, 3), 6);
	assert_int_equal(penalty_count(pt, &v4, 6), 0);
	penalty_free(pt);
}

/*
 * IPv6 addresses of one /64 are one client: a fresh address for every
 * attempt does not escape the penalty. Another /64 is another client.
 */
static void
test_ipv6_prefix(void **state)
{
	struct penalty	*pt = penalty_new(64);
	struct addrkey	 a, b, other;
	unsigned int	 i;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.ak_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8:1:2::1", a.ak_addr);
	addrkey_set_prefix(&a, 64);	/* ipv6prefix 64, the default */
	assert_int_equal(penalty_fail(pt, &a, 10, 1), 1);
	b = a;
	for (i = 0; i < 4; i++) {
		b.ak_addr[15] = (unsigned char)(i + 2);
		b.ak_addr[9] = (unsigned char)(i * 37);
		penalty_fail(pt, &b, 10, 1);
	}
	/* Five failures from five addresses of 2001:db8:1:2::/64. */
	assert_int_equal(penalty_count(pt, &a, 11), 5);
	b.ak_addr[8] = 0xff;
	assert_int_equal(penalty_fail(pt, &b, 11, 1), 15);
	other = a;
	other.ak_addr[7] ^= 1;		/* 2001:db8:1:3::1 */
	assert_int_equal(penalty_count(pt, &other, 11), 0);
	assert_int_equal(penalty_fail(pt, &other, 11, 1), 1);
	penalty_free(pt);
}

/* ipv6prefix 48: a whole /48 is one client; with 128 each address is. */
static void
test_ipv6_prefix_configured(void **state)
{
	struct penalty	*pt = penalty_new(64);
	struct addrkey	 a, b;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.ak_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8:1:2::1", a.ak_addr);
	b = a;
	b.ak_addr[7] = 0x77;		/* 2001:db8:1:77::1, same /48 */
	addrkey_set_prefix(&a, 48);
	addrkey_set_prefix(&b, 48);
	penalty_fail(pt, &a, 10, 1);
	assert_int_equal(penalty_count(pt, &b, 10), 1);
	addrkey_set_prefix(&a, 128);
	addrkey_set_prefix(&b, 128);
	assert_int_equal(penalty_count(pt, &b, 10), 0);
	penalty_fail(pt, &b, 10, 1);
	assert_int_equal(penalty_count(pt, &b, 10), 1);
	penalty_free(pt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doubling_and_cap),
		cmocka_unit_test(test_per_address),
		cmocka_unit_test(test_decay),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_ipv6_prefix),
		cmocka_unit_test(test_ipv6_prefix_configured),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
