/*
 * A POP3 AUTHORIZATION session: the state machine from the greeting to
 * the login (docs/internals.md); its transport is sio.h's.
 */
#ifndef SESSION_H
#define SESSION_H

#include <sys/types.h>
#include <sys/socket.h>

#include "addrtab.h"
#include "sio.h"

struct session;
struct session_io;

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
