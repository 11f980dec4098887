/* Unit tests for proxy.c: PROXY protocol v1 and v2 headers. */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proxy.h"

#define V2SIG	"\r\n\r\n\0\r\nQUIT\n"

static ssize_t	 parse(const char *, size_t, struct proxy_hdr *);
static void	 assert_v4(const struct sockaddr_storage *, const char *, int);
static void	 assert_v6(const struct sockaddr_storage *, const char *, int);
static size_t	 v2(unsigned char *, int, int, const void *, size_t);

/* Parse a string of len octets (a copy, so overreads are caught). */
static ssize_t
parse(const char *s, size_t len, struct proxy_hdr *ph)
{
	char	 buf[PROXY_MAX + 64];

	assert_true(len <= sizeof(buf));
	memcpy(buf, s, len);
	return proxy_parse(buf, len, ph);
}

#define P(s, ph)	parse((s), sizeof(s) - 1, (ph))

/* An IPv4 socket address with this text and port. */
static void
assert_v4(const struct sockaddr_storage *ss, const char *addr, int port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	char			 buf[INET_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, AF_INET);
	inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
	assert_string_equal(buf, addr);
	assert_int_equal(ntohs(sin->sin_port), port);
}

/* An IPv6 socket address with this text and port. */
static void
assert_v6(const struct sockaddr_storage *ss, const char *addr, int port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	char			 buf[INET6_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, AF_INET6);
	inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
	assert_string_equal(buf, addr);
	assert_int_equal(ntohs(sin6->sin6_port), port);
}

/* A v2 header: version/command byte, family byte, body. */
static size_t
v2(unsigned char *out, int vercmd, int fam, const void *body, size_t len)
{
	memcpy(out, V2SIG, 12);
	out[12] = (unsigned char)vercmd;
	out[13] = (unsigned char)fam;
	out[14] = (unsigned char)(len >> 8);
	out[15] = (unsigned char)len;
	if (len > 0)
		memcpy(out + 16, body, len);
	return 16 + len;
}

/* v1 TCP4 and TCP6: the length of the header, not of what follows. */
static void
test_v1_tcp(void **state)
{
	static const char h4[] =
	    "PROXY TCP4 192.0.2.7 198.51.100.1 56324 110\r\n";
	static const char h6[] =
	    "PROXY TCP6 2001:db8::7 2001:db8::1 65535 995\r\n";
	struct proxy_hdr	 ph;
	char			 buf[256];

	(void)state;
	assert_int_equal(P(h4, &ph), sizeof(h4) - 1);
	assert_int_equal(ph.ph_version, 1);
	assert_false(ph.ph_local);
	assert_v4(&ph.ph_src, "192.0.2.7", 56324);
	assert_v4(&ph.ph_dst, "198.51.100.1", 110);

	snprintf(buf, sizeof(buf), "%sUSER joe\r\n", h4);
	assert_int_equal(parse(buf, strlen(buf), &ph), sizeof(h4) - 1);

	assert_int_equal(P(h6, &ph), sizeof(h6) - 1);
	assert_v6(&ph.ph_src, "2001:db8::7", 65535);
	assert_v6(&ph.ph_dst, "2001:db8::1", 995);
	assert_int_equal(P("PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n", &ph), 32);
}

/* v1 UNKNOWN: the real endpoints stand, whatever follows the word. */
static void
test_v1_unknown(void **state)
{
	struct proxy_hdr	 ph;

	(void)state;
	assert_int_equal(P("PROXY UNKNOWN\r\n", &ph), 15);
	assert_true(ph.ph_local);
	assert_int_equal(P("PROXY UNKNOWN ffff:f...f:ffff 1 2\r\nQUIT\r\n",
	    &ph), 35);
	assert_true(ph.ph_local);
}

/* The start of a v1 header asks for more; other input is no header. */
static void
test_v1_partial_and_not(void **state)
{
	static const char h[] =
	    "PROXY TCP4 192.0.2.7 198.51.100.1 56324 110\r\n";
	struct proxy_hdr	 ph;
	size_t			 i;

	(void)state;
	for (i = 1; i < sizeof(h) - 1; i++)
		assert_int_equal(parse(h, i, &ph), 0);
	assert_int_equal(parse("", 0, &ph), 0);
	assert_int_equal(P("USER joe\r\n", &ph), PROXY_NOT);
	assert_int_equal(P("PROXZ", &ph), PROXY_NOT);
	assert_int_equal(P("proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n", &ph),
	    PROXY_NOT);
	assert_int_equal(P("PROXY\r\n", &ph), PROXY_NOT);
	assert_int_equal(P("\x16\x03\x01\x02\x00", &ph), PROXY_NOT);
}

/* Malformed v1 headers. */
static void
test_v1_bad(void **state)
{
	static const char *const bad[] = {
		"PROXY TCP5 192.0.2.7 198.51.100.1 1 2\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 1\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 1 2 3\r\n",
		"PROXY TCP4  192.0.2.7 198.51.100.1 1 2\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 1 2 \r\n",
		"PROXY TCP4 192.0.2.777 198.51.100.1 1 2\r\n",
		"PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n",
		"PROXY TCP6 192.0.2.7 2001:db8::1 1 2\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 65536 2\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 011 2\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 -1 2\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 1 2\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 1 2\rX",
		"PROXY \r\n",
		"PROXY TCP4\r\n",
	};
	struct proxy_hdr	 ph;
	char			 longline[200];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], strlen(bad[i]), &ph), PROXY_BAD);
	/* No CRLF within 107 octets. */
	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "PROXY UNKNOWN ", 14);
	assert_int_equal(parse(longline, 106, &ph), 0);
	assert_int_equal(parse(longline, 107, &ph), PROXY_BAD);
	assert_int_equal(parse(longline, sizeof(longline), &ph), PROXY_BAD);
	/* The CRLF at octets 106-107: one too many. */
	memcpy(longline + 105, "\r\n", 2);
	assert_int_equal(parse(longline, 107, &ph), 107);
	memcpy(longline + 105, "x\r\n", 3);
	assert_int_equal(parse(longline, 108, &ph), PROXY_BAD);
}

/* v2 PROXY over TCP/IPv4 and TCP/IPv6, with and without TLVs. */
static void
test_v2_tcp(void **state)
{
	static const unsigned char a4[12] = {
		192, 0, 2, 7,  198, 51, 100, 1,  0xdc, 0x04,  0, 110
	};
	unsigned char		 a6[36 + 7], buf[PROXY_MAX + 16];
	struct proxy_hdr	 ph;
	size_t			 n;

	(void)state;
	n = v2(buf, 0x21, 0x11, a4, sizeof(a4));
	assert_int_equal(n, 28);
	assert_int_equal(proxy_parse(buf, n, &ph), 28);
	assert_int_equal(ph.ph_version, 2);
	assert_false(ph.ph_local);
	assert_v4(&ph.ph_src, "192.0.2.7", 56324);
	assert_v4(&ph.ph_dst, "198.51.100.1", 110);
	/* What follows the header is not the parser's. */
	memcpy(buf + n, "USER joe\r\n", 10);
	assert_int_equal(proxy_parse(buf, n + 10, &ph), 28);

	memset(a6, 0, sizeof(a6));
	a6[0] = 0x20; a6[1] = 0x01; a6[2] = 0x0d; a6[3] = 0xb8; a6[15] = 7;
	a6[16] = 0x20; a6[17] = 0x01; a6[18] = 0x0d; a6[19] = 0xb8;
	a6[31] = 1;
	a6[32] = 0x01; a6[33] = 0x00; a6[34] = 0x03; a6[35] = 0xe3;
	/* A TLV (PP2_TYPE_AUTHORITY "a.b") after the addresses is skipped. */
	memcpy(a6 + 36, "\x02\x00\x04" "a.b", 7);
	n = v2(buf, 0x21, 0x21, a6, sizeof(a6));
	assert_int_equal(proxy_parse(buf, n, &ph), 16 + 43);
	assert_v6(&ph.ph_src, "2001:db8::7", 256);
	assert_v6(&ph.ph_dst, "2001:db8::1", 995);
}

/* v2 LOCAL, and families the real endpoints stand for. */
static void
test_v2_local(void **state)
{
	static const unsigned char a4[12] = { 10, 0, 0, 1 };
	unsigned char		 buf[128], unixaddr[216];
	struct proxy_hdr	 ph;
	size_t			 n;

	(void)state;
	n = v2(buf, 0x20, 0x00, NULL, 0);
	assert_int_equal(proxy_parse(buf, n, &ph), 16);
	assert_true(ph.ph_local);
	/* LOCAL with addresses: they are ignored. */
	n = v2(buf, 0x20, 0x11, a4, sizeof(a4));
	assert_int_equal(proxy_parse(buf, n, &ph), 28);
	assert_true(ph.ph_local);
	/* PROXY over UNSPEC, UDP, or a Unix socket. */
	n = v2(buf, 0x21, 0x00, NULL, 0);
	assert_int_equal(proxy_parse(buf, n, &ph), 16);
	assert_true(ph.ph_local);
	n = v2(buf, 0x21, 0x12, a4, sizeof(a4));
	assert_int_equal(proxy_parse(buf, n, &ph), 28);
	assert_true(ph.ph_local);
	memset(unixaddr, 0, sizeof(unixaddr));
	{
		unsigned char	 big[16 + sizeof(unixaddr)];

		n = v2(big, 0x21, 0x31, unixaddr, sizeof(unixaddr));
		assert_int_equal(proxy_parse(big, n, &ph), 16 + 216);
		assert_true(ph.ph_local);
	}
}

/* v2 prefixes ask for more; malformed v2 headers are refused. */
static void
test_v2_partial_and_bad(void **state)
{
	static const unsigned char a4[12] = { 192, 0, 2, 7 };
	unsigned char		 buf[PROXY_MAX + 32];
	struct proxy_hdr	 ph;
	size_t			 i, n;

	(void)state;
	n = v2(buf, 0x21, 0x11, a4, sizeof(a4));
	for (i = 1; i < n; i++)
		assert_int_equal(proxy_parse(buf, i, &ph), 0);
	/* The signature's start, then something else: no header. */
	assert_int_equal(P("\r\n\r\nUSER", &ph), PROXY_NOT);
	assert_int_equal(P("\r\nQUIT\r\n", &ph), PROXY_NOT);

	n = v2(buf, 0x11, 0x11, a4, sizeof(a4));	/* version 1 */
	assert_int_equal(proxy_parse(buf, n, &ph), PROXY_BAD);
	n = v2(buf, 0x22, 0x11, a4, sizeof(a4));	/* command 2 */
	assert_int_equal(proxy_parse(buf, n, &ph), PROXY_BAD);
	n = v2(buf, 0x21, 0x11, a4, 11);		/* short address */
	assert_int_equal(proxy_parse(buf, n, &ph), PROXY_BAD);
	n = v2(buf, 0x21, 0x21, a4, 12);		/* short for IPv6 */
	assert_int_equal(proxy_parse(buf, n, &ph), PROXY_BAD);
	/* The longest body accepted, and one more. */
	memset(buf, 0, sizeof(buf));
	n = v2(buf, 0x21, 0x11, buf + 100, 0);
	buf[14] = PROXY_V2_BODY >> 8;
	buf[15] = PROXY_V2_BODY & 0xff;
	assert_int_equal(proxy_parse(buf, 16, &ph), 0);
	assert_int_equal(proxy_parse(buf, 16 + PROXY_V2_BODY, &ph),
	    16 + PROXY_V2_BODY);
	buf[15]++;
	assert_int_equal(proxy_parse(buf, 16, &ph), PROXY_BAD);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_tcp),
		cmocka_unit_test(test_v1_unknown),
		cmocka_unit_test(test_v1_partial_and_not),
		cmocka_unit_test(test_v1_bad),
		cmocka_unit_test(test_v2_tcp),
		cmocka_unit_test(test_v2_local),
		cmocka_unit_test(test_v2_partial_and_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
