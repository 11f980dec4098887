/* popit's output buffer: answers queued, then written in large pieces. */
#ifndef OUTBUF_H
#define OUTBUF_H

#include <stddef.h>

#define OUTBUF_SIZE		(128 * 1024)	/* flushed before reads */

/* Write all len bytes at buf to the client (or end the process). */
typedef void	(*outbuf_sendfn)(void *arg, const char *buf, size_t len);

/* What is queued for the client, and who writes it. */
struct outbuf {
	outbuf_sendfn	 ob_send;
	void		*ob_arg;
	size_t		 ob_len;
	size_t		 ob_cut;	/* answers cut to 511 octets */
	char		 ob_buf[OUTBUF_SIZE];
};

void		 outbuf_init(struct outbuf *, outbuf_sendfn, void *);
void		 outbuf_flush(struct outbuf *);
char		*outbuf_reserve(struct outbuf *, size_t);
void		 outbuf_commit(struct outbuf *, size_t);
void		 outbuf_write(struct outbuf *, const void *, size_t);
void		 outbuf_printf(struct outbuf *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

#endif
