/*
 * Unit tests for auth.c: splitting a login into account, folder and
 * option (docs/configuration.md, "Handoff to popit"), and auth_run()
 * against a real passwd-format file.
 */

#include <sys/stat.h>

#include <crypt.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "apop.h"
#include "auth.h"
#include "config.h"
#include "userdb.h"
#include "fixture.h"

static char	 tmpdir[PATH_MAX];

/* Write text to name under tmpdir; returns the path (static buffer). */
static const char *
write_tmp(const char *name, const char *text)
{
	static char	 path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return fixture_write(path, text, 0644);
}

/* Load a configuration from text; it must be valid. */
static struct config *
load(const char *text)
{
	char	 path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/popserv.conf", tmpdir);
	return fixture_load(path, text, 0644, NULL);
}

/* A temporary directory for the files of each test. */
static int
setup(void **state)
{
	(void)state;
	return fixture_mkdtemp(tmpdir, sizeof(tmpdir), "test_auth");
}

/* Remove the test's directory and everything in it. */
static int
teardown(void **state)
{
	(void)state;
	return fixture_rmtree(tmpdir);
}

/* auth_split_login() into the caller's buffers. */
static int
split(const struct config *cf, const char *login, char *acct, size_t acctsz,
    char *folder, size_t foldersz, char *opt, size_t optsz, int *has)
{
	struct auth_split	 as = { acct, acctsz, folder, foldersz, opt,
				    optsz, 0 };
	int			 r;

	r = auth_split_login(cf, login, &as);
	*has = as.as_has_option;
	return r;
}

/* joe+work/lite is account joe, folder work, option lite. */
static void
test_split_spec_example(void **state)
{
	struct config	*cf;
	char		 acct[64], folder[64], opt[64];
	int		 has;

	(void)state;
	cf = load("folder \\+([^%@/]*)\nuseropt /([^%@+]*)\n");
	assert_int_equal(split(cf, "joe+work/lite", acct,
	    sizeof(acct), folder, sizeof(folder), opt, sizeof(opt), &has), 0);
	assert_string_equal(acct, "joe");
	assert_string_equal(folder, "work");
	assert_string_equal(opt, "lite");
	assert_true(has);

	/* Either part alone, and neither. */
	split(cf, "joe/lite", acct, sizeof(acct), folder,
	    sizeof(folder), opt, sizeof(opt), &has);
	assert_string_equal(acct, "joe");
	assert_string_equal(folder, "");
	assert_string_equal(opt, "lite");
	split(cf, "joe+spam", acct, sizeof(acct), folder,
	    sizeof(folder), opt, sizeof(opt), &has);
	assert_string_equal(acct, "joe");
	assert_string_equal(folder, "spam");
	assert_false(has);
	split(cf, "joe@example.org", acct, sizeof(acct), folder,
	    sizeof(folder), opt, sizeof(opt), &has);
	assert_string_equal(acct, "joe@example.org");
	assert_string_equal(folder, "");
	assert_false(has);
	/* An empty option still counts as given. */
	split(cf, "joe/", acct, sizeof(acct), folder,
	    sizeof(folder), opt, sizeof(opt), &has);
	assert_string_equal(acct, "joe");
	assert_true(has);
	assert_string_equal(opt, "");
	config_free(cf);
}

/* Without folder/useropt the login is the account, unchanged. */
static void
test_split_plain(void **state)
{
	struct config	*cf;
	char		 acct[64], folder[64], opt[64];
	int		 has;

	(void)state;
	cf = load("");
	assert_int_equal(split(cf, "joe+work/lite", acct,
	    sizeof(acct), folder, sizeof(folder), opt, sizeof(opt), &has), 0);
	assert_string_equal(acct, "joe+work/lite");
	assert_string_equal(folder, "");
	assert_false(has);
	/* Too long for the buffer: an error, not a truncated account. */
	assert_int_equal(split(cf, "0123456789", acct, 5, folder,
	    sizeof(folder), opt, sizeof(opt), &has), -1);
	config_free(cf);
}

/* A folder group larger than its buffer is refused. */
static void
test_split_folder_too_long(void **state)
{
	struct config	*cf;
	char		 acct[64], folder[4], opt[64];
	int		 has;

	(void)state;
	cf = load("folder \\+(.*)\n");
	assert_int_equal(split(cf, "joe+abcdef", acct,
	    sizeof(acct), folder, sizeof(folder), opt, sizeof(opt), &has), -1);
	config_free(cf);
}

/* A job for account with secret (or APOP digest when ts is set). */
static struct auth_job *
job(struct userdb *db, int hashed, const char *account, const char *secret)
{
	struct auth_job	*aj;

	assert_non_null(aj = calloc(1, sizeof(*aj)));
	aj->aj_userdb = db;
	aj->aj_hashed = hashed;
	snprintf(aj->aj_login, sizeof(aj->aj_login), "%s", account);
	snprintf(aj->aj_account, sizeof(aj->aj_account), "%s", account);
	snprintf(aj->aj_secret, sizeof(aj->aj_secret), "%s", secret);
	aj->aj_secretlen = strlen(secret);
	return aj;
}

/* auth_run against a hashed passwd file: ok, wrong, unknown, uid 0. */
static void
test_run_file(void **state)
{
	struct crypt_data	 cd;
	struct config		*cf;
	struct userdb		*db;
	struct auth_job		*aj;
	char			 text[1024], err[128], conf[PATH_MAX + 64];
	const char		*hash;

	(void)state;
	memset(&cd, 0, sizeof(cd));
	hash = crypt_r("secret", "$6$saltsalt$", &cd);
	assert_non_null(hash);
	snprintf(text, sizeof(text),
	    "joe:%s:1000:1000:Joe:/home/joe:/bin/sh\n"
	    "root2:%s:0:0:Root:/root:/bin/sh\n", hash, hash);
	write_tmp("passwd", text);
	snprintf(conf, sizeof(conf), "userdb file %s/passwd\n", tmpdir);
	cf = load(conf);
	assert_non_null(db = userdb_open(cf, err, sizeof(err)));

	aj = job(db, 1, "joe", "secret");
	auth_run(&aj->aj_work);
	assert_int_equal(aj->aj_status, AUTH_OK);
	assert_int_equal(aj->aj_uid, 1000);
	assert_int_equal(aj->aj_gid, 1000);
	assert_true(aj->aj_ngroups >= 1);
	assert_int_equal(aj->aj_groups[0], 1000);
	assert_string_equal(aj->aj_home, "/home/joe");
	assert_string_equal(aj->aj_shell, "/bin/sh");
	/* The account's copy (the stored hash) does not outlive the check. */
	assert_null(aj->aj_entry.ue_password);
	assert_null(aj->aj_entry.ue_home);
	/*
	 * Idempotent: the TERM drain child runs again a check that was cut
	 * short in the parent, over whatever result it had left. The secret
	 * is kept for that and wiped by auth_job_free().
	 */
	assert_int_equal(aj->aj_secretlen, strlen("secret"));
	aj->aj_status = AUTH_TEMPFAIL;
	snprintf(aj->aj_reason, sizeof(aj->aj_reason), "stale");
	free(aj->aj_home);
	assert_non_null(aj->aj_home = strdup("/stale"));
	auth_run(&aj->aj_work);
	assert_int_equal(aj->aj_status, AUTH_OK);
	assert_string_equal(aj->aj_reason, "");
	assert_string_equal(aj->aj_home, "/home/joe");
	assert_int_equal(aj->aj_uid, 1000);
	auth_job_free(aj);

	aj = job(db, 1, "joe", "wrong");
	auth_run(&aj->aj_work);
	assert_int_equal(aj->aj_status, AUTH_FAIL);
	assert_string_equal(aj->aj_reason, "wrong password");
	auth_job_free(aj);

	aj = job(db, 1, "nobody-here", "secret");
	auth_run(&aj->aj_work);
	assert_int_equal(aj->aj_status, AUTH_FAIL);
	assert_string_equal(aj->aj_reason, "unknown user");
	auth_job_free(aj);

	aj = job(db, 1, "root2", "secret");
	auth_run(&aj->aj_work);
	assert_int_equal(aj->aj_status, AUTH_FAIL);
	assert_string_equal(aj->aj_reason, "uid 0 refused");
	auth_job_free(aj);

	/* The file goes away: a temporary failure, never [AUTH]. */
	unlink(write_tmp("passwd", ""));
	aj = job(db, 1, "joe", "secret");
	auth_run(&aj->aj_work);
	assert_int_equal(aj->aj_status, AUTH_TEMPFAIL);
	auth_job_free(aj);

	userdb_close(db);
	config_free(cf);
}

/* APOP against a plaintext file, with the RFC 1939 example secret. */
static void
test_run_apop(void **state)
{
	static const char ts[] = "<1896.697170952@dbc.mtview.ca.us>";
	struct config	*cf;
	struct userdb	*db;
	struct auth_job	*aj;
	char		 err[128], conf[PATH_MAX + 64];

	(void)state;
	write_tmp("plain", "mrose:tanstaaf:1000:1000::/home/mrose:/bin/sh\n");
	snprintf(conf, sizeof(conf), "crypt 0\napop 1\nuserdb file %s/plain\n",
	    tmpdir);
	cf = load(conf);
	assert_true(cf->cf_apop_on);
	assert_non_null(db = userdb_open(cf, err, sizeof(err)));

	aj = job(db, 0, "mrose", "");
	aj->aj_apop = 1;
	snprintf(aj->aj_timestamp, sizeof(aj->aj_timestamp), "%s", ts);
	snprintf(aj->aj_digest, sizeof(aj->aj_digest), "%s",
	    "c4c9334bac560ecc979e58001b3e22fb");
	auth_run(&aj->aj_work);
	assert_int_equal(aj->aj_status, AUTH_OK);
	auth_job_free(aj);

	aj = job(db, 0, "mrose", "");
	aj->aj_apop = 1;
	snprintf(aj->aj_timestamp, sizeof(aj->aj_timestamp), "%s", ts);
	snprintf(aj->aj_digest, sizeof(aj->aj_digest), "%s",
	    "c4c9334bac560ecc979e58001b3e22fc");
	auth_run(&aj->aj_work);
	assert_int_equal(aj->aj_status, AUTH_FAIL);
	auth_job_free(aj);

	/* Plaintext PASS works on the same database. */
	aj = job(db, 0, "mrose", "tanstaaf");
	auth_run(&aj->aj_work);
	assert_int_equal(aj->aj_status, AUTH_OK);
	auth_job_free(aj);

	userdb_close(db);
	config_free(cf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_spec_example),
		cmocka_unit_test(test_split_plain),
		cmocka_unit_test(test_split_folder_too_long),
		cmocka_unit_test(test_run_file),
		cmocka_unit_test(test_run_apop),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
