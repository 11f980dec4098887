/*
 * The TLS relay (docs/tls.md): after a login over TLS that cannot leave with
 * kernel TLS, popserv keeps the TLS connection and copies plain POP3
 * between it and popit's end of a socket pair, on the loop.
 */
#ifndef RELAY_H
#define RELAY_H

struct addrkey;
struct tls_conn;

/*
 * Relay between the client (tc on fd) and popit (pairfd, its other end
 * popit's fd 0/1). On success (0) the relay owns tc, fd and pairfd and
 * closes them when both sides are done; -1 leaves them to the caller.
 * id and peer are the session's, for the log.
 */
int		 relay_start(struct tls_conn *tc, int fd, int pairfd,
		    unsigned long long id, const struct addrkey *peer);
/* Close every relay now (orderly exit). */
void		 relay_close_all(void);

#endif
