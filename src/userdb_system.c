/*
 * userdb system: the system's accounts, getpwnam_r(3), and getspnam_r(3)
 * when the passwd entry says the password is in the shadow file. No state
 * of its own: NSS does the caching.
 */

#include <sys/types.h>

#include <errno.h>
#include <pwd.h>
#include <shadow.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "userdb_entry.h"
#include "userdb_system.h"

#define UDSYS_PWBUF_MAX		(1024 * 1024)	/* getpw*_r buffer limit */

static enum userdb_status udsys_lookup(void *, const char *,
		    struct userdb_entry *, char *, size_t);
static char	*udsys_grow(char *, size_t *);
static int	 udsys_expired(const struct spwd *);
static void	 udsys_shadow_probe(const char *);

/* Nothing to open nor close, no hash setting to tell, nothing to check. */
const struct userdb_ops userdb_system_ops = {
	USERDB_SYSTEM, "system", NULL, udsys_lookup, NULL, NULL, NULL, NULL
};

/*
 * An unknown user: read the shadow database as a known one's lookup
 * would, so that the time it takes does not tell them apart.
 */
static void
udsys_shadow_probe(const char *name)
{
	struct spwd	 sp, *spp = NULL;
	char		 buf[4096];

	(void)getspnam_r(name, &sp, buf, sizeof(buf), &spp);
	explicit_bzero(buf, sizeof(buf));
}

/* Double a getpw*_r buffer, wiping the old one; NULL past the limit. */
static char *
udsys_grow(char *buf, size_t *bufsz)
{
	explicit_bzero(buf, *bufsz);
	free(buf);
	if (*bufsz >= UDSYS_PWBUF_MAX) {
		errno = ERANGE;
		return NULL;
	}
	*bufsz *= 2;
	return malloc(*bufsz);
}

/* Has the account expired (shadow(5) field 8, days since 1970)? */
static int
udsys_expired(const struct spwd *sp)
{
	/* 0 is ambiguous (shadow(5)): take it as "never", like -1. */
	if (sp->sp_expire <= 0)
		return 0;
	return time(NULL) / 86400 >= sp->sp_expire;
}

/* Look a user up with NSS; NSS failures (not "no such user") TEMPFAIL. */
static enum userdb_status
udsys_lookup(void *priv, const char *name, struct userdb_entry *e,
    char *err, size_t errsz)
{
	struct passwd		 pw, *pwp = NULL;
	struct spwd		 sp, *spp = NULL;
	struct userdb_entry	 ent;
	enum userdb_status	 status;
	char			*pwbuf, *spbuf = NULL;
	size_t			 pwsz, spsz = 0;
	long			 sz;
	int			 rc;

	(void)priv;
	if (name[0] == '\0')
		return USERDB_NOTFOUND;
	sz = sysconf(_SC_GETPW_R_SIZE_MAX);
	pwsz = sz > 0 && sz < UDSYS_PWBUF_MAX ? (size_t)sz : 16384;
	if ((pwbuf = malloc(pwsz)) == NULL) {
		log_seterr(err, errsz, "userdb system: %s", strerror(errno));
		return USERDB_TEMPFAIL;
	}
	while ((rc = getpwnam_r(name, &pw, pwbuf, pwsz, &pwp)) == ERANGE)
		if ((pwbuf = udsys_grow(pwbuf, &pwsz)) == NULL)
			break;
	if (pwbuf == NULL || rc != 0) {
		log_seterr(err, errsz, "userdb system: getpwnam_r: %s",
		    strerror(pwbuf == NULL ? errno : rc));
		status = USERDB_TEMPFAIL;
		goto done;
	}
	if (pwp == NULL) {
		udsys_shadow_probe(name);
		status = USERDB_NOTFOUND;
		goto done;
	}

	ent.ue_name = pw.pw_name;
	ent.ue_password = pw.pw_passwd;
	ent.ue_uid = pw.pw_uid;
	ent.ue_gid = pw.pw_gid;
	ent.ue_home = pw.pw_dir;
	ent.ue_shell = pw.pw_shell;
	ent.ue_sysgroups = 1;	/* the system's accounts, the system's groups */
	if (strcmp(pw.pw_passwd, "x") == 0 || strcmp(pw.pw_passwd, "*") == 0) {
		sz = sysconf(_SC_GETPW_R_SIZE_MAX);
		spsz = sz > 0 && sz < UDSYS_PWBUF_MAX ? (size_t)sz : 16384;
		if ((spbuf = malloc(spsz)) == NULL) {
			log_seterr(err, errsz, "userdb system: %s",
			    strerror(errno));
			status = USERDB_TEMPFAIL;
			goto done;
		}
		while ((rc = getspnam_r(name, &sp, spbuf, spsz, &spp)) ==
		    ERANGE)
			if ((spbuf = udsys_grow(spbuf, &spsz)) == NULL)
				break;
		if (spbuf == NULL || rc != 0) {
			log_seterr(err, errsz,
			    "userdb system: getspnam_r: %s",
			    strerror(spbuf == NULL ? errno : rc));
			status = USERDB_TEMPFAIL;
			goto done;
		}
		/*
		 * No shadow entry: the "x" or "*" placeholder is no
		 * password, not even with crypt 0 (where "x" would be
		 * compared as plaintext): lock it.
		 */
		if (spp == NULL)
			ent.ue_password = "!";
		else
			ent.ue_password = udsys_expired(&sp) ? "!expired" :
			    sp.sp_pwdp;
	}
	if (userdb_entry_copy(e, &ent) == -1) {
		log_seterr(err, errsz, "userdb system: %s", strerror(errno));
		status = USERDB_TEMPFAIL;
		goto done;
	}
	status = USERDB_FOUND;
 done:
	if (pwbuf != NULL) {
		explicit_bzero(pwbuf, pwsz);
		free(pwbuf);
	}
	if (spbuf != NULL) {
		explicit_bzero(spbuf, spsz);
		free(spbuf);
	}
	return status;
}
