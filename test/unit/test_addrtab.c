/* Unit tests for the per-address connection table and address keys. */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addrtab.h"

#define MANY	100000

static struct addrkey	 key4(const char *);
static struct addrkey	 key6(const char *);
static struct addrkey	 keyn(unsigned int);
static uint32_t		 rnd(uint32_t *);
static void	 test_key_v4(void **);
static void	 test_key_v6(void **);
static void	 test_key_mapped(void **);
static void	 test_key_other(void **);
static void	 test_ntop(void **);
static void	 test_inc_dec_get(void **);
static void	 test_dec_absent(void **);
static void	 test_mapped_counts_once(void **);
static void	 test_v6_distinct(void **);
static void	 test_v6_prefix(void **);
static void	 test_normalised(void **);
static void	 test_many(void **);
static void	 test_churn(void **);
static void	 test_model(void **);

/* The key of an IPv4 address, through a struct sockaddr_in. */
static struct addrkey
key4(const char *text)
{
	struct sockaddr_in	 sin;
	struct addrkey		 k;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(110);
	assert_int_equal(inet_pton(AF_INET, text, &sin.sin_addr), 1);
	assert_int_equal(addrkey_from_sockaddr(&k, (struct sockaddr *)&sin),
	    0);
	return k;
}

/* The key of an IPv6 address, through a struct sockaddr_in6. */
static struct addrkey
key6(const char *text)
{
	struct sockaddr_in6	 sin6;
	struct addrkey		 k;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(110);
	assert_int_equal(inet_pton(AF_INET6, text, &sin6.sin6_addr), 1);
	assert_int_equal(addrkey_from_sockaddr(&k, (struct sockaddr *)&sin6),
	    0);
	return k;
}

/* The n-th of many distinct keys: IPv6 in one /64, every 8th one IPv4. */
static struct addrkey
keyn(unsigned int n)
{
	struct addrkey	 k;

	memset(&k, 0, sizeof(k));
	if (n % 8 == 0) {
		k.ak_family = AF_INET;
		k.ak_addr[0] = 10;
		k.ak_addr[1] = (n >> 16) & 0xff;
		k.ak_addr[2] = (n >> 8) & 0xff;
		k.ak_addr[3] = n & 0xff;
	} else {
		k.ak_family = AF_INET6;
		k.ak_addr[0] = 0x20;
		k.ak_addr[1] = 0x01;
		k.ak_addr[2] = 0x0d;
		k.ak_addr[3] = 0xb8;
		k.ak_addr[12] = (n >> 24) & 0xff;
		k.ak_addr[13] = (n >> 16) & 0xff;
		k.ak_addr[14] = (n >> 8) & 0xff;
		k.ak_addr[15] = n & 0xff;
	}
	return k;
}

/* A small deterministic PRNG (xorshift32) so failures repeat. */
static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* IPv4: family and the four octets, the port ignored. */
static void
test_key_v4(void **state)
{
	static const unsigned char	 want[16] = { 192, 0, 2, 1 };
	struct addrkey			 k;

	(void)state;
	k = key4("192.0.2.1");
	assert_int_equal(k.ak_family, AF_INET);
	assert_memory_equal(k.ak_addr, want, sizeof(want));
}

/* IPv6: family and all sixteen octets. */
static void
test_key_v6(void **state)
{
	struct addrkey	 k;
	struct in6_addr	 a;

	(void)state;
	k = key6("2001:db8::1");
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &a), 1);
	assert_int_equal(k.ak_family, AF_INET6);
	assert_memory_equal(k.ak_addr, &a, 16);
	/* ::1 is not 127.0.0.1, and ::127.0.0.1 (compatible) is not mapped. */
	k = key6("::1");
	assert_int_equal(k.ak_family, AF_INET6);
	k = key6("::127.0.0.1");
	assert_int_equal(k.ak_family, AF_INET6);
}

/* ::ffff:a.b.c.d is folded to the IPv4 key of a.b.c.d. */
static void
test_key_mapped(void **state)
{
	struct addrkey	 k4, k6;

	(void)state;
	k4 = key4("192.0.2.1");
	k6 = key6("::ffff:192.0.2.1");
	assert_int_equal(k6.ak_family, AF_INET);
	assert_memory_equal(&k4, &k6, sizeof(k4));
	k6 = key6("::ffff:192.0.2.2");
	assert_memory_not_equal(&k4, &k6, sizeof(k4));
}

/* Families other than IPv4 and IPv6 are refused. */
static void
test_key_other(void **state)
{
	struct sockaddr_un	 sun;
	struct addrkey		 k;

	(void)state;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_int_equal(addrkey_from_sockaddr(&k, (struct sockaddr *)&sun),
	    -1);
}

/* Numeric text, and "?" rather than NULL when it cannot be written. */
static void
test_ntop(void **state)
{
	char		 buf[INET6_ADDRSTRLEN], small[4];
	struct addrkey	 k;

	(void)state;
	k = key4("192.0.2.1");
	assert_string_equal(addrkey_ntop(&k, buf, sizeof(buf)), "192.0.2.1");
	k = key6("::ffff:198.51.100.7");
	assert_string_equal(addrkey_ntop(&k, buf, sizeof(buf)),
	    "198.51.100.7");
	k = key6("2001:db8::1");
	assert_ptr_equal(addrkey_ntop(&k, buf, sizeof(buf)), buf);
	assert_string_equal(buf, "2001:db8::1");
	k = key6("2001:db8:1:2:3:4:5:6");
	assert_string_equal(addrkey_ntop(&k, buf, sizeof(buf)),
	    "2001:db8:1:2:3:4:5:6");

	assert_string_equal(addrkey_ntop(&k, small, sizeof(small)), "?");
	assert_string_equal(addrkey_ntop(&k, small, 1), "?");
	assert_string_equal(addrkey_ntop(&k, NULL, 0), "?");
	k.ak_family = AF_UNIX;
	assert_string_equal(addrkey_ntop(&k, buf, sizeof(buf)), "?");
}

/* Counting up and down one address, and the table size with it. */
static void
test_inc_dec_get(void **state)
{
	struct addrtab	*at;
	struct addrkey	 a, b;

	(void)state;
	assert_non_null(at = addrtab_new());
	a = key4("192.0.2.1");
	b = key4("192.0.2.2");
	assert_int_equal(addrtab_size(at), 0);
	assert_int_equal(addrtab_get(at, &a), 0);

	assert_int_equal(addrtab_inc(at, &a), 1);
	assert_int_equal(addrtab_inc(at, &a), 2);
	assert_int_equal(addrtab_inc(at, &a), 3);
	assert_int_equal(addrtab_get(at, &a), 3);
	assert_int_equal(addrtab_get(at, &b), 0);
	assert_int_equal(addrtab_size(at), 1);

	assert_int_equal(addrtab_inc(at, &b), 1);
	assert_int_equal(addrtab_size(at), 2);

	assert_int_equal(addrtab_dec(at, &a), 2);
	assert_int_equal(addrtab_dec(at, &a), 1);
	assert_int_equal(addrtab_size(at), 2);
	assert_int_equal(addrtab_dec(at, &a), 0);
	assert_int_equal(addrtab_get(at, &a), 0);
	assert_int_equal(addrtab_size(at), 1);
	assert_int_equal(addrtab_get(at, &b), 1);

	assert_int_equal(addrtab_dec(at, &b), 0);
	assert_int_equal(addrtab_size(at), 0);
	addrtab_free(at);
	addrtab_free(NULL);
}

/* Taking away what was never there changes nothing. */
static void
test_dec_absent(void **state)
{
	struct addrtab	*at;
	struct addrkey	 a, b;

	(void)state;
	assert_non_null(at = addrtab_new());
	a = key4("192.0.2.1");
	b = key6("2001:db8::1");
	assert_int_equal(addrtab_dec(at, &a), 0);
	assert_int_equal(addrtab_size(at), 0);
	assert_int_equal(addrtab_get(at, &a), 0);

	assert_int_equal(addrtab_inc(at, &b), 1);
	assert_int_equal(addrtab_dec(at, &a), 0);
	assert_int_equal(addrtab_dec(at, &a), 0);
	assert_int_equal(addrtab_get(at, &b), 1);
	assert_int_equal(addrtab_size(at), 1);
	assert_int_equal(addrtab_dec(at, &b), 0);
	assert_int_equal(addrtab_dec(at, &b), 0);
	assert_int_equal(addrtab_size(at), 0);
	assert_int_equal(addrtab_inc(at, &b), 1);
	addrtab_free(at);
}

/* A host reaching both an IPv4 and a dual-stack socket counts once. */
static void
test_mapped_counts_once(void **state)
{
	struct addrtab	*at;
	struct addrkey	 k4, k6;

	(void)state;
	assert_non_null(at = addrtab_new());
	k4 = key4("203.0.113.9");
	k6 = key6("::ffff:203.0.113.9");
	assert_int_equal(addrtab_inc(at, &k4), 1);
	assert_int_equal(addrtab_inc(at, &k6), 2);
	assert_int_equal(addrtab_get(at, &k4), 2);
	assert_int_equal(addrtab_size(at), 1);
	assert_int_equal(addrtab_dec(at, &k6), 1);
	assert_int_equal(addrtab_dec(at, &k4), 0);
	assert_int_equal(addrtab_size(at), 0);
	addrtab_free(at);
}

/*
 * ipv6prefix: the addresses of one /64 count as one client (200
 * addresses of 2001:db8:1:2::/64 make a count of 200), another /64 apart;
 * a /60 cuts inside an octet; the key keeps its whole address for logs,
 * and a key counted under one prefix is taken back under the same.
 */
static void
test_v6_prefix(void **state)
{
	struct addrtab	*at;
	struct addrkey	 a, b, c, d;
	char		 buf[64];
	int		 i;

	(void)state;
	assert_non_null(at = addrtab_new());
	a = key6("2001:db8:1:2::1");
	addrkey_set_prefix(&a, 64);
	for (i = 0; i < 200; i++) {
		b = a;
		b.ak_addr[15] = (unsigned char)i;
		b.ak_addr[8] = (unsigned char)(i * 7);
		assert_int_equal(addrtab_inc(at, &b), (unsigned)i + 1);
	}
	assert_int_equal(addrtab_size(at), 1);
	assert_string_equal(addrkey_ntop(&b, buf, sizeof(buf)),
	    "2001:db8:1:2:7100::c7");
	c = key6("2001:db8:1:3::1");
	addrkey_set_prefix(&c, 64);
	assert_int_equal(addrtab_inc(at, &c), 1);
	assert_true(!addrkey_eq(&a, &c));
	/* /60: 2001:db8:1:3:: and 2001:db8:1:f:: share it, :1:10:: not. */
	d = key6("2001:db8:1:f::1");
	addrkey_set_prefix(&c, 60);
	addrkey_set_prefix(&d, 60);
	assert_true(addrkey_eq(&c, &d));
	d.ak_addr[7] = 0x10;
	assert_true(!addrkey_eq(&c, &d));
	/* Under no prefix the same addresses are apart again. */
	addrkey_set_prefix(&b, 128);
	assert_int_equal(addrtab_get(at, &b), 0);
	addrkey_set_prefix(&b, 64);
	for (i = 0; i < 200; i++)
		addrtab_dec(at, &b);
	assert_int_equal(addrtab_get(at, &a), 0);
	/* An IPv4 key has no prefix. */
	d = key4("192.0.2.1");
	addrkey_set_prefix(&d, 8);
	assert_int_equal(d.ak_bits, 0);
	addrtab_free(at);
}

/* Distinct IPv6 addresses, even one bit apart, count apart (no prefix). */
static void
test_v6_distinct(void **state)
{
	struct addrtab	*at;
	struct addrkey	 a, b, c, d;

	(void)state;
	assert_non_null(at = addrtab_new());
	a = key6("2001:db8::1");
	b = key6("2001:db8::2");
	c = key6("2001:db8:0:1::1");
	d = key6("::1");
	assert_int_equal(addrtab_inc(at, &a), 1);
	assert_int_equal(addrtab_inc(at, &a), 2);
	assert_int_equal(addrtab_inc(at, &b), 1);
	assert_int_equal(addrtab_inc(at, &c), 1);
	assert_int_equal(addrtab_get(at, &d), 0);
	assert_int_equal(addrtab_size(at), 3);
	assert_int_equal(addrtab_get(at, &a), 2);
	assert_int_equal(addrtab_get(at, &b), 1);
	assert_int_equal(addrtab_get(at, &c), 1);
	/* ::1 and 127.0.0.1 are different hosts as far as we can tell. */
	assert_int_equal(addrtab_inc(at, &d), 1);
	c = key4("127.0.0.1");
	assert_int_equal(addrtab_get(at, &c), 0);
	addrtab_free(at);
}

/* Octets an IPv4 key does not use do not split one address in two. */
static void
test_normalised(void **state)
{
	struct addrtab	*at;
	struct addrkey	 clean, junk;

	(void)state;
	assert_non_null(at = addrtab_new());
	clean = key4("192.0.2.77");
	junk = clean;
	memset(junk.ak_addr + 4, 0xa5, sizeof(junk.ak_addr) - 4);
	assert_int_equal(addrtab_inc(at, &clean), 1);
	assert_int_equal(addrtab_inc(at, &junk), 2);
	assert_int_equal(addrtab_get(at, &junk), 2);
	assert_int_equal(addrtab_size(at), 1);
	addrtab_free(at);
}

/* 100,000 addresses come and go: every count right, memory given back. */
static void
test_many(void **state)
{
	struct addrtab	*at;
	struct addrkey	 k;
	size_t		 cap0, capmax;
	unsigned int	 i;

	(void)state;
	assert_non_null(at = addrtab_new());
	cap0 = addrtab_capacity(at);
	assert_true(cap0 > 0);

	for (i = 0; i < MANY; i++) {
		k = keyn(i);
		assert_int_equal(addrtab_inc(at, &k), 1);
		if (i % 3 == 0)
			assert_int_equal(addrtab_inc(at, &k), 2);
	}
	assert_int_equal(addrtab_size(at), MANY);
	capmax = addrtab_capacity(at);
	assert_true(capmax >= MANY + MANY / 3);	/* load at most 3/4 */
	assert_true(capmax <= 4 * (size_t)MANY);	/* and not wasteful */
	for (i = 0; i < MANY; i++) {
		k = keyn(i);
		assert_int_equal(addrtab_get(at, &k), i % 3 == 0 ? 2 : 1);
	}

	/* Remove the even ones; the odd ones must all still be found. */
	for (i = 0; i < MANY; i += 2) {
		k = keyn(i);
		if (i % 3 == 0)
			assert_int_equal(addrtab_dec(at, &k), 1);
		assert_int_equal(addrtab_dec(at, &k), 0);
	}
	assert_int_equal(addrtab_size(at), MANY / 2);
	for (i = 0; i < MANY; i++) {
		k = keyn(i);
		assert_int_equal(addrtab_get(at, &k),
		    i % 2 == 0 ? 0 : (i % 3 == 0 ? 2 : 1));
	}

	for (i = 1; i < MANY; i += 2) {
		k = keyn(i);
		while (addrtab_dec(at, &k) != 0)
			;
		assert_int_equal(addrtab_get(at, &k), 0);
	}
	assert_int_equal(addrtab_size(at), 0);
	assert_int_equal(addrtab_capacity(at), cap0);
	addrtab_free(at);
}

/* One address coming and going a million times costs nothing. */
static void
test_churn(void **state)
{
	struct addrtab	*at;
	struct addrkey	 a, b;
	size_t		 cap0;
	unsigned int	 i;

	(void)state;
	assert_non_null(at = addrtab_new());
	cap0 = addrtab_capacity(at);
	a = key6("2001:db8::dead:beef");
	for (i = 0; i < 1000000; i++) {
		b = keyn(i);
		assert_int_equal(addrtab_inc(at, &a), 1);
		assert_int_equal(addrtab_inc(at, &b), 1);
		assert_int_equal(addrtab_dec(at, &a), 0);
		assert_int_equal(addrtab_dec(at, &b), 0);
	}
	assert_int_equal(addrtab_size(at), 0);
	assert_int_equal(addrtab_capacity(at), cap0);
	addrtab_free(at);
}

/* Random incs and decs over a pool agree with a plain array of counts. */
static void
test_model(void **state)
{
	enum { POOL = 3000, STEPS = 400000 };
	struct addrtab	*at;
	struct addrkey	 k;
	unsigned int	*model, n, want;
	uint32_t	 seed = 0x9e3779b9;
	size_t		 live = 0, peak = 0;
	int		 step;

	(void)state;
	assert_non_null(at = addrtab_new());
	assert_non_null(model = calloc(POOL, sizeof(*model)));
	for (step = 0; step < STEPS; step++) {
		n = rnd(&seed) % POOL;
		k = keyn(n);
		/* Grow for the first half, drain in the second. */
		if (rnd(&seed) % 100 < (step < STEPS / 2 ? 60u : 35u)) {
			if (model[n]++ == 0)
				live++;
			assert_int_equal(addrtab_inc(at, &k), model[n]);
		} else {
			if (model[n] > 0 && --model[n] == 0)
				live--;
			assert_int_equal(addrtab_dec(at, &k), model[n]);
		}
		assert_int_equal(addrtab_size(at), live);
		if (live > peak)
			peak = live;
		if (step % 997 == 0)
			for (n = 0; n < POOL; n++) {
				k = keyn(n);
				want = model[n];
				assert_int_equal(addrtab_get(at, &k), want);
			}
	}
	assert_true(peak > POOL / 2);
	for (n = 0; n < POOL; n++) {
		k = keyn(n);
		while (model[n] > 0)
			assert_int_equal(addrtab_dec(at, &k), --model[n]);
	}
	assert_int_equal(addrtab_size(at), 0);
	free(model);
	addrtab_free(at);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_v4),
		cmocka_unit_test(test_key_v6),
		cmocka_unit_test(test_key_mapped),
		cmocka_unit_test(test_key_other),
		cmocka_unit_test(test_ntop),
		cmocka_unit_test(test_inc_dec_get),
		cmocka_unit_test(test_dec_absent),
		cmocka_unit_test(test_mapped_counts_once),
		cmocka_unit_test(test_v6_distinct),
		cmocka_unit_test(test_v6_prefix),
		cmocka_unit_test(test_normalised),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_churn),
		cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
