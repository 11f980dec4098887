/* popit's session and its POP3 commands: the greeting and the table. */
#ifndef POPIT_PROTO_H
#define POPIT_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "maildir.h"
#include "outbuf.h"

#define POPIT_LINE_MAX		255	/* octets with CRLF (RFC 2449 §4) */
#define POPIT_IBUF		4096	/* input: many pipelined commands */
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
	md_logfn	 pi_log;	/* one line to popserv's log */
	size_t		 pi_ioff;	/* first unparsed input byte */
	size_t		 pi_ilen;	/* input bytes held */
	char		 pi_ibuf[POPIT_IBUF];
	struct outbuf	 pi_ob;		/* answers for the client */
};

void		 popit_greet(struct popit *);
enum popit_next	 popit_dispatch(struct popit *, const char *, size_t);
int		 popit_parse_num(const char *, size_t, uint64_t *);

#endif
