/*
 * Authentication requests: the one narrow interface between the network
 * loop and password checking (docs/userdb.md). auth_run() is all a
 * privileged helper process would need to run.
 */

#include <grp.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "log.h"
#include "passwd.h"
#include "userdb.h"

static int	 auth_cut(char *s, const regex_t *re, char *group, size_t groupsz,
		    int *matched);

/*
 * Remove the whole match of re from s, and copy its first group into
 * group. Returns -1 when the group does not fit.
 */
static int
auth_cut(char *s, const regex_t *re, char *group, size_t groupsz, int *matched)
{
	regmatch_t	 m[2];
	size_t		 len;

	*matched = 0;
	if (groupsz > 0)
		group[0] = '\0';
	if (regexec(re, s, 2, m, 0) != 0)
		return 0;
	*matched = 1;
	if (m[1].rm_so >= 0) {
		len = m[1].rm_eo - m[1].rm_so;
		if (len >= groupsz)
			return -1;
		memcpy(group, s + m[1].rm_so, len);
		group[len] = '\0';
	}
	memmove(s + m[0].rm_so, s + m[0].rm_eo, strlen(s + m[0].rm_eo) + 1);
	return 0;
}

/*
 * Split a typed login into account, folder and user option (the folder
 * and useropt directives, docs/configuration.md).
 */
int
auth_split_login(const struct config *cf, const char *login,
    struct auth_split *as)
{
	size_t	 len = strlen(login);
	int	 matched;

	if (len >= as->as_accountsz)
		return -1;
	memcpy(as->as_account, login, len + 1);
	as->as_folder[0] = '\0';
	as->as_option[0] = '\0';
	as->as_has_option = 0;
	if (cf->cf_folder_set && auth_cut(as->as_account, &cf->cf_folder,
	    as->as_folder, as->as_foldersz, &matched) == -1)
		return -1;
	if (cf->cf_useropt_set && auth_cut(as->as_account, &cf->cf_useropt,
	    as->as_option, as->as_optionsz, &as->as_has_option) == -1)
		return -1;
	return 0;
}

/* A request for a typed login: see auth.h. */
struct auth_job *
auth_job_new(const struct config *cf, struct userdb *udb,
    const struct addrkey *peer, const char *login, size_t len)
{
	struct auth_split as;
	struct auth_job	*aj;
	const char	*why = NULL;

	if (len >= sizeof(aj->aj_login) || (aj = calloc(1, sizeof(*aj))) ==
	    NULL)
		return NULL;
	aj->aj_work.w_run = auth_run;
	aj->aj_userdb = udb;
	aj->aj_hashed = cf->cf_crypt;
	aj->aj_minuid = (uid_t)cf->cf_minuid;
	aj->aj_mingid = (gid_t)cf->cf_mingid;
	aj->aj_peer = *peer;
	memcpy(aj->aj_login, login, len);
	aj->aj_login[len] = '\0';
	aj->aj_status = AUTH_OK;
	as.as_account = aj->aj_account;
	as.as_accountsz = sizeof(aj->aj_account);
	as.as_folder = aj->aj_folder;
	as.as_foldersz = sizeof(aj->aj_folder);
	as.as_option = aj->aj_option;
	as.as_optionsz = sizeof(aj->aj_option);
	if (auth_split_login(cf, aj->aj_login, &as) == -1 ||
	    aj->aj_account[0] == '\0')
		why = "malformed login name";
	else if (strchr(aj->aj_folder, '/') != NULL ||
	    strcmp(aj->aj_folder, ".") == 0 ||
	    strcmp(aj->aj_folder, "..") == 0)
		why = "invalid folder name";
	aj->aj_has_option = as.as_has_option;
	if (why != NULL) {
		aj->aj_status = AUTH_FAIL;
		snprintf(aj->aj_reason, sizeof(aj->aj_reason), "%s", why);
	}
	return aj;
}

/* The secret to check, truncated to what a job holds. */
void
auth_job_secret(struct auth_job *aj, const char *secret, size_t len)
{
	if (len >= sizeof(aj->aj_secret))
		len = sizeof(aj->aj_secret) - 1;
	memcpy(aj->aj_secret, secret, len);
	aj->aj_secretlen = len;
}

/* An APOP digest (APOP_DIGEST_LEN hex digits) of timestamp. */
void
auth_job_apop(struct auth_job *aj, const char *timestamp, const char *digest)
{
	aj->aj_apop = 1;
	snprintf(aj->aj_timestamp, sizeof(aj->aj_timestamp), "%s", timestamp);
	memcpy(aj->aj_digest, digest, APOP_DIGEST_LEN);
	aj->aj_digest[APOP_DIGEST_LEN] = '\0';
}

/* On a worker thread: look the account up and check the secret. */
void
auth_run(struct work *w)
{
	struct auth_job		*aj = (struct auth_job *)w;
	struct userdb_entry	*ue = &aj->aj_entry;
	enum userdb_status	 st;
	int			 ok, n;

	/* A run cut short by a fork may have left a result: start over. */
	userdb_entry_clear(ue);
	free(aj->aj_home);
	free(aj->aj_shell);
	aj->aj_home = aj->aj_shell = NULL;
	aj->aj_uid = 0;
	aj->aj_gid = 0;
	aj->aj_ngroups = 0;
	aj->aj_reason[0] = '\0';
	aj->aj_status = AUTH_FAIL;
	st = userdb_lookup(aj->aj_userdb, aj->aj_account, ue,
	    aj->aj_reason, sizeof(aj->aj_reason));
	switch (st) {
	case USERDB_TEMPFAIL:
		aj->aj_status = AUTH_TEMPFAIL;
		goto out;
	case USERDB_NOTFOUND:
		if (aj->aj_apop)
			(void)apop_verify(aj->aj_timestamp, "dummy", 5,
			    aj->aj_digest, strlen(aj->aj_digest));
		else
			userdb_dummy(aj->aj_userdb, aj->aj_secret,
			    aj->aj_secretlen, aj->aj_hashed);
		snprintf(aj->aj_reason, sizeof(aj->aj_reason),
		    "unknown user");
		goto out;
	case USERDB_FOUND:
		break;
	}

	/*
	 * APOP needs the plaintext; a locked account never matches (the
	 * digest is computed all the same, so it costs the same time).
	 */
	if (aj->aj_apop)
		ok = apop_verify(aj->aj_timestamp, ue->ue_password,
		    strlen(ue->ue_password), aj->aj_digest,
		    strlen(aj->aj_digest)) && !aj->aj_hashed &&
		    !passwd_locked(ue->ue_password);
	else
		ok = passwd_verify(ue->ue_password, aj->aj_secret,
		    aj->aj_secretlen, aj->aj_hashed);
	if (!ok) {
		snprintf(aj->aj_reason, sizeof(aj->aj_reason), "%s",
		    passwd_locked(ue->ue_password) ? "account locked" :
		    "wrong password");
		goto out;
	}
	/* After the password: these say nothing to one who lacks it. */
	if (ue->ue_uid == 0 || ue->ue_gid == 0) {
		snprintf(aj->aj_reason, sizeof(aj->aj_reason), "%s 0 refused",
		    ue->ue_uid == 0 ? "uid" : "gid");
		goto out;
	}
	if (ue->ue_uid < aj->aj_minuid || ue->ue_gid < aj->aj_mingid) {
		snprintf(aj->aj_reason, sizeof(aj->aj_reason),
		    ue->ue_uid < aj->aj_minuid ? "uid %lu below minuid %lu" :
		    "gid %lu below mingid %lu", ue->ue_uid < aj->aj_minuid ?
		    (unsigned long)ue->ue_uid : (unsigned long)ue->ue_gid,
		    ue->ue_uid < aj->aj_minuid ? (unsigned long)aj->aj_minuid :
		    (unsigned long)aj->aj_mingid);
		goto out;
	}

	aj->aj_uid = ue->ue_uid;
	aj->aj_gid = ue->ue_gid;
	/*
	 * Supplementary groups come from the system's group database for
	 * the system's accounts only: a virtual user (file, MySQL) named
	 * like a member of some /etc/group line must not get that group.
	 */
	aj->aj_groups[0] = ue->ue_gid;
	n = 1;
	if (ue->ue_sysgroups) {
		n = AUTH_MAXGROUPS;
		if (getgrouplist(aj->aj_account, ue->ue_gid, aj->aj_groups,
		    &n) == -1)
			n = AUTH_MAXGROUPS;	/* truncated to what fits */
	}
	aj->aj_ngroups = n;
	if ((aj->aj_home = strdup(ue->ue_home)) == NULL ||
	    (aj->aj_shell = strdup(ue->ue_shell)) == NULL) {
		aj->aj_status = AUTH_TEMPFAIL;
		snprintf(aj->aj_reason, sizeof(aj->aj_reason), "out of memory");
		goto out;
	}
	aj->aj_status = AUTH_OK;
	aj->aj_reason[0] = '\0';
out:
	/* The secret stays for a run again; auth_job_free() wipes it. */
	userdb_entry_clear(ue);
}

/* Free a job and wipe what it held, the secret included. */
void
auth_job_free(struct auth_job *aj)
{
	if (aj == NULL)
		return;
	userdb_entry_clear(&aj->aj_entry);
	free(aj->aj_home);
	free(aj->aj_shell);
	explicit_bzero(aj, sizeof(*aj));
	free(aj);
}
