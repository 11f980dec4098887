/*
 * userdb file: accounts in a passwd(5)-format file of popserv's own. The
 * file is read at the first lookup (on a worker, never on the loop) and
 * again whenever stat(2) shows it changed; lookups share the table in
 * force while a new one is built.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "passwd.h"
#include "userdb_entry.h"
#include "userdb_file.h"

#define UDFILE_NFIELDS		7	/* fields in a passwd(5) line */
#define UDFILE_RACY_SECS	2	/* changed so close to a read: again */
#define UDFILE_MAXFILE		(256L * 1024 * 1024)
#define UDFILE_LOAD_WAIT	5	/* s: for another worker's first read */

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
	/* Setting of the first valid hash, for userdb_dummy(); "": none. */
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

static int	 udfile_name_ok(const char *);
static int	 udfile_parse_id(const char *, uintmax_t, uintmax_t *,
		    const char *, char *, size_t);
static int	 udfile_open(void **, const struct config *, char *, size_t);
static enum userdb_status udfile_lookup(void *, const char *,
		    struct userdb_entry *, char *, size_t);
static void	 udfile_close(void *);
static int	 udfile_setting(void *, char *, size_t);
static void	 udfile_fork(void *, enum userdb_fork);
static int	 udfile_reload_lock(struct udfile *);
static int	 udfile_check(const struct config *, struct config_msgs *);
static int	 udfile_stale(const struct udfile *, const struct stat *,
		    int);
static void	 udfile_reload(struct udfile *);
static void	 udfile_fail(struct udfile *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	 udfile_read(const char *, char **, size_t *, struct stat *,
		    char *, size_t);
static struct udf_table *udfile_parse(char *, size_t, struct udf_report *);
static void	 udfile_problem(struct udf_report *, int, int, const char *,
		    ...) __attribute__((format(printf, 4, 5)));
static int	 udfile_cmp_rec(const void *, const void *);
static int	 udfile_cmp_key(const void *, const void *);
static void	 udfile_table_free(struct udf_table *);
static uint64_t	 udfile_sum(const char *, size_t);
static void	 udfile_ident_set(struct udf_ident *, const struct stat *);

const struct userdb_ops userdb_file_ops = {
	USERDB_FILE, "file", udfile_open, udfile_lookup, udfile_close,
	udfile_setting, udfile_check, udfile_fork
};

/* Could name be in a passwd(5) file at all? */
static int
udfile_name_ok(const char *name)
{
	return name[0] != '\0' && strpbrk(name, ":\n") == NULL;
}

/*
 * Parse a uid or gid: decimal digits only, below max (the all-ones value
 * means "no id"). Reasons never quote the field: on a line with a missing
 * colon the "uid" may well be the password.
 */
static int
udfile_parse_id(const char *s, uintmax_t max, uintmax_t *out,
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
userdb_file_parse_line(char *line, struct userdb_entry *e, char *err,
    size_t errsz)
{
	char		*f[UDFILE_NFIELDS], *p;
	uintmax_t	 uid, gid;
	int		 n;

	memset(e, 0, sizeof(*e));
	for (n = 1, p = line; (p = strchr(p, ':')) != NULL; p++)
		n++;
	if (n != UDFILE_NFIELDS) {
		log_seterr(err, errsz, "%d fields, %d expected "
		    "(user:password:uid:gid:gecos:home:shell)", n,
		    UDFILE_NFIELDS);
		return -1;
	}
	for (n = 0, p = line; n < UDFILE_NFIELDS; n++) {
		f[n] = p;
		if ((p = strchr(p, ':')) != NULL)
			*p++ = '\0';
	}
	if (f[0][0] == '\0') {
		log_seterr(err, errsz, "empty user name");
		return -1;
	}
	if (udfile_parse_id(f[2], (uid_t)-1, &uid, "uid", err, errsz) == -1 ||
	    udfile_parse_id(f[3], (gid_t)-1, &gid, "gid", err, errsz) == -1)
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

/* Set up the state; the file itself is read at the first lookup. */
static int
udfile_open(void **privp, const struct config *cf, char *err, size_t errsz)
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
	*privp = uf;
	return 0;
}

/* Free the table (wiping the passwords), the locks and the path. */
static void
udfile_close(void *priv)
{
	struct udfile	*uf = priv;

	udfile_table_free(uf->uf_table);
	pthread_rwlock_destroy(&uf->uf_lock);
	pthread_mutex_destroy(&uf->uf_reload);
	free(uf->uf_path);
	free(uf);
}

/* Copy the crypt setting of the file's first valid hash; -1 if none. */
static int
udfile_setting(void *priv, char *buf, size_t bufsz)
{
	struct udfile	*uf = priv;
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
udfile_fork(void *priv, enum userdb_fork phase)
{
	struct udfile		*uf = priv;
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
 * with no table yet, wait for that read UDFILE_LOAD_WAIT seconds at
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
	ts.tv_sec += UDFILE_LOAD_WAIT;
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
udfile_ident_set(struct udf_ident *ui, const struct stat *st)
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

	udfile_table_free(old);
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
	if (udfile_read(uf->uf_path, &uf->uf_rbuf, &len, &st, msg,
	    sizeof(msg)) == -1) {
		serrno = errno ? errno : EIO;
		udfile_fail(uf, serrno, "%s: %s", uf->uf_path, msg);
		goto out;
	}
	buf = uf->uf_rbuf;
	uf->uf_rbuf = NULL;

	/* The same text as last time (a racy re-read): don't warn again. */
	sum = udfile_sum(buf, len);
	memset(&rp, 0, sizeof(rp));
	rp.rp_path = uf->uf_path;
	rp.rp_quiet = uf->uf_table != NULL && uf->uf_table->ut_sum == sum &&
	    uf->uf_table->ut_bufsz == len;
	if ((t = udfile_parse(buf, len, &rp)) == NULL) {
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
	udfile_ident_set(&uf->uf_ident, &st);
	uf->uf_racy_until = changed.tv_sec + UDFILE_RACY_SECS;
	uf->uf_racy = now.tv_sec <= uf->uf_racy_until;
	pthread_rwlock_unlock(&uf->uf_lock);

	if (!rp.rp_quiet)
		log_info("%s: %zu users loaded", uf->uf_path, t->ut_nrecs);
	udfile_table_free(old);
 out:
	pthread_mutex_unlock(&uf->uf_reload);
}

/* Look name up in the file, re-reading it first if it changed. */
static enum userdb_status
udfile_lookup(void *priv, const char *name, struct userdb_entry *e,
    char *err, size_t errsz)
{
	struct udfile		*uf = priv;
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
	} else if (!udfile_name_ok(name) || uf->uf_table->ut_nrecs == 0 ||
	    (r = bsearch(name, uf->uf_table->ut_recs, uf->uf_table->ut_nrecs,
	    sizeof(*r), udfile_cmp_key)) == NULL)
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
udfile_read(const char *path, char **bufp, size_t *lenp, struct stat *st,
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
	if (st->st_size > UDFILE_MAXFILE) {
		errno = EFBIG;
		goto fail;
	}
	cap = (size_t)st->st_size + 1;
	if ((buf = malloc(cap)) == NULL)
		goto fail;
	*bufp = buf;
	for (;;) {
		if (len + 1 >= cap) {
			if (cap > UDFILE_MAXFILE) {
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
udfile_problem(struct udf_report *rp, int is_error, int line, const char *fmt,
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
udfile_parse(char *buf, size_t len, struct udf_report *rp)
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
			udfile_problem(rp, 1, lineno, "NUL byte; line skipped");
			continue;
		}
		p = line + strlen(line);
		if (p > line && p[-1] == '\r')
			*--p = '\0';
		p = line + strspn(line, " \t");
		if (*p == '\0' || *p == '#')
			continue;
		if (userdb_file_parse_line(line, &e, why, sizeof(why)) == -1) {
			udfile_problem(rp, 1, lineno, "%s; line skipped", why);
			continue;
		}
		if (rp->rp_hashed && !passwd_looks_hashed(e.ue_password) &&
		    e.ue_password[0] != '!' && e.ue_password[0] != '*')
			udfile_problem(rp, 0, lineno, "user \"%s\": password "
			    "is not a crypt(3) hash (crypt 1): no login",
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
		qsort(recs, n, sizeof(*recs), udfile_cmp_rec);
	for (i = 0, j = 0; i < n; i++) {
		if (j > 0 && strcmp(recs[j - 1].ur_entry.ue_name,
		    recs[i].ur_entry.ue_name) == 0) {
			udfile_problem(rp, 0, recs[i].ur_line,
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
udfile_cmp_rec(const void *a, const void *b)
{
	const struct udf_rec	*ra = a, *rb = b;
	int			 c;

	if ((c = strcmp(ra->ur_entry.ue_name, rb->ur_entry.ue_name)) != 0)
		return c;
	return (ra->ur_line > rb->ur_line) - (ra->ur_line < rb->ur_line);
}

/* bsearch(3) a name among the records. */
static int
udfile_cmp_key(const void *key, const void *elem)
{
	const struct udf_rec	*r = elem;

	return strcmp(key, r->ur_entry.ue_name);
}

/* Free a table, wiping the file text (it holds the passwords). */
static void
udfile_table_free(struct udf_table *t)
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
udfile_sum(const char *buf, size_t len)
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
	if (udfile_read(cf->cf_userdb_path, &buf, &len, &st, msg,
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
		udfile_problem(&rp, 0, 0, "readable by everyone, and it holds "
		    "passwords");
	if ((t = udfile_parse(buf, len, &rp)) == NULL) {
		explicit_bzero(buf, len);
		free(buf);
		config_msg_add(msgs, 1, cf->cf_userdb_path, 0, "userdb",
		    "%s", strerror(ENOMEM));
		return rp.rp_nerrors + 1;
	}
	udfile_table_free(t);
	return rp.rp_nerrors;
}
