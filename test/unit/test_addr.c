/* Unit tests for addresses: endpoint equality, CIDR blocks and matching. */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"

static struct cfg_addr	 parse(const char *, const char *);
static struct sockaddr_storage peer(const char *);
static void	 test_same(void **);
static void	 test_same_unset(void **);
static void	 test_cidr_parse(void **);
static void	 test_cidr_match(void **);

/* An address that must parse. */
static struct cfg_addr
parse(const char *s, const char *defport)
{
	struct cfg_addr	 a;
	char		 err[256];

	assert_int_equal(addr_parse(s, defport, &a, err, sizeof(err)), 0);
	return a;
}

/* A peer's address, v4 or v6, as accept(2) would give it. */
static struct sockaddr_storage
peer(const char *s)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, s, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
	}
	return ss;
}

/* The same endpoint: family, address, port and scope; not the text. */
static void
test_same(void **state)
{
	struct cfg_addr	 a, b;

	(void)state;
	a = parse("127.0.0.1:110", NULL);
	b = parse("127.0.0.1:pop3", NULL);
	assert_true(addr_same(&a, &b));
	b = parse("127.0.0.1:111", NULL);
	assert_false(addr_same(&a, &b));
	b = parse("127.0.0.2:110", NULL);
	assert_false(addr_same(&a, &b));
	b = parse("[::ffff:127.0.0.1]:110", NULL);
	assert_false(addr_same(&a, &b));	/* another family */

	a = parse("[fe80::1%1]:110", NULL);
	b = parse("[fe80::1%1]:110", NULL);
	assert_true(addr_same(&a, &b));
	b = parse("[fe80::1%2]:110", NULL);
	assert_false(addr_same(&a, &b));
	b = parse("[fe80::1]:110", NULL);
	assert_false(addr_same(&a, &b));

	/* All addresses is [::]: the same endpoint, whatever ca_any says. */
	a = parse(":110", NULL);
	b = parse("[::]:110", NULL);
	assert_int_equal(a.ca_any, 1);
	assert_int_equal(b.ca_any, 0);
	assert_true(addr_same(&a, &b));
	b = parse(":995", NULL);
	assert_false(addr_same(&a, &b));
}

/* An address never set (a destination not configured) equals another. */
static void
test_same_unset(void **state)
{
	struct cfg_addr	 a, b;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_true(addr_same(&a, &b));
	b = parse("192.0.2.1:5000", NULL);
	assert_false(addr_same(&a, &b));
	assert_false(addr_same(&b, &a));
}

/* CIDR blocks: host bits cleared, mapped v4 folded, bad ones refused. */
static void
test_cidr_parse(void **state)
{
	struct cfg_cidr	 cc;
	char		 err[256];

	(void)state;
	assert_int_equal(addr_parse_cidr("10.1.2.3/8", &cc, err,
	    sizeof(err)), 0);
	assert_int_equal(cc.cc_family, AF_INET);
	assert_int_equal(cc.cc_prefix, 8);
	assert_int_equal(cc.cc_addr[0], 10);
	assert_int_equal(cc.cc_addr[1], 0);
	assert_int_equal(addr_parse_cidr("[::ffff:192.0.2.0]/120", &cc, err,
	    sizeof(err)), 0);
	assert_int_equal(cc.cc_family, AF_INET);
	assert_int_equal(cc.cc_prefix, 24);
	assert_int_equal(addr_parse_cidr("2001:db8::/32", &cc, err,
	    sizeof(err)), 0);
	assert_int_equal(cc.cc_family, AF_INET6);
	assert_int_equal(cc.cc_prefix, 32);

	assert_int_equal(addr_parse_cidr("10.0.0.0/33", &cc, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "bad prefix length (0..32)"));
	assert_int_equal(addr_parse_cidr("host.example", &cc, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "not a numeric address"));
}

/* A peer in one of the blocks; mapped v4 peers match v4 blocks. */
static void
test_cidr_match(void **state)
{
	struct cfg_cidr			 cc[2];
	struct sockaddr_storage		 ss;
	char				 err[256];

	(void)state;
	assert_int_equal(addr_parse_cidr("192.0.2.0/24", &cc[0], err,
	    sizeof(err)), 0);
	assert_int_equal(addr_parse_cidr("2001:db8::/32", &cc[1], err,
	    sizeof(err)), 0);
	ss = peer("192.0.2.77");
	assert_true(addr_in_cidrs(cc, 2, (struct sockaddr *)&ss));
	ss = peer("::ffff:192.0.2.77");
	assert_true(addr_in_cidrs(cc, 2, (struct sockaddr *)&ss));
	ss = peer("2001:db8:1::1");
	assert_true(addr_in_cidrs(cc, 2, (struct sockaddr *)&ss));
	ss = peer("192.0.3.1");
	assert_false(addr_in_cidrs(cc, 2, (struct sockaddr *)&ss));
	ss = peer("2001:db9::1");
	assert_false(addr_in_cidrs(cc, 2, (struct sockaddr *)&ss));
	ss = peer("192.0.2.77");
	assert_false(addr_in_cidrs(cc, 0, (struct sockaddr *)&ss));
	assert_false(addr_in_cidrs(cc, 2, NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same),
		cmocka_unit_test(test_same_unset),
		cmocka_unit_test(test_cidr_parse),
		cmocka_unit_test(test_cidr_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
