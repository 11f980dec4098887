/*
 * popit's output buffer: the answers are queued here and handed to the
 * writer (popit.c, or a unit test's capture) when the buffer is full or
 * before popit waits for the next command. No I/O of its own.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "outbuf.h"

/* An empty buffer whose contents send writes, with arg. */
void
outbuf_init(struct outbuf *ob, outbuf_sendfn send, void *arg)
{
	ob->ob_send = send;
	ob->ob_arg = arg;
	ob->ob_len = 0;
	ob->ob_cut = 0;
}

/* Hand everything queued to the writer. */
void
outbuf_flush(struct outbuf *ob)
{
	if (ob->ob_len > 0)
		ob->ob_send(ob->ob_arg, ob->ob_buf, ob->ob_len);
	ob->ob_len = 0;
}

/* Room for at least len more output bytes (len <= OUTBUF_SIZE). */
char *
outbuf_reserve(struct outbuf *ob, size_t len)
{
	if (sizeof(ob->ob_buf) - ob->ob_len < len)
		outbuf_flush(ob);
	return ob->ob_buf + ob->ob_len;
}

/* Account for len bytes written at outbuf_reserve()'s pointer. */
void
outbuf_commit(struct outbuf *ob, size_t len)
{
	ob->ob_len += len;
}

/* Queue len bytes for the client. */
void
outbuf_write(struct outbuf *ob, const void *buf, size_t len)
{
	const char	*p = buf;
	size_t		 n;

	while (len > 0) {
		n = sizeof(ob->ob_buf) - ob->ob_len;
		if (n == 0) {
			outbuf_flush(ob);
			continue;
		}
		if (n > len)
			n = len;
		memcpy(ob->ob_buf + ob->ob_len, p, n);
		ob->ob_len += n;
		p += n;
		len -= n;
	}
}

/* Queue a formatted answer (one short line) for the client. */
void
outbuf_printf(struct outbuf *ob, const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		ob->ob_cut++;
	outbuf_write(ob, buf, (size_t)n < sizeof(buf) ? (size_t)n :
	    sizeof(buf) - 1);
}
