/*
 * The transport of an AUTHORIZATION session: how its bytes move (the
 * plain socket, TLS, or a driver without a socket), the exact-line
 * reader, the output queue, and what the session waits for (lines, raw
 * input, a handshake, a timer) with its time limit. It knows nothing of
 * POP3 commands: it calls its owner back with events.
 */
#ifndef SIO_H
#define SIO_H

#include <sys/types.h>
#include <sys/time.h>

#include <event2/event_struct.h>

/*
 * How a session moves its bytes. Each call returns a count, 0 at the end
 * of the input, or -1 with errno set; EAGAIN (or EINTR) means "not now".
 * io_peek shows up to len bytes without consuming them; io_read then
 * consumes exactly len bytes that io_peek has shown, so nothing past a
 * command is ever taken from the transport. arg is the transport's own
 * (a tls_conn, a fuzzer's client), fd the descriptor (-1 when there is
 * none).
 */
struct session_io {
	const char	*io_name;	/* "plain", "tls": for logs */
	ssize_t		(*io_peek)(void *arg, int fd, void *buf, size_t len);
	ssize_t		(*io_read)(void *arg, int fd, void *buf, size_t len);
	ssize_t		(*io_write)(void *arg, int fd, const void *buf,
			    size_t len);
	/*
	 * After EAGAIN: the readiness of fd to wait for (EV_READ or
	 * EV_WRITE). NULL: reads wait for EV_READ, writes for EV_WRITE.
	 */
	short		(*io_wants)(void *arg);
	/* When the transport is released, before fd is closed. */
	void		(*io_free)(void *arg);
	/*
	 * One step of a handshake: 0 when done, EV_READ or EV_WRITE when it
	 * waits for fd, -1 when it failed (why says how). NULL: none.
	 */
	int		(*io_handshake)(void *arg, char *why, size_t whysz);
};

/* The plain socket: recv(MSG_PEEK), recv() and send(), non-blocking. */
extern const struct session_io sio_plain;

/* What a transport tells its owner. */
enum sio_event {
	SIO_LINE,	/* a whole line (data, len), consumed exactly */
	SIO_INPUT,	/* input to look at (sio_peek, sio_take) */
	SIO_DRAINED,	/* the queued output is all written */
	SIO_TLSREADY,	/* the handshake is done */
	SIO_TLSFAIL,	/* the handshake failed: data says why */
	SIO_TOOLONG,	/* a line longer than the limit */
	SIO_TIMEOUT,	/* the idle limit is over */
	SIO_DEADLINE,	/* the deadline of sio_deadline() is over */
	SIO_TIMER,	/* the timer of sio_timer() */
	SIO_EOF,	/* the client closed */
	SIO_ERROR,	/* the transport broke: data says how */
};

struct sio;
typedef void	 sio_cb(struct sio *, enum sio_event, const char *data,
		    size_t len);

/* What the transport waits for: sio_mode. */
enum sio_mode {
	SIO_M_IDLE,	/* nothing (yet) */
	SIO_M_LINES,	/* command lines, under the idle limit */
	SIO_M_INPUT,	/* raw input, under the idle limit or a deadline */
	SIO_M_HANDSHAKE, /* a handshake, under a deadline */
	SIO_M_TIMER,	/* a timer, reading nothing */
	SIO_M_CLOSED,	/* released */
};

/* One session's transport; embedded in the session, never allocated. */
struct sio {
	struct event		 sio_ev;	/* read, write or timer */
	int			 sio_fd;
	unsigned char		 sio_mode;	/* enum sio_mode */
	unsigned char		 sio_deadlined;	/* the timeout is a deadline */
	unsigned short		 sio_outlen;	/* unsent bytes in sio_out */
	unsigned short		 sio_partlen;	/* bytes in sio_part */
	unsigned short		 sio_partsz;	/* its size */
	unsigned short		 sio_linemax;	/* CRLF included */
	unsigned short		 sio_secs;	/* the deadline */
	const struct session_io	*sio_io;
	void			*sio_arg;
	sio_cb			*sio_cb;
	struct timeval		 sio_since;	/* this wait began */
	char			*sio_out;
	char			*sio_part;	/* start of an unfinished line */
};

/*
 * Set up a transport on fd (-1: none) moving bytes through io; events go
 * to cb. Lines are at most linemax octets until sio_linemax() says else.
 */
void	sio_init(struct sio *, int fd, const struct session_io *io, void *arg,
	    sio_cb *cb, size_t linemax);
/* Lines of up to len octets (CRLF included) from now on. */
void	sio_linemax(struct sio *, size_t len);
/*
 * Queue bytes and write what the transport takes now; SIO_DRAINED comes
 * once a rest that had to wait is written. Returns 0, or -1 when the
 * transport broke (SIO_ERROR was reported).
 */
int	sio_send(struct sio *, const void *, size_t);
/* Is output waiting to be written? */
int	sio_pending(const struct sio *);
/* Wait for command lines, with the idle limit counted from now. */
void	sio_wait_lines(struct sio *);
/* Read and report the lines that are here, until one must wait. */
void	sio_read_lines(struct sio *);
/* Wait for raw input (SIO_INPUT), with the idle limit from now. */
void	sio_wait_input(struct sio *);
/*
 * Nothing complete came yet: wait on, for the rest of the idle limit
 * (SIO_TIMEOUT when it is already over).
 */
void	sio_idle(struct sio *);
/*
 * Wait for what (EV_READ, EV_WRITE) for at most seconds since the wait
 * began; SIO_DEADLINE once they are over (at once when they are). -1
 * if they were.
 */
int	sio_deadline(struct sio *, short what, int seconds);
/* Wait for seconds, reading nothing; then SIO_TIMER. */
void	sio_timer(struct sio *, int seconds);
/*
 * Replace the transport by a handshaking one (TLS) and start the
 * handshake, at most seconds long: SIO_TLSREADY or SIO_TLSFAIL.
 */
void	sio_starttls(struct sio *, const struct session_io *io, void *arg,
	    int seconds);
/* Look at input without taking it, or take what was looked at. */
ssize_t	sio_peek(struct sio *, void *, size_t);
ssize_t	sio_take(struct sio *, void *, size_t);
/* The descriptor and transport were given away: sio_close() keeps them. */
void	sio_detach(struct sio *);
/* Release a transport that no sio holds: io_free(arg), close(fd). */
void	sio_discard(int fd, const struct session_io *io, void *arg);
/* Release the transport (close fd) and the buffers; nothing comes after. */
void	sio_close(struct sio *);
/* Run as if fd had reported what: how a driver without a socket feeds it. */
void	sio_ready(struct sio *, short what);

#endif
