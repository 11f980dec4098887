/* A POP3 AUTHORIZATION session: the state machine of SPEC §3. */
#ifndef SESSION_H
#define SESSION_H

#include <sys/socket.h>

#include "addrtab.h"

/* Accept fd (non-blocking, close-on-exec) from peer into a new session. */
void	session_accept(int fd, const struct sockaddr *peer, socklen_t peerlen);
/* Close every session (orderly exit). */
void	session_close_all(const char *reason);
/* Number of sessions that wait on a worker. */
unsigned int session_checking(void);

#endif
