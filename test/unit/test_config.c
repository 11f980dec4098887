/* Unit tests of config.c: every directive of popserv.conf(5). */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "build_config.h"
#include "config.h"
#include "regex_cost.h"
#include "fixture.h"

static char	 tmpdir[] = "/tmp/test_config.XXXXXX";
static char	 confpath[256];

static int	 group_setup(void **);
static int	 group_teardown(void **);
static const char *write_conf(const char *, mode_t);
static struct config *load(const char *, struct config_msgs *);
static int	 has_msg(char **, size_t, const char *);
static void	 dump_msgs(const struct config_msgs *);
static void	 expect_error(const char *, int, const char *, const char *);
static struct sockaddr_storage sa4(const char *);
static struct sockaddr_storage sa6(const char *);
static int	 port_of(const struct cfg_addr *);
static const char *addr_of(const struct cfg_addr *, char *, size_t);

/* One temporary directory for every file the tests write. */
static int
group_setup(void **state)
{
	(void)state;
	if (fixture_mkdtemp(tmpdir, sizeof(tmpdir), "test_config") == -1)
		return -1;
	snprintf(confpath, sizeof(confpath), "%s/popserv.conf", tmpdir);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	return fixture_rmtree(tmpdir);
}

/* Write text to the test configuration file with the given mode. */
static const char *
write_conf(const char *text, mode_t mode)
{
	return fixture_write(confpath, text, mode);
}

/* Write text (mode 0600) and load it. */
static struct config *
load(const char *text, struct config_msgs *msgs)
{
	return fixture_load(confpath, text, 0600, msgs);
}

/* Does one of the messages start with prefix and contain no less? */
static int
has_msg(char **v, size_t n, const char *prefix)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strncmp(v[i], prefix, strlen(prefix)) == 0)
			return 1;
	return 0;
}

/* Show what the parser said, when a test is about to fail. */
static void
dump_msgs(const struct config_msgs *m)
{
	size_t	 i;

	for (i = 0; i < m->cm_nerrors; i++)
		print_message("error: %s\n", m->cm_errors[i]);
	for (i = 0; i < m->cm_nwarnings; i++)
		print_message("warning: %s\n", m->cm_warnings[i]);
}

/*
 * text must fail to load with an error "file:line: directive: " whose
 * text contains want (if not NULL).
 */
static void
expect_error(const char *text, int line, const char *directive,
    const char *want)
{
	struct config_msgs	 m = { 0 };
	struct config		*cf;
	char			 prefix[512];
	size_t			 i;
	int			 found = 0;

	cf = load(text, &m);
	if (cf != NULL || m.cm_nerrors == 0)
		print_message("loaded, but should not have: %s", text);
	assert_null(cf);
	snprintf(prefix, sizeof(prefix), "%s:%d: %s: ", confpath, line,
	    directive);
	for (i = 0; i < m.cm_nerrors; i++)
		if (strncmp(m.cm_errors[i], prefix, strlen(prefix)) == 0 &&
		    (want == NULL || strstr(m.cm_errors[i], want) != NULL))
			found = 1;
	if (!found) {
		print_message("no error \"%s...%s\" for: %s", prefix,
		    want ? want : "", text);
		dump_msgs(&m);
	}
	assert_true(found);
	config_msgs_free(&m);
}

/* A sockaddr for a v4 literal. */
static struct sockaddr_storage
sa4(const char *s)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s, &sin->sin_addr), 1);
	return ss;
}

/* A sockaddr for a v6 literal. */
static struct sockaddr_storage
sa6(const char *s)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, s, &sin6->sin6_addr), 1);
	return ss;
}

/* The port of a parsed address, host order. */
static int
port_of(const struct cfg_addr *a)
{
	if (a->ca_ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ca_ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&a->ca_ss)->sin6_port);
}

/* The address of a parsed address, as text. */
static const char *
addr_of(const struct cfg_addr *a, char *buf, size_t bufsz)
{
	const void	*p;

	if (a->ca_ss.ss_family == AF_INET)
		p = &((const struct sockaddr_in *)&a->ca_ss)->sin_addr;
	else
		p = &((const struct sockaddr_in6 *)&a->ca_ss)->sin6_addr;
	assert_non_null(inet_ntop(a->ca_ss.ss_family, p, buf,
	    (socklen_t)bufsz));
	return buf;
}

/* An empty file gives every default of popserv.conf(5). */
static void
test_defaults(void **state)
{
	struct config_msgs	 m = { 0 };
	struct config		*cf, *d;
	char			 host[256], buf[64];
	long			 ncpu;

	(void)state;
	cf = load("", &m);
	assert_non_null(cf);
	assert_int_equal(m.cm_nerrors, 0);
	assert_int_equal(m.cm_nwarnings, 0);
	assert_string_equal(cf->cf_path, confpath);
	assert_int_equal(cf->cf_nbindto, 0);
	assert_int_equal(cf->cf_nbindtls, 0);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	assert_string_equal(cf->cf_hostname, host);
	assert_int_equal(cf->cf_uid, -1);
	assert_int_equal(cf->cf_gid, -1);
	assert_null(cf->cf_pidfile);
	assert_int_equal(cf->cf_crypt, 1);
	assert_int_equal(cf->cf_apop, 0);
	assert_int_equal(cf->cf_apop_on, 0);
	assert_int_equal(cf->cf_userdb, USERDB_SYSTEM);
	assert_null(cf->cf_userdb_path);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	assert_int_equal(cf->cf_workers, ncpu < 1 ? 1 : ncpu > 256 ? 256 :
	    ncpu);
	assert_int_equal(cf->cf_accepts, 1);
	assert_int_equal(cf->cf_timelimit, 0);
	assert_int_equal(cf->cf_autoclose, 0);
	assert_int_equal(cf->cf_sameaddrmax, 0);
	assert_int_equal(cf->cf_maxconn, 10000);
	assert_int_equal(cf->cf_faildelay, 2);
	assert_int_equal(cf->cf_checktimeout, 30);
	assert_int_equal(cf->cf_maxfails, 3);
	assert_int_equal(cf->cf_failpenalty, 1);
	assert_int_equal(cf->cf_minuid, 1000);
	assert_int_equal(cf->cf_mingid, 1);
	assert_int_equal(cf->cf_ipv6prefix, 64);
	assert_int_equal(cf->cf_spawntimeout, 10);
	assert_int_equal(cf->cf_ntrusted, 0);
	assert_string_equal(cf->cf_popit, POPSERV_POPIT_PATH);
	assert_int_equal(cf->cf_npopitargs, 0);
	assert_null(cf->cf_popitargs[0]);
	assert_string_equal(cf->cf_maildir, "Maildir");
	assert_int_equal(cf->cf_folder_set, 0);
	assert_int_equal(cf->cf_useropt_set, 0);
	assert_null(cf->cf_hometag);
	assert_int_equal(cf->cf_nwhoson, 0);
	assert_string_equal(addr_of(&cf->cf_whoson_server, buf, sizeof(buf)),
	    "127.0.0.1");
	assert_int_equal(port_of(&cf->cf_whoson_server), 9876);
	assert_null(cf->cf_loginfo.my_host);
	assert_null(cf->cf_loginfo.my_query);
	assert_int_equal(cf->cf_logudp_set, 0);
	assert_null(cf->cf_logudp_secret);
	assert_int_equal(cf->cf_logudp_ttl, 1);
	assert_null(cf->cf_tls_cert);
	assert_null(cf->cf_tls_key);
	assert_int_equal(cf->cf_plaintext, 1);
	config_free(cf);

	/* config_default() is the same thing without a file. */
	d = config_default();
	assert_non_null(d);
	assert_null(d->cf_path);
	assert_int_equal(d->cf_maxconn, 10000);
	assert_string_equal(d->cf_maildir, "Maildir");
	config_free(d);
	config_msgs_free(&m);
}

/* Comments, blank lines, indentation and CRLF are all fine. */
static void
test_comments_blanks(void **state)
{
	struct config_msgs	 m = { 0 };
	struct config		*cf;

	(void)state;
	cf = load("# a comment\n"
	    "\n"
	    "   \t\n"
	    "   # an indented comment\n"
	    "\tmaxconn 7\n"
	    "maxfails 5   \r\n"
	    "#maxconn 9\n"
	    "accepts\t\t4", &m);		/* no newline at the end */
	assert_non_null(cf);
	assert_int_equal(m.cm_nerrors, 0);
	assert_int_equal(cf->cf_maxconn, 7);
	assert_int_equal(cf->cf_maxfails, 5);
	assert_int_equal(cf->cf_accepts, 4);
	config_free(cf);
	config_msgs_free(&m);
}

/* A missing file: "file: cannot open: reason". */
static void
test_cannot_open(void **state)
{
	struct config_msgs	 m = { 0 };
	char			 path[300], want[1024];

	(void)state;
	snprintf(path, sizeof(path), "%s/nonexistent.conf", tmpdir);
	assert_null(config_load(path, &m));
	assert_int_equal(m.cm_nerrors, 1);
	snprintf(want, sizeof(want), "%s: cannot open: No such file", path);
	assert_true(has_msg(m.cm_errors, m.cm_nerrors, want));
	config_msgs_free(&m);
}

/* Numbers: each in its range, bounds included. */
static void
test_numbers_good(void **state)
{
	struct config_msgs	 m = { 0 };
	struct config		*cf;

	(void)state;
	cf = load("accepts 1024\nmaxconn 1000000\nworkers 256\n"
	    "maxfails 100\nsameaddrmax 100000\nlogudp.multicast.ttl 255\n"
	    "uid 4294967294\ngid 0\nminuid 4294967294\nmingid 4294967294\n"
	    "ipv6prefix 128\n", &m);
	assert_non_null(cf);
	assert_int_equal(cf->cf_minuid, 4294967294L);
	assert_int_equal(cf->cf_mingid, 4294967294L);
	assert_int_equal(cf->cf_ipv6prefix, 128);
	assert_int_equal(cf->cf_accepts, 1024);
	assert_int_equal(cf->cf_maxconn, 1000000);
	assert_int_equal(cf->cf_workers, 256);
	assert_int_equal(cf->cf_maxfails, 100);
	assert_int_equal(cf->cf_sameaddrmax, 100000);
	assert_int_equal(cf->cf_logudp_ttl, 255);
	assert_int_equal(cf->cf_uid, 4294967294L);
	assert_int_equal(cf->cf_gid, 0);
	config_free(cf);

	cf = load("accepts 1\nmaxconn 1\nworkers 1\nmaxfails 1\n"
	    "sameaddrmax 0\nlogudp.multicast.ttl 0\nuid 1000\ngid 100\n"
	    "minuid 1\nmingid 1\nipv6prefix 1\n", &m);
	assert_non_null(cf);
	assert_int_equal(cf->cf_minuid, 1);
	assert_int_equal(cf->cf_mingid, 1);
	assert_int_equal(cf->cf_ipv6prefix, 1);
	assert_int_equal(cf->cf_accepts, 1);
	assert_int_equal(cf->cf_maxconn, 1);
	assert_int_equal(cf->cf_workers, 1);
	assert_int_equal(cf->cf_maxfails, 1);
	assert_int_equal(cf->cf_sameaddrmax, 0);
	assert_int_equal(cf->cf_logudp_ttl, 0);
	assert_int_equal(cf->cf_uid, 1000);
	assert_int_equal(cf->cf_gid, 100);
	config_free(cf);
	assert_int_equal(m.cm_nerrors, 0);
	config_msgs_free(&m);
}

/* Durations and booleans. */
static void
test_durations_booleans_good(void **state)
{
	struct config_msgs	 m = { 0 };
	struct config		*cf;

	(void)state;
	cf = load("timelimit 10m\nautoclose 1h\nfaildelay 0\n"
	    "crypt no\napop yes\nfailpenalty 0\nplaintext 0\n"
	    "checktimeout 2m\nspawntimeout 5m\n", &m);
	assert_non_null(cf);
	assert_int_equal(cf->cf_spawntimeout, 300);
	assert_int_equal(cf->cf_checktimeout, 120);
	assert_int_equal(cf->cf_timelimit, 600);
	assert_int_equal(cf->cf_autoclose, 3600);
	assert_int_equal(cf->cf_faildelay, 0);
	assert_int_equal(cf->cf_crypt, 0);
	assert_int_equal(cf->cf_apop, 1);
	assert_int_equal(cf->cf_apop_on, 1);
	assert_int_equal(cf->cf_failpenalty, 0);
	assert_int_equal(cf->cf_plaintext, 0);
	assert_int_equal(m.cm_nwarnings, 0);
	config_free(cf);

	cf = load("timelimit 86400\nautoclose 90s\nfaildelay 1m\n"
	    "crypt 1\napop 0\nfailpenalty yes\nplaintext 1\n", &m);
	assert_non_null(cf);
	assert_int_equal(cf->cf_timelimit, 86400);
	assert_int_equal(cf->cf_autoclose, 90);
	assert_int_equal(cf->cf_faildelay, 60);
	assert_int_equal(cf->cf_crypt, 1);
	assert_int_equal(cf->cf_apop, 0);
	assert_int_equal(cf->cf_apop_on, 0);
	assert_int_equal(cf->cf_failpenalty, 1);
	assert_int_equal(cf->cf_plaintext, 1);
	config_free(cf);
	assert_int_equal(m.cm_nerrors, 0);
	config_msgs_free(&m);
}

/* Strings, paths, regexes, user databases, MySQL settings. */
static void
test_strings_good(void **state)
{
	struct config_msgs	 m = { 0 };
	struct config		*cf;
	regmatch_t		 rm[2];

	(void)state;
	cf = load("hostname pop.example.org\n"
	    "pidfile /run/popserv.pid\n"
	    "popit /usr/lib/popserv/popit\n"
	    "popitargs qmail-pop3d  Maildir\t-v\n"
	    "maildir Mail/inbox\n"
	    "folder \\+([^%@/]*)\n"
	    "useropt /([^%@+]*)\n"
	    "userdb file /etc/popserv/passwd\n"
	    "loginfo.host db.example.org:3307\n"
	    "loginfo.user logger\n"
	    "loginfo.password se cret\n"
	    "loginfo.database mail\n"
	    "loginfo.query INSERT INTO l (u, i, h, t) VALUES ('%u', '%i', "
	    "'%h', %t) -- 100%%\n"
	    "logudp.dst 192.0.2.1:5000\n"
	    "logudp.secret s3cret\n"
	    "home.tag pop\n", &m);
	if (cf == NULL)
		dump_msgs(&m);
	assert_non_null(cf);
	assert_string_equal(cf->cf_hostname, "pop.example.org");
	assert_string_equal(cf->cf_pidfile, "/run/popserv.pid");
	assert_string_equal(cf->cf_popit, "/usr/lib/popserv/popit");
	assert_int_equal(cf->cf_npopitargs, 3);
	assert_string_equal(cf->cf_popitargs[0], "qmail-pop3d");
	assert_string_equal(cf->cf_popitargs[1], "Maildir");
	assert_string_equal(cf->cf_popitargs[2], "-v");
	assert_null(cf->cf_popitargs[3]);
	assert_string_equal(cf->cf_maildir, "Mail/inbox");
	assert_int_equal(cf->cf_folder_set, 1);
	assert_int_equal(regexec(&cf->cf_folder, "joe+work/lite", 2, rm, 0),
	    0);
	assert_int_equal(rm[1].rm_so, 4);
	assert_int_equal(rm[1].rm_eo, 8);
	assert_int_equal(cf->cf_useropt_set, 1);
	assert_int_equal(regexec(&cf->cf_useropt, "joe+work/lite", 2, rm, 0),
	    0);
	assert_int_equal(rm[1].rm_so, 9);
	assert_int_equal(cf->cf_userdb, USERDB_FILE);
	assert_string_equal(cf->cf_userdb_path, "/etc/popserv/passwd");
	assert_string_equal(cf->cf_loginfo.my_host, "db.example.org:3307");
	assert_string_equal(cf->cf_loginfo.my_user, "logger");
	assert_string_equal(cf->cf_loginfo.my_password, "se cret");
	assert_string_equal(cf->cf_loginfo.my_database, "mail");
	assert_string_equal(cf->cf_loginfo.my_query,
	    "INSERT INTO l (u, i, h, t) VALUES ('%u', '%i', '%h', %t) -- "
	    "100%%");
	assert_int_equal(cf->cf_logudp_set, 1);
	assert_int_equal(port_of(&cf->cf_logudp_dst), 5000);
	assert_string_equal(cf->cf_logudp_secret, "s3cret");
	assert_string_equal(cf->cf_hometag, "pop");
	/* The home.tag warning, and nothing else. */
	assert_int_equal(m.cm_nwarnings, 1);
	assert_non_null(strstr(m.cm_warnings[0], ":16: warning: home.tag: "));
	assert_non_null(strstr(m.cm_warnings[0], "libhome"));
	config_free(cf);
	config_msgs_free(&m);

	cf = load("userdb mysql\n"
	    "userdb.host /run/mysqld/mysqld.sock\n"
	    "userdb.user popserv\n"
	    "userdb.password pw\n"
	    "userdb.database users\n"
	    "userdb.query SELECT password, uid, gid, home, shell FROM u "
	    "WHERE name = '%u'\n"
	    "loginfo.host [::1]:3306\n"
	    "tls.cert /etc/ssl/pop.pem\n"
	    "tls.key /etc/ssl/pop.key\n"
	    "maildir .\n", &m);
	if (cf == NULL)
		dump_msgs(&m);
	assert_non_null(cf);
	assert_int_equal(cf->cf_userdb, USERDB_MYSQL);
	assert_string_equal(cf->cf_userdb_mysql.my_host,
	    "/run/mysqld/mysqld.sock");
	assert_string_equal(cf->cf_userdb_mysql.my_user, "popserv");
	assert_string_equal(cf->cf_userdb_mysql.my_password, "pw");
	assert_string_equal(cf->cf_userdb_mysql.my_database, "users");
	assert_string_equal(cf->cf_userdb_mysql.my_query,
	    "SELECT password, uid, gid, home, shell FROM u WHERE name = '%u'");
	assert_string_equal(cf->cf_loginfo.my_host, "[::1]:3306");
	assert_string_equal(cf->cf_tls_cert, "/etc/ssl/pop.pem");
	assert_string_equal(cf->cf_tls_key, "/etc/ssl/pop.key");
	assert_string_equal(cf->cf_maildir, ".");
	config_free(cf);

	/* userdb system after another kind; a plain host name; a cert alone. */
	cf = load("userdb file /x\nuserdb system\nuserdb.host db\n"
	    "tls.cert /etc/ssl/both.pem\n", &m);
	assert_non_null(cf);
	assert_int_equal(cf->cf_userdb, USERDB_SYSTEM);
	assert_null(cf->cf_userdb_path);
	assert_string_equal(cf->cf_userdb_mysql.my_host, "db");
	assert_string_equal(cf->cf_tls_key, "/etc/ssl/both.pem");
	config_free(cf);
	assert_int_equal(m.cm_nerrors, 0);
	config_msgs_free(&m);
}

/* Listeners, destinations, whoson rules, trusted blocks. */
static void
test_addresses_good(void **state)
{
	struct config_msgs	 m = { 0 };
	struct config		*cf;
	char			 buf[64];

	(void)state;
	cf = load("bindto :1110\n"
	    "bindto 127.0.0.1\n"
	    "bindto [::1]:pop3s\n"
	    "bindtls [::]\n"
	    "bindtls 127.0.0.1:1995\n"
	    "tls.cert /etc/ssl/pop.pem\n"
	    "whoson.server 10.1.2.3\n"
	    "whoson.allow ^joe$\n"
	    "whoson.deny ^JO\n"
	    "whoson.allow .*\n"
	    "trusted 10.0.0.0/8 2001:db8::/32\n"
	    "trusted 192.0.2.7\n", &m);
	if (cf == NULL)
		dump_msgs(&m);
	assert_non_null(cf);
	assert_int_equal(cf->cf_nbindto, 3);
	assert_int_equal(cf->cf_bindto[0].ca_any, 1);
	assert_int_equal(port_of(&cf->cf_bindto[0]), 1110);
	assert_string_equal(cf->cf_bindto[0].ca_text, ":1110");
	assert_int_equal(cf->cf_bindto[1].ca_any, 0);
	assert_int_equal(cf->cf_bindto[1].ca_ss.ss_family, AF_INET);
	assert_string_equal(addr_of(&cf->cf_bindto[1], buf, sizeof(buf)),
	    "127.0.0.1");
	assert_int_equal(port_of(&cf->cf_bindto[1]), 110);
	assert_int_equal(cf->cf_bindto[2].ca_ss.ss_family, AF_INET6);
	assert_string_equal(addr_of(&cf->cf_bindto[2], buf, sizeof(buf)),
	    "::1");
	assert_int_equal(port_of(&cf->cf_bindto[2]), 995);
	assert_int_equal(cf->cf_nbindtls, 2);
	assert_int_equal(port_of(&cf->cf_bindtls[0]), 995);
	assert_int_equal(cf->cf_bindtls[0].ca_any, 0);	/* [::] as written */
	assert_int_equal(port_of(&cf->cf_bindtls[1]), 1995);
	assert_string_equal(addr_of(&cf->cf_whoson_server, buf, sizeof(buf)),
	    "10.1.2.3");
	assert_int_equal(port_of(&cf->cf_whoson_server), 9876);
	assert_int_equal(cf->cf_nwhoson, 3);
	assert_int_equal(cf->cf_whoson[0].wr_action, WHOSON_ALLOW);
	assert_string_equal(cf->cf_whoson[0].wr_pattern, "^joe$");
	assert_int_equal(cf->cf_whoson[1].wr_action, WHOSON_DENY);
	/* Case-insensitive. */
	assert_int_equal(regexec(&cf->cf_whoson[1].wr_re, "john", 0, NULL, 0),
	    0);
	assert_int_equal(cf->cf_whoson[2].wr_action, WHOSON_ALLOW);
	assert_int_equal(cf->cf_ntrusted, 3);
	assert_int_equal(cf->cf_trusted[0].cc_family, AF_INET);
	assert_int_equal(cf->cf_trusted[0].cc_prefix, 8);
	assert_int_equal(cf->cf_trusted[1].cc_family, AF_INET6);
	assert_int_equal(cf->cf_trusted[1].cc_prefix, 32);
	assert_int_equal(cf->cf_trusted[2].cc_prefix, 32);
	config_free(cf);
	assert_int_equal(m.cm_nerrors, 0);
	config_msgs_free(&m);
}

/* Every directive, one bad value each, reported at its line. */
static void
test_bad_values(void **state)
{
	static const struct {
		const char	*line;
		const char	*directive;
		const char	*want;
	} bad[] = {
		{ "accepts 0", "accepts", "out of range (1..1024)" },
		{ "accepts 1025", "accepts", "out of range" },
		{ "accepts ten", "accepts", "not a number" },
		{ "accepts -1", "accepts", "not a number" },
		{ "accepts 99999999999999999999999", "accepts",
		    "out of range" },
		{ "accepts 1 2", "accepts", "extra value \"2\"" },
		{ "accepts", "accepts", "missing value" },
		{ "apop 2", "apop", "not a boolean" },
		{ "autoclose 5x", "autoclose", "not a duration" },
		{ "autoclose 86401", "autoclose", "out of range" },
		{ "bindto [::1", "bindto", "missing ]" },
		{ "bindto 1.2.3.4:99999", "bindto", "out of range" },
		{ "bindto host.name:110", "bindto", "not a numeric" },
		{ "bindto :nosuchservice", "bindto", "unknown port" },
		{ "bindto ::1", "bindto", "brackets" },
		{ "bindto :0", "bindto", "out of range" },
		{ "bindto 1.2.3.4:", "bindto", "empty port" },
		{ "bindto [::1]x", "bindto", "junk" },
		{ "bindtls 1.2.3", "bindtls", "not a numeric" },
		{ "crypt maybe", "crypt", "not a boolean" },
		{ "faildelay 61", "faildelay", "out of range" },
		{ "checktimeout 0", "checktimeout", "out of range" },
		{ "checktimeout 5m1", "checktimeout", "not a duration" },
		{ "faildelay -1", "faildelay", "not a duration" },
		{ "failpenalty 2", "failpenalty", "not a boolean" },
		{ "folder ([a-z]", "folder", "bad regex" },
		{ "folder \\+.*", "folder", "no parenthesised group" },
		{ "gid 4294967295", "gid", "out of range" },
		{ "gid mail", "gid", "not a number" },
		{ "home.tag a b", "home.tag", "extra value" },
		{ "hostname bad<host>", "hostname", "not a host name" },
		{ "loginfo.database a b", "loginfo.database", "extra value" },
		{ "loginfo.host db:0", "loginfo.host", "out of range" },
		{ "loginfo.host run/mysqld.sock", "loginfo.host", "absolute" },
		{ "loginfo.host [::1:3306", "loginfo.host", "missing ]" },
		{ "loginfo.host ::1", "loginfo.host", "brackets" },
		{ "loginfo.password", "loginfo.password", "missing value" },
		{ "loginfo.query SELECT %x", "loginfo.query",
		    "unknown escape %x" },
		{ "loginfo.query SELECT 5%", "loginfo.query", "lone %" },
		{ "loginfo.user a b", "loginfo.user", "extra value" },
		{ "logudp.dst 192.0.2.1", "logudp.dst", "port is needed" },
		{ "logudp.dst :5000", "logudp.dst", "address is needed" },
		{ "logudp.multicast.ttl 256", "logudp.multicast.ttl",
		    "out of range" },
		{ "logudp.secret two words", "logudp.secret", "extra value" },
		{ "maildir ../other", "maildir", "\"..\"" },
		{ "maildir Mail/../..", "maildir", "\"..\"" },
		{ "maildir /var/mail/joe", "maildir", "relative" },
		{ "maxconn 0", "maxconn", "out of range" },
		{ "maxconn 1000001", "maxconn", "out of range" },
		{ "ipv6prefix 0", "ipv6prefix", "out of range" },
		{ "ipv6prefix 129", "ipv6prefix", "out of range" },
		{ "ipv6prefix /64", "ipv6prefix", "not a number" },
		{ "maxfails 0", "maxfails", "out of range" },
		{ "maxfails 101", "maxfails", "out of range" },
		{ "mingid 0", "mingid", "out of range" },
		{ "minuid 0", "minuid", "out of range" },
		{ "minuid 4294967295", "minuid", "out of range" },
		{ "minuid root", "minuid", "not a number" },
		{ "pidfile popserv.pid", "pidfile", "absolute" },
		{ "plaintext on", "plaintext", "not a boolean" },
		{ "popit bin/popit", "popit", "absolute" },
		{ "popitargs a b c d e f g h i j k l m n o p q r s t u v w x y "
		    "z 1 2 3 4 5 6 7", "popitargs", "more than 32" },
		{ "sameaddrmax 100001", "sameaddrmax", "out of range" },
		{ "spawntimeout 0", "spawntimeout", "out of range" },
		{ "spawntimeout 6m", "spawntimeout", "out of range" },
		{ "timelimit 1x", "timelimit", "not a duration" },
		{ "timelimit 2d", "timelimit", "not a duration" },
		{ "tls.cert cert.pem", "tls.cert", "absolute" },
		{ "tls.key key.pem", "tls.key", "absolute" },
		{ "trusted 10.0.0.0/33", "trusted", "bad prefix" },
		{ "trusted ::/129", "trusted", "bad prefix" },
		{ "trusted 10.0.0.0/", "trusted", "bad prefix" },
		{ "trusted localhost", "trusted", "not a numeric" },
		{ "uid 4294967295", "uid", "out of range" },
		{ "uid root", "uid", "not a number" },
		{ "userdb ldap", "userdb", "unknown kind" },
		{ "userdb file", "userdb", "needs a path" },
		{ "userdb file passwd", "userdb", "absolute" },
		{ "userdb file /etc/passwd extra", "userdb", "extra value" },
		{ "userdb system extra", "userdb", "extra value" },
		{ "userdb.database a b", "userdb.database", "extra value" },
		{ "userdb.host a:b:c", "userdb.host", "brackets" },
		{ "userdb.host bad!host", "userdb.host", "not a host name" },
		{ "userdb.password", "userdb.password", "missing value" },
		{ "userdb.query SELECT '%i'", "userdb.query",
		    "unknown escape" },
		{ "userdb.user a b", "userdb.user", "extra value" },
		{ "useropt (", "useropt", "bad regex" },
		{ "useropt abc", "useropt", "no parenthesised group" },
		{ "whoson.allow (", "whoson.allow", "bad regex" },
		{ "whoson.deny [a-", "whoson.deny", "bad regex" },
		{ "whoson.server host.example:9876", "whoson.server",
		    "not a numeric" },
		{ "whoson.server :9876", "whoson.server", "address is needed" },
		{ "workers 0", "workers", "out of range (1..256)" },
		{ "workers 257", "workers", "out of range" },
		{ "frobnicate 1", "frobnicate", "unknown directive" },
		{ "Maxconn 5", "Maxconn", "unknown directive" },
	};
	char	 text[512];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* Put the bad line at line 4, after good ones. */
		snprintf(text, sizeof(text), "# test %zu\n\nmaxconn 5\n%s\n"
		    "maxfails 4\n", i, bad[i].line);
		expect_error(text, 4, bad[i].directive, bad[i].want);
	}
}

/* Errors that need the whole file: combinations of directives. */
static void
test_combinations(void **state)
{
	(void)state;
	expect_error("maxconn 5\ntls.key /etc/ssl/k.pem\n", 2, "tls.key",
	    "without tls.cert");
	expect_error("bindto :110\nbindtls :995\n", 2, "bindtls",
	    "tls.cert");
	expect_error("\nuserdb mysql\nuserdb.host db\n", 2, "userdb",
	    "userdb.query");
	expect_error("bindto 127.0.0.1:110\nbindto 127.0.0.1:pop3\n", 2,
	    "bindto", "line 1");
	expect_error("tls.cert /c.pem\nbindtls :995\nbindto :995\n", 3,
	    "bindto", "bindtls, line 2");
}

/* Every error of a file is reported, each at its own line, in order. */
static void
test_many_errors(void **state)
{
	struct config_msgs	 m = { 0 };
	char			 want[1024];

	(void)state;
	assert_null(load("maxconn 0\n"
	    "# fine\n"
	    "workers 4\n"
	    "timelimit soon\n"
	    "nonsense here\n"
	    "accepts 2\n", &m));
	assert_int_equal(m.cm_nerrors, 3);
	snprintf(want, sizeof(want), "%s:1: maxconn: ", confpath);
	assert_true(strncmp(m.cm_errors[0], want, strlen(want)) == 0);
	snprintf(want, sizeof(want), "%s:4: timelimit: ", confpath);
	assert_true(strncmp(m.cm_errors[1], want, strlen(want)) == 0);
	snprintf(want, sizeof(want), "%s:5: nonsense: unknown directive",
	    confpath);
	assert_string_equal(m.cm_errors[2], want);
	config_msgs_free(&m);
	assert_int_equal(m.cm_nerrors, 0);
	assert_null(m.cm_errors);
}

/* Last occurrence wins, except the lists, which accumulate. */
static void
test_last_wins_accumulate(void **state)
{
	struct config_msgs	 m = { 0 };
	struct config		*cf;

	(void)state;
	cf = load("maxconn 5\nmaxconn 6\n"
	    "hostname a\nhostname b\n"
	    "folder -(a)\nfolder \\+(.*)\n"
	    "popitargs a b c\npopitargs x\n"
	    "loginfo.password one\nloginfo.password two\n"
	    "bindto :1\nbindto :2\n"
	    "whoson.allow a\nwhoson.deny b\n"
	    "trusted 10.0.0.1\ntrusted 10.0.0.2 10.0.0.3\n", &m);
	assert_non_null(cf);
	assert_int_equal(cf->cf_maxconn, 6);
	assert_string_equal(cf->cf_hostname, "b");
	assert_int_equal(regexec(&cf->cf_folder, "x+y", 0, NULL, 0), 0);
	assert_int_not_equal(regexec(&cf->cf_folder, "x-a", 0, NULL, 0), 0);
	assert_int_equal(cf->cf_npopitargs, 1);
	assert_string_equal(cf->cf_popitargs[0], "x");
	assert_null(cf->cf_popitargs[1]);
	assert_string_equal(cf->cf_loginfo.my_password, "two");
	assert_int_equal(cf->cf_nbindto, 2);
	assert_int_equal(port_of(&cf->cf_bindto[0]), 1);
	assert_int_equal(port_of(&cf->cf_bindto[1]), 2);
	assert_int_equal(cf->cf_nwhoson, 2);
	assert_int_equal(cf->cf_ntrusted, 3);
	config_free(cf);
	config_msgs_free(&m);
}

/* Durations: seconds, s, m, h; nothing else. */
static void
test_durations(void **state)
{
	long	 v;

	(void)state;
	assert_int_equal(config_parse_duration("90", &v), 0);
	assert_int_equal(v, 90);
	assert_int_equal(config_parse_duration("90s", &v), 0);
	assert_int_equal(v, 90);
	assert_int_equal(config_parse_duration("2m", &v), 0);
	assert_int_equal(v, 120);
	assert_int_equal(config_parse_duration("1h", &v), 0);
	assert_int_equal(v, 3600);
	assert_int_equal(config_parse_duration("0", &v), 0);
	assert_int_equal(v, 0);
	v = 42;
	assert_int_equal(config_parse_duration("5x", &v), -1);
	assert_int_equal(config_parse_duration("-1", &v), -1);
	assert_int_equal(config_parse_duration("", &v), -1);
	assert_int_equal(config_parse_duration("s", &v), -1);
	assert_int_equal(config_parse_duration(" 5", &v), -1);
	assert_int_equal(config_parse_duration("+5", &v), -1);
	assert_int_equal(config_parse_duration("5 s", &v), -1);
	assert_int_equal(config_parse_duration("5ms", &v), -1);
	assert_int_equal(config_parse_duration("99999999999999999999", &v),
	    -1);
	assert_int_equal(config_parse_duration("9999999999999999h", &v), -1);
	assert_int_equal(v, 42);
}

/* Addresses: numeric only, [v6], ports by number or service name. */
static void
test_parse_addr(void **state)
{
	struct cfg_addr	 a;
	char		 err[256], buf[64];

	(void)state;
	assert_int_equal(addr_parse(":1110", "110", &a, err,
	    sizeof(err)), 0);
	assert_int_equal(a.ca_any, 1);
	assert_int_equal(port_of(&a), 1110);

	assert_int_equal(addr_parse("127.0.0.1", "110", &a, err,
	    sizeof(err)), 0);
	assert_int_equal(a.ca_any, 0);
	assert_int_equal(a.ca_ss.ss_family, AF_INET);
	assert_int_equal(a.ca_len, sizeof(struct sockaddr_in));
	assert_string_equal(addr_of(&a, buf, sizeof(buf)), "127.0.0.1");
	assert_int_equal(port_of(&a), 110);
	assert_string_equal(a.ca_text, "127.0.0.1");

	assert_int_equal(addr_parse("[::1]:110", "995", &a, err,
	    sizeof(err)), 0);
	assert_int_equal(a.ca_ss.ss_family, AF_INET6);
	assert_int_equal(a.ca_len, sizeof(struct sockaddr_in6));
	assert_string_equal(addr_of(&a, buf, sizeof(buf)), "::1");
	assert_int_equal(port_of(&a), 110);

	assert_int_equal(addr_parse("[::]:pop3", "1", &a, err,
	    sizeof(err)), 0);
	assert_int_equal(a.ca_any, 0);
	assert_string_equal(addr_of(&a, buf, sizeof(buf)), "::");
	assert_int_equal(port_of(&a), 110);

	assert_int_equal(addr_parse("10.0.0.1:pop3s", "110", &a, err,
	    sizeof(err)), 0);
	assert_int_equal(port_of(&a), 995);

	assert_int_equal(addr_parse("", "pop3s", &a, err,
	    sizeof(err)), 0);
	assert_int_equal(a.ca_any, 1);
	assert_int_equal(port_of(&a), 995);

	assert_int_equal(addr_parse("[fe80::1%1]:110", "110", &a, err,
	    sizeof(err)), 0);
	assert_int_equal(((struct sockaddr_in6 *)&a.ca_ss)->sin6_scope_id, 1);

	assert_int_equal(addr_parse("[::1", "110", &a, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "missing ]"));
	assert_int_equal(addr_parse("1.2.3.4:99999", "110", &a, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "out of range"));
	assert_int_equal(addr_parse("host.name:110", "110", &a, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "not a numeric"));
	assert_int_equal(addr_parse("1.2.3.4:nosuchservice", "110",
	    &a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown port"));
	assert_int_equal(addr_parse("1.2.3.4", NULL, &a, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "port is needed"));
	assert_int_equal(addr_parse("[1.2.3.4]:1", "110", &a, err,
	    sizeof(err)), -1);
	assert_int_equal(addr_parse("[]:1", "110", &a, err,
	    sizeof(err)), -1);
	assert_int_equal(addr_parse("127.1:1", "110", &a, err,
	    sizeof(err)), -1);
	assert_int_equal(addr_parse("1.2.3.4:-1", "110", &a, err,
	    sizeof(err)), -1);
}

/* apop 1 with crypt 1: a warning, APOP stays off, the file loads. */
static void
test_apop_crypt_warning(void **state)
{
	struct config_msgs	 m = { 0 };
	struct config		*cf;
	char			 want[1024];

	(void)state;
	cf = load("crypt 1\napop 1\n", &m);
	assert_non_null(cf);
	assert_int_equal(m.cm_nerrors, 0);
	assert_int_equal(cf->cf_apop, 1);
	assert_int_equal(cf->cf_apop_on, 0);
	assert_int_equal(m.cm_nwarnings, 1);
	snprintf(want, sizeof(want), "%s:2: warning: apop: ", confpath);
	assert_true(has_msg(m.cm_warnings, m.cm_nwarnings, want));
	assert_non_null(strstr(m.cm_warnings[0], "crypt 0"));
	config_free(cf);
	config_msgs_free(&m);

	/* crypt defaults to 1: same warning. */
	cf = load("\napop yes\n", &m);
	assert_non_null(cf);
	assert_int_equal(cf->cf_apop_on, 0);
	snprintf(want, sizeof(want), "%s:2: warning: apop: ", confpath);
	assert_true(has_msg(m.cm_warnings, m.cm_nwarnings, want));
	config_free(cf);
	config_msgs_free(&m);

	/* The order of the lines does not matter. */
	cf = load("apop 1\ncrypt 0\n", &m);
	assert_non_null(cf);
	assert_int_equal(cf->cf_apop_on, 1);
	assert_int_equal(m.cm_nwarnings, 0);
	config_free(cf);
	config_msgs_free(&m);
}

/* A file holding a password must not be readable by others. */
static void
test_permission_warning(void **state)
{
	struct config_msgs	 m = { 0 };
	struct config		*cf;
	char			 want[1024];

	(void)state;
	cf = config_load(write_conf("maxconn 5\nuserdb.password pw\n", 0644),
	    &m);
	assert_non_null(cf);
	assert_int_equal(m.cm_nerrors, 0);
	assert_int_equal(m.cm_nwarnings, 1);
	snprintf(want, sizeof(want), "%s:2: warning: userdb.password: %s ",
	    confpath, confpath);
	assert_true(has_msg(m.cm_warnings, m.cm_nwarnings, want));
	assert_non_null(strstr(m.cm_warnings[0], "0644"));
	config_free(cf);
	config_msgs_free(&m);

	cf = config_load(write_conf("loginfo.password pw\n", 0640), &m);
	assert_non_null(cf);
	assert_int_equal(m.cm_nwarnings, 1);
	assert_non_null(strstr(m.cm_warnings[0], "loginfo.password"));
	config_free(cf);
	config_msgs_free(&m);

	cf = config_load(write_conf("loginfo.password pw\n", 0600), &m);
	assert_non_null(cf);
	assert_int_equal(m.cm_nwarnings, 0);
	config_free(cf);
	config_msgs_free(&m);

	/* No password, no warning, whatever the mode. */
	cf = config_load(write_conf("maxconn 5\n", 0644), &m);
	assert_non_null(cf);
	assert_int_equal(m.cm_nwarnings, 0);
	config_free(cf);
	config_msgs_free(&m);
}

/* Messages: the formats of config.h. */
static void
test_msgs(void **state)
{
	struct config_msgs	 m = { 0 };

	(void)state;
	config_msg_add(&m, 1, "f.conf", 3, "maxconn", "bad %d", 7);
	config_msg_add(&m, 0, "f.conf", 4, "apop", "careful");
	config_msg_add(&m, 1, "f.conf", 0, NULL, "cannot open: %s", "gone");
	config_msg_add(&m, 1, "f.conf", 9, NULL, "plain");
	config_msg_add(NULL, 1, "f.conf", 9, NULL, "ignored");
	assert_int_equal(m.cm_nerrors, 3);
	assert_int_equal(m.cm_nwarnings, 1);
	assert_string_equal(m.cm_errors[0], "f.conf:3: maxconn: bad 7");
	assert_string_equal(m.cm_errors[1], "f.conf: cannot open: gone");
	assert_string_equal(m.cm_errors[2], "f.conf:9: plain");
	assert_string_equal(m.cm_warnings[0],
	    "f.conf:4: warning: apop: careful");
	config_msgs_free(&m);
	config_msgs_free(&m);
	assert_int_equal(m.cm_nwarnings, 0);
}

/* -b replaces every bindto. */
static void
test_override_bind(void **state)
{
	struct config_msgs	 m = { 0 };
	struct config		*cf;
	char			 err[256], buf[64];

	(void)state;
	cf = load("bindto 127.0.0.1:2110\nbindto 127.0.0.2:2110\n", &m);
	assert_non_null(cf);
	assert_int_equal(cf->cf_nbindto, 2);
	assert_int_equal(config_override_bind(cf, ":1110", err, sizeof(err)),
	    0);
	assert_int_equal(cf->cf_nbindto, 1);
	assert_int_equal(cf->cf_bindto[0].ca_any, 1);
	assert_int_equal(port_of(&cf->cf_bindto[0]), 1110);

	assert_int_equal(config_override_bind(cf, "127.0.0.1", err,
	    sizeof(err)), 0);
	assert_int_equal(cf->cf_nbindto, 1);
	assert_string_equal(addr_of(&cf->cf_bindto[0], buf, sizeof(buf)),
	    "127.0.0.1");
	assert_int_equal(port_of(&cf->cf_bindto[0]), 110);

	assert_int_equal(config_override_bind(cf, "[::1]:110", err,
	    sizeof(err)), 0);
	assert_string_equal(addr_of(&cf->cf_bindto[0], buf, sizeof(buf)),
	    "::1");
	assert_int_equal(port_of(&cf->cf_bindto[0]), 110);

	/* A bad -b leaves the listeners alone. */
	assert_int_equal(config_override_bind(cf, "[::1", err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "missing ]"));
	assert_int_equal(cf->cf_nbindto, 1);
	assert_string_equal(cf->cf_bindto[0].ca_text, "[::1]:110");
	config_free(cf);

	/* From the defaults (no bindto at all). */
	cf = config_default();
	assert_non_null(cf);
	assert_int_equal(config_override_bind(cf, ":pop3", err, sizeof(err)),
	    0);
	assert_int_equal(cf->cf_nbindto, 1);
	assert_int_equal(port_of(&cf->cf_bindto[0]), 110);
	config_free(cf);
	config_msgs_free(&m);
}

/* trusted: v4, v6, and v4-mapped v6 matched as v4. */
static void
test_is_trusted(void **state)
{
	struct config_msgs	 m = { 0 };
	struct config		*cf;
	struct sockaddr_storage	 ss, other;

	(void)state;
	cf = load("trusted 10.0.0.0/8 192.0.2.7\n"
	    "trusted 2001:db8::/32 ::1\n"
	    "trusted ::ffff:198.51.100.0/120 172.16.5.9/12\n", &m);
	if (cf == NULL)
		dump_msgs(&m);
	assert_non_null(cf);
#define T(ssv)	config_is_trusted(cf, (struct sockaddr *)&(ssv))
	ss = sa4("10.1.2.3");
	assert_true(T(ss));
	ss = sa4("11.0.0.1");
	assert_false(T(ss));
	ss = sa4("192.0.2.7");
	assert_true(T(ss));
	ss = sa4("192.0.2.8");
	assert_false(T(ss));
	ss = sa4("172.31.255.255");	/* host bits of 172.16.5.9/12 */
	assert_true(T(ss));
	ss = sa4("172.32.0.0");
	assert_false(T(ss));
	ss = sa4("198.51.100.200");	/* from the mapped v6 block */
	assert_true(T(ss));
	ss = sa6("2001:db8:1::5");
	assert_true(T(ss));
	ss = sa6("2001:db9::5");
	assert_false(T(ss));
	ss = sa6("::1");
	assert_true(T(ss));
	ss = sa6("::2");
	assert_false(T(ss));
	ss = sa6("::ffff:10.9.9.9");	/* mapped: matched as v4 */
	assert_true(T(ss));
	ss = sa6("::ffff:11.9.9.9");
	assert_false(T(ss));
	ss = sa6("::ffff:198.51.100.1");
	assert_true(T(ss));
	ss = sa6("::10.9.9.9");		/* compatible, not mapped */
	assert_false(T(ss));
	memset(&other, 0, sizeof(other));
	other.ss_family = AF_UNIX;
	assert_false(config_is_trusted(cf, (struct sockaddr *)&other));
	assert_false(config_is_trusted(cf, NULL));
	config_free(cf);

	/* 0.0.0.0/0 trusts every v4 peer, but no v6 peer. */
	cf = load("trusted 0.0.0.0/0\n", &m);
	assert_non_null(cf);
	ss = sa4("203.0.113.9");
	assert_true(T(ss));
	ss = sa6("::ffff:203.0.113.9");
	assert_true(T(ss));
	ss = sa6("2001:db8::1");
	assert_false(T(ss));
#undef T
	config_free(cf);

	/* No trusted lines: nobody. */
	cf = config_default();
	ss = sa4("127.0.0.1");
	assert_false(config_is_trusted(cf, (struct sockaddr *)&ss));
	config_free(cf);
	config_msgs_free(&m);
}

/* Limits of the accumulating lists. */
static void
test_list_limits(void **state)
{
	char	*text;
	size_t	 i, off = 0, sz = 8192;

	(void)state;
	text = malloc(sz);
	assert_non_null(text);
	for (i = 0; i < CONFIG_MAXADDRS + 1; i++)
		off += (size_t)snprintf(text + off, sz - off,
		    "bindto 127.0.0.1:%zu\n", 1000 + i);
	expect_error(text, CONFIG_MAXADDRS + 1, "bindto", "more than 64");
	off = 0;
	for (i = 0; i < CONFIG_MAXRULES + 1; i++)
		off += (size_t)snprintf(text + off, sz - off,
		    "whoson.allow ^u%zu$\n", i);
	expect_error(text, CONFIG_MAXRULES + 1, "whoson.allow", "more than");
	off = 0;
	for (i = 0; i < CONFIG_MAXTRUSTED + 1; i++)
		off += (size_t)snprintf(text + off, sz - off,
		    "trusted 10.0.%zu.0/24\n", i);
	expect_error(text, CONFIG_MAXTRUSTED + 1, "trusted", "more than");
	free(text);
}

/* A NUL byte in a line is an error at that line. */
static void
test_nul_byte(void **state)
{
	struct config_msgs	 m = { 0 };
	FILE			*fp;
	char			 want[1024];

	(void)state;
	fp = fopen(confpath, "w");
	assert_non_null(fp);
	fwrite("maxconn 5\nmaxconn 6\0x\n", 1, 22, fp);
	fclose(fp);
	assert_null(config_load(confpath, &m));
	snprintf(want, sizeof(want), "%s:2: NUL byte", confpath);
	assert_true(has_msg(m.cm_errors, m.cm_nerrors, want));
	config_msgs_free(&m);
}

/* Regex cost: ordinary patterns pass, repetition bombs are refused. */
static void
test_regex_cost(void **state)
{
	(void)state;
	assert_int_equal(regex_cost("a"), 1);
	assert_int_equal(regex_cost("a+"), 2);
	assert_int_equal(regex_cost("a{5}"), 5);
	assert_int_equal(regex_cost("ab|cd"), 4);
	assert_int_equal(regex_cost("[a-z]+"), 2);
	assert_int_equal(regex_cost("[]+]"), 1);
	assert_true(regex_cost("\\+([^%@/]*)") < 10);
	assert_true(regex_cost("/([^%@+]*)") < 10);
	assert_true(regex_cost("(a+)+") < 10);
	/* Stacked plusses double the tree each time. */
	assert_true(regex_cost("/++++++++++++++++++++++++++++++") >
	    REGEX_MAXCOST);
	assert_true(regex_cost("((a{100}){100}){100}") >
	    REGEX_MAXCOST);
	assert_true(regex_cost("(((((((((((((((((a+)+)+)+)+)+)+)+)+)+)"
	    "+)+)+)+)+)+)+)+") > REGEX_MAXCOST);
	assert_true(regex_cost("a{99999999999999999999}") >
	    REGEX_MAXCOST);
	expect_error("useropt /(a)++++++++++++++++++++++++++++++++++++\n", 1,
	    "useropt", "too complex");
	expect_error("whoson.allow x{1000}{1000}\n", 1, "whoson.allow",
	    "too complex");
}

/*
 * Regexes with few nodes but many epsilon moves, which glibc's regcomp()
 * takes seconds or hours over (fuzz_config found the first): refused,
 * while ordinary ones still pass, and what passes compiles at once.
 */
static void
test_regex_epsilon(void **state)
{
	static const char *bombs[] = {
		/* corpus/fuzz_config/timeout-regex-stacked */
		"\\++\x84\x84\x84+\x84\x84]*++++++++++++++)",
		"a*+", "x]*+++++++++++", "(a*){5000}", "((a*){100}){100}",
		"(^(|){16}){2,50}", ")?)*(^(|){16}){2,50}", "a)", "x{1,300}",
		"(((((((a*)+)+)+)+)+)+)", "((.*)*){100}",
	};
	static const char *fine[] = {
		"[a-z]{1,64}", "([a-z]+\\.)*[a-z]+@", "^(joe|ann)$", "(a*){64}",
		"((a*)*){32}", "(((((a*)*)*)*)*){12}", "a{20000}",
		"(a|b){6000}",
	};
	struct timespec	 t0, t1;
	regex_t		 re;
	char		 buf[256], *p;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bombs) / sizeof(bombs[0]); i++)
		assert_true(regex_cost(bombs[i]) > REGEX_MAXCOST);
	for (i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
		assert_true(regex_cost(fine[i]) <= REGEX_MAXCOST);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(regcomp(&re, fine[i], REG_EXTENDED), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		regfree(&re);
		/* Milliseconds here; a generous bound for a loaded machine. */
		assert_true((t1.tv_sec - t0.tv_sec) * 1000000000L +
		    (t1.tv_nsec - t0.tv_nsec) < 500000000L);
	}
	/*
	 * The bound itself must be cheap: giving up inside a group once
	 * re-parsed the rest at every level (corpus/fuzz_config/
	 * timeout-regex-bail took 17 s). Thirty nested groups, each with a
	 * quantifier, then sixty-four stars.
	 */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_true(regex_cost("((((((((((((((((((((((((((((((a+)+)+)+"
	    ")+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+") >
	    REGEX_MAXCOST);
	for (p = buf, i = 0; i < 64; i++)
		*p++ = '(';
	*p++ = 'a';
	*p++ = '*';
	for (i = 0; i < 64; i++) {
		*p++ = ')';
		*p++ = '*';
	}
	*p = '\0';
	assert_true(regex_cost(buf) > REGEX_MAXCOST);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000000000L +
	    (t1.tv_nsec - t0.tv_nsec) < 100000000L);
	expect_error("folder \\+(a*){5000}\n", 1, "folder", "too complex");
	expect_error("useropt /(x)*+\n", 1, "useropt", "too complex");
	expect_error("whoson.deny a)b\n", 1, "whoson.deny", "opens nothing");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_regex_cost),
		cmocka_unit_test(test_regex_epsilon),
		cmocka_unit_test(test_comments_blanks),
		cmocka_unit_test(test_cannot_open),
		cmocka_unit_test(test_numbers_good),
		cmocka_unit_test(test_durations_booleans_good),
		cmocka_unit_test(test_strings_good),
		cmocka_unit_test(test_addresses_good),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_combinations),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_last_wins_accumulate),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_parse_addr),
		cmocka_unit_test(test_apop_crypt_warning),
		cmocka_unit_test(test_permission_warning),
		cmocka_unit_test(test_msgs),
		cmocka_unit_test(test_override_bind),
		cmocka_unit_test(test_is_trusted),
		cmocka_unit_test(test_list_limits),
		cmocka_unit_test(test_nul_byte),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
