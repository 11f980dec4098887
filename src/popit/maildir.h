/* popit's view of one Maildir: scan, sizes, UIDs, encoding, update. */
#ifndef POPIT_MAILDIR_H
#define POPIT_MAILDIR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MD_UID_MAX	70	/* RFC 1939 §7: 1 to 70 octets, 0x21-0x7E */
#define MD_SIZE_UNKNOWN	((uint64_t)-1)

/* mm_flags */
#define MD_DELETED	0x01	/* DELE: unlink at QUIT */
#define MD_RETRIEVED	0x02	/* RETR: add the S flag at QUIT */
#define MD_GONE		0x04	/* vanished (another session removed it) */

/* One message: where it is now, its sort key, what this session did. */
struct md_msg {
	char		*mm_path;	/* "new/NAME" or "cur/NAME:2,FLAGS" */
	size_t		 mm_ulen;	/* length of the unique part, after "xxx/" */
	uint64_t	 mm_sec;	/* delivery second, UINT64_MAX if none */
	int64_t		 mm_usec;	/* microseconds (M part), -1 if none */
	uint64_t	 mm_size;	/* octets as sent, MD_SIZE_UNKNOWN */
	unsigned int	 mm_flags;
};

/* A scanned Maildir; messages numbered from 1 as md_msgs[n - 1]. */
struct maildir {
	int		 md_dirfd;	/* the Maildir (AT_FDCWD in popit) */
	struct md_msg	*md_msgs;
	size_t		 md_count;
	size_t		 md_cap;
};

/* Result of the UPDATE step. */
struct md_update {
	size_t		 mu_deleted;	/* unlinked (or already gone) */
	size_t		 mu_moved;	/* renamed new/ -> cur/ or flagged */
	size_t		 mu_delfail;	/* unlink failed */
	size_t		 mu_movefail;	/* rename failed */
};

/*
 * Streaming encoder for RETR and TOP: LF becomes CRLF (an existing CRLF
 * is kept), a line starting with '.' gets another '.', and TOP stops
 * after the headers, the blank line and me_left body lines.
 */
struct md_enc {
	int		 me_bol;	/* at the beginning of a line */
	int		 me_cr;		/* the last byte was CR */
	int		 me_body;	/* past the header/body separator */
	int		 me_top;	/* count body lines (TOP) */
	int		 me_done;	/* TOP has sent all it should */
	size_t		 me_linelen;	/* bytes of the current line so far */
	uint64_t	 me_left;	/* TOP: body lines still to send */
};

/* Worst-case output of md_enc_run() for inlen input bytes. */
#define MD_ENC_OUTMAX(inlen)	(2 * (inlen))
/* Worst-case output of md_enc_finish(). */
#define MD_ENC_FINMAX		5

/* Error reporting hook: a one-line message (without newline). */
typedef void	(*md_logfn)(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));

void		 maildir_init(struct maildir *, int dirfd);
int		 maildir_scan(struct maildir *, md_logfn);
void		 maildir_free(struct maildir *);

int		 maildir_size(struct maildir *, size_t idx, uint64_t *);
int		 maildir_open(struct maildir *, size_t idx);
int		 maildir_relocate(struct maildir *, size_t idx);
const char	*maildir_uid(const struct maildir *, size_t idx,
		    char buf[MD_UID_MAX + 1]);
int		 maildir_update(struct maildir *, struct md_update *, md_logfn);

/* Pure helpers, exposed for the unit tests. */
int		 md_msg_cmp(const struct md_msg *, const struct md_msg *);
void		 md_parse_name(const char *name, size_t *ulen, uint64_t *sec,
		    int64_t *usec);
uint64_t	 md_name_size(const char *name, size_t ulen);
int		 md_uid_make(const char *uniq, size_t ulen,
		    char buf[MD_UID_MAX + 1]);
int		 md_target_name(const char *name, int seen, char *out,
		    size_t outsz);
void		 md_count_crlf(const char *buf, size_t len, int *cr,
		    uint64_t *size);
void		 md_enc_init(struct md_enc *, int top, uint64_t lines);
size_t		 md_enc_run(struct md_enc *, const char *in, size_t inlen,
		    char *out);
size_t		 md_enc_finish(struct md_enc *, char *out);

#endif
