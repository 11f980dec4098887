/* Unit tests of the accounting pieces that do no I/O (docs/accounting.md). */

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "dbmysql.h"
#include "loginfo.h"
#include "logudp.h"
#include "whoson.h"
#include "fixture.h"

static struct config *load(const char *);
static size_t	 test_escape(void *, char *, const char *, size_t);
static size_t	 bad_escape(void *, char *, const char *, size_t);

/* Load a configuration from text through a temporary file. */
static struct config *
load(const char *text)
{
	return fixture_load(NULL, text, 0600, NULL);
}

/*
 * A stand-in for mysql_real_escape_string(): a backslash before ', ",
 * \ and NUL-free control bytes shown as \n, \r; like the real one, it
 * may double the length.
 */
static size_t
test_escape(void *arg, char *dst, const char *src, size_t len)
{
	size_t	 i, n = 0;

	(void)arg;
	for (i = 0; i < len; i++) {
		switch (src[i]) {
		case '\'':
		case '"':
		case '\\':
			dst[n++] = '\\';
			dst[n++] = src[i];
			break;
		case '\n':
			dst[n++] = '\\';
			dst[n++] = 'n';
			break;
		default:
			dst[n++] = src[i];
		}
	}
	dst[n] = '\0';
	return n;
}

/* An escaper that fails, as mysql_real_escape_string() can. */
static size_t
bad_escape(void *arg, char *dst, const char *src, size_t len)
{
	(void)arg;
	(void)dst;
	(void)src;
	(void)len;
	return (size_t)-1;
}

/* whoson rules: file order, first match, case-insensitive, else deny. */
static void
test_whoson_rules(void **state)
{
	struct config	*cf;

	(void)state;
	cf = load("whoson.deny ^test\n"
	    "whoson.allow ^t\n"
	    "whoson.allow ^joe$\n"
	    "whoson.deny .\n"
	    "whoson.allow ^bob\n");
	assert_false(whoson_allowed(cf, "test1"));
	assert_false(whoson_allowed(cf, "TeSt1"));	/* deny comes first */
	assert_true(whoson_allowed(cf, "tom"));
	assert_true(whoson_allowed(cf, "Tom"));
	assert_true(whoson_allowed(cf, "JOE"));
	assert_false(whoson_allowed(cf, "joey"));	/* falls to "deny ." */
	assert_false(whoson_allowed(cf, "bob"));	/* "deny ." first */
	assert_false(whoson_allowed(cf, ""));		/* no match: deny */
	config_free(cf);

	cf = load("whoson.allow ^a\n");
	assert_true(whoson_allowed(cf, "alice"));
	assert_false(whoson_allowed(cf, "mallory"));	/* no match */
	config_free(cf);

	cf = load("");
	assert_false(whoson_allowed(cf, "alice"));	/* no rules at all */
	config_free(cf);
}

/* The WHOSON packet is exactly what wso_login() sends. */
static void
test_whoson_packet(void **state)
{
	char	 buf[128];
	int	 n;

	(void)state;
	n = whoson_packet(buf, sizeof(buf), "192.0.2.7", "joe");
	assert_int_equal(n, 23);
	assert_memory_equal(buf, "LOGIN 192.0.2.7 joe\r\n\r\n", 24);
	n = whoson_packet(buf, sizeof(buf), "2001:db8::1", "a.b@example.org");
	assert_string_equal(buf, "LOGIN 2001:db8::1 a.b@example.org\r\n\r\n");
	assert_int_equal(n, (int)strlen(buf));

	/* No field may break the line apart. */
	assert_int_equal(whoson_packet(buf, sizeof(buf), "192.0.2.7",
	    "jo e"), -1);
	assert_int_equal(whoson_packet(buf, sizeof(buf), "192.0.2.7",
	    "joe\r\nLOGIN 1.2.3.4 eve"), -1);
	assert_int_equal(whoson_packet(buf, sizeof(buf), "192.0.2.7", ""), -1);
	assert_int_equal(whoson_packet(buf, sizeof(buf), "", "joe"), -1);
	/* Too small a buffer: -1, never a cut packet. */
	assert_int_equal(whoson_packet(buf, 23, "192.0.2.7", "joe"), -1);
	assert_int_equal(whoson_packet(buf, 24, "192.0.2.7", "joe"), 23);
}

/* logudp without a secret: no md5 line. */
static void
test_logudp_plain(void **state)
{
	struct logudp_fields	 f;
	char			 buf[512];
	const char		*want = "time 1700000000\nservice pop\n"
				    "user joe\nip 192.0.2.7\n"
				    "source mail.example.org\n.\n";

	(void)state;
	memset(&f, 0, sizeof(f));
	f.lf_time = 1700000000LL;
	f.lf_user = "joe";
	f.lf_ip = "192.0.2.7";
	f.lf_source = "mail.example.org";
	assert_int_equal(logudp_packet(buf, sizeof(buf), &f),
	    (int)strlen(want));
	assert_string_equal(buf, want);
	/* Exactly the size, and one byte short of it. */
	assert_int_equal(logudp_packet(buf, strlen(want) + 1, &f),
	    (int)strlen(want));
	assert_int_equal(logudp_packet(buf, strlen(want), &f), -1);
}

/* logudp with a secret: md5(challenge secret) and the challenge. */
static void
test_logudp_md5(void **state)
{
	struct logudp_fields	 f;
	char			 buf[512];

	(void)state;
	memset(&f, 0, sizeof(f));
	f.lf_secret = "s3cret";
	f.lf_challenge = "0123456789abcdef0123456789abcdef";
	f.lf_time = 1700000000LL;
	f.lf_user = "joe";
	f.lf_ip = "2001:db8::1";
	f.lf_source = "pop.example.org";
	assert_true(logudp_packet(buf, sizeof(buf), &f) > 0);
	/* md5("0123456789abcdef0123456789abcdef" "s3cret") */
	assert_string_equal(buf,
	    "md5 ed5a846aefaa246048dbc303228c6b5f "
	    "0123456789abcdef0123456789abcdef\n"
	    "time 1700000000\nservice pop\nuser joe\nip 2001:db8::1\n"
	    "source pop.example.org\n.\n");

	/* A field that would forge a line is refused. */
	f.lf_user = "joe\nuser root";
	assert_int_equal(logudp_packet(buf, sizeof(buf), &f), -1);
	f.lf_user = "joe\r";
	assert_int_equal(logudp_packet(buf, sizeof(buf), &f), -1);
	f.lf_user = "";
	assert_int_equal(logudp_packet(buf, sizeof(buf), &f), -1);
	f.lf_user = "joe";
	f.lf_challenge = "two words";
	assert_int_equal(logudp_packet(buf, sizeof(buf), &f), -1);
	f.lf_challenge = NULL;
	assert_int_equal(logudp_packet(buf, sizeof(buf), &f), -1);
}

/* The multicast TTL and hop limit are set on the socket; unicast not. */
static void
test_logudp_socket(void **state)
{
	struct cfg_addr	 a;
	char		 err[256];
	int		 fd, v;
	socklen_t	 len;

	(void)state;
	assert_int_equal(addr_parse("239.255.12.34:5000", NULL, &a,
	    err, sizeof(err)), 0);
	assert_true((fd = logudp_socket(&a, 3)) != -1);
	v = 0;
	len = sizeof(v);
	assert_int_equal(getsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &v,
	    &len), 0);
	assert_int_equal(v, 3);
	close(fd);

	assert_int_equal(addr_parse("[ff0e::1:2]:5000", NULL, &a,
	    err, sizeof(err)), 0);
	if ((fd = logudp_socket(&a, 7)) != -1) {	/* no IPv6: skip */
		v = 0;
		len = sizeof(v);
		assert_int_equal(getsockopt(fd, IPPROTO_IPV6,
		    IPV6_MULTICAST_HOPS, &v, &len), 0);
		assert_int_equal(v, 7);
		close(fd);
	}

	/* Unicast: left at the system default of 1. */
	assert_int_equal(addr_parse("192.0.2.1:5000", NULL, &a,
	    err, sizeof(err)), 0);
	assert_true((fd = logudp_socket(&a, 9)) != -1);
	v = 0;
	len = sizeof(v);
	assert_int_equal(getsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &v,
	    &len), 0);
	assert_int_equal(v, 1);
	close(fd);
}

/* Every placeholder, and %% as %. */
static void
test_loginfo_expand(void **state)
{
	char	*q;
	size_t	 len;

	(void)state;
	q = loginfo_expand("INSERT INTO l VALUES ('%u', '%i', '%h', "
	    "FROM_UNIXTIME(%t), '100%%')", "joe", "192.0.2.7", "pop.example",
	    1700000000LL, test_escape, NULL, &len);
	assert_non_null(q);
	assert_string_equal(q, "INSERT INTO l VALUES ('joe', '192.0.2.7', "
	    "'pop.example', FROM_UNIXTIME(1700000000), '100%')");
	assert_int_equal(len, strlen(q));
	free(q);

	/* The same placeholder twice, none at all, only escapes. */
	q = loginfo_expand("%u%u", "a", "", "", 0, test_escape, NULL, &len);
	assert_string_equal(q, "aa");
	free(q);
	q = loginfo_expand("SELECT 1", "a", "", "", 0, test_escape, NULL,
	    &len);
	assert_string_equal(q, "SELECT 1");
	free(q);
	q = loginfo_expand("%%%%", "a", "", "", 0, test_escape, NULL, &len);
	assert_string_equal(q, "%%");
	free(q);
	q = loginfo_expand("", "a", "", "", 0, test_escape, NULL, &len);
	assert_string_equal(q, "");
	assert_int_equal(len, 0);
	free(q);
}

/* Values are escaped; SQL in a user name stays text. */
static void
test_loginfo_escaping(void **state)
{
	char	*q, big[256 * 2];
	size_t	 len;

	(void)state;
	q = loginfo_expand("INSERT INTO l (u) VALUES ('%u')",
	    "o'hara\\'; DROP TABLE l; --", "", "", 0, test_escape, NULL, &len);
	assert_string_equal(q, "INSERT INTO l (u) VALUES "
	    "('o\\'hara\\\\\\'; DROP TABLE l; --')");
	free(q);

	/* Worst case: every byte doubles; the buffer must hold it. */
	memset(big, '\'', 255);
	big[255] = '\0';
	q = loginfo_expand("'%u'", big, "", "", 0, test_escape, NULL, &len);
	assert_non_null(q);
	assert_int_equal(len, 2 + 2 * 255);
	assert_int_equal(strlen(q), len);
	free(q);

	/* The template itself is never escaped. */
	q = loginfo_expand("'%i' \\ \"", "", "1.2.3.4", "", 0, test_escape,
	    NULL, &len);
	assert_string_equal(q, "'1.2.3.4' \\ \"");
	free(q);
}

/* Unknown and unfinished escapes, and a failing escaper. */
static void
test_loginfo_bad(void **state)
{
	size_t	 len;

	(void)state;
	errno = 0;
	assert_null(loginfo_expand("x %q", "a", "b", "c", 1, test_escape,
	    NULL, &len));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(loginfo_expand("x %", "a", "b", "c", 1, test_escape,
	    NULL, &len));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(loginfo_expand("%u", "a", "b", "c", 1, bad_escape,
	    NULL, &len));
	assert_int_equal(errno, EINVAL);
	/* Without a value for %u, dbm_expand() itself refuses. */
	errno = 0;
	assert_null(dbm_expand("%u", NULL, 0, test_escape, NULL, &len));
	assert_int_equal(errno, EINVAL);
}

/* loginfo.host and userdb.host forms. */
static void
test_dbm_parse_host(void **state)
{
	struct dbm_target	 t;
	char			 err[256];

	(void)state;
	assert_int_equal(dbm_parse_host("db.example.org", &t, err,
	    sizeof(err)), 0);
	assert_string_equal(t.dt_host, "db.example.org");
	assert_int_equal(t.dt_port, 0);
	assert_string_equal(t.dt_socket, "");

	assert_int_equal(dbm_parse_host("127.0.0.1:3307", &t, err,
	    sizeof(err)), 0);
	assert_string_equal(t.dt_host, "127.0.0.1");
	assert_int_equal(t.dt_port, 3307);

	assert_int_equal(dbm_parse_host("[::1]:3308", &t, err, sizeof(err)),
	    0);
	assert_string_equal(t.dt_host, "::1");
	assert_int_equal(t.dt_port, 3308);

	assert_int_equal(dbm_parse_host("[2001:db8::5]", &t, err,
	    sizeof(err)), 0);
	assert_string_equal(t.dt_host, "2001:db8::5");
	assert_int_equal(t.dt_port, 0);

	assert_int_equal(dbm_parse_host("/run/mysqld/mysqld.sock", &t, err,
	    sizeof(err)), 0);
	assert_string_equal(t.dt_host, "");
	assert_string_equal(t.dt_socket, "/run/mysqld/mysqld.sock");

	assert_int_equal(dbm_parse_host(NULL, &t, err, sizeof(err)), 0);
	assert_string_equal(t.dt_host, "");
	assert_string_equal(t.dt_socket, "");

	assert_int_equal(dbm_parse_host("[::1", &t, err, sizeof(err)), -1);
	assert_int_equal(dbm_parse_host("[nothex]:1", &t, err, sizeof(err)),
	    -1);
	assert_int_equal(dbm_parse_host("db:0", &t, err, sizeof(err)), -1);
	assert_int_equal(dbm_parse_host("db:65536", &t, err, sizeof(err)),
	    -1);
	assert_int_equal(dbm_parse_host("db:x", &t, err, sizeof(err)), -1);
	assert_int_equal(dbm_parse_host(":3306", &t, err, sizeof(err)), -1);
	assert_int_equal(dbm_parse_host("[::1]x", &t, err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whoson_rules),
		cmocka_unit_test(test_whoson_packet),
		cmocka_unit_test(test_logudp_plain),
		cmocka_unit_test(test_logudp_md5),
		cmocka_unit_test(test_logudp_socket),
		cmocka_unit_test(test_loginfo_expand),
		cmocka_unit_test(test_loginfo_escaping),
		cmocka_unit_test(test_loginfo_bad),
		cmocka_unit_test(test_dbm_parse_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
