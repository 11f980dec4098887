/* Unit tests for userdb.c: the passwd(5) parser, file reloads, hashes. */

#include <sys/stat.h>
#include <sys/types.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "passwd.h"
#include "userdb.h"
#include "userdb_file.h"
#include "fixture.h"

#define NTHREADS	4

struct hashkind {
	const char	*hk_prefix;	/* for crypt_gensalt_rn */
	const char	*hk_name;
};

static const struct hashkind hashkinds[] = {
	{ "$y$", "yescrypt" },
	{ "$6$", "sha512crypt" },
	{ "$5$", "sha256crypt" },
	{ "$2b$", "bcrypt" },
	{ "$1$", "md5crypt" },
	{ "", "DES" },
};

static char	 tmpdir[PATH_MAX];

static void	 make_hash(const char *, const char *, char *, size_t);
static void	 write_file(const char *, const char *, time_t, long);
static void	 replace_file(const char *, const char *, time_t);
static struct config *file_config(const char *);
static struct userdb *file_open(const char *, struct config **);
static void	 file_close(struct userdb *, struct config *, char *);
static void	 expect_found(struct userdb *, const char *);
static char	*tmppath(const char *);
static int	 msgs_have(const struct config_msgs *, int, const char *);
static void	*lookup_thread(void *);
static void	*verify_thread(void *);

/* Hash phrase with a fresh setting of the kind prefix names. */
static void
make_hash(const char *prefix, const char *phrase, char *out, size_t outsz)
{
	struct crypt_data	*cd;
	char			 setting[CRYPT_GENSALT_OUTPUT_SIZE];
	const char		*h;

	assert_non_null(cd = calloc(1, sizeof(*cd)));
	/* Traditional DES has no prefix: hand gensalt a valid one. */
	assert_non_null(crypt_gensalt_rn(prefix[0] ? prefix : "..",
	    prefix[0] == '$' && prefix[1] == '2' ? 5 : 0, NULL, 0, setting,
	    sizeof(setting)));
	assert_int_not_equal(setting[0], '*');
	assert_non_null(h = crypt_rn(phrase, setting, cd, sizeof(*cd)));
	assert_int_not_equal(h[0], '*');
	assert_true(strlen(h) < outsz);
	snprintf(out, outsz, "%s", h);
	free(cd);
}

/* Write content to path in place (same inode) and give it this mtime. */
static void
write_file(const char *path, const char *content, time_t mtime, long nsec)
{
	struct timespec	 ts[2];
	size_t		 len = strlen(content);
	int		 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	ts[0].tv_sec = mtime;
	ts[0].tv_nsec = nsec;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Replace path atomically: write a new file beside it, rename(2) it over. */
static void
replace_file(const char *path, const char *content, time_t mtime)
{
	char	 tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	write_file(tmp, content, mtime, 0);
	assert_int_equal(rename(tmp, path), 0);
}

/* A path in the test's temporary directory; the caller frees it. */
static char *
tmppath(const char *name)
{
	char	*p;

	assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
	return p;
}

/* The default configuration, with `userdb file path`. */
static struct config *
file_config(const char *path)
{
	struct config	*cf;

	assert_non_null(cf = config_default());
	cf->cf_userdb = USERDB_FILE;
	assert_non_null(cf->cf_userdb_path = strdup(path));
	return cf;
}

/* Open a `userdb file` database on path; *cfp is its configuration. */
static struct userdb *
file_open(const char *path, struct config **cfp)
{
	struct userdb	*db;
	char		 err[256];

	*cfp = file_config(path);
	assert_non_null(db = userdb_open(*cfp, err, sizeof(err)));
	return db;
}

/* Close what file_open() opened, and free the path. */
static void
file_close(struct userdb *db, struct config *cf, char *path)
{
	userdb_close(db);
	config_free(cf);
	free(path);
}

/* name is found; the entry is not looked at. */
static void
expect_found(struct userdb *db, const char *name)
{
	struct userdb_entry	 e;
	char			 err[256];

	assert_int_equal(userdb_lookup(db, name, &e, err, sizeof(err)),
	    USERDB_FOUND);
	userdb_entry_clear(&e);
}

/* Is there an error (or warning) containing text? */
static int
msgs_have(const struct config_msgs *m, int is_error, const char *text)
{
	char	**v = is_error ? m->cm_errors : m->cm_warnings;
	size_t	  n = is_error ? m->cm_nerrors : m->cm_nwarnings, i;

	for (i = 0; i < n; i++)
		if (strstr(v[i], text) != NULL)
			return 1;
	return 0;
}

static int
setup_all(void **state)
{
	(void)state;
	log_init("test_userdb", 1);
	return fixture_mkdtemp(tmpdir, sizeof(tmpdir), "test_userdb");
}

static int
teardown_all(void **state)
{
	(void)state;
	return fixture_rmtree(tmpdir);
}

/* A good line, parsed in place. */
static void
test_parse_good(void **state)
{
	struct userdb_entry	 e;
	char			 line[] = "joe:$6$salt$hash:1000:100:"
				    "Joe Q. Public,,,:/home/joe:/bin/sh";
	char			 line2[] = "max::4294967294:0::/:";
	char			 err[256];

	(void)state;
	assert_int_equal(userdb_file_parse_line(line, &e, err, sizeof(err)),
	    0);
	assert_string_equal(e.ue_name, "joe");
	assert_string_equal(e.ue_password, "$6$salt$hash");
	assert_int_equal(e.ue_uid, 1000);
	assert_int_equal(e.ue_gid, 100);
	assert_string_equal(e.ue_home, "/home/joe");
	assert_string_equal(e.ue_shell, "/bin/sh");
	/* The fields point into the line: nothing to free. */
	assert_ptr_equal(e.ue_name, line);

	/* Empty password, gecos and shell; the largest uid; gid 0. */
	assert_int_equal(userdb_file_parse_line(line2, &e, err, sizeof(err)),
	    0);
	assert_string_equal(e.ue_name, "max");
	assert_string_equal(e.ue_password, "");
	assert_int_equal(e.ue_uid, 4294967294U);
	assert_int_equal(e.ue_gid, 0);
	assert_string_equal(e.ue_home, "/");
	assert_string_equal(e.ue_shell, "");
}

/* Each kind of bad line is refused, with a reason. */
static void
test_parse_bad(void **state)
{
	static const struct {
		const char	*line;
		const char	*why;
	} bad[] = {
		{ "joe:pw:1000:100:gecos:/home/joe", "6 fields" },
		{ "joe:pw:1000:100:gecos:/home/joe:/bin/sh:extra", "8 fields" },
		{ "joe", "1 fields" },
		{ "", "1 fields" },
		{ ":pw:1000:100:gecos:/home/joe:/bin/sh", "empty user name" },
		{ "joe:pw::100:gecos:/home/joe:/bin/sh", "uid is empty" },
		{ "joe:pw:abc:100:gecos:/home/joe:/bin/sh",
		    "uid is not a number" },
		{ "joe:pw:-1:100:gecos:/home/joe:/bin/sh",
		    "uid is not a number" },
		{ "joe:pw:+5:100:gecos:/home/joe:/bin/sh",
		    "uid is not a number" },
		{ "joe:pw: 5:100:gecos:/home/joe:/bin/sh",
		    "uid is not a number" },
		{ "joe:pw:12x:100:gecos:/home/joe:/bin/sh",
		    "uid is not a number" },
		{ "joe:pw:4294967295:100:gecos:/home/joe:/bin/sh",
		    "uid out of range" },
		{ "joe:pw:99999999999999999999999:100:gecos:/home/joe:/bin/sh",
		    "uid out of range" },
		{ "joe:pw:1000:x:gecos:/home/joe:/bin/sh",
		    "gid is not a number" },
		{ "joe:pw:1000:4294967296:gecos:/home/joe:/bin/sh",
		    "gid out of range" },
		{ "joe:pw:1000:100:gecos:home/joe:/bin/sh", "absolute path" },
		{ "joe:pw:1000:100:gecos::/bin/sh", "absolute path" },
	};
	struct userdb_entry	 e;
	char			 line[256], err[256];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "%s", bad[i].line);
		err[0] = '\0';
		if (userdb_file_parse_line(line, &e, err, sizeof(err)) != -1)
			fail_msg("accepted: %s", bad[i].line);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("%s: reason \"%s\", expected \"%s\"",
			    bad[i].line, err, bad[i].why);
		/* A reason never quotes the fields (it could be a password). */
		assert_null(strstr(err, "pw"));
	}
}

/* A file db: found, not found, fields, bad lines skipped, first wins. */
static void
test_file_lookup(void **state)
{
	struct userdb_entry	 e;
	struct userdb		*db;
	struct config		*cf;
	char			 err[256], *path = tmppath("basic");

	(void)state;
	write_file(path,
	    "# accounts\n"
	    "\n"
	    "   \t\n"
	    "alice:pwa:1001:1001:Alice:/home/alice:/bin/sh\n"
	    "broken:pw:1002:1002:Broken:/home/broken\n"
	    "bob:pwb:1003:1004:Bob:/var/mail/bob:\r\n"
	    "bad:pw:1005:1005::relative/home:/bin/sh\n"
	    "alice:second:1006:1006:Alice again:/home/alice2:/bin/sh\n"
	    "  # indented comment\n"
	    "carol:pwc:1007:1008::/home/carol:/bin/false",	/* no NL */
	    1000000000, 0);
	cf = file_config(path);
	assert_non_null(db = userdb_open(cf, err, sizeof(err)));
	/* The database has its own copy of what it needs. */
	config_free(cf);

	assert_int_equal(userdb_lookup(db, "alice", &e, err, sizeof(err)),
	    USERDB_FOUND);
	assert_string_equal(e.ue_name, "alice");
	assert_string_equal(e.ue_password, "pwa");	/* first line wins */
	assert_int_equal(e.ue_uid, 1001);
	assert_int_equal(e.ue_gid, 1001);
	assert_string_equal(e.ue_home, "/home/alice");
	assert_string_equal(e.ue_shell, "/bin/sh");
	userdb_entry_clear(&e);
	assert_null(e.ue_name);
	assert_null(e.ue_password);

	/* After a malformed line, the others still serve; CRLF is fine. */
	assert_int_equal(userdb_lookup(db, "bob", &e, err, sizeof(err)),
	    USERDB_FOUND);
	assert_string_equal(e.ue_password, "pwb");
	assert_int_equal(e.ue_uid, 1003);
	assert_int_equal(e.ue_gid, 1004);
	assert_string_equal(e.ue_home, "/var/mail/bob");
	assert_string_equal(e.ue_shell, "");
	userdb_entry_clear(&e);

	assert_int_equal(userdb_lookup(db, "carol", &e, err, sizeof(err)),
	    USERDB_FOUND);
	assert_string_equal(e.ue_shell, "/bin/false");
	userdb_entry_clear(&e);

	assert_int_equal(userdb_lookup(db, "broken", &e, err, sizeof(err)),
	    USERDB_NOTFOUND);
	assert_null(e.ue_name);
	assert_int_equal(userdb_lookup(db, "bad", &e, err, sizeof(err)),
	    USERDB_NOTFOUND);
	assert_int_equal(userdb_lookup(db, "nobody", &e, err, sizeof(err)),
	    USERDB_NOTFOUND);
	assert_int_equal(userdb_lookup(db, "", &e, err, sizeof(err)),
	    USERDB_NOTFOUND);
	assert_int_equal(userdb_lookup(db, "# accounts", &e, err,
	    sizeof(err)), USERDB_NOTFOUND);
	assert_int_equal(userdb_lookup(db, "alice:pwa", &e, err, sizeof(err)),
	    USERDB_NOTFOUND);
	assert_int_equal(userdb_lookup(db, "Alice", &e, err, sizeof(err)),
	    USERDB_NOTFOUND);
	userdb_close(db);
	free(path);
}

/* A line with a NUL byte in it is skipped, not cut short. */
static void
test_file_nul(void **state)
{
	static const char	 text[] = "ann:pw\0x:1:1::/home/ann:\n"
				    "ben:pw:2:2::/home/ben:\n";
	struct userdb_entry	 e;
	struct userdb		*db;
	struct config		*cf;
	char			 err[256], *path = tmppath("nul");
	int			 fd;

	(void)state;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1),
	    (ssize_t)sizeof(text) - 1);
	close(fd);
	db = file_open(path, &cf);
	assert_int_equal(userdb_lookup(db, "ann", &e, err, sizeof(err)),
	    USERDB_NOTFOUND);
	expect_found(db, "ben");
	file_close(db, cf, path);
}

/* Edited in place, replaced by rename, removed, restored: all seen. */
static void
test_file_reload(void **state)
{
	struct userdb_entry	 e;
	struct userdb		*db;
	struct config		*cf;
	struct stat		 st;
	char			 err[256], *path = tmppath("reload");
	ino_t			 ino;

	(void)state;
	write_file(path, "dave:old1:2000:2000::/home/dave:\n", 1000000000, 0);
	db = file_open(path, &cf);
	assert_int_equal(userdb_lookup(db, "dave", &e, err, sizeof(err)),
	    USERDB_FOUND);
	assert_string_equal(e.ue_password, "old1");
	userdb_entry_clear(&e);

	/* Same inode, same size, a different password and mtime. */
	assert_int_equal(stat(path, &st), 0);
	ino = st.st_ino;
	write_file(path, "dave:new2:2000:2000::/home/dave:\n", 1000000000, 5);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_ino, ino);
	assert_int_equal(userdb_lookup(db, "dave", &e, err, sizeof(err)),
	    USERDB_FOUND);
	assert_string_equal(e.ue_password, "new2");
	userdb_entry_clear(&e);

	/* Replaced atomically by another file (a new inode). */
	replace_file(path, "dave:ren3:2001:2001::/home/dave:\n"
	    "erin:pwe:2002:2002::/home/erin:\n", 1000000100);
	assert_int_equal(userdb_lookup(db, "dave", &e, err, sizeof(err)),
	    USERDB_FOUND);
	assert_string_equal(e.ue_password, "ren3");
	assert_int_equal(e.ue_uid, 2001);
	userdb_entry_clear(&e);
	expect_found(db, "erin");

	/* Gone: TEMPFAIL with a reason, never NOTFOUND. */
	assert_int_equal(unlink(path), 0);
	err[0] = '\0';
	assert_int_equal(userdb_lookup(db, "dave", &e, err, sizeof(err)),
	    USERDB_TEMPFAIL);
	assert_null(e.ue_name);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, strerror(ENOENT)));
	assert_int_equal(userdb_lookup(db, "nobody", &e, err, sizeof(err)),
	    USERDB_TEMPFAIL);

	/* Back again. */
	write_file(path, "dave:back4:2000:2000::/home/dave:\n", 1000000200, 0);
	assert_int_equal(userdb_lookup(db, "dave", &e, err, sizeof(err)),
	    USERDB_FOUND);
	assert_string_equal(e.ue_password, "back4");
	userdb_entry_clear(&e);
	assert_int_equal(userdb_lookup(db, "erin", &e, err, sizeof(err)),
	    USERDB_NOTFOUND);

	/* Not a regular file: cannot be read, TEMPFAIL. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(userdb_lookup(db, "dave", &e, err, sizeof(err)),
	    USERDB_TEMPFAIL);
	assert_non_null(strstr(err, "not a regular file"));
	assert_int_equal(rmdir(path), 0);
	write_file(path, "dave:last5:2000:2000::/home/dave:\n", 1000000300, 0);
	assert_int_equal(userdb_lookup(db, "dave", &e, err, sizeof(err)),
	    USERDB_FOUND);
	assert_string_equal(e.ue_password, "last5");
	userdb_entry_clear(&e);

	file_close(db, cf, path);
}

/* A file that does not exist at open is a TEMPFAIL, not an open error. */
static void
test_file_missing_at_open(void **state)
{
	struct userdb_entry	 e;
	struct userdb		*db;
	struct config		*cf;
	char			 err[256], *path = tmppath("later");

	(void)state;
	db = file_open(path, &cf);
	assert_int_equal(userdb_lookup(db, "fay", &e, err, sizeof(err)),
	    USERDB_TEMPFAIL);
	write_file(path, "fay:pwf:3000:3000::/home/fay:\n", 1000000000, 0);
	expect_found(db, "fay");
	file_close(db, cf, path);
}

/* Opening: no path, mysql without a query, system. */
static void
test_open_kinds(void **state)
{
	struct userdb_entry	 e;
	struct userdb		*db;
	struct config		*cf;
	char			 err[256];

	(void)state;
	assert_non_null(cf = config_default());
	cf->cf_userdb = USERDB_FILE;
	err[0] = '\0';
	assert_null(userdb_open(cf, err, sizeof(err)));
	assert_non_null(strstr(err, "no path"));

	cf->cf_userdb = USERDB_MYSQL;
	assert_null(userdb_open(cf, err, sizeof(err)));
	assert_string_equal(err, "userdb mysql: no userdb.query");

	cf->cf_userdb = USERDB_SYSTEM;
	assert_non_null(db = userdb_open(cf, err, sizeof(err)));
	assert_int_equal(userdb_lookup(db, "root", &e, err, sizeof(err)),
	    USERDB_FOUND);
	assert_string_equal(e.ue_name, "root");
	assert_int_equal(e.ue_uid, 0);
	assert_int_equal(e.ue_gid, 0);
	assert_non_null(e.ue_password);
	assert_non_null(e.ue_home);
	assert_int_equal(e.ue_home[0], '/');
	userdb_entry_clear(&e);
	assert_int_equal(userdb_lookup(db, "no-such-user-popserv", &e, err,
	    sizeof(err)), USERDB_NOTFOUND);
	userdb_dummy(db, "secret", 6, 1);
	userdb_close(db);
	userdb_close(NULL);
	config_free(cf);
}

/* popserv -t: one error per bad line, and for an unreadable file. */
static void
test_check(void **state)
{
	struct config_msgs	 msgs;
	struct config		*cf;
	char			 want[PATH_MAX + 64];
	char			*path = tmppath("check");

	(void)state;
	memset(&msgs, 0, sizeof(msgs));
	write_file(path,
	    "# test\n"
	    "ok:$6$abcdefgh$0123456789:1:1::/home/ok:\n"
	    "short:x:1:1\n"
	    "plain:secret:2:2::/home/plain:\n"
	    "neg:pw:-3:3::/home/neg:\n"
	    "ok:$6$abcdefgh$x:1:1::/home/ok:\n"
	    "locked:!$6$abcdefgh$0123456789:4:4::/home/locked:\n",
	    1000000000, 0);
	assert_int_equal(chmod(path, 0644), 0);
	cf = file_config(path);
	assert_int_equal(userdb_check(cf, &msgs), 2);
	assert_int_equal(msgs.cm_nerrors, 2);
	snprintf(want, sizeof(want), "%s:3: userdb: ", path);
	assert_true(msgs_have(&msgs, 1, want));
	snprintf(want, sizeof(want), "%s:5: userdb: uid is not a number",
	    path);
	assert_true(msgs_have(&msgs, 1, want));
	/* Warnings: duplicate, plaintext under crypt 1, world-readable. */
	snprintf(want, sizeof(want), "%s:6: warning: userdb: ", path);
	assert_true(msgs_have(&msgs, 0, want));
	assert_true(msgs_have(&msgs, 0, "already defined at line 2"));
	snprintf(want, sizeof(want), "%s:4: warning: userdb: ", path);
	assert_true(msgs_have(&msgs, 0, want));
	assert_true(msgs_have(&msgs, 0, "readable by everyone"));
	assert_false(msgs_have(&msgs, 0, "\"locked\""));
	/* No password appears in any message. */
	assert_false(msgs_have(&msgs, 1, "secret"));
	assert_false(msgs_have(&msgs, 0, "secret"));
	config_msgs_free(&msgs);

	/* Unreadable (missing) file: one error. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(userdb_check(cf, &msgs), 1);
	assert_int_equal(msgs.cm_nerrors, 1);
	assert_true(msgs_have(&msgs, 1, strerror(ENOENT)));
	assert_true(msgs_have(&msgs, 1, path));
	config_msgs_free(&msgs);

	/* system: nothing to check. */
	cf->cf_userdb = USERDB_SYSTEM;
	assert_int_equal(userdb_check(cf, &msgs), 0);
	assert_int_equal(msgs.cm_nerrors, 0);
	config_msgs_free(&msgs);
	config_free(cf);
	free(path);
}

/* Every hash kind: the right password matches, a wrong one does not. */
static void
test_verify_hashes(void **state)
{
	char	 h[CRYPT_OUTPUT_SIZE], locked[CRYPT_OUTPUT_SIZE + 1];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(hashkinds) / sizeof(hashkinds[0]); i++) {
		make_hash(hashkinds[i].hk_prefix, "Tr0ub4dor&3", h, sizeof(h));
		print_message("%s: %s\n", hashkinds[i].hk_name, h);
		assert_int_equal(passwd_verify(h, "Tr0ub4dor&3", 11, 1), 1);
		assert_int_equal(passwd_verify(h, "tr0ub4dor&3", 11, 1), 0);
		assert_int_equal(passwd_verify(h, "Tr0ub4d", 7, 1), 0);
		assert_int_equal(passwd_verify(h, "", 0, 1), 0);
		/* DES looks at 8 characters only; the others at all. */
		if (hashkinds[i].hk_prefix[0] != '\0') {
			assert_int_equal(passwd_verify(h, "Tr0ub4dor&4", 11, 1),
			    0);
			assert_int_equal(passwd_verify(h, "Tr0ub4dor&", 10, 1),
			    0);
		}
		/* secretlen counts, not the NUL: "Tr0ub4dor&3xyz" cut to 11. */
		assert_int_equal(passwd_verify(h, "Tr0ub4dor&3xyz", 11, 1), 1);
		/* A NUL inside the secret matches nothing. */
		assert_int_equal(passwd_verify(h, "Tr0ub4dor&3\0", 12, 1), 0);
		/* Plaintext mode compares literally: not with the hash. */
		assert_int_equal(passwd_verify(h, "Tr0ub4dor&3", 11, 0), 0);
		/* Locked with usermod -L: never matches. */
		snprintf(locked, sizeof(locked), "!%s", h);
		assert_int_equal(passwd_verify(locked, "Tr0ub4dor&3", 11, 1),
		    0);
	}
	/* DES only looks at 8 characters. */
	make_hash("", "password", h, sizeof(h));
	assert_int_equal(passwd_verify(h, "password123", 11, 1), 1);
}

/* Values that are not hashes never match, whatever the secret. */
static void
test_verify_invalid(void **state)
{
	static const char *const invalid[] = {
		"", "*", "!", "!!", "x", "*LK*", "*NP*", "!*", "a", "$6$",
		"$y$", "$2b$05$", "ab",
	};
	size_t	 i, j;

	(void)state;
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		for (j = 0; j < sizeof(invalid) / sizeof(invalid[0]); j++)
			if (passwd_verify(invalid[i], invalid[j],
			    strlen(invalid[j]), 1))
				fail_msg("stored \"%s\" matched \"%s\"",
				    invalid[i], invalid[j]);
		assert_int_equal(passwd_verify(invalid[i], "secret", 6, 1), 0);
	}
	/* A secret too long for crypt(3) matches nothing. */
	{
		char	 big[CRYPT_MAX_PASSPHRASE_SIZE + 10];

		memset(big, 'a', sizeof(big));
		assert_int_equal(passwd_verify("$6$x$y", big, sizeof(big), 1),
		    0);
		userdb_dummy(NULL, big, sizeof(big), 1);
	}
	assert_int_equal(passwd_verify(NULL, "x", 1, 1), 0);
}

/* Plaintext passwords: exact, constant-time comparison. */
static void
test_verify_plain(void **state)
{
	(void)state;
	assert_int_equal(passwd_verify("s3cret pass", "s3cret pass", 11, 0),
	    1);
	assert_int_equal(passwd_verify("s3cret pass", "s3cret pasS", 11, 0),
	    0);
	assert_int_equal(passwd_verify("s3cret pass", "s3cret pas", 10, 0), 0);
	assert_int_equal(passwd_verify("s3cret pass", "s3cret passX", 12, 0),
	    0);
	assert_int_equal(passwd_verify("s3cret", "s3cret pass", 6, 0), 1);
	assert_int_equal(passwd_verify("s3cret", "", 0, 0), 0);
	assert_int_equal(passwd_verify("abc", "abc\0", 4, 0), 0);
	/* An empty stored password matches nothing, not even "". */
	assert_int_equal(passwd_verify("", "", 0, 0), 0);
	assert_int_equal(passwd_verify("", "x", 1, 0), 0);
	userdb_dummy(NULL, "secret", 6, 0);
}

struct lookup_arg {
	struct userdb	*la_db;
	atomic_int	*la_done;	/* the file will change no more */
	int		 la_n;		/* lookups made */
	int		 la_found;
	int		 la_bad;
	char		 la_err[256];
};

/* Look carol up until told to stop; count inconsistent answers. */
static void *
lookup_thread(void *arg)
{
	struct lookup_arg	*la = arg;
	struct userdb_entry	 e;
	enum userdb_status	 st;
	int			 i;

	for (i = 0; i < 100 || !atomic_load(la->la_done); i++) {
		la->la_n++;
		st = userdb_lookup(la->la_db, "carol", &e, la->la_err,
		    sizeof(la->la_err));
		if (st != USERDB_FOUND) {
			la->la_bad++;
			continue;
		}
		la->la_found++;
		/* Version A: pwA, uid 1111; version B: pwB, uid 2222. */
		if (!(strcmp(e.ue_password, "pwA") == 0 && e.ue_uid == 1111 &&
		    strcmp(e.ue_home, "/home/a") == 0) &&
		    !(strcmp(e.ue_password, "pwB") == 0 && e.ue_uid == 2222 &&
		    strcmp(e.ue_home, "/home/bbbbbbbb") == 0))
			la->la_bad++;
		userdb_entry_clear(&e);
	}
	return NULL;
}

/* Lookups from several threads while the file is replaced under them. */
static void
test_concurrent(void **state)
{
	static const char	 va[] =
	    "alice:x:1:1::/home/alice:\n"
	    "carol:pwA:1111:1111::/home/a:\n";
	static const char	 vb[] =
	    "# version B, a different size\n"
	    "carol:pwB:2222:2222::/home/bbbbbbbb:\n"
	    "zed:x:3:3::/home/zed:\n";
	struct lookup_arg	 la[NTHREADS];
	pthread_t		 tid[NTHREADS];
	atomic_int		 done = 0;
	struct userdb_entry	 e;
	struct userdb		*db;
	struct config		*cf;
	char			 err[256], *path = tmppath("concurrent");
	int			 i;

	(void)state;
	write_file(path, va, 1000000000, 0);
	db = file_open(path, &cf);
	for (i = 0; i < NTHREADS; i++) {
		memset(&la[i], 0, sizeof(la[i]));
		la[i].la_db = db;
		la[i].la_done = &done;
		assert_int_equal(pthread_create(&tid[i], NULL, lookup_thread,
		    &la[i]), 0);
	}
	for (i = 0; i < 400; i++)
		replace_file(path, i % 2 ? va : vb, 1000000001 + i);
	atomic_store(&done, 1);
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		if (la[i].la_bad != 0)
			fail_msg("thread %d: %d bad answers (%s)", i,
			    la[i].la_bad, la[i].la_err);
		assert_int_equal(la[i].la_found, la[i].la_n);
		print_message("thread %d: %d lookups\n", i, la[i].la_n);
	}
	/* The last version written (i = 399: va) is the one served. */
	assert_int_equal(userdb_lookup(db, "carol", &e, err, sizeof(err)),
	    USERDB_FOUND);
	assert_string_equal(e.ue_password, "pwA");
	userdb_entry_clear(&e);
	file_close(db, cf, path);
}

struct verify_arg {
	const char	*va_hash;
	int		 va_ok;
};

/* Verify right and wrong passwords a few times (crypt_rn per thread). */
static void *
verify_thread(void *arg)
{
	struct verify_arg	*va = arg;
	int			 i;

	for (i = 0; i < 5; i++) {
		if (passwd_verify(va->va_hash, "right", 5, 1) == 1 &&
		    passwd_verify(va->va_hash, "wrong", 5, 1) == 0)
			va->va_ok++;
	}
	return NULL;
}

/* passwd_verify from several threads at once. */
static void
test_verify_concurrent(void **state)
{
	struct verify_arg	 va[NTHREADS];
	pthread_t		 tid[NTHREADS];
	char			 h[NTHREADS][CRYPT_OUTPUT_SIZE];
	int			 i;

	(void)state;
	for (i = 0; i < NTHREADS; i++) {
		make_hash(i % 2 ? "$6$" : "$2b$", "right", h[i],
		    sizeof(h[i]));
		va[i].va_hash = h[i];
		va[i].va_ok = 0;
		assert_int_equal(pthread_create(&tid[i], NULL, verify_thread,
		    &va[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(va[i].va_ok, 5);
	}
}

/* The dummy check runs for every kind of database and mode. */
static void
test_dummy(void **state)
{
	struct userdb_entry	 e;
	struct userdb		*db;
	struct config		*cf;
	char			 h[CRYPT_OUTPUT_SIZE], text[1024], err[256];
	char			*path = tmppath("dummy");
	double			 t0, tverify, tdummy;

	(void)state;
	/* A yescrypt site: the first valid hash sets the dummy's kind. */
	make_hash("$y$", "realpw", h, sizeof(h));
	snprintf(text, sizeof(text),
	    "locked:!:1:1::/home/locked:\n"
	    "yann:%s:1000:1000::/home/yann:\n", h);
	write_file(path, text, 1000000000, 0);
	cf = file_config(path);
	assert_non_null(db = userdb_open(cf, err, sizeof(err)));
	assert_int_equal(userdb_lookup(db, "nobody", &e, err, sizeof(err)),
	    USERDB_NOTFOUND);
	t0 = fixture_now_ms();
	userdb_dummy(db, "guess", 5, 1);
	tdummy = fixture_now_ms() - t0;
	t0 = fixture_now_ms();
	assert_int_equal(passwd_verify(h, "guess", 5, 1), 0);
	tverify = fixture_now_ms() - t0;
	print_message("yescrypt: verify %.1f ms, dummy %.1f ms\n", tverify,
	    tdummy);
	userdb_dummy(db, "guess", 5, 0);
	userdb_dummy(db, "", 0, 1);
	userdb_close(db);

	/* A file with no hash at all: the system's preferred method. */
	write_file(path, "pat:plain:1:1::/home/pat:\n", 1000000001, 0);
	assert_non_null(db = userdb_open(cf, err, sizeof(err)));
	assert_int_equal(userdb_lookup(db, "nobody", &e, err, sizeof(err)),
	    USERDB_NOTFOUND);
	userdb_dummy(db, "guess", 5, 1);
	userdb_dummy(db, "guess", 5, 0);
	userdb_close(db);

	/* A file that is missing. */
	assert_int_equal(unlink(path), 0);
	assert_non_null(db = userdb_open(cf, err, sizeof(err)));
	assert_int_equal(userdb_lookup(db, "nobody", &e, err, sizeof(err)),
	    USERDB_TEMPFAIL);
	userdb_dummy(db, "guess", 5, 1);
	userdb_close(db);

	userdb_dummy(NULL, "guess", 5, 1);
	config_free(cf);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_file_lookup),
		cmocka_unit_test(test_file_nul),
		cmocka_unit_test(test_file_reload),
		cmocka_unit_test(test_file_missing_at_open),
		cmocka_unit_test(test_open_kinds),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_verify_hashes),
		cmocka_unit_test(test_verify_invalid),
		cmocka_unit_test(test_verify_plain),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_verify_concurrent),
		cmocka_unit_test(test_dummy),
	};

	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
