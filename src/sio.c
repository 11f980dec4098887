/*
 * The transport of an AUTHORIZATION session (sio.h), as OpenSMTPD's
 * ioev.c is the transport of smtp_session.c: bytes in and out through a
 * struct session_io, the line reader, the output queue, and the one
 * event that waits for whatever comes next, with its time limit.
 *
 * Input is never read past the end of a line: each line is found with
 * io_peek and then read exactly, so whatever a client pipelines after a
 * successful PASS stays in the kernel for popit. The start of a line
 * whose end has not come yet is read into a small buffer, never left in
 * the kernel: the socket buffer holding it could stay charged in full,
 * with the receive window shut, and the rest of the line would never
 * come. Under TLS the same rule holds inside the record layer: SSL_peek
 * finds the line, SSL_read takes exactly it, and whatever was decrypted
 * past a login stays in OpenSSL's buffer for the relay (relay.c).
 *
 * The owner hears of everything through one callback (sio_cb). A call
 * the owner makes that meets a broken transport reports SIO_ERROR before
 * it returns; the owner's callback may close the transport from inside
 * any event.
 */

#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "pop3.h"
#include "sio.h"
#include "state.h"

static ssize_t	 plain_peek(void *, int, void *, size_t);
static ssize_t	 plain_read(void *, int, void *, size_t);
static ssize_t	 plain_write(void *, int, const void *, size_t);
static void	 sio_clock(struct timeval *);
static void	 sio_arm(struct sio *, short, const struct timeval *);
static void	 sio_ev(evutil_socket_t, short, void *);
static void	 sio_flush(struct sio *);
static void	 sio_handshake(struct sio *);
static void	 sio_release(struct sio *);
static int	 sio_wants_write(const struct sio *);

const struct session_io sio_plain = {
	"plain", plain_peek, plain_read, plain_write, NULL, NULL, NULL
};

/* Plain socket: show pending input without consuming it. */
static ssize_t
plain_peek(void *arg, int fd, void *buf, size_t len)
{
	(void)arg;
	return recv(fd, buf, len, MSG_PEEK | MSG_DONTWAIT);
}

/* Plain socket: consume input that plain_peek showed. */
static ssize_t
plain_read(void *arg, int fd, void *buf, size_t len)
{
	(void)arg;
	return recv(fd, buf, len, MSG_DONTWAIT);
}

/* Plain socket: send without blocking and without SIGPIPE. */
static ssize_t
plain_write(void *arg, int fd, const void *buf, size_t len)
{
	(void)arg;
	return send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* The monotonic clock, for the idle limit and deadlines. */
static void
sio_clock(struct timeval *tv)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
}

/* Set up a transport: see sio.h. */
void
sio_init(struct sio *sio, int fd, const struct session_io *io, void *arg,
    sio_cb *cb, size_t linemax)
{
	memset(sio, 0, sizeof(*sio));
	sio->sio_fd = fd;
	sio->sio_io = io;
	sio->sio_arg = arg;
	sio->sio_cb = cb;
	sio->sio_mode = SIO_M_IDLE;
	sio->sio_linemax = linemax;
	event_assign(&sio->sio_ev, env->ps_base, -1, 0, sio_ev, sio);
}

/* The longest line from now on. */
void
sio_linemax(struct sio *sio, size_t len)
{
	sio->sio_linemax = len;
}

/*
 * Point the one event at what (EV_TIMEOUT alone: a timer), with the
 * timeout tv (NULL: none).
 */
static void
sio_arm(struct sio *sio, short what, const struct timeval *tv)
{
	event_del(&sio->sio_ev);
	if (what == EV_TIMEOUT)
		event_assign(&sio->sio_ev, env->ps_base, -1, 0, sio_ev, sio);
	else
		event_assign(&sio->sio_ev, env->ps_base, sio->sio_fd,
		    what | EV_PERSIST, sio_ev, sio);
	event_add(&sio->sio_ev, tv);
}

/* Queue and write: see sio.h. */
int
sio_send(struct sio *sio, const void *buf, size_t len)
{
	short	 what = EV_WRITE;
	ssize_t	 n;

	n = sio->sio_io->io_write(sio->sio_arg, sio->sio_fd, buf, len);
	if (n == -1) {
		if (errno != EAGAIN && errno != EINTR) {
			sio->sio_cb(sio, SIO_ERROR, "write error", 0);
			return -1;
		}
		n = 0;
	}
	if ((size_t)n == len)
		return 0;
	if ((sio->sio_out = malloc(len - n)) == NULL) {
		sio->sio_cb(sio, SIO_ERROR, "out of memory", 0);
		return -1;
	}
	memcpy(sio->sio_out, (const char *)buf + n, len - n);
	sio->sio_outlen = len - n;
	/*
	 * Room in the socket; or, with TLS, input it must read first. The
	 * wait is under the idle limit, whatever came before (a timer).
	 */
	if (sio->sio_mode == SIO_M_TIMER)
		sio->sio_mode = SIO_M_IDLE;
	sio->sio_deadlined = 0;
	if (sio->sio_io->io_wants != NULL)
		what = sio->sio_io->io_wants(sio->sio_arg);
	sio_arm(sio, what, env->ps_idle_tv);
	return 0;
}

/* Is output waiting? */
int
sio_pending(const struct sio *sio)
{
	return sio->sio_outlen > 0;
}

/* Write what is queued; SIO_DRAINED when all of it is gone. */
static void
sio_flush(struct sio *sio)
{
	ssize_t	 n;

	n = sio->sio_io->io_write(sio->sio_arg, sio->sio_fd, sio->sio_out,
	    sio->sio_outlen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		if (sio->sio_io->io_wants != NULL)
			sio_arm(sio, sio->sio_io->io_wants(sio->sio_arg),
			    env->ps_idle_tv);
		return;
	}
	if (n == -1) {
		sio->sio_cb(sio, SIO_ERROR, "write error", 0);
		return;
	}
	memmove(sio->sio_out, sio->sio_out + n, sio->sio_outlen - n);
	sio->sio_outlen -= n;
	if (sio->sio_outlen > 0)
		return;
	free(sio->sio_out);
	sio->sio_out = NULL;
	sio->sio_cb(sio, SIO_DRAINED, NULL, 0);
}

/*
 * Wait for a command, with the idle limit counted from now: the time the
 * server itself took (a slow check, faildelay) is not the client's.
 * Edge-triggered: whatever is here already is read by sio_read_lines().
 */
void
sio_wait_lines(struct sio *sio)
{
	sio->sio_mode = SIO_M_LINES;
	sio->sio_deadlined = 0;
	sio_clock(&sio->sio_since);
	sio_arm(sio, EV_READ | EV_ET, env->ps_idle_tv);
}

/* Wait for raw input under the idle limit, counted from now. */
void
sio_wait_input(struct sio *sio)
{
	sio_wait_lines(sio);
	sio->sio_mode = SIO_M_INPUT;
}

/*
 * Still waiting: time out when the idle limit, counted from the start of
 * the wait, is over. The persistent read event's own timeout starts over
 * at every wakeup, so a client sending a byte now and then would
 * otherwise never time out; bytes that are not yet a whole command buy
 * no time.
 */
void
sio_idle(struct sio *sio)
{
	struct timeval	 now, idle, left;
	struct timeval	 limit = { env->ps_conf->cf_timelimit, 0 };

	if (limit.tv_sec <= 0)
		return;
	sio_clock(&now);
	evutil_timersub(&now, &sio->sio_since, &idle);
	if (!evutil_timercmp(&idle, &limit, <)) {
		sio->sio_cb(sio, SIO_TIMEOUT, NULL, 0);
		return;
	}
	evutil_timersub(&limit, &idle, &left);
	event_add(&sio->sio_ev, &left);
}

/* Wait with a deadline: see sio.h. */
int
sio_deadline(struct sio *sio, short what, int seconds)
{
	struct timeval	 now, spent, left, limit = { seconds, 0 };

	sio->sio_deadlined = 1;
	sio->sio_secs = seconds;
	sio_clock(&now);
	evutil_timersub(&now, &sio->sio_since, &spent);
	if (!evutil_timercmp(&spent, &limit, <)) {
		sio->sio_cb(sio, SIO_DEADLINE, NULL, 0);
		return -1;
	}
	evutil_timersub(&limit, &spent, &left);
	/*
	 * Waiting on already (input that is not yet a whole PROXY header):
	 * only the timeout changes. Deleting and adding the event would
	 * have epoll report the bytes that are there again at once, edge or
	 * not, and the loop would spin until the rest came.
	 */
	if (event_pending(&sio->sio_ev, EV_READ | EV_WRITE, NULL) &&
	    event_get_fd(&sio->sio_ev) == sio->sio_fd &&
	    event_get_events(&sio->sio_ev) == (what | EV_PERSIST))
		event_add(&sio->sio_ev, &left);
	else
		sio_arm(sio, what, &left);
	return 0;
}

/* A timer, reading nothing. */
void
sio_timer(struct sio *sio, int seconds)
{
	struct timeval	 tv = { seconds, 0 };

	sio->sio_mode = SIO_M_TIMER;
	sio->sio_deadlined = 0;
	sio_arm(sio, EV_TIMEOUT, &tv);
}

/* Start a handshake on a new transport: see sio.h. */
void
sio_starttls(struct sio *sio, const struct session_io *io, void *arg,
    int seconds)
{
	int	 fd = sio->sio_fd;

	sio->sio_fd = -1;		/* the socket stays */
	sio_release(sio);
	sio->sio_fd = fd;
	sio->sio_io = io;
	sio->sio_arg = arg;
	sio->sio_mode = SIO_M_HANDSHAKE;
	sio->sio_secs = seconds;
	sio_clock(&sio->sio_since);
	sio_handshake(sio);
}

/* The handshake, one step at a time. */
static void
sio_handshake(struct sio *sio)
{
	char	 why[256];
	int	 r;

	r = sio->sio_io->io_handshake(sio->sio_arg, why, sizeof(why));
	if (r == -1) {
		sio->sio_cb(sio, SIO_TLSFAIL, why, strlen(why));
		return;
	}
	if (r != 0) {
		(void)sio_deadline(sio, (short)r, sio->sio_secs);
		return;
	}
	sio->sio_mode = SIO_M_IDLE;
	sio->sio_deadlined = 0;
	event_del(&sio->sio_ev);
	sio->sio_cb(sio, SIO_TLSREADY, NULL, 0);
}

/* Look at input without taking it. */
ssize_t
sio_peek(struct sio *sio, void *buf, size_t len)
{
	return sio->sio_io->io_peek(sio->sio_arg, sio->sio_fd, buf, len);
}

/* Take input that sio_peek() showed. */
ssize_t
sio_take(struct sio *sio, void *buf, size_t len)
{
	return sio->sio_io->io_read(sio->sio_arg, sio->sio_fd, buf, len);
}

/* After EAGAIN: must the transport write before it can read on? */
static int
sio_wants_write(const struct sio *sio)
{
	return sio->sio_io->io_wants != NULL &&
	    sio->sio_io->io_wants(sio->sio_arg) == EV_WRITE;
}

/* Read and report complete lines until none is left or one must wait. */
void
sio_read_lines(struct sio *sio)
{
	char	 buf[POP3_SASL_LINE_MAX + 1];
	size_t	 have, max;
	ssize_t	 n, len;

	while (sio->sio_mode == SIO_M_LINES && sio->sio_outlen == 0) {
		max = sio->sio_linemax;
		if (max > POP3_SASL_LINE_MAX)
			max = POP3_SASL_LINE_MAX;
		/* The line so far: what came before, then what is here. */
		if ((have = sio->sio_partlen) >= max) {
			sio->sio_cb(sio, SIO_TOOLONG, NULL, 0);
			return;
		}
		if (have > 0)
			memcpy(buf, sio->sio_part, have);
		n = sio_peek(sio, buf + have, max - have);
		if (n == 0) {
			sio->sio_cb(sio, SIO_EOF, NULL, 0);
			return;
		}
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR) {
				sio->sio_cb(sio, SIO_ERROR, "read error", 0);
				return;
			}
			/* TLS may have to write before it can read on. */
			if (sio_wants_write(sio)) {
				sio_arm(sio, EV_WRITE, env->ps_idle_tv);
				return;
			}
			sio_idle(sio);
			return;
		}
		len = pop3_line_end_max(buf, have + n, max);
		if (len == -1) {
			sio->sio_cb(sio, SIO_TOOLONG, NULL, 0);
			return;
		}
		if (len == 0) {
			/* Take the start of the line; the rest is on its way. */
			if (sio->sio_part != NULL && sio->sio_partsz < max &&
			    have == 0) {
				free(sio->sio_part);
				sio->sio_part = NULL;
			}
			if (sio->sio_part == NULL) {
				if ((sio->sio_part = malloc(max)) == NULL) {
					sio->sio_cb(sio, SIO_ERROR,
					    "out of memory", 0);
					return;
				}
				sio->sio_partsz = max;
			}
			if (sio_take(sio, sio->sio_part + have, n) != n) {
				sio->sio_cb(sio, SIO_ERROR, "read error", 0);
				return;
			}
			sio->sio_partlen = have + n;
			continue;
		}
		/* Consume exactly the rest of this line; what follows stays. */
		if (sio_take(sio, buf + have, len - have) !=
		    len - (ssize_t)have) {
			sio->sio_cb(sio, SIO_ERROR, "read error", 0);
			return;
		}
		sio->sio_partlen = 0;
		sio_clock(&sio->sio_since);
		sio->sio_cb(sio, SIO_LINE, buf, len);
	}
}

/*
 * The one event: input, room to write, the time limit, or the timer.
 * With TLS, a write may have waited for input and a read for room.
 */
static void
sio_ev(evutil_socket_t fd, short what, void *arg)
{
	struct sio	*sio = arg;

	(void)fd;
	if (what & EV_TIMEOUT) {
		sio->sio_cb(sio, sio->sio_mode == SIO_M_TIMER ? SIO_TIMER :
		    sio->sio_deadlined ? SIO_DEADLINE : SIO_TIMEOUT, NULL, 0);
		return;
	}
	if (sio->sio_outlen > 0) {
		sio_flush(sio);
		return;
	}
	switch (sio->sio_mode) {
	case SIO_M_HANDSHAKE:
		sio_handshake(sio);
		break;
	case SIO_M_INPUT:
		sio->sio_cb(sio, SIO_INPUT, NULL, 0);
		break;
	case SIO_M_LINES:
		if (what & EV_WRITE)	/* TLS wrote what a read needed */
			sio_wait_lines(sio);
		sio_read_lines(sio);
		break;
	default:
		break;
	}
}

/* Run as if fd had reported what. */
void
sio_ready(struct sio *sio, short what)
{
	sio_ev(sio->sio_fd, what, sio);
}

/* The descriptor and the transport are someone else's now. */
void
sio_detach(struct sio *sio)
{
	event_del(&sio->sio_ev);
	sio->sio_fd = -1;
	sio->sio_arg = NULL;
}

/* Release a transport (arg on fd) that no sio holds (any more). */
void
sio_discard(int fd, const struct session_io *io, void *arg)
{
	if (io->io_free != NULL && arg != NULL)
		io->io_free(arg);
	if (fd != -1)
		close(fd);
}

/* Release the transport, then the descriptor. */
static void
sio_release(struct sio *sio)
{
	sio_discard(sio->sio_fd, sio->sio_io, sio->sio_arg);
	sio->sio_fd = -1;
	sio->sio_arg = NULL;
}

/* The end: see sio.h. Safe to call twice. */
void
sio_close(struct sio *sio)
{
	if (sio->sio_mode == SIO_M_CLOSED)
		return;
	sio->sio_mode = SIO_M_CLOSED;
	event_del(&sio->sio_ev);
	sio_release(sio);
	free(sio->sio_out);
	sio->sio_out = NULL;
	sio->sio_outlen = 0;
	free(sio->sio_part);
	sio->sio_part = NULL;
	sio->sio_partlen = 0;
}
