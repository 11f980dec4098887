/* User databases (SPEC §2 userdb: system, file, mysql) and password checks. */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <shadow.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "userdb.h"
#include "userdb_mysql.h"

#define USERDB_NFIELDS		7	/* fields in a passwd(5) line */
#define USERDB_RACY_SECS	2	/* changed so close to a read: again */
#define USERDB_MAXFILE		(256L * 1024 * 1024)
#define USERDB_PWBUF_MAX	(1024 * 1024)	/* getpw*_r buffer limit */
#define USERDB_LOAD_WAIT	5	/* s: for another worker's first read */

/* Around fork(2), for the backends' locks: see userdb_atfork_prepare(). */
enum userdb_fork {
	USERDB_FORK_PREPARE,
	USERDB_FORK_PARENT,
	USERDB_FORK_CHILD
};

/*
 * One backend: the kind of database the configuration names. open fills
 * db->ud_priv; setting (optional) gives the crypt setting of the hashes in
 * use, for passwd_dummy(); check (optional) serves popserv -t; fork
 * (optional) keeps the backend's locks usable in a forked child.
 */
struct userdb_ops {
	enum userdb_kind	 uo_kind;
	const char		*uo_name;
	int	(*uo_open)(struct userdb *, const struct config *, char *,
		    size_t);
	enum userdb_status (*uo_lookup)(struct userdb *, const char *,
		    struct userdb_entry *, char *, size_t);
	void	(*uo_close)(struct userdb *);
	int	(*uo_setting)(struct userdb *, char *, size_t);
	int	(*uo_check)(const struct config *, struct config_msgs *);
	void	(*uo_fork)(struct userdb *, enum userdb_fork);
};

struct userdb {
	LIST_ENTRY(userdb)	 ud_entry;	/* userdb_all */
	const struct userdb_ops	*ud_ops;
	void			*ud_priv;	/* the backend's state */
	unsigned int		 ud_refs;	/* loop thread only */
	/*
	 * For a backend without uo_setting (system, mysql): the setting of
	 * the last hash a lookup found, which passwd_dummy() then uses, so
	 * that an unknown user costs what the accounts in use cost rather
	 * than what the system's preferred method would.
	 */
	pthread_mutex_t		 ud_seen_lock;
	char			 ud_seen[CRYPT_OUTPUT_SIZE];
};

/* One record of a userdb file; the strings point into ut_buf. */
struct udf_rec {
	struct userdb_entry	 ur_entry;
	int			 ur_line;
};

/* One load of a userdb file, never changed once built (readers share it). */
struct udf_table {
	char			*ut_buf;	/* the file, parsed */
	size_t			 ut_bufsz;
	struct udf_rec		*ut_recs;	/* by name, unique */
	size_t			 ut_nrecs;
	uint64_t		 ut_sum;	/* of the raw text */
	/* Setting of the first valid hash, for passwd_dummy(); "": none. */
	char			 ut_setting[CRYPT_OUTPUT_SIZE];
};

/* What the file looked like when it was last (tried to be) loaded. */
struct udf_ident {
	dev_t			 ui_dev;
	ino_t			 ui_ino;
	off_t			 ui_size;
	struct timespec		 ui_mtim;
	struct timespec		 ui_ctim;
};

/*
 * State of a `userdb file`. uf_lock guards the fields after it: lookups
 * hold it shared while they copy an entry out, a reload holds it
 * exclusively only to swap in a table it built beforehand. uf_reload
 * makes reloads one at a time; the fields below are written only with
 * both held, so a reloader may read them holding uf_reload alone.
 * uf_reload is held while the file is read, which can block (NFS): no
 * one waits for it while a table is in force (they use that table), and
 * a fork finds it free because the child makes it anew; uf_lock is only
 * ever held for a moment, and taken around fork.
 */
struct udfile {
	char			*uf_path;
	pthread_mutex_t		 uf_reload;
	char			*uf_rbuf;	/* being read (uf_reload) */
	pthread_rwlock_t	 uf_lock;
	struct udf_table	*uf_table;	/* NULL: not usable */
	int			 uf_loaded;	/* a load was attempted */
	int			 uf_errno;	/* 0, or why unusable */
	char			 uf_error[256];	/* ditto, for err */
	struct udf_ident	 uf_ident;
	int			 uf_racy;	/* read again once */
	time_t			 uf_racy_until;	/* after this */
};

/* How a file's problems are reported: to the log, or to popserv -t. */
struct udf_report {
	const char		*rp_path;
	struct config_msgs	*rp_msgs;	/* NULL: log_warnx */
	int			 rp_quiet;	/* same text: be quiet */
	int			 rp_hashed;	/* -t: warn: not hashes */
	int			 rp_nerrors;
};

static const struct userdb_ops *userdb_ops_find(enum userdb_kind);
static int	 userdb_parse_id(const char *, uintmax_t, uintmax_t *,
		    const char *, char *, size_t);
static int	 userdb_entry_copy(struct userdb_entry *,
		    const struct userdb_entry *);
static int	 userdb_name_ok(const char *);

static int	 udsys_open(struct userdb *, const struct config *, char *,
		    size_t);
static enum userdb_status udsys_lookup(struct userdb *, const char *,
		    struct userdb_entry *, char *, size_t);
static void	 udsys_close(struct userdb *);
static char	*udsys_grow(char *, size_t *);
static int	 udsys_expired(const struct spwd *);
static void	 udsys_shadow_probe(const char *);
static void	 userdb_atfork_init(void);
static void	 userdb_atfork_prepare(void);
static void	 userdb_atfork_parent(void);
static void	 userdb_atfork_child(void);

static int	 udfile_open(struct userdb *, const struct config *, char *,
		    size_t);
static enum userdb_status udfile_lookup(struct userdb *, const char *,
		    struct userdb_entry *, char *, size_t);
static void	 udfile_close(struct userdb *);
static int	 udfile_setting(struct userdb *, char *, size_t);
static void	 udfile_fork(struct userdb *, enum userdb_fork);
static int	 udfile_reload_lock(struct udfile *);
static int	 udfile_check(const struct config *, struct config_msgs *);
static int	 udfile_stale(const struct udfile *, const struct stat *,
		    int);
static void	 udfile_reload(struct udfile *);
static void	 udfile_fail(struct udfile *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	 udf_read(const char *, char **, size_t *, struct stat *,
		    char *, size_t);
static struct udf_table *udf_parse(char *, size_t, struct udf_report *);
static void	 udf_problem(struct udf_report *, int, int, const char *,
		    ...) __attribute__((format(printf, 4, 5)));
static int	 udf_cmp_rec(const void *, const void *);
static int	 udf_cmp_key(const void *, const void *);
static void	 udf_table_free(struct udf_table *);
static uint64_t	 udf_sum(const char *, size_t);
static void	 udf_ident_set(struct udf_ident *, const struct stat *);

static int	 udmysql_open(struct userdb *, const struct config *, char *,
		    size_t);
static enum userdb_status udmysql_lookup(struct userdb *, const char *,
		    struct userdb_entry *, char *, size_t);
static void	 udmysql_close(struct userdb *);

static int	 passwd_phrase(char *, size_t, const char *, size_t);
static int	 passwd_usable(const char *);
static int	 passwd_looks_hashed(const char *);
static int	 passwd_setting_of(const char *, char *, size_t);
static const char *passwd_default_setting(void);
static void	 passwd_default_init(void);
static int	 passwd_crypt(const char *, const char *, const char *);
static int	 passwd_plain(const char *, const char *, size_t);
static int	 passwd_ct_eq(const char *, size_t, const char *, size_t);

static const struct userdb_ops userdb_kinds[] = {
	{ USERDB_SYSTEM, "system", udsys_open, udsys_lookup, udsys_close,
	    NULL, NULL, NULL },
	{ USERDB_FILE, "file", udfile_open, udfile_lookup, udfile_close,
	    udfile_setting, udfile_check, udfile_fork },
	{ USERDB_MYSQL, "mysql", udmysql_open, udmysql_lookup, udmysql_close,
	    NULL, userdb_mysql_check, NULL },
};

/*
 * Every open database, so that a fork (the TERM drain) can take their
 * locks first: a child must find each of them free, whatever a worker
 * was doing. Workers hold these locks only for a moment.
 */
static pthread_once_t	 userdb_atfork_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t	 userdb_all_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(, userdb) userdb_all = LIST_HEAD_INITIALIZER(userdb_all);

/* Compared against for an unknown user with plaintext passwords. */
static const char passwd_dummy_plain[] = "popserv-dummy-password";

static pthread_once_t	 passwd_default_once = PTHREAD_ONCE_INIT;
static char		 passwd_default[CRYPT_GENSALT_OUTPUT_SIZE];

/* The backend for a kind, or NULL. */
static const struct userdb_ops *
userdb_ops_find(enum userdb_kind kind)
{
	size_t	 i;

	for (i = 0; i < sizeof(userdb_kinds) / sizeof(userdb_kinds[0]); i++)
		if (userdb_kinds[i].uo_kind == kind)
			return &userdb_kinds[i];
	return NULL;
}

/* Register the fork handlers, once. */
static void
userdb_atfork_init(void)
{
	pthread_atfork(userdb_atfork_prepare, userdb_atfork_parent,
	    userdb_atfork_child);
}

/* Before fork: every database's short-lived locks. */
static void
userdb_atfork_prepare(void)
{
	struct userdb	*db;

	pthread_mutex_lock(&userdb_all_lock);
	LIST_FOREACH(db, &userdb_all, ud_entry) {
		pthread_mutex_lock(&db->ud_seen_lock);
		if (db->ud_ops->uo_fork != NULL)
			db->ud_ops->uo_fork(db, USERDB_FORK_PREPARE);
	}
}

/* In the parent after fork: give them back. */
static void
userdb_atfork_parent(void)
{
	struct userdb	*db;

	LIST_FOREACH(db, &userdb_all, ud_entry) {
		if (db->ud_ops->uo_fork != NULL)
			db->ud_ops->uo_fork(db, USERDB_FORK_PARENT);
		pthread_mutex_unlock(&db->ud_seen_lock);
	}
	pthread_mutex_unlock(&userdb_all_lock);
}

/* In the child after fork: fresh locks (this is the only thread). */
static void
userdb_atfork_child(void)
{
	pthread_mutex_t	 m = PTHREAD_MUTEX_INITIALIZER;
	struct userdb	*db;

	userdb_all_lock = m;
	LIST_FOREACH(db, &userdb_all, ud_entry) {
		db->ud_seen_lock = m;
		if (db->ud_ops->uo_fork != NULL)
			db->ud_ops->uo_fork(db, USERDB_FORK_CHILD);
	}
}

/* Open the database cf names; NULL with err set when it cannot be used. */
struct userdb *
userdb_open(const struct config *cf, char *err, size_t errsz)
{
	const struct userdb_ops	*ops;
	struct userdb		*db;

	if ((ops = userdb_ops_find(cf->cf_userdb)) == NULL) {
		log_seterr(err, errsz, "userdb: unknown kind %d",
		    (int)cf->cf_userdb);
		return NULL;
	}
	if ((db = calloc(1, sizeof(*db))) == NULL) {
		log_seterr(err, errsz, "userdb %s: %s", ops->uo_name,
		    strerror(errno));
		return NULL;
	}
	db->ud_ops = ops;
	db->ud_refs = 1;
	pthread_mutex_init(&db->ud_seen_lock, NULL);
	if (ops->uo_open(db, cf, err, errsz) == -1) {
		pthread_mutex_destroy(&db->ud_seen_lock);
		free(db);
		return NULL;
	}
	pthread_once(&userdb_atfork_once, userdb_atfork_init);
	pthread_mutex_lock(&userdb_all_lock);
	LIST_INSERT_HEAD(&userdb_all, db, ud_entry);
	pthread_mutex_unlock(&userdb_all_lock);
	return db;
}

/* One more holder of db (a queued lookup, or the process after reload). */
struct userdb *
userdb_ref(struct userdb *db)
{
	db->ud_refs++;
	return db;
}

/*
 * Drop a reference; the last one closes the database. NULL is fine. No
 * lookup may be running on a database whose last reference goes.
 */
void
userdb_close(struct userdb *db)
{
	if (db == NULL || --db->ud_refs > 0)
		return;
	pthread_mutex_lock(&userdb_all_lock);
	LIST_REMOVE(db, ud_entry);
	pthread_mutex_unlock(&userdb_all_lock);
	if (db->ud_ops->uo_close != NULL)
		db->ud_ops->uo_close(db);
	pthread_mutex_destroy(&db->ud_seen_lock);
	free(db);
}

/* Look name up into e (heap copies); err says why on TEMPFAIL. */
enum userdb_status
userdb_lookup(struct userdb *db, const char *name, struct userdb_entry *e,
    char *err, size_t errsz)
{
	enum userdb_status	 st;
	char			 setting[CRYPT_OUTPUT_SIZE];

	memset(e, 0, sizeof(*e));
	log_seterr(err, errsz, "%s", "");
	st = db->ud_ops->uo_lookup(db, name, e, err, errsz);
	/* Learn the kind of hash in use, for passwd_dummy(). */
	if (st == USERDB_FOUND && db->ud_ops->uo_setting == NULL &&
	    e->ue_password != NULL &&
	    passwd_setting_of(e->ue_password, setting, sizeof(setting)) == 0) {
		pthread_mutex_lock(&db->ud_seen_lock);
		if (strcmp(db->ud_seen, setting) != 0)
			memcpy(db->ud_seen, setting, sizeof(db->ud_seen));
		pthread_mutex_unlock(&db->ud_seen_lock);
		explicit_bzero(setting, sizeof(setting));
	}
	return st;
}

/* Free an entry's strings, wiping the password, and zero it. */
void
userdb_entry_clear(struct userdb_entry *e)
{
	if (e == NULL)
		return;
	if (e->ue_password != NULL) {
		explicit_bzero(e->ue_password, strlen(e->ue_password));
		free(e->ue_password);
	}
	free(e->ue_name);
	free(e->ue_home);
	free(e->ue_shell);
	memset(e, 0, sizeof(*e));
}

/* Copy src's strings to the heap; -1 (dst cleared) when out of memory. */
static int
userdb_entry_copy(struct userdb_entry *dst, const struct userdb_entry *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->ue_uid = src->ue_uid;
	dst->ue_gid = src->ue_gid;
	dst->ue_sysgroups = src->ue_sysgroups;
	if ((dst->ue_name = strdup(src->ue_name)) == NULL ||
	    (dst->ue_password = strdup(src->ue_password)) == NULL ||
	    (dst->ue_home = strdup(src->ue_home)) == NULL ||
	    (dst->ue_shell = strdup(src->ue_shell)) == NULL) {
		userdb_entry_clear(dst);
		return -1;
	}
	return 0;
}

/* Could name be in a passwd(5) file at all? */
static int
userdb_name_ok(const char *name)
{
	return name[0] != '\0' && strpbrk(name, ":\n") == NULL;
}

/*
 * Parse a uid or gid: decimal digits only, below max (the all-ones value
 * means "no id"). Reasons never quote the field: on a line with a missing
 * colon the "uid" may well be the password.
 */
static int
userdb_parse_id(const char *s, uintmax_t max, uintmax_t *out,
    const char *what, char *err, size_t errsz)
{
	const char	*p;
	uintmax_t	 v = 0;

	if (*s == '\0') {
		log_seterr(err, errsz, "%s is empty", what);
		return -1;
	}
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			log_seterr(err, errsz, "%s is not a number", what);
			return -1;
		}
	}
	for (p = s; *p != '\0'; p++) {
		if (v > (max - (uintmax_t)(*p - '0')) / 10) {
			log_seterr(err, errsz, "%s out of range", what);
			return -1;
		}
		v = v * 10 + (uintmax_t)(*p - '0');
	}
	if (v >= max) {
		log_seterr(err, errsz, "%s out of range", what);
		return -1;
	}
	*out = v;
	return 0;
}

/* Parse "user:password:uid:gid:gecos:home:shell" in place into e. */
int
userdb_parse_line(char *line, struct userdb_entry *e, char *err, size_t errsz)
{
	char		*f[USERDB_NFIELDS], *p;
	uintmax_t	 uid, gid;
	int		 n;

	memset(e, 0, sizeof(*e));
	for (n = 1, p = line; (p = strchr(p, ':')) != NULL; p++)
		n++;
	if (n != USERDB_NFIELDS) {
		log_seterr(err, errsz, "%d fields, %d expected "
		    "(user:password:uid:gid:gecos:home:shell)", n,
		    USERDB_NFIELDS);
		return -1;
	}
	for (n = 0, p = line; n < USERDB_NFIELDS; n++) {
		f[n] = p;
		if ((p = strchr(p, ':')) != NULL)
			*p++ = '\0';
	}
	if (f[0][0] == '\0') {
		log_seterr(err, errsz, "empty user name");
		return -1;
	}
	if (userdb_parse_id(f[2], (uid_t)-1, &uid, "uid", err, errsz) == -1 ||
	    userdb_parse_id(f[3], (gid_t)-1, &gid, "gid", err, errsz) == -1)
		return -1;
	if (f[5][0] != '/') {
		log_seterr(err, errsz,
		    "home directory is not an absolute path");
		return -1;
	}
	e->ue_name = f[0];
	e->ue_password = f[1];
	e->ue_uid = (uid_t)uid;
	e->ue_gid = (gid_t)gid;
	e->ue_home = f[5];
	e->ue_shell = f[6];
	return 0;
}

/* For popserv -t: check the database cf names; returns the error count. */
int
userdb_check(const struct config *cf, struct config_msgs *msgs)
{
	const struct userdb_ops	*ops;

	if ((ops = userdb_ops_find(cf->cf_userdb)) == NULL) {
		config_msg_add(msgs, 1, cf->cf_path, 0, "userdb",
		    "unknown kind %d", (int)cf->cf_userdb);
		return 1;
	}
	if (ops->uo_check == NULL)
		return 0;
	return ops->uo_check(cf, msgs);
}

/*
 * userdb system: getpwnam_r(3), and getspnam_r(3) when the passwd entry
 * says the password is in the shadow file.
 */
static int
udsys_open(struct userdb *db, const struct config *cf, char *err,
    size_t errsz)
{
	(void)db;
	(void)cf;
	(void)err;
	(void)errsz;
	return 0;
}

/* Nothing to release for the system database. */
static void
udsys_close(struct userdb *db)
{
	(void)db;
}

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
	if (*bufsz >= USERDB_PWBUF_MAX) {
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
udsys_lookup(struct userdb *db, const char *name, struct userdb_entry *e,
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

	(void)db;
	if (name[0] == '\0')
		return USERDB_NOTFOUND;
	sz = sysconf(_SC_GETPW_R_SIZE_MAX);
	pwsz = sz > 0 && sz < USERDB_PWBUF_MAX ? (size_t)sz : 16384;
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
		spsz = sz > 0 && sz < USERDB_PWBUF_MAX ? (size_t)sz : 16384;
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

/*
 * userdb file: the file is read at the first lookup (on a worker, never
 * on the loop) and again whenever stat(2) shows it changed.
 */
static int
udfile_open(struct userdb *db, const struct config *cf, char *err,
    size_t errsz)
{
	struct udfile	*uf;

	if (cf->cf_userdb_path == NULL || cf->cf_userdb_path[0] == '\0') {
		log_seterr(err, errsz, "userdb file: no path given");
		return -1;
	}
	if ((uf = calloc(1, sizeof(*uf))) == NULL ||
	    (uf->uf_path = strdup(cf->cf_userdb_path)) == NULL) {
		log_seterr(err, errsz, "userdb file: %s", strerror(errno));
		free(uf);
		return -1;
	}
	if (pthread_mutex_init(&uf->uf_reload, NULL) != 0) {
		log_seterr(err, errsz, "userdb file: mutex init failed");
		free(uf->uf_path);
		free(uf);
		return -1;
	}
	if (pthread_rwlock_init(&uf->uf_lock, NULL) != 0) {
		log_seterr(err, errsz, "userdb file: rwlock init failed");
		pthread_mutex_destroy(&uf->uf_reload);
		free(uf->uf_path);
		free(uf);
		return -1;
	}
	uf->uf_errno = EAGAIN;
	snprintf(uf->uf_error, sizeof(uf->uf_error), "%s: not read yet",
	    uf->uf_path);
	db->ud_priv = uf;
	return 0;
}

/* Free the table (wiping the passwords), the locks and the path. */
static void
udfile_close(struct userdb *db)
{
	struct udfile	*uf = db->ud_priv;

	udf_table_free(uf->uf_table);
	pthread_rwlock_destroy(&uf->uf_lock);
	pthread_mutex_destroy(&uf->uf_reload);
	free(uf->uf_path);
	free(uf);
}

/* Copy the crypt setting of the file's first valid hash; -1 if none. */
static int
udfile_setting(struct userdb *db, char *buf, size_t bufsz)
{
	struct udfile	*uf = db->ud_priv;
	int		 rv = -1;

	pthread_rwlock_rdlock(&uf->uf_lock);
	if (uf->uf_table != NULL && uf->uf_table->ut_setting[0] != '\0' &&
	    strlen(uf->uf_table->ut_setting) < bufsz) {
		snprintf(buf, bufsz, "%s", uf->uf_table->ut_setting);
		rv = 0;
	}
	pthread_rwlock_unlock(&uf->uf_lock);
	return rv;
}

/*
 * Around fork: uf_lock is taken (held by anyone only for a moment);
 * uf_reload is not, since a worker may hold it in a read that never
 * ends: the child makes it anew, and a read cut short there leaves its
 * buffer on uf_rbuf, reachable.
 */
static void
udfile_fork(struct userdb *db, enum userdb_fork phase)
{
	struct udfile		*uf = db->ud_priv;
	pthread_mutex_t		 m = PTHREAD_MUTEX_INITIALIZER;
	pthread_rwlock_t	 rw = PTHREAD_RWLOCK_INITIALIZER;

	switch (phase) {
	case USERDB_FORK_PREPARE:
		pthread_rwlock_wrlock(&uf->uf_lock);
		break;
	case USERDB_FORK_PARENT:
		pthread_rwlock_unlock(&uf->uf_lock);
		break;
	case USERDB_FORK_CHILD:
		uf->uf_lock = rw;
		uf->uf_reload = m;
		uf->uf_rbuf = NULL;	/* the parent's thread's, left alone */
		break;
	}
}

/*
 * Become the one reloader. When another worker is reading the file, use
 * the table in force rather than wait for it (the read may hang on NFS);
 * with no table yet, wait for that read USERDB_LOAD_WAIT seconds at
 * most. 1: uf_reload is held; 0: it is not, go on without reloading.
 */
static int
udfile_reload_lock(struct udfile *uf)
{
	struct timespec	 ts;
	int		 have;

	if (pthread_mutex_trylock(&uf->uf_reload) == 0)
		return 1;
	pthread_rwlock_rdlock(&uf->uf_lock);
	have = uf->uf_table != NULL;
	pthread_rwlock_unlock(&uf->uf_lock);
	if (have)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += USERDB_LOAD_WAIT;
	return pthread_mutex_timedlock(&uf->uf_reload, &ts) == 0;
}

/*
 * Must the file be read again? st is its stat(2) now, or NULL when that
 * failed with serrno. A failure that is still the same failure is not
 * worth a retry; any other failure is (permissions may have been fixed).
 * Called with uf_lock held, or with uf_reload held.
 */
static int
udfile_stale(const struct udfile *uf, const struct stat *st, int serrno)
{
	const struct udf_ident	*ui = &uf->uf_ident;
	struct timespec		 now;

	if (st == NULL)
		return !(uf->uf_loaded && uf->uf_errno == serrno);
	if (uf->uf_errno != 0)
		return 1;
	if (ui->ui_dev != st->st_dev || ui->ui_ino != st->st_ino ||
	    ui->ui_size != st->st_size ||
	    ui->ui_mtim.tv_sec != st->st_mtim.tv_sec ||
	    ui->ui_mtim.tv_nsec != st->st_mtim.tv_nsec ||
	    ui->ui_ctim.tv_sec != st->st_ctim.tv_sec ||
	    ui->ui_ctim.tv_nsec != st->st_ctim.tv_nsec)
		return 1;
	/*
	 * Timestamps come from a coarse clock: a write in the same tick as
	 * our read, leaving the size alone, would go unseen. When the file
	 * had changed just before it was read, read it once more later.
	 */
	if (uf->uf_racy) {
		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_sec > uf->uf_racy_until)
			return 1;
	}
	return 0;
}

/* Record a stat(2) result as the file's identity. */
static void
udf_ident_set(struct udf_ident *ui, const struct stat *st)
{
	ui->ui_dev = st->st_dev;
	ui->ui_ino = st->st_ino;
	ui->ui_size = st->st_size;
	ui->ui_mtim = st->st_mtim;
	ui->ui_ctim = st->st_ctim;
}

/*
 * Make the file unusable for now: lookups TEMPFAIL with the reason. Logged
 * when the reason changes, not on every lookup. Called with uf_reload held.
 */
static void
udfile_fail(struct udfile *uf, int errnum, const char *fmt, ...)
{
	struct udf_table	*old;
	char			 msg[sizeof(uf->uf_error)];
	va_list			 ap;
	int			 changed;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	changed = uf->uf_errno == 0 || strcmp(msg, uf->uf_error) != 0;

	pthread_rwlock_wrlock(&uf->uf_lock);
	old = uf->uf_table;
	uf->uf_table = NULL;
	uf->uf_loaded = 1;
	uf->uf_errno = errnum;
	snprintf(uf->uf_error, sizeof(uf->uf_error), "%s", msg);
	memset(&uf->uf_ident, 0, sizeof(uf->uf_ident));
	uf->uf_racy = 0;
	pthread_rwlock_unlock(&uf->uf_lock);

	udf_table_free(old);
	if (changed)
		log_warnx("userdb %s (lookups fail temporarily until it "
		    "can be read)", msg);
}

/*
 * Re-read the file if it is (still) stale, and swap the new table in.
 * The table is built with no lock held; readers keep the old one until
 * the swap, so they never see a half-built table.
 */
static void
udfile_reload(struct udfile *uf)
{
	struct udf_report	 rp;
	struct udf_table	*t, *old;
	struct timespec		 now, changed;
	struct stat		 st;
	char			*buf, msg[sizeof(uf->uf_error)];
	size_t			 len;
	uint64_t		 sum;
	int			 serrno;

	if (!udfile_reload_lock(uf))
		return;
	serrno = stat(uf->uf_path, &st) == -1 ? errno : 0;
	if (!udfile_stale(uf, serrno ? NULL : &st, serrno))
		goto out;
	if (serrno != 0) {
		udfile_fail(uf, serrno, "%s: %s", uf->uf_path,
		    strerror(serrno));
		goto out;
	}
	if (udf_read(uf->uf_path, &uf->uf_rbuf, &len, &st, msg,
	    sizeof(msg)) == -1) {
		serrno = errno ? errno : EIO;
		udfile_fail(uf, serrno, "%s: %s", uf->uf_path, msg);
		goto out;
	}
	buf = uf->uf_rbuf;
	uf->uf_rbuf = NULL;

	/* The same text as last time (a racy re-read): don't warn again. */
	sum = udf_sum(buf, len);
	memset(&rp, 0, sizeof(rp));
	rp.rp_path = uf->uf_path;
	rp.rp_quiet = uf->uf_table != NULL && uf->uf_table->ut_sum == sum &&
	    uf->uf_table->ut_bufsz == len;
	if ((t = udf_parse(buf, len, &rp)) == NULL) {
		explicit_bzero(buf, len);
		free(buf);
		udfile_fail(uf, ENOMEM, "%s: %s", uf->uf_path,
		    strerror(ENOMEM));
		goto out;
	}
	t->ut_sum = sum;

	clock_gettime(CLOCK_REALTIME, &now);
	changed = st.st_mtim.tv_sec > st.st_ctim.tv_sec ? st.st_mtim :
	    st.st_ctim;

	pthread_rwlock_wrlock(&uf->uf_lock);
	old = uf->uf_table;
	uf->uf_table = t;
	uf->uf_loaded = 1;
	uf->uf_errno = 0;
	uf->uf_error[0] = '\0';
	udf_ident_set(&uf->uf_ident, &st);
	uf->uf_racy_until = changed.tv_sec + USERDB_RACY_SECS;
	uf->uf_racy = now.tv_sec <= uf->uf_racy_until;
	pthread_rwlock_unlock(&uf->uf_lock);

	if (!rp.rp_quiet)
		log_info("%s: %zu users loaded", uf->uf_path, t->ut_nrecs);
	udf_table_free(old);
 out:
	pthread_mutex_unlock(&uf->uf_reload);
}

/* Look name up in the file, re-reading it first if it changed. */
static enum userdb_status
udfile_lookup(struct userdb *db, const char *name, struct userdb_entry *e,
    char *err, size_t errsz)
{
	struct udfile		*uf = db->ud_priv;
	struct udf_rec		*r;
	struct stat		 st;
	enum userdb_status	 status;
	int			 serrno, stale;

	serrno = stat(uf->uf_path, &st) == -1 ? errno : 0;
	pthread_rwlock_rdlock(&uf->uf_lock);
	stale = udfile_stale(uf, serrno ? NULL : &st, serrno);
	pthread_rwlock_unlock(&uf->uf_lock);
	if (stale)
		udfile_reload(uf);

	pthread_rwlock_rdlock(&uf->uf_lock);
	if (uf->uf_table == NULL) {
		log_seterr(err, errsz, "%s", uf->uf_error);
		status = USERDB_TEMPFAIL;
	} else if (!userdb_name_ok(name) || uf->uf_table->ut_nrecs == 0 ||
	    (r = bsearch(name, uf->uf_table->ut_recs, uf->uf_table->ut_nrecs,
	    sizeof(*r), udf_cmp_key)) == NULL)
		status = USERDB_NOTFOUND;
	else if (userdb_entry_copy(e, &r->ur_entry) == -1) {
		log_seterr(err, errsz, "%s: %s", uf->uf_path,
		    strerror(ENOMEM));
		status = USERDB_TEMPFAIL;
	} else
		status = USERDB_FOUND;
	pthread_rwlock_unlock(&uf->uf_lock);
	return status;
}

/*
 * Read a whole regular file into a NUL-terminated heap buffer; st is its
 * fstat(2) from before the read (so a change during the read shows up as
 * a change at the next lookup). -1 with errno and the reason in err.
 * *bufp points at the buffer while it is filled (NULL after a failure),
 * so that a read cut short by fork stays reachable.
 */
static int
udf_read(const char *path, char **bufp, size_t *lenp, struct stat *st,
    char *err, size_t errsz)
{
	char		*buf = NULL, *nbuf;
	size_t		 len = 0, cap;
	ssize_t		 n;
	int		 fd, saved;

	/* O_NONBLOCK: a FIFO put in the file's place must not block. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		saved = errno;
		log_seterr(err, errsz, "%s", strerror(saved));
		errno = saved;
		return -1;
	}
	if (fstat(fd, st) == -1)
		goto fail;
	if (!S_ISREG(st->st_mode)) {
		errno = EINVAL;
		log_seterr(err, errsz, "not a regular file");
		goto fail_msg;
	}
	if (st->st_size > USERDB_MAXFILE) {
		errno = EFBIG;
		goto fail;
	}
	cap = (size_t)st->st_size + 1;
	if ((buf = malloc(cap)) == NULL)
		goto fail;
	*bufp = buf;
	for (;;) {
		if (len + 1 >= cap) {
			if (cap > USERDB_MAXFILE) {
				errno = EFBIG;
				goto fail;
			}
			if ((nbuf = malloc(cap * 2)) == NULL)
				goto fail;
			memcpy(nbuf, buf, len);
			*bufp = nbuf;
			explicit_bzero(buf, cap);
			free(buf);
			buf = nbuf;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;

 fail:
	saved = errno;
	log_seterr(err, errsz, "%s", strerror(saved));
	errno = saved;
 fail_msg:
	saved = errno;
	*bufp = NULL;
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	close(fd);
	errno = saved;
	return -1;
}

/* Report a problem with a line: to popserv -t's list, or to the log. */
static void
udf_problem(struct udf_report *rp, int is_error, int line, const char *fmt,
    ...)
{
	char	 text[512];
	va_list	 ap;

	if (is_error)
		rp->rp_nerrors++;
	if (rp->rp_quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (rp->rp_msgs != NULL)
		config_msg_add(rp->rp_msgs, is_error, rp->rp_path, line,
		    "userdb", "%s", text);
	else if (line > 0)
		log_warnx("%s:%d: %s", rp->rp_path, line, text);
	else
		log_warnx("%s: %s", rp->rp_path, text);
}

/*
 * Parse a userdb file held in buf (len bytes, NUL-terminated) into a
 * table that takes buf over. Malformed lines are reported and skipped;
 * of two lines for one user the first wins. NULL (buf untouched) only
 * when out of memory.
 */
static struct udf_table *
udf_parse(char *buf, size_t len, struct udf_report *rp)
{
	struct udf_table	*t;
	struct udf_rec		*recs = NULL, *nrecs;
	struct userdb_entry	 e;
	char			*line, *next, *end, *p, why[256], name[128];
	size_t			 n = 0, cap = 0, i, j, linelen;
	int			 lineno = 0;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	end = buf + len;
	for (line = buf; line < end; line = next) {
		lineno++;
		if ((next = memchr(line, '\n', (size_t)(end - line))) == NULL)
			next = end;
		linelen = (size_t)(next - line);
		if (next < end)
			*next++ = '\0';
		if (memchr(line, '\0', linelen) != NULL) {
			udf_problem(rp, 1, lineno, "NUL byte; line skipped");
			continue;
		}
		p = line + strlen(line);
		if (p > line && p[-1] == '\r')
			*--p = '\0';
		p = line + strspn(line, " \t");
		if (*p == '\0' || *p == '#')
			continue;
		if (userdb_parse_line(line, &e, why, sizeof(why)) == -1) {
			udf_problem(rp, 1, lineno, "%s; line skipped", why);
			continue;
		}
		if (rp->rp_hashed && !passwd_looks_hashed(e.ue_password) &&
		    e.ue_password[0] != '!' && e.ue_password[0] != '*')
			udf_problem(rp, 0, lineno, "user \"%s\": password is "
			    "not a crypt(3) hash (crypt 1): no login",
			    log_escape(name, sizeof(name), e.ue_name,
			    strlen(e.ue_name)));
		if (t->ut_setting[0] == '\0')
			passwd_setting_of(e.ue_password, t->ut_setting,
			    sizeof(t->ut_setting));
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nrecs = reallocarray(recs, cap,
			    sizeof(*recs))) == NULL) {
				free(recs);
				free(t);
				return NULL;
			}
			recs = nrecs;
		}
		recs[n].ur_entry = e;
		recs[n].ur_line = lineno;
		n++;
	}

	if (n > 0)
		qsort(recs, n, sizeof(*recs), udf_cmp_rec);
	for (i = 0, j = 0; i < n; i++) {
		if (j > 0 && strcmp(recs[j - 1].ur_entry.ue_name,
		    recs[i].ur_entry.ue_name) == 0) {
			udf_problem(rp, 0, recs[i].ur_line,
			    "user \"%s\" already defined at line %d; "
			    "line ignored", log_escape(name, sizeof(name),
			    recs[i].ur_entry.ue_name,
			    strlen(recs[i].ur_entry.ue_name)),
			    recs[j - 1].ur_line);
			continue;
		}
		recs[j++] = recs[i];
	}
	t->ut_buf = buf;
	t->ut_bufsz = len;
	t->ut_recs = recs;
	t->ut_nrecs = j;
	return t;
}

/* Order records by name, then by line (so the first line comes first). */
static int
udf_cmp_rec(const void *a, const void *b)
{
	const struct udf_rec	*ra = a, *rb = b;
	int			 c;

	if ((c = strcmp(ra->ur_entry.ue_name, rb->ur_entry.ue_name)) != 0)
		return c;
	return (ra->ur_line > rb->ur_line) - (ra->ur_line < rb->ur_line);
}

/* bsearch(3) a name among the records. */
static int
udf_cmp_key(const void *key, const void *elem)
{
	const struct udf_rec	*r = elem;

	return strcmp(key, r->ur_entry.ue_name);
}

/* Free a table, wiping the file text (it holds the passwords). */
static void
udf_table_free(struct udf_table *t)
{
	if (t == NULL)
		return;
	if (t->ut_buf != NULL) {
		explicit_bzero(t->ut_buf, t->ut_bufsz);
		free(t->ut_buf);
	}
	free(t->ut_recs);
	explicit_bzero(t->ut_setting, sizeof(t->ut_setting));
	free(t);
}

/* FNV-1a over the raw file: only decides whether to warn again. */
static uint64_t
udf_sum(const char *buf, size_t len)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;
	size_t		 i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)buf[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* popserv -t for userdb file: every malformed line is an error. */
static int
udfile_check(const struct config *cf, struct config_msgs *msgs)
{
	struct udf_report	 rp;
	struct udf_table	*t;
	struct stat		 st;
	char			*buf, msg[512];
	size_t			 len;

	if (cf->cf_userdb_path == NULL || cf->cf_userdb_path[0] == '\0') {
		config_msg_add(msgs, 1, cf->cf_path, 0, "userdb",
		    "file: no path given");
		return 1;
	}
	if (udf_read(cf->cf_userdb_path, &buf, &len, &st, msg,
	    sizeof(msg)) == -1) {
		config_msg_add(msgs, 1, cf->cf_userdb_path, 0, "userdb",
		    "cannot read: %s", msg);
		return 1;
	}
	memset(&rp, 0, sizeof(rp));
	rp.rp_path = cf->cf_userdb_path;
	rp.rp_msgs = msgs;
	rp.rp_hashed = cf->cf_crypt;
	if (st.st_mode & S_IROTH)
		udf_problem(&rp, 0, 0, "readable by everyone, and it holds "
		    "passwords");
	if ((t = udf_parse(buf, len, &rp)) == NULL) {
		explicit_bzero(buf, len);
		free(buf);
		config_msg_add(msgs, 1, cf->cf_userdb_path, 0, "userdb",
		    "%s", strerror(ENOMEM));
		return rp.rp_nerrors + 1;
	}
	udf_table_free(t);
	return rp.rp_nerrors;
}

/* userdb mysql: the backend lives in userdb_mysql.c. */
static int
udmysql_open(struct userdb *db, const struct config *cf, char *err,
    size_t errsz)
{
	db->ud_priv = userdb_mysql_open(cf, err, errsz);
	return db->ud_priv != NULL ? 0 : -1;
}

/* Look name up with this worker's MySQL connection. */
static enum userdb_status
udmysql_lookup(struct userdb *db, const char *name, struct userdb_entry *e,
    char *err, size_t errsz)
{
	return userdb_mysql_lookup(db->ud_priv, name, e, err, errsz);
}

/* Close every worker's MySQL connection. */
static void
udmysql_close(struct userdb *db)
{
	userdb_mysql_close(db->ud_priv);
}

/*
 * Copy secret into phrase as a C string for crypt_rn(). -1 when it cannot
 * be one (a NUL inside, or too long): such a secret matches nothing.
 */
static int
passwd_phrase(char *phrase, size_t phrasesz, const char *secret,
    size_t secretlen)
{
	if (secretlen >= phrasesz || memchr(secret, '\0', secretlen) != NULL)
		return -1;
	memcpy(phrase, secret, secretlen);
	phrase[secretlen] = '\0';
	return 0;
}

/* Can a stored value be a crypt(3) hash? Locked ("!...", "*") cannot. */
static int
passwd_usable(const char *stored)
{
	if (passwd_locked(stored))
		return 0;
	return crypt_checksalt(stored) != CRYPT_SALT_INVALID;
}

/*
 * Is a stored value a whole crypt(3) hash, rather than a plaintext one
 * that crypt would take for a DES salt? DES hashes are 13 characters,
 * BSDi ones 20, of the crypt alphabet; the others begin with '$'.
 */
static int
passwd_looks_hashed(const char *s)
{
	static const char	 alphabet[] = "./0123456789"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz";
	size_t			 len = strlen(s);

	if (!passwd_usable(s))
		return 0;
	if (s[0] == '$')
		return 1;
	if (s[0] == '_')
		return len == 20 && strspn(s + 1, alphabet) == len - 1;
	return len == 13 && strspn(s, alphabet) == len;
}

/*
 * The setting part of a hash (method, cost and salt, without the hash
 * itself), e.g. "$y$j9T$salt$" of "$y$j9T$salt$hash". -1 if not a hash.
 */
static int
passwd_setting_of(const char *hash, char *buf, size_t bufsz)
{
	const char	*p;
	size_t		 len;

	if (!passwd_looks_hashed(hash))
		return -1;
	len = strlen(hash);
	if (strncmp(hash, "$2", 2) == 0) {
		/* bcrypt: "$2b$NN$" and 22 characters of salt. */
		if (len < 29)
			return -1;
		len = 29;
	} else if (hash[0] == '$') {
		p = strrchr(hash, '$');
		len = (size_t)(p - hash) + 1;
	} else if (hash[0] == '_')
		len = len < 9 ? len : 9;	/* BSDi extended DES */
	else
		len = len < 2 ? len : 2;	/* traditional DES */
	if (len >= bufsz)
		return -1;
	memcpy(buf, hash, len);
	buf[len] = '\0';
	if (crypt_checksalt(buf) == CRYPT_SALT_INVALID) {
		buf[0] = '\0';
		return -1;
	}
	return 0;
}

/* Make the default setting (the preferred method, a random salt) once. */
static void
passwd_default_init(void)
{
	if (crypt_gensalt_rn(NULL, 0, NULL, 0, passwd_default,
	    sizeof(passwd_default)) == NULL || passwd_default[0] == '*') {
		/* No entropy? Any fixed salt costs the same. */
		snprintf(passwd_default, sizeof(passwd_default), "%s",
		    "$6$popservdummy00$");
	}
}

/* The setting of the system's preferred method, made once per process. */
static const char *
passwd_default_setting(void)
{
	pthread_once(&passwd_default_once, passwd_default_init);
	return passwd_default;
}

/*
 * crypt_rn(phrase, setting) and compare with expect in constant time;
 * expect NULL: only spend the time. The crypt_data is on the stack (each
 * worker has its own) and wiped afterwards.
 */
static int
passwd_crypt(const char *phrase, const char *setting, const char *expect)
{
	struct crypt_data	 cd;
	const char		*out;
	int			 match = 0;

	memset(&cd, 0, sizeof(cd));
	out = crypt_rn(phrase, setting, &cd, sizeof(cd));
	if (out != NULL && out[0] != '*' && expect != NULL)
		match = passwd_ct_eq(expect, strlen(expect), out, strlen(out));
	explicit_bzero(&cd, sizeof(cd));
	return out != NULL && out[0] != '*' ? match : -1;
}

/*
 * Equality of a (alen) and b (blen) in time that depends on blen only:
 * no early exit at the first differing byte. Kept here rather than
 * shared with apop.c so that this file stands alone in its unit test.
 */
static int
passwd_ct_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t		 diff = alen ^ blen, i;
	unsigned char	 x;

	for (i = 0; i < blen; i++) {
		x = i < alen ? (unsigned char)a[i] : 0;
		diff |= x ^ (unsigned char)b[i];
	}
	return diff == 0;
}

/* A locked or disabled account: see userdb.h. */
int
passwd_locked(const char *stored)
{
	return stored[0] == '\0' || stored[0] == '!' || stored[0] == '*';
}

/*
 * Plaintext: compare in constant time. A locked value ("!...", "*...",
 * empty) is compared all the same, so that it costs what a wrong
 * password costs, and never matches.
 */
static int
passwd_plain(const char *stored, const char *secret, size_t secretlen)
{
	int	 eq;

	eq = passwd_ct_eq(stored, strlen(stored), secret, secretlen);
	return eq && !passwd_locked(stored);
}

/* Does secret match the stored password (hash, or plaintext)? */
int
passwd_verify(const char *stored, const char *secret, size_t secretlen,
    int hashed)
{
	char	 phrase[CRYPT_MAX_PASSPHRASE_SIZE];
	int	 match = 0;

	if (stored == NULL || secret == NULL)
		return 0;
	if (!hashed)
		return passwd_plain(stored, secret, secretlen);
	if (passwd_phrase(phrase, sizeof(phrase), secret, secretlen) == -1)
		return 0;
	if (passwd_usable(stored))
		match = passwd_crypt(phrase, stored, stored) == 1;
	else if (stored[0] == '!' && passwd_usable(stored + 1))
		/* Locked (usermod -L): cost what the real hash would. */
		(void)passwd_crypt(phrase, stored + 1, NULL);
	else
		(void)passwd_crypt(phrase, passwd_default_setting(), NULL);
	explicit_bzero(phrase, sizeof(phrase));
	return match;
}

/*
 * For an unknown user: do what passwd_verify() would, against the
 * setting of the kind of hash the database uses (a file's first valid
 * hash; for the system and mysql databases, that of the last hash a
 * lookup found; else the system's preferred method), and throw the
 * result away.
 */
void
passwd_dummy(struct userdb *db, const char *secret, size_t secretlen,
    int hashed)
{
	char	 phrase[CRYPT_MAX_PASSPHRASE_SIZE];
	char	 setting[CRYPT_OUTPUT_SIZE];

	if (secret == NULL)
		return;
	if (!hashed) {
		(void)passwd_plain(passwd_dummy_plain, secret, secretlen);
		return;
	}
	if (passwd_phrase(phrase, sizeof(phrase), secret, secretlen) == -1)
		return;
	setting[0] = '\0';
	if (db != NULL && db->ud_ops->uo_setting != NULL) {
		if (db->ud_ops->uo_setting(db, setting, sizeof(setting)) == -1)
			setting[0] = '\0';
	} else if (db != NULL) {
		pthread_mutex_lock(&db->ud_seen_lock);
		memcpy(setting, db->ud_seen, sizeof(setting));
		pthread_mutex_unlock(&db->ud_seen_lock);
	}
	if (setting[0] == '\0' || passwd_crypt(phrase, setting, NULL) == -1)
		(void)passwd_crypt(phrase, passwd_default_setting(), NULL);
	explicit_bzero(phrase, sizeof(phrase));
	explicit_bzero(setting, sizeof(setting));
}
