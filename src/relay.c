/*
 * The TLS relay (docs/tls.md). popit speaks plain POP3 on fd 0/1; after a
 * login over TLS that cannot leave with kernel TLS, popserv keeps the
 * TLS connection and copies between it and popit's end of a socket pair,
 * on the loop and never blocking. Each direction has one bounded buffer:
 * while it is full, its source is not read (the client that stops
 * reading a big RETR stops popit's writes, not popserv's memory). An end
 * of input is passed on as soon as what came before it has gone: the
 * client's close becomes popit's EOF (shutdown SHUT_WR on the pair),
 * popit's exit becomes close_notify and FIN to the client; the relay
 * then waits a little for the client's own close, so that the last
 * bytes are not lost to a reset. Nothing here runs for plain sessions.
 */

#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "addrtab.h"
#include "log.h"
#include "relay.h"
#include "state.h"
#include "tls.h"

#define RELAY_BUFSZ	16384	/* per direction: one TLS record */
#define RELAY_ROUNDS	16	/* copy rounds per wakeup, then yield */
#define RELAY_IDLE_SECS	900	/* nothing moves: popit's limit is 600 */
#define RELAY_LINGER_SECS 10	/* after our close_notify, for theirs */

/* r_flags */
#define RF_CEOF		0x01	/* no more input from the client */
#define RF_PEOF		0x02	/* no more output from popit */
#define RF_PSHUT	0x04	/* popit told EOF (SHUT_WR on the pair) */
#define RF_CSHUT	0x08	/* client told: close_notify, SHUT_WR */
#define RF_PGONE	0x10	/* popit reads no more: drop client input */
#define RF_CLOSED	0x20

/* How a relay ended: only a clean end says close_notify. */
enum relay_end {
	RELAY_DONE,		/* both sides closed in order */
	RELAY_IDLE,		/* nothing moved for RELAY_IDLE_SECS */
	RELAY_CREAD,		/* the client's connection broke */
	RELAY_CWRITE,
	RELAY_SHUTDOWN,		/* popserv exits */
};

struct relay {
	TAILQ_ENTRY(relay)	 r_entry;
	unsigned long long	 r_id;		/* the session's */
	struct addrkey		 r_peer;
	struct tls_conn		*r_tc;
	int			 r_fd;		/* the client */
	int			 r_pfd;		/* popit's pair, our end */
	struct event		 r_cev;		/* client socket */
	struct event		 r_pev;		/* pair */
	struct event		 r_kick;	/* more to do, later */
	short			 r_cwhat;	/* r_cev's events now */
	short			 r_pwhat;
	short			 r_rwant;	/* tls_conn_read waits for this */
	short			 r_wwant;	/* tls_conn_write waits for this */
	unsigned char		 r_flags;
	size_t			 r_uplen;	/* client -> popit */
	size_t			 r_downoff;	/* popit -> client */
	size_t			 r_downlen;
	uint64_t		 r_upbytes;
	uint64_t		 r_downbytes;
	char			 r_up[RELAY_BUFSZ];
	char			 r_down[RELAY_BUFSZ];
};

TAILQ_HEAD(relayq, relay);

static struct relayq	 relays = TAILQ_HEAD_INITIALIZER(relays);
static struct relayq	 relay_dead = TAILQ_HEAD_INITIALIZER(relay_dead);
static struct event	*relay_reaper;

static void	 relay_cb(evutil_socket_t, short, void *);
static void	 relay_kick(evutil_socket_t, short, void *);
static void	 relay_pump(struct relay *);
static int	 relay_round(struct relay *);
static int	 relay_tls_error(struct relay *, short *);
static const char *relay_strend(enum relay_end);
static void	 relay_arm(struct relay *, int);
static void	 relay_set(struct relay *, struct event *, int, short *, short,
		    const struct timeval *);
static void	 relay_close(struct relay *, enum relay_end);
static void	 relay_reap(evutil_socket_t, short, void *);

/* Take over a client and popit's pair: see relay.h. */
int
relay_start(struct tls_conn *tc, int fd, int pairfd, unsigned long long id,
    const struct addrkey *peer)
{
	struct relay	*r;

	if (evutil_make_socket_nonblocking(pairfd) == -1 ||
	    (r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	r->r_id = id;
	r->r_peer = *peer;
	r->r_tc = tc;
	/*
	 * Idle sessions give their record buffers back (a few thousand wait
	 * in AUTHORIZATION); a relay moving megabytes keeps them rather than
	 * allocate and free one for every record.
	 */
	tls_conn_keep_buffers(tc);
	r->r_fd = fd;
	r->r_pfd = pairfd;
	event_assign(&r->r_cev, env->ps_base, fd, 0, relay_cb, r);
	event_assign(&r->r_pev, env->ps_base, pairfd, 0, relay_cb, r);
	event_assign(&r->r_kick, env->ps_base, -1, 0, relay_kick, r);
	TAILQ_INSERT_TAIL(&relays, r, r_entry);
	env->ps_nrelays++;
	/* What OpenSSL decrypted past the login line goes first. */
	event_active(&r->r_kick, EV_TIMEOUT, 0);
	return 0;
}

/* A socket is ready, or time is up (the idle limit, or the linger). */
static void
relay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay	*r = arg;

	(void)fd;
	if (r->r_flags & RF_CLOSED)
		return;
	if (what & EV_TIMEOUT) {
		relay_close(r, (r->r_flags & RF_CSHUT) ? RELAY_DONE : RELAY_IDLE);
		return;
	}
	relay_pump(r);
}

/* More to do: after the start, or after a long run (fairness). */
static void
relay_kick(evutil_socket_t fd, short what, void *arg)
{
	struct relay	*r = arg;

	(void)fd;
	(void)what;
	if (!(r->r_flags & RF_CLOSED))
		relay_pump(r);
}

/*
 * After a TLS call returned -1: 0 with *want set for "not now", -1 for
 * a broken connection.
 */
static int
relay_tls_error(struct relay *r, short *want)
{
	if (errno != EAGAIN && errno != EINTR)
		return -1;
	*want = tls_conn_wants(r->r_tc);
	return 0;
}

/*
 * One round of copying in both directions. Returns 1 if anything moved,
 * 0 if every side waits, -1 if the relay was closed.
 */
static int
relay_round(struct relay *r)
{
	ssize_t	 n, ret;
	int	 moved = 0;
	size_t	 room;

	/* Client to popit. */
	if (!(r->r_flags & RF_CEOF) && r->r_uplen < sizeof(r->r_up)) {
		ret = tls_conn_read(r->r_tc, r->r_up + r->r_uplen,
		    sizeof(r->r_up) - r->r_uplen);
		if (ret > 0) {
			r->r_upbytes += ret;
			if (r->r_flags & RF_PGONE)
				r->r_uplen = 0;	/* nobody reads it */
			else
				r->r_uplen += ret;
			moved = 1;
		} else if (ret == 0) {
			r->r_flags |= RF_CEOF;
			moved = 1;
		} else if (relay_tls_error(r, &r->r_rwant) == -1) {
			relay_close(r, RELAY_CREAD);
			return -1;
		}
	}
	if (r->r_uplen > 0) {
		n = send(r->r_pfd, r->r_up, r->r_uplen,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			memmove(r->r_up, r->r_up + n, r->r_uplen - n);
			r->r_uplen -= n;
			moved = 1;
		} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
			/* popit is gone or reads no more. */
			r->r_flags |= RF_PGONE;
			r->r_uplen = 0;
			moved = 1;
		}
	}
	if ((r->r_flags & RF_CEOF) && r->r_uplen == 0 &&
	    !(r->r_flags & RF_PSHUT)) {
		(void)shutdown(r->r_pfd, SHUT_WR);
		r->r_flags |= RF_PSHUT;
		moved = 1;
	}

	/* popit to client. */
	if (r->r_downoff + r->r_downlen == sizeof(r->r_down) &&
	    r->r_downoff > 0) {
		memmove(r->r_down, r->r_down + r->r_downoff, r->r_downlen);
		r->r_downoff = 0;
	}
	room = sizeof(r->r_down) - r->r_downoff - r->r_downlen;
	if (!(r->r_flags & RF_PEOF) && room > 0) {
		n = recv(r->r_pfd, r->r_down + r->r_downoff + r->r_downlen,
		    room, MSG_DONTWAIT);
		if (n > 0) {
			r->r_downlen += n;
			moved = 1;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			r->r_flags |= RF_PEOF;
			moved = 1;
		}
	}
	if (r->r_downlen > 0) {
		ret = tls_conn_write(r->r_tc, r->r_down + r->r_downoff,
		    r->r_downlen);
		if (ret > 0) {
			r->r_downoff += ret;
			r->r_downlen -= ret;
			r->r_downbytes += ret;
			if (r->r_downlen == 0)
				r->r_downoff = 0;
			moved = 1;
		} else if (ret == 0 || relay_tls_error(r, &r->r_wwant) == -1) {
			relay_close(r, RELAY_CWRITE);
			return -1;
		}
	}
	if ((r->r_flags & RF_PEOF) && r->r_downlen == 0 &&
	    !(r->r_flags & RF_CSHUT)) {
		/* popit is done: say so, then wait for the client's close. */
		tls_conn_close_notify(r->r_tc);
		(void)shutdown(r->r_fd, SHUT_WR);
		r->r_flags |= RF_CSHUT;
		r->r_cwhat = 0;		/* re-armed with the linger */
		moved = 1;
	}
	if ((r->r_flags & RF_CSHUT) && (r->r_flags & RF_CEOF)) {
		relay_close(r, RELAY_DONE);
		return -1;
	}
	return moved;
}

/* Copy until every side waits (or yield after RELAY_ROUNDS), then wait. */
static void
relay_pump(struct relay *r)
{
	int	 i, moved = 0, ret = 0;

	for (i = 0; i < RELAY_ROUNDS; i++) {
		if ((ret = relay_round(r)) == -1)
			return;
		if (ret == 0)
			break;
		moved = 1;
	}
	if (ret == 1)
		event_active(&r->r_kick, EV_TIMEOUT, 0);	/* fairness */
	relay_arm(r, moved);
}

/*
 * Point an event at what it must wait for (EV_TIMEOUT: the timer alone);
 * a change of events, or progress (*cur reset), re-adds it with a fresh
 * timeout.
 */
static void
relay_set(struct relay *r, struct event *ev, int fd, short *cur, short what,
    const struct timeval *tv)
{
	if (what == *cur && what != 0)
		return;
	event_del(ev);
	*cur = what;
	if (what == 0)
		return;
	if (what == EV_TIMEOUT)
		event_assign(ev, env->ps_base, -1, 0, relay_cb, r);
	else
		event_assign(ev, env->ps_base, fd, what | EV_PERSIST, relay_cb,
		    r);
	event_add(ev, tv);
}

/*
 * Wait for what each side needs: the client socket for SSL_read (room
 * up), for SSL_write (bytes down), or for the client's close after ours;
 * the pair for room (bytes up) and for popit's output (room down). The
 * client's event carries the idle limit, or the linger after our close.
 */
static void
relay_arm(struct relay *r, int moved)
{
	struct timeval	 idle = { RELAY_IDLE_SECS, 0 };
	struct timeval	 linger = { RELAY_LINGER_SECS, 0 };
	short		 cw = 0, pw = 0;

	if (!(r->r_flags & RF_CEOF) && r->r_uplen < sizeof(r->r_up))
		cw |= r->r_rwant;
	if (r->r_downlen > 0)
		cw |= r->r_wwant;
	if (!(r->r_flags & RF_PEOF) &&
	    r->r_downoff + r->r_downlen < sizeof(r->r_down))
		pw |= EV_READ;
	if (r->r_uplen > 0)
		pw |= EV_WRITE;
	if (cw == 0)
		cw = EV_TIMEOUT;	/* nothing from the client: the timer */
	if (moved && !(r->r_flags & RF_CSHUT))
		r->r_cwhat = 0;	/* re-add: a fresh idle timeout */
	relay_set(r, &r->r_cev, r->r_fd, &r->r_cwhat, cw,
	    (r->r_flags & RF_CSHUT) ? &linger : &idle);
	relay_set(r, &r->r_pev, r->r_pfd, &r->r_pwhat, pw, NULL);
}

/* How an end is logged (relay=…). */
static const char *
relay_strend(enum relay_end end)
{
	switch (end) {
	case RELAY_DONE:	return "done";
	case RELAY_IDLE:	return "idle";
	case RELAY_CREAD:	return "client read error";
	case RELAY_CWRITE:	return "client write error";
	case RELAY_SHUTDOWN:	return "shutdown";
	}
	return "?";
}

/* The one way out: close both sides, log, free later. */
static void
relay_close(struct relay *r, enum relay_end end)
{
	char	 ip[64];

	if (r->r_flags & RF_CLOSED)
		return;
	r->r_flags |= RF_CLOSED;
	log_info("session=%llx ip=%s relay=%s up=%llu down=%llu", r->r_id,
	    addrkey_ntop(&r->r_peer, ip, sizeof(ip)), relay_strend(end),
	    (unsigned long long)r->r_upbytes,
	    (unsigned long long)r->r_downbytes);
	event_del(&r->r_cev);
	event_del(&r->r_pev);
	event_del(&r->r_kick);
	/* close_notify only after a clean end; a reset one gets nothing. */
	if (end == RELAY_DONE)
		tls_conn_free(r->r_tc);
	else
		tls_conn_release(r->r_tc);
	r->r_tc = NULL;
	close(r->r_fd);
	close(r->r_pfd);
	TAILQ_REMOVE(&relays, r, r_entry);
	env->ps_nrelays--;
	env->ps_collect();	/* the last one, when draining? */

	TAILQ_INSERT_TAIL(&relay_dead, r, r_entry);
	if (relay_reaper == NULL)
		relay_reaper = event_new(env->ps_base, -1, 0, relay_reap,
		    NULL);
	if (relay_reaper != NULL)
		event_active(relay_reaper, EV_TIMEOUT, 0);
}

/* Free closed relays, outside their own callbacks. */
static void
relay_reap(evutil_socket_t fd, short what, void *arg)
{
	struct relay	*r;

	(void)fd;
	(void)what;
	(void)arg;
	while ((r = TAILQ_FIRST(&relay_dead)) != NULL) {
		TAILQ_REMOVE(&relay_dead, r, r_entry);
		explicit_bzero(r->r_up, sizeof(r->r_up));
		free(r);
	}
}

/* Close every relay now (orderly exit). */
void
relay_close_all(void)
{
	struct relay	*r;

	while ((r = TAILQ_FIRST(&relays)) != NULL)
		relay_close(r, RELAY_SHUTDOWN);
	relay_reap(-1, 0, NULL);
	if (relay_reaper != NULL) {
		event_free(relay_reaper);
		relay_reaper = NULL;
	}
}
