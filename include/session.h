/* A POP3 AUTHORIZATION session: the state machine of SPEC §3. */
#ifndef SESSION_H
#define SESSION_H

#include <sys/types.h>
#include <sys/socket.h>

#include "addrtab.h"

struct session;

/*
 * How a session moves its bytes: the plain socket, TLS, or a driver
 * without any socket (a fuzzer, a test). Each call returns a count, 0 at
 * the end of the input, or -1 with errno set; EAGAIN (or EINTR) means
 * "not now". io_peek shows up to len bytes without consuming them;
 * io_read then consumes exactly len bytes that io_peek has shown, so
 * nothing past a command is ever taken from the transport. arg is the
 * io_arg given to session_start(), fd the session's descriptor (-1 when
 * there is none).
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
	/* At session_close(), before fd is closed. NULL: nothing to do. */
	void		(*io_free)(void *arg);
};

/* The plain socket: recv(MSG_PEEK), recv() and send(), non-blocking. */
extern const struct session_io session_io_plain;

/*
 * Accept fd (non-blocking, close-on-exec) from peer into a new session;
 * tls: from a bindtls listener (TLS starts at once).
 */
void	session_accept(int fd, const struct sockaddr *peer, socklen_t peerlen,
	    int tls);
/*
 * Start a session on fd (-1: the transport needs none) for a client at
 * peer, counted toward sameaddrmax, and send the greeting through io.
 * Returns the session, or NULL when it was refused or is already closed
 * (fd and io_arg have then been released). A session is freed from an
 * event of its own after it closes, so a driver without a socket runs
 * the loop (EVLOOP_NONBLOCK) now and then.
 */
struct session *session_start(int fd, const struct addrkey *peer,
	    const struct session_io *io, void *io_arg);
/*
 * Run a session as if its descriptor had reported what (EV_READ,
 * EV_WRITE or EV_TIMEOUT): how a driver without a socket feeds it.
 */
void	session_ready(struct session *, short what);
/* Close every session (orderly exit). */
void	session_close_all(const char *reason);
/* Number of sessions that wait on a worker. */
unsigned int session_checking(void);

#endif
