/* The Maildir behind popit: scan, order, sizes, UIDs, encoding, UPDATE. */

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir.h"

#define MD_READ_CHUNK	65536

static int	 md_add(struct maildir *, const char *, const char *);
static int	 md_qcmp(const void *, const void *);
static void	 md_dedup(struct maildir *);
static int	 md_set_path(struct md_msg *, const char *, const char *);
static int	 md_unlink(struct maildir *, size_t);
static int	 md_move(struct maildir *, size_t);
static uint64_t	 md_hash(const char *, size_t, uint64_t);
static int	 md_uniq_eq(const char *, size_t, const char *);

/* Start with an empty Maildir whose directory is dirfd. */
void
maildir_init(struct maildir *md, int dirfd)
{
	md->md_dirfd = dirfd;
	md->md_msgs = NULL;
	md->md_count = 0;
	md->md_cap = 0;
}

/* Free every message; the Maildir can be scanned again. */
void
maildir_free(struct maildir *md)
{
	size_t	 i;

	for (i = 0; i < md->md_count; i++)
		free(md->md_msgs[i].mm_path);
	free(md->md_msgs);
	md->md_msgs = NULL;
	md->md_count = 0;
	md->md_cap = 0;
}

/*
 * Read new/ and cur/ (never tmp/), skipping dotfiles and anything that
 * is not a regular file, and number the messages in delivery order.
 * No file is opened or stat'ed unless the file system hides its type.
 */
int
maildir_scan(struct maildir *md, md_logfn logfn)
{
	static const char *const subdirs[] = { "new", "cur" };
	struct dirent	*de;
	struct stat	 st;
	DIR		*dp;
	size_t		 i;
	int		 fd;

	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		fd = openat(md->md_dirfd, subdirs[i],
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd == -1 || (dp = fdopendir(fd)) == NULL) {
			logfn("%s: %s", subdirs[i], strerror(errno));
			if (fd != -1)
				close(fd);
			return -1;
		}
		for (;;) {
			errno = 0;
			if ((de = readdir(dp)) == NULL)
				break;
			if (de->d_name[0] == '.')
				continue;
			if (de->d_type != DT_REG) {
				if (de->d_type != DT_UNKNOWN)
					continue;
				if (fstatat(fd, de->d_name, &st,
				    AT_SYMLINK_NOFOLLOW) == -1 ||
				    !S_ISREG(st.st_mode))
					continue;
			}
			if (md_add(md, subdirs[i], de->d_name) == -1) {
				logfn("%s: %s", subdirs[i], strerror(errno));
				closedir(dp);
				return -1;
			}
		}
		if (errno != 0) {
			logfn("%s: readdir: %s", subdirs[i], strerror(errno));
			closedir(dp);
			return -1;
		}
		closedir(dp);
	}
	if (md->md_count > 1)
		qsort(md->md_msgs, md->md_count, sizeof(md->md_msgs[0]),
		    md_qcmp);
	md_dedup(md);
	return 0;
}

/* Append sub/name to the message list, with its sort key and size hint. */
static int
md_add(struct maildir *md, const char *sub, const char *name)
{
	struct md_msg	*mm, *n;
	size_t		 cap;

	if (md->md_count == md->md_cap) {
		cap = md->md_cap == 0 ? 64 : md->md_cap * 2;
		if ((n = reallocarray(md->md_msgs, cap, sizeof(*n))) == NULL)
			return -1;
		md->md_msgs = n;
		md->md_cap = cap;
	}
	mm = &md->md_msgs[md->md_count];
	mm->mm_path = NULL;
	if (md_set_path(mm, sub, name) == -1)
		return -1;
	md_parse_name(name, &mm->mm_ulen, &mm->mm_sec, &mm->mm_usec);
	mm->mm_size = md_name_size(name, mm->mm_ulen);
	mm->mm_flags = 0;
	md->md_count++;
	return 0;
}

/* Point mm at sub/name ("new" or "cur"), replacing its old path. */
static int
md_set_path(struct md_msg *mm, const char *sub, const char *name)
{
	size_t	 len = strlen(name);
	char	*p;

	if ((p = malloc(4 + len + 1)) == NULL)
		return -1;
	memcpy(p, sub, 3);
	p[3] = '/';
	memcpy(p + 4, name, len + 1);
	free(mm->mm_path);
	mm->mm_path = p;
	return 0;
}

/*
 * Split a Maildir file name: the unique part ends at the first ':'
 * (the info); the delivery time is its leading decimal seconds
 * (UINT64_MAX when it has none, so such names sort last) and, in the
 * second dot-separated field, the microseconds of an "M<digits>"
 * element (Dovecot, Courier, Postfix, maildrop), -1 when absent.
 */
void
md_parse_name(const char *name, size_t *ulen, uint64_t *sec, int64_t *usec)
{
	size_t		 i, end, n;
	uint64_t	 v;

	n = strcspn(name, ":");
	*ulen = n;
	*sec = UINT64_MAX;
	*usec = -1;
	for (i = 0, v = 0; i < n && name[i] >= '0' && name[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10) {
			v = UINT64_MAX;
			break;
		}
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (i == 0)
		return;
	*sec = v;
	while (i < n && name[i] >= '0' && name[i] <= '9')
		i++;
	if (i >= n || name[i] != '.')
		return;
	for (end = ++i; end < n && name[end] != '.'; end++)
		;
	for (; i + 1 < end; i++) {
		if (name[i] != 'M' || name[i + 1] < '0' || name[i + 1] > '9')
			continue;
		for (v = 0, i++; i < end && name[i] >= '0' && name[i] <= '9';
		    i++) {
			if (v > (uint64_t)INT64_MAX / 10 - 9) {
				v = INT64_MAX;
				break;
			}
			v = v * 10 + (uint64_t)(name[i] - '0');
		}
		*usec = (int64_t)v;
		return;
	}
}

/*
 * The POP3 size from a Maildir++ ",W=<octets>" hint in the unique part
 * (the size with CRLF line ends), or MD_SIZE_UNKNOWN. ",S=" is the file
 * size with bare LFs, not what POP3 sends, so it is not used.
 */
uint64_t
md_name_size(const char *name, size_t ulen)
{
	size_t		 i, j;
	uint64_t	 v;

	for (i = 0; i + 3 < ulen; i++) {
		if (name[i] != ',' || name[i + 1] != 'W' || name[i + 2] != '=')
			continue;
		for (j = i + 3, v = 0; j < ulen && name[j] >= '0' &&
		    name[j] <= '9'; j++) {
			if (v > (UINT64_MAX - 10) / 10)
				return MD_SIZE_UNKNOWN;
			v = v * 10 + (uint64_t)(name[j] - '0');
		}
		if (j > i + 3 && (j == ulen || name[j] == ','))
			return v;
	}
	return MD_SIZE_UNKNOWN;
}

/*
 * Delivery order: seconds, then microseconds, then the unique name
 * bytewise, then the path (so "cur/" comes before "new/" for the same
 * unique name). A total order, so qsort is well defined.
 */
int
md_msg_cmp(const struct md_msg *a, const struct md_msg *b)
{
	size_t	 n;
	int	 r;

	if (a->mm_sec != b->mm_sec)
		return a->mm_sec < b->mm_sec ? -1 : 1;
	if (a->mm_usec != b->mm_usec)
		return a->mm_usec < b->mm_usec ? -1 : 1;
	n = a->mm_ulen < b->mm_ulen ? a->mm_ulen : b->mm_ulen;
	if ((r = memcmp(a->mm_path + 4, b->mm_path + 4, n)) != 0)
		return r;
	if (a->mm_ulen != b->mm_ulen)
		return a->mm_ulen < b->mm_ulen ? -1 : 1;
	return strcmp(a->mm_path, b->mm_path);
}

/* qsort(3) wrapper for md_msg_cmp(). */
static int
md_qcmp(const void *a, const void *b)
{
	return md_msg_cmp(a, b);
}

/*
 * A message moved from new/ to cur/ while we read the directories can
 * show up twice: keep one entry per unique name (the first, in cur/).
 */
static void
md_dedup(struct maildir *md)
{
	struct md_msg	*m = md->md_msgs;
	size_t		 i, j;

	for (i = j = 0; i < md->md_count; i++) {
		if (j > 0 && m[j - 1].mm_ulen == m[i].mm_ulen &&
		    memcmp(m[j - 1].mm_path + 4, m[i].mm_path + 4,
		    m[i].mm_ulen) == 0) {
			free(m[i].mm_path);
			continue;
		}
		m[j++] = m[i];
	}
	md->md_count = j;
}

/* Does name (a directory entry) have the unique part uniq[0..ulen)? */
static int
md_uniq_eq(const char *uniq, size_t ulen, const char *name)
{
	return strncmp(name, uniq, ulen) == 0 &&
	    (name[ulen] == '\0' || name[ulen] == ':');
}

/*
 * Find message idx again after another session moved it (new/ to cur/,
 * other flags): look for its unique name in cur/ and new/. Returns 0
 * with mm_path updated, or -1 with errno (ENOENT: it is gone).
 */
int
maildir_relocate(struct maildir *md, size_t idx)
{
	static const char *const subdirs[] = { "cur", "new" };
	struct md_msg	*mm = &md->md_msgs[idx];
	struct dirent	*de;
	DIR		*dp;
	char		 uniq[NAME_MAX + 1];
	size_t		 i;
	int		 fd, found = 0, saved;

	if (mm->mm_ulen > NAME_MAX) {
		errno = ENOENT;
		return -1;
	}
	memcpy(uniq, mm->mm_path + 4, mm->mm_ulen);
	uniq[mm->mm_ulen] = '\0';
	for (i = 0; i < 2 && !found; i++) {
		fd = openat(md->md_dirfd, subdirs[i],
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd == -1)
			return -1;
		if ((dp = fdopendir(fd)) == NULL) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		while ((de = readdir(dp)) != NULL) {
			if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
				continue;
			if (!md_uniq_eq(uniq, mm->mm_ulen, de->d_name))
				continue;
			if (md_set_path(mm, subdirs[i], de->d_name) == -1) {
				saved = errno;
				closedir(dp);
				errno = saved;
				return -1;
			}
			found = 1;
			break;
		}
		closedir(dp);
	}
	if (!found) {
		mm->mm_flags |= MD_GONE;
		errno = ENOENT;
		return -1;
	}
	return 0;
}

/*
 * Open message idx for reading, following it if another session moved
 * it. Returns a descriptor, or -1 with errno (ENOENT: it is gone).
 */
int
maildir_open(struct maildir *md, size_t idx)
{
	struct md_msg	*mm = &md->md_msgs[idx];
	int		 fd, tries;

	if (mm->mm_flags & MD_GONE) {
		errno = ENOENT;
		return -1;
	}
	for (tries = 0; tries < 3; tries++) {
		fd = openat(md->md_dirfd, mm->mm_path,
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
		if (fd != -1)
			return fd;
		if (errno != ENOENT || maildir_relocate(md, idx) == -1)
			return -1;
	}
	errno = ENOENT;
	return -1;
}

/*
 * Count the octets of buf as POP3 sends them, before byte-stuffing: a
 * LF not preceded by CR gains one. *cr carries "last byte was CR"
 * across calls.
 */
void
md_count_crlf(const char *buf, size_t len, int *cr, uint64_t *size)
{
	const char	*p = buf, *end = buf + len, *lf;

	*size += len;
	if (len == 0)
		return;
	while ((lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (lf == buf ? !*cr : lf[-1] != '\r')
			(*size)++;
		p = lf + 1;
	}
	*cr = end[-1] == '\r';
}

/*
 * The POP3 size of message idx: the ,W= hint when the name has one,
 * otherwise the file is read once and the result kept. A message that
 * vanished meanwhile counts 0 octets. Returns -1 on a read error.
 */
int
maildir_size(struct maildir *md, size_t idx, uint64_t *size)
{
	struct md_msg	*mm = &md->md_msgs[idx];
	char		 buf[MD_READ_CHUNK];
	uint64_t	 n = 0;
	ssize_t		 r;
	int		 fd, cr = 0, saved;

	if (mm->mm_size != MD_SIZE_UNKNOWN) {
		*size = mm->mm_size;
		return 0;
	}
	if ((fd = maildir_open(md, idx)) == -1) {
		if (errno != ENOENT)
			return -1;
		*size = 0;
		return 0;
	}
	for (;;) {
		r = read(fd, buf, sizeof(buf));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		md_count_crlf(buf, (size_t)r, &cr, &n);
	}
	saved = errno;
	close(fd);
	if (r == -1) {
		errno = saved;
		return -1;
	}
	mm->mm_size = n;
	*size = n;
	return 0;
}

/* FNV-1a over buf from basis, finished with MurmurHash3's fmix64. */
static uint64_t
md_hash(const char *buf, size_t len, uint64_t h)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)buf[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/*
 * The UIDL of a unique name: the name itself when it is 1 to 70
 * characters in 0x21-0x7E, otherwise "~" and 32 hex digits of a 128-bit
 * hash of it (deterministic, so stable across sessions). Returns 1 when
 * the name was hashed, 0 when it was kept.
 */
int
md_uid_make(const char *uniq, size_t ulen, char buf[MD_UID_MAX + 1])
{
	size_t	 i;

	for (i = 0; i < ulen && ulen <= MD_UID_MAX; i++)
		if ((unsigned char)uniq[i] < 0x21 ||
		    (unsigned char)uniq[i] > 0x7e)
			break;
	if (ulen > 0 && i == ulen) {
		memcpy(buf, uniq, ulen);
		buf[ulen] = '\0';
		return 0;
	}
	snprintf(buf, MD_UID_MAX + 1, "~%016llx%016llx",
	    (unsigned long long)md_hash(uniq, ulen, 0xcbf29ce484222325ULL),
	    (unsigned long long)md_hash(uniq, ulen,
	    0x84222325cbf29ce4ULL ^ ulen));
	return 1;
}

/* The UIDL of message idx, written to buf. */
const char *
maildir_uid(const struct maildir *md, size_t idx, char buf[MD_UID_MAX + 1])
{
	const struct md_msg	*mm = &md->md_msgs[idx];

	md_uid_make(mm->mm_path + 4, mm->mm_ulen, buf);
	return buf;
}

/*
 * The name a message should have in cur/ after UPDATE: the info ":2,"
 * added when missing, and with seen the S flag added, every flag in
 * ASCII order, each once (Maildir spec). An info that is not ":2,..."
 * (experimental semantics) is left as it is. Returns -1 if out is
 * too small.
 */
int
md_target_name(const char *name, int seen, char *out, size_t outsz)
{
	const char	*info = strchr(name, ':');
	unsigned char	 have[256];
	size_t		 len, i, c;

	if (info == NULL) {
		if ((size_t)snprintf(out, outsz, "%s:2,%s", name,
		    seen ? "S" : "") >= outsz)
			return -1;
		return 0;
	}
	if (strncmp(info, ":2,", 3) != 0 || !seen ||
	    strchr(info + 3, 'S') != NULL) {
		if ((size_t)snprintf(out, outsz, "%s", name) >= outsz)
			return -1;
		return 0;
	}
	len = (size_t)(info - name) + 3;
	if (len + strlen(info + 3) + 2 > outsz)
		return -1;
	memcpy(out, name, len);
	memset(have, 0, sizeof(have));
	for (i = 3; info[i] != '\0'; i++)
		have[(unsigned char)info[i]] = 1;
	have['S'] = 1;
	for (c = 1; c < 256; c++)
		if (have[c])
			out[len++] = (char)c;
	out[len] = '\0';
	return 0;
}

/*
 * Unlink message idx, following it if it moved. Returns 0 when it is
 * gone (by us or by someone else), -1 with errno on failure.
 */
static int
md_unlink(struct maildir *md, size_t idx)
{
	struct md_msg	*mm = &md->md_msgs[idx];
	int		 tries;

	if (mm->mm_flags & MD_GONE)
		return 0;
	for (tries = 0; tries < 3; tries++) {
		if (unlinkat(md->md_dirfd, mm->mm_path, 0) == 0)
			return 0;
		if (errno != ENOENT)
			return -1;
		if (maildir_relocate(md, idx) == -1)
			return errno == ENOENT ? 0 : -1;
	}
	errno = EBUSY;		/* it keeps moving under us */
	return -1;
}

/*
 * Move message idx from new/ to cur/, or within cur/ to add the S
 * flag (md_target_name()), following it if it moved. Returns 1 when renamed, 0 when there was nothing to
 * do or it is gone, -1 with errno on failure.
 */
static int
md_move(struct maildir *md, size_t idx)
{
	struct md_msg	*mm = &md->md_msgs[idx];
	char		 target[4 + NAME_MAX + 1];
	int		 tries;

	for (tries = 0; tries < 3; tries++) {
		if (mm->mm_flags & MD_GONE)
			return 0;
		/* A message in cur/ is only touched to add the S flag. */
		if (strncmp(mm->mm_path, "cur/", 4) == 0 &&
		    !(mm->mm_flags & MD_RETRIEVED))
			return 0;
		memcpy(target, "cur/", 4);
		if (md_target_name(mm->mm_path + 4,
		    (mm->mm_flags & MD_RETRIEVED) != 0, target + 4,
		    sizeof(target) - 4) == -1) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (strcmp(target, mm->mm_path) == 0)
			return 0;
		if (renameat(md->md_dirfd, mm->mm_path, md->md_dirfd,
		    target) == 0) {
			if (md_set_path(mm, "cur", target + 4) == -1)
				mm->mm_flags |= MD_GONE;
			return 1;
		}
		if (errno != ENOENT)
			return -1;
		if (maildir_relocate(md, idx) == -1)
			return errno == ENOENT ? 0 : -1;
	}
	errno = EBUSY;
	return -1;
}

/*
 * The UPDATE state (RFC 1939 §6): unlink the messages marked deleted,
 * move new/ messages to cur/ with ":2," info, and add the S flag to
 * those retrieved. A message another session removed or moved is
 * followed by its unique name, and one that is gone counts as done.
 * Returns -1 when some unlink failed (each failure is logged).
 */
int
maildir_update(struct maildir *md, struct md_update *res, md_logfn logfn)
{
	struct md_msg	*mm;
	size_t		 i;
	int		 r;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < md->md_count; i++) {
		mm = &md->md_msgs[i];
		if (mm->mm_flags & MD_DELETED) {
			if (md_unlink(md, i) == 0)
				res->mu_deleted++;
			else {
				logfn("%s: unlink: %s", mm->mm_path,
				    strerror(errno));
				res->mu_delfail++;
			}
			continue;
		}
		if ((r = md_move(md, i)) == 1)
			res->mu_moved++;
		else if (r == -1) {
			logfn("%s: rename to cur/: %s", mm->mm_path,
			    strerror(errno));
			res->mu_movefail++;
		}
	}
	return res->mu_delfail > 0 ? -1 : 0;
}

/* Start encoding a message; with top, send only lines body lines. */
void
md_enc_init(struct md_enc *e, int top, uint64_t lines)
{
	memset(e, 0, sizeof(*e));
	e->me_bol = 1;
	e->me_top = top;
	e->me_left = lines;
}

/*
 * Encode inlen bytes of a message into out, which has room for
 * MD_ENC_OUTMAX(inlen) bytes; returns the bytes written. Once TOP has
 * sent its lines (me_done) the rest of the input is ignored. 8-bit and
 * binary data pass unchanged.
 */
size_t
md_enc_run(struct md_enc *e, const char *in, size_t inlen, char *out)
{
	size_t	 i, o = 0;
	char	 c;

	for (i = 0; i < inlen && !e->me_done; i++) {
		c = in[i];
		if (e->me_bol && c == '.')
			out[o++] = '.';
		if (c != '\n') {
			out[o++] = c;
			e->me_bol = 0;
			e->me_cr = c == '\r';
			e->me_linelen++;
			continue;
		}
		if (!e->me_cr)
			out[o++] = '\r';
		out[o++] = '\n';
		if (e->me_body) {
			if (e->me_top && --e->me_left == 0)
				e->me_done = 1;
		} else if (e->me_linelen == 0 ||
		    (e->me_linelen == 1 && e->me_cr)) {
			/* The blank line ending the headers. */
			e->me_body = 1;
			if (e->me_top && e->me_left == 0)
				e->me_done = 1;
		}
		e->me_bol = 1;
		e->me_cr = 0;
		e->me_linelen = 0;
	}
	return o;
}

/*
 * End the message: a last line without a newline gets CRLF, then the
 * terminating "." line. Returns the bytes written (at most
 * MD_ENC_FINMAX).
 */
size_t
md_enc_finish(struct md_enc *e, char *out)
{
	size_t	 o = 0;

	if (!e->me_bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}
