/* popit: the POP3 TRANSACTION and UPDATE states on one Maildir. */
#ifndef POPIT_H
#define POPIT_H

#include <stddef.h>
#include <stdint.h>

#include "maildir.h"

#define POPIT_LINE_MAX		255	/* octets with CRLF (RFC 2449 §4) */
#define POPIT_IBUF		4096	/* input: many pipelined commands */
#define POPIT_OBUF		(128 * 1024)	/* output, flushed before reads */
#define POPIT_CHUNK		(32 * 1024)	/* message bytes read at once */
#define POPIT_TIMEOUT		600	/* idle seconds (RFC 1939 §3) */

/* What popit_dispatch() tells the command loop. */
enum popit_next {
	POPIT_CONTINUE = 0,	/* read the next command */
	POPIT_QUIT,		/* QUIT answered: flush and exit */
	POPIT_ABORT,		/* unrecoverable (I/O error mid-message) */
};

/* One session: the Maildir, what was accessed, and the I/O buffers. */
struct popit {
	struct maildir	 pi_md;
	size_t		 pi_last;	/* LAST: highest message accessed */
	int		 pi_status;	/* exit status after QUIT */
	int		 pi_in;		/* client, read side (fd 0) */
	int		 pi_out;	/* client, write side (fd 1) */
	int		 pi_outsock;	/* pi_out is a socket: use send(2) */
	int		 pi_timeout;	/* idle timeout in ms, -1: none */
	const char	*pi_useropt;	/* popserv's "user option", or NULL */
	size_t		 pi_olen;
	size_t		 pi_ioff;	/* first unparsed input byte */
	size_t		 pi_ilen;	/* input bytes held */
	char		 pi_ibuf[POPIT_IBUF];
	char		 pi_obuf[POPIT_OBUF];
};

/* popit.c: buffered output to the client, logging to stderr. */
void		 popit_write(struct popit *, const void *, size_t);
void		 popit_printf(struct popit *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
char		*popit_reserve(struct popit *, size_t);
void		 popit_commit(struct popit *, size_t);
void		 popit_flush(struct popit *);
void		 popit_log(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

/* popit_proto.c: the greeting and the command table. */
void		 popit_greet(struct popit *);
enum popit_next	 popit_dispatch(struct popit *, const char *, size_t);
int		 popit_parse_num(const char *, size_t, uint64_t *);

#endif
