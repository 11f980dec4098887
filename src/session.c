/*
 * POP3 AUTHORIZATION sessions (SPEC §3): greeting, USER/PASS, APOP, CAPA,
 * QUIT, the failure delay and the idle limit, all on the event loop.
 *
 * Input is never read past the end of a command: each line is found with
 * MSG_PEEK and then read exactly, so whatever the client pipelines after a
 * successful PASS stays in the kernel for popit (SPEC §5). The start of a
 * line whose end has not come yet is read into a small buffer, never left
 * in the kernel: the socket buffer holding it could stay charged in full,
 * with the receive window shut, and the rest of the line would never come.
 * Bytes move through a struct session_io chosen per session (the plain
 * socket, TLS, or a driver without a socket): one indirect call, and no
 * extra system call or allocation, for each.
 *
 * SPEC §9 lives here too: STLS and implicit TLS (bindtls) with handshakes
 * on the loop, AUTH PLAIN, the PROXY header a trusted peer may send first,
 * and plaintext 0. Under TLS the same rule holds inside the record layer:
 * SSL_peek finds the line, SSL_read takes exactly it, and whatever was
 * decrypted past a login stays in OpenSSL's buffer, where the relay
 * (relay.c) finds it first and passes it to popit.
 */

#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "addrtab.h"
#include "apop.h"
#include "auth.h"
#include "config.h"
#include "drain.h"
#include "handoff.h"
#include "listener.h"
#include "log.h"
#include "penalty.h"
#include "pop3.h"
#include "state.h"
#include "proxy.h"
#include "relay.h"
#include "reply.h"
#include "sasl.h"
#include "session.h"
#include "tls.h"
#include "userdb.h"

#define SESSION_TLS_SECS	30	/* a handshake, at most (or timelimit) */
#define SESSION_PROXY_SECS	5	/* a PROXY header, once it has begun */
#define SESSION_STLS_DISCARD	65536	/* plaintext after STLS, at most */

/* s_flags */
#define SF_TLS		0x01	/* TLS started (handshake or done) */
#define SF_IMPLICIT	0x02	/* from a bindtls listener */
#define SF_PROXY	0x04	/* trusted peer: a PROXY header may come */
#define SF_REJECT	0x08	/* over sameaddrmax: say so, then close */
#define SF_PARTBIG	0x10	/* s_part holds a SASL line */

enum session_state {
	S_PROXY,		/* bindtls, trusted peer: a PROXY header first? */
	S_HANDSHAKE,		/* TLS handshake (bindtls, or after STLS) */
	S_USER,			/* waiting for USER or APOP */
	S_PASS,			/* USER given, waiting for PASS */
	S_SASL,			/* AUTH PLAIN: waiting for the response */
	S_STLS,			/* +OK to STLS being written, then TLS */
	S_CHECKING,		/* a worker checks the credentials */
	S_DELAY,		/* failed; the answer waits for faildelay */
	S_FLUSH,		/* last reply being written, then close */
	S_CLOSED,		/* waiting to be freed */
};

struct session {
	TAILQ_ENTRY(session)	 s_entry;
	struct event		 s_ev;		/* read, write or timer */
	unsigned long long	 s_id;
	int			 s_fd;
	const struct session_io	*s_io;		/* how bytes move */
	void			*s_io_arg;
	enum session_state	 s_state;
	unsigned char		 s_fails;
	unsigned char		 s_handed_off;	/* addrtab slot moved to popit */
	unsigned char		 s_flags;	/* SF_* */
	unsigned short		 s_outlen;	/* unsent bytes in s_out */
	struct timeval		 s_idle_since;	/* waiting for a command since */
	struct timeval		 s_started;	/* handshake, PROXY wait since */
	struct addrkey		 s_peer;
	char			*s_user;	/* after USER */
	char			*s_timestamp;	/* APOP challenge */
	char			*s_out;
	char			*s_part;	/* start of an unfinished line */
	unsigned short		 s_partlen;	/* bytes in s_part */
	struct auth_job		*s_job;		/* while S_CHECKING */
	const char		*s_why;		/* close reason after S_FLUSH */
};

TAILQ_HEAD(sessionq, session);

struct session_cmd {
	enum pop3_cmd	 sc_cmd;
	int		 sc_secret;	/* arguments never reach a log */
	void		(*sc_run)(struct session *, const struct pop3_line *);
};

static ssize_t	 plain_peek(void *, int, void *, size_t);
static ssize_t	 plain_read(void *, int, void *, size_t);
static ssize_t	 plain_write(void *, int, const void *, size_t);
static void	 session_io_release(int, const struct session_io *, void *);
static struct session *session_alloc(int, const struct addrkey *,
		    const struct session_io *, void *);
static int	 session_greet(struct session *);
static void	 session_reject(struct session *);
static int	 session_over_limit(unsigned int);
static int	 session_login_ok(const struct session *);
static unsigned int session_capa_flags(const struct session *);
static int	 session_proxy_read(struct session *);
static void	 session_proxy_step(struct session *);
static int	 session_arm_deadline(struct session *, short, int,
		    const char *);
static void	 session_tls_start(struct session *);
static void	 session_tls_step(struct session *);
static int	 session_tls_secs(void);
static void	 session_sasl_line(struct session *, const char *, size_t);
static void	 session_sasl_plain(struct session *, const char *, size_t);
static void	 session_io(evutil_socket_t, short, void *);
static void	 session_delay_done(evutil_socket_t, short, void *);
static void	 session_reap(evutil_socket_t, short, void *);
static void	 session_read(struct session *);
static void	 session_line(struct session *, const char *, size_t);
static void	 session_want_read(struct session *);
static void	 session_clock(struct timeval *);
static void	 session_idle_arm(struct session *);
static void	 session_want_write(struct session *);
static void	 session_want_timer(struct session *, int,
		    void (*)(evutil_socket_t, short, void *));
static void	 session_check_timeout(evutil_socket_t, short, void *);
static void	 session_tempfail(struct session *, enum reply);
static int	 session_send(struct session *, const char *, size_t);
static int	 session_reply(struct session *, enum reply);
static void	 session_close(struct session *, const char *);
static void	 session_finish(struct session *, enum reply, const char *);
static void	 session_auth(struct session *, const char *, size_t,
		    const char *, size_t, const char *);
static void	 session_auth_done(struct work *);
static void	 session_fail(struct session *, const char *, const char *);
static void	 session_login(struct session *, struct auth_job *);
static const char *session_ip(const struct session *, char *, size_t);
static const char *session_strstate(enum session_state);
static void	 session_cmd_user(struct session *, const struct pop3_line *);
static void	 session_cmd_pass(struct session *, const struct pop3_line *);
static void	 session_cmd_apop(struct session *, const struct pop3_line *);
static void	 session_cmd_capa(struct session *, const struct pop3_line *);
static void	 session_cmd_quit(struct session *, const struct pop3_line *);
static void	 session_cmd_stls(struct session *, const struct pop3_line *);
static void	 session_cmd_auth(struct session *, const struct pop3_line *);
static void	 session_cmd_notauthed(struct session *,
		    const struct pop3_line *);

static const struct session_cmd session_cmds[] = {
	{ POP3_CMD_USER, 0, session_cmd_user },
	{ POP3_CMD_PASS, 1, session_cmd_pass },
	{ POP3_CMD_APOP, 1, session_cmd_apop },
	{ POP3_CMD_CAPA, 0, session_cmd_capa },
	{ POP3_CMD_QUIT, 0, session_cmd_quit },
	{ POP3_CMD_AUTH, 1, session_cmd_auth },
	{ POP3_CMD_STLS, 0, session_cmd_stls },
	{ POP3_CMD_NOOP, 0, session_cmd_notauthed },
	{ POP3_CMD_STAT, 0, session_cmd_notauthed },
	{ POP3_CMD_LIST, 0, session_cmd_notauthed },
	{ POP3_CMD_RETR, 0, session_cmd_notauthed },
	{ POP3_CMD_DELE, 0, session_cmd_notauthed },
	{ POP3_CMD_RSET, 0, session_cmd_notauthed },
	{ POP3_CMD_TOP, 0, session_cmd_notauthed },
	{ POP3_CMD_UIDL, 0, session_cmd_notauthed },
	{ POP3_CMD_LAST, 0, session_cmd_notauthed },
};

const struct session_io session_io_plain = {
	"plain", plain_peek, plain_read, plain_write, NULL, NULL
};

static struct sessionq	 sessions = TAILQ_HEAD_INITIALIZER(sessions);
static struct sessionq	 session_dead = TAILQ_HEAD_INITIALIZER(session_dead);
static struct event	*session_reaper;
static unsigned long long session_nextid;
static unsigned long	 session_apop_counter;
static unsigned int	 session_nchecking;

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

/* Release a transport that no session holds (any more). */
static void
session_io_release(int fd, const struct session_io *io, void *io_arg)
{
	if (io->io_free != NULL)
		io->io_free(io_arg);
	if (fd != -1)
		close(fd);
}

/* The name of a state, for debug logs. */
static const char *
session_strstate(enum session_state st)
{
	switch (st) {
	case S_PROXY:	return "proxy";
	case S_HANDSHAKE: return "handshake";
	case S_USER:	return "user";
	case S_PASS:	return "pass";
	case S_SASL:	return "sasl";
	case S_STLS:	return "stls";
	case S_CHECKING: return "checking";
	case S_DELAY:	return "delay";
	case S_FLUSH:	return "flush";
	case S_CLOSED:	return "closed";
	}
	return "?";
}

/* Enter a new state; every transition is logged when debugging. */
static void
session_enter_state(struct session *s, enum session_state st)
{
	if (s->s_state == S_CHECKING)
		session_nchecking--;
	if (st == S_CHECKING)
		session_nchecking++;
	log_debug("session=%llx %s -> %s", s->s_id,
	    session_strstate(s->s_state), session_strstate(st));
	s->s_state = st;
}

/* The client's address as text. */
static const char *
session_ip(const struct session *s, char *buf, size_t bufsz)
{
	return addrkey_ntop(&s->s_peer, buf, bufsz);
}

/*
 * Start a session for a freshly accepted connection; tls: from a bindtls
 * listener. A plain connection from an ordinary peer takes the short
 * way. A trusted peer is counted but not limited under its own address:
 * it may be a proxy whose PROXY header names the client, and the limit
 * applies to that address once the header is read. On a bindtls
 * listener the header comes before the handshake (the client speaks
 * first there, so a direct client is not kept waiting); on a plain one
 * the greeting goes out at once and the header is the first thing read.
 */
void
session_accept(int fd, const struct sockaddr *peer, socklen_t peerlen,
    int tls)
{
	struct session		*s;
	struct addrkey		 key;
	unsigned int		 n;
	int			 trusted;

	(void)peerlen;
	if (addrkey_from_sockaddr(&key, peer) == -1) {
		env->ps_stats.st_accepted++;
		close(fd);
		return;
	}
	addrkey_set_prefix(&key, env->ps_conf->cf_ipv6prefix);
	trusted = config_is_trusted(env->ps_conf, peer);
	if (!tls && !trusted) {
		(void)session_start(fd, &key, &session_io_plain, NULL);
		return;
	}
	env->ps_stats.st_accepted++;
	n = addrtab_inc(env->ps_addrs, &key);
	if ((s = session_alloc(fd, &key, &session_io_plain, NULL)) == NULL)
		return;
	if (trusted)
		s->s_flags |= SF_PROXY;
	else if (session_over_limit(n))
		s->s_flags |= SF_REJECT;
	if (!tls) {
		(void)session_greet(s);
		return;
	}
	s->s_flags |= SF_IMPLICIT;
	if (trusted) {
		session_enter_state(s, S_PROXY);
		session_clock(&s->s_started);
		session_proxy_step(s);
	} else
		session_tls_start(s);
}

/* Is n connections from one address over sameaddrmax? */
static int
session_over_limit(unsigned int n)
{
	int	 max = env->ps_conf->cf_sameaddrmax;

	return max > 0 && n > (unsigned int)max;
}

/* Start a session on a transport: see session.h. */
struct session *
session_start(int fd, const struct addrkey *key, const struct session_io *io,
    void *io_arg)
{
	struct session		*s;
	char			 ip[64];
	unsigned int		 n;

	env->ps_stats.st_accepted++;
	n = addrtab_inc(env->ps_addrs, key);
	if (session_over_limit(n)) {
		/* A short reply to a new socket: it fits the send buffer. */
		(void)io->io_write(io_arg, fd, reply_text(REPLY_TEMP_SAMEADDR),
		    reply_len(REPLY_TEMP_SAMEADDR));
		session_io_release(fd, io, io_arg);
		addrtab_dec(env->ps_addrs, key);
		env->ps_stats.st_rejected_sameaddr++;
		log_info("ip=%s result=rejected reason=sameaddrmax count=%u",
		    addrkey_ntop(key, ip, sizeof(ip)), n - 1);
		return NULL;
	}
	if ((s = session_alloc(fd, key, io, io_arg)) == NULL)
		return NULL;
	if (session_greet(s) == -1)
		return NULL;
	return s;
}

/*
 * A new session on fd for a client already counted under key; on
 * failure the count is taken back and the transport released.
 */
static struct session *
session_alloc(int fd, const struct addrkey *key, const struct session_io *io,
    void *io_arg)
{
	struct session	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("session");
		addrtab_dec(env->ps_addrs, key);
		session_io_release(fd, io, io_arg);
		return NULL;
	}
	s->s_id = ++session_nextid;
	s->s_fd = fd;
	s->s_io = io;
	s->s_io_arg = io_arg;
	s->s_peer = *key;
	s->s_state = S_USER;
	event_assign(&s->s_ev, env->ps_base, -1, 0, session_io, s);
	TAILQ_INSERT_TAIL(&sessions, s, s_entry);
	env->ps_nsessions++;
	listener_update();
	return s;
}

/*
 * Greet the client (with the APOP challenge when APOP is on) and wait
 * for its first command. -1 if the session was closed.
 */
static int
session_greet(struct session *s)
{
	const struct config	*cf = env->ps_conf;
	char			 greeting[256], ip[64];
	int			 len;

	if (s->s_state != S_USER)
		session_enter_state(s, S_USER);
	if (cf->cf_apop_on) {
		char		 ts[APOP_TIMESTAMP_MAX];
		uint64_t	 nonce;

		if (apop_nonce(&nonce) == -1 ||
		    apop_timestamp(ts, sizeof(ts), (long)getpid(),
		    ++session_apop_counter, (long long)time(NULL), nonce,
		    cf->cf_hostname) == -1 ||
		    (s->s_timestamp = strdup(ts)) == NULL) {
			session_close(s, "apop timestamp");
			return -1;
		}
	}
	log_debug("session=%llx ip=%s connected%s", s->s_id,
	    session_ip(s, ip, sizeof(ip)), s->s_flags & SF_TLS ? " tls" : "");

	len = reply_greeting(greeting, sizeof(greeting), s->s_timestamp);
	if (len == -1 || session_send(s, greeting, len) == -1)
		return -1;
	if (s->s_outlen == 0) {
		session_want_read(s);
		/* After a handshake the first command may be here already. */
		if (s->s_flags & SF_TLS)
			session_read(s);
	}
	return 0;
}

/*
 * Over sameaddrmax, found once the client's address or its TLS were
 * known: say so and close.
 */
static void
session_reject(struct session *s)
{
	char	 ip[64];

	env->ps_stats.st_rejected_sameaddr++;
	log_info("session=%llx ip=%s result=rejected reason=sameaddrmax "
	    "count=%u", s->s_id, session_ip(s, ip, sizeof(ip)),
	    addrtab_get(env->ps_addrs, &s->s_peer) - 1);
	session_finish(s, REPLY_TEMP_SAMEADDR, NULL);
}

/*
 * The first bytes of a trusted peer: a PROXY header, or not. A whole
 * header is consumed exactly, and its address becomes the client's for
 * everything (sameaddrmax, the penalty, logs, REMOTE_ADDR, accounting).
 * Returns 1 when decided (SF_PROXY is then clear; SF_REJECT set if the
 * client is over sameaddrmax), 0 when nothing came yet, 2 when a header
 * has begun and the rest must come, -1 if closed.
 */
static int
session_proxy_read(struct session *s)
{
	struct proxy_hdr	 ph;
	struct addrkey		 key;
	unsigned char		 buf[PROXY_MAX];
	char			 from[64], ip[64];
	ssize_t			 n, len;

	n = s->s_io->io_peek(s->s_io_arg, s->s_fd, buf, sizeof(buf));
	if (n == 0) {
		session_close(s, "eof");
		return -1;
	}
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		session_close(s, "read error");
		return -1;
	}
	if ((len = proxy_parse(buf, n, &ph)) == 0)
		return 2;
	if (len == PROXY_NOT) {
		s->s_flags &= ~SF_PROXY;
		return 1;
	}
	if (len == PROXY_BAD) {
		session_close(s, "bad PROXY header");
		return -1;
	}
	if (s->s_io->io_read(s->s_io_arg, s->s_fd, buf, len) != len) {
		session_close(s, "read error");
		return -1;
	}
	s->s_flags &= ~SF_PROXY;
	env->ps_stats.st_proxied++;
	session_ip(s, from, sizeof(from));
	if (ph.ph_local ||
	    addrkey_from_sockaddr(&key, (struct sockaddr *)&ph.ph_src) == -1) {
		log_debug("session=%llx proxy=%s v%d local", s->s_id, from,
		    ph.ph_version);
		return 1;
	}
	addrkey_set_prefix(&key, env->ps_conf->cf_ipv6prefix);
	addrtab_dec(env->ps_addrs, &s->s_peer);
	s->s_peer = key;
	if (session_over_limit(addrtab_inc(env->ps_addrs, &key)))
		s->s_flags |= SF_REJECT;
	log_debug("session=%llx proxy=%s v%d ip=%s", s->s_id, from,
	    ph.ph_version, session_ip(s, ip, sizeof(ip)));
	return 1;
}

/* bindtls from a trusted peer: a PROXY header, then the handshake. */
static void
session_proxy_step(struct session *s)
{
	switch (session_proxy_read(s)) {
	case -1:
		return;
	case 0:
	case 2:
		(void)session_arm_deadline(s, EV_READ, session_tls_secs(),
		    "proxy timeout");
		return;
	}
	session_tls_start(s);
}

/*
 * Wait for what on the socket, at most seconds after s_started; past
 * that the session is closed with reason. -1 if it was.
 */
static int
session_arm_deadline(struct session *s, short what, int seconds,
    const char *reason)
{
	struct timeval	 now, spent, left, limit = { seconds, 0 };

	session_clock(&now);
	evutil_timersub(&now, &s->s_started, &spent);
	if (!evutil_timercmp(&spent, &limit, <)) {
		env->ps_stats.st_timeouts++;
		session_close(s, reason);
		return -1;
	}
	evutil_timersub(&limit, &spent, &left);
	event_del(&s->s_ev);
	event_assign(&s->s_ev, env->ps_base, s->s_fd, what | EV_PERSIST,
	    session_io, s);
	event_add(&s->s_ev, &left);
	return 0;
}

/* The time a TLS handshake may take: 30 s, or timelimit if shorter. */
static int
session_tls_secs(void)
{
	int	 t = env->ps_conf->cf_timelimit;

	return t > 0 && t < SESSION_TLS_SECS ? t : SESSION_TLS_SECS;
}

/*
 * Start TLS on the socket: bindtls at once, or after +OK to STLS. A
 * bindtls client over sameaddrmax is closed here, before any TLS work:
 * there is no way to send it a plaintext -ERR, and a handshake would
 * spend a private-key operation on a connection that is refused.
 */
static void
session_tls_start(struct session *s)
{
	struct tls_conn	*tc;
	char		 ip[64];

	if (s->s_flags & SF_REJECT) {
		env->ps_stats.st_rejected_sameaddr++;
		log_info("session=%llx ip=%s result=rejected reason=sameaddrmax "
		    "count=%u tls=refused-before-handshake", s->s_id,
		    session_ip(s, ip, sizeof(ip)),
		    addrtab_get(env->ps_addrs, &s->s_peer) - 1);
		session_close(s, NULL);
		return;
	}

	if ((tc = tls_conn_new(s->s_fd)) == NULL) {
		session_close(s, "tls unavailable");
		return;
	}
	session_io_release(-1, s->s_io, s->s_io_arg);
	s->s_io = &tls_session_io;
	s->s_io_arg = tc;
	s->s_flags |= SF_TLS;
	session_enter_state(s, S_HANDSHAKE);
	session_clock(&s->s_started);
	session_tls_step(s);
}

/* The handshake, one step at a time; then the greeting or the next command. */
static void
session_tls_step(struct session *s)
{
	char	 why[256], esc[256], ip[64];
	int	 r;

	r = tls_conn_handshake(s->s_io_arg, why, sizeof(why));
	if (r == -1) {
		env->ps_stats.st_tls_failed++;
		log_info("session=%llx ip=%s tls handshake failed: %s",
		    s->s_id, session_ip(s, ip, sizeof(ip)),
		    log_escape(esc, sizeof(esc), why, strlen(why)));
		session_close(s, "tls failed");
		return;
	}
	if (r != 0) {
		(void)session_arm_deadline(s, (short)r, session_tls_secs(),
		    "tls timeout");
		return;
	}
	env->ps_stats.st_tls++;
	log_debug("session=%llx tls %s", s->s_id,
	    tls_conn_describe(s->s_io_arg, why, sizeof(why)));
	if (s->s_flags & SF_IMPLICIT) {
		(void)session_greet(s);
		return;
	}
	/* After STLS: the client speaks next (RFC 2595 §4). */
	session_enter_state(s, S_USER);
	session_want_read(s);
	session_read(s);
}

/* Drive a session from outside its event: see session.h. */
void
session_ready(struct session *s, short what)
{
	session_io(s->s_fd, what, s);
}

/*
 * Wait for a command, with the idle limit counted from now: the time the
 * server itself took (a slow check, faildelay) is not the client's.
 */
static void
session_want_read(struct session *s)
{
	session_clock(&s->s_idle_since);
	event_del(&s->s_ev);
	event_assign(&s->s_ev, env->ps_base, s->s_fd,
	    EV_READ | EV_ET | EV_PERSIST, session_io, s);
	event_add(&s->s_ev, env->ps_idle_tv);
}

/*
 * Wait until the unsent reply can be written: room in the socket, or
 * (TLS) input the transport must read before it can write on.
 */
static void
session_want_write(struct session *s)
{
	short	 what = EV_WRITE;

	if (s->s_io->io_wants != NULL && s->s_outlen > 0)
		what = s->s_io->io_wants(s->s_io_arg);
	event_del(&s->s_ev);
	event_assign(&s->s_ev, env->ps_base, s->s_fd, what | EV_PERSIST,
	    session_io, s);
	event_add(&s->s_ev, env->ps_idle_tv);
}

/*
 * Wait for seconds, reading nothing: the failure delay, or the deadline
 * of a check a worker has.
 */
static void
session_want_timer(struct session *s, int seconds,
    void (*cb)(evutil_socket_t, short, void *))
{
	struct timeval	 tv = { seconds, 0 };

	event_del(&s->s_ev);
	event_assign(&s->s_ev, env->ps_base, -1, 0, cb, s);
	event_add(&s->s_ev, &tv);
}

/* Socket events: input, room to write, or the idle limit. */
static void
session_io(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;
	ssize_t		 n;

	(void)fd;
	if (s->s_state == S_HANDSHAKE || s->s_state == S_PROXY) {
		if (what & EV_TIMEOUT) {
			env->ps_stats.st_timeouts++;
			session_close(s, s->s_state == S_PROXY ?
			    "proxy timeout" : "tls timeout");
		} else if (s->s_state == S_PROXY)
			session_proxy_step(s);
		else
			session_tls_step(s);
		return;
	}
	if (what & EV_TIMEOUT) {
		env->ps_stats.st_timeouts++;
		/* s_started: a PROXY header has begun (session_read). */
		session_close(s, (s->s_flags & SF_PROXY) &&
		    timerisset(&s->s_started) ? "proxy timeout" : "timeout");
		return;
	}
	/*
	 * Room to write; or, with TLS, the socket state the transport waited
	 * for: a write that had to read first, or a read that had to write.
	 */
	if ((what & EV_WRITE) || s->s_outlen > 0) {
		if (s->s_outlen == 0)
			goto read;	/* TLS wrote what a read needed */
		n = s->s_io->io_write(s->s_io_arg, s->s_fd, s->s_out,
		    s->s_outlen);
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (s->s_io->io_wants != NULL)
				session_want_write(s);
			return;
		}
		if (n == -1) {
			session_close(s, "write error");
			return;
		}
		memmove(s->s_out, s->s_out + n, s->s_outlen - n);
		s->s_outlen -= n;
		if (s->s_outlen > 0)
			return;
		free(s->s_out);
		s->s_out = NULL;
		if (s->s_state == S_FLUSH) {
			session_close(s, s->s_why);
			return;
		}
		if (s->s_state == S_STLS) {
			session_tls_start(s);
			return;
		}
read:
		session_want_read(s);
		/* Edge-triggered: what arrived meanwhile raises no new edge. */
		session_read(s);
		return;
	}
	if (what & EV_READ)
		session_read(s);
}

/* The monotonic clock, for the idle limit. */
static void
session_clock(struct timeval *tv)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
}

/*
 * Still waiting for a command: time out when the idle limit, counted from
 * the start of the wait, is over. The persistent read event's own timeout
 * starts over at every wakeup, so a client sending a byte now and then
 * would otherwise never time out; bytes that are not yet a whole command
 * buy no time.
 */
static void
session_idle_arm(struct session *s)
{
	struct timeval	 now, idle, left;
	struct timeval	 limit = { env->ps_conf->cf_timelimit, 0 };

	if (limit.tv_sec <= 0)
		return;
	session_clock(&now);
	evutil_timersub(&now, &s->s_idle_since, &idle);
	if (!evutil_timercmp(&idle, &limit, <)) {
		env->ps_stats.st_timeouts++;
		session_close(s, "timeout");
		return;
	}
	evutil_timersub(&limit, &idle, &left);
	event_add(&s->s_ev, &left);
}

/* Read and run complete commands until none is left or one must wait. */
static void
session_read(struct session *s)
{
	char	 buf[POP3_SASL_LINE_MAX + 1];
	size_t	 have, max;
	ssize_t	 n, len;

	while (s->s_state == S_USER || s->s_state == S_PASS ||
	    s->s_state == S_SASL) {
		if (s->s_flags & SF_PROXY) {
			/* A trusted peer's first bytes: a PROXY header? */
			if ((n = session_proxy_read(s)) == -1)
				return;
			if (n == 0) {
				/* Nothing yet: a client that thinks. */
				session_idle_arm(s);
				return;
			}
			if (n == 2) {
				/* A header has begun: it has little time. */
				s->s_started = s->s_idle_since;
				(void)session_arm_deadline(s, EV_READ | EV_ET,
				    SESSION_PROXY_SECS, "proxy timeout");
				return;
			}
			if (s->s_flags & SF_REJECT) {
				session_reject(s);
				return;
			}
			session_want_read(s);
			continue;
		}
		/* A SASL response may be longer than a command (RFC 5034). */
		max = s->s_state == S_SASL ? POP3_SASL_LINE_MAX : POP3_LINE_MAX;
		/* The line so far: what came before, then what the kernel has. */
		if ((have = s->s_partlen) > 0)
			memcpy(buf, s->s_part, have);
		n = s->s_io->io_peek(s->s_io_arg, s->s_fd, buf + have,
		    max - have);
		if (n == 0) {
			session_close(s, "eof");
			return;
		}
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR) {
				session_close(s, "read error");
				return;
			}
			/* TLS may have to write before it can read on. */
			if (s->s_io->io_wants != NULL &&
			    s->s_io->io_wants(s->s_io_arg) == EV_WRITE) {
				session_want_write(s);
				return;
			}
			session_idle_arm(s);
			return;
		}
		len = pop3_line_end_max(buf, have + n, max);
		if (len == -1) {
			session_finish(s, REPLY_TOO_LONG, "line too long");
			return;
		}
		if (len == 0) {
			/* Take the start of the line; the rest is on its way. */
			if (max > POP3_LINE_MAX && s->s_part != NULL &&
			    !(s->s_flags & SF_PARTBIG) && have == 0) {
				free(s->s_part);
				s->s_part = NULL;
			}
			if (s->s_part == NULL) {
				if ((s->s_part = malloc(max)) == NULL) {
					session_close(s, "out of memory");
					return;
				}
				if (max > POP3_LINE_MAX)
					s->s_flags |= SF_PARTBIG;
				else
					s->s_flags &= ~SF_PARTBIG;
			}
			if (s->s_io->io_read(s->s_io_arg, s->s_fd,
			    s->s_part + have, n) != n) {
				session_close(s, "read error");
				return;
			}
			s->s_partlen = have + n;
			continue;
		}
		/* Consume exactly the rest of this line; what follows stays. */
		if (s->s_io->io_read(s->s_io_arg, s->s_fd, buf + have,
		    len - have) != len - (ssize_t)have) {
			session_close(s, "read error");
			return;
		}
		s->s_partlen = 0;
		session_clock(&s->s_idle_since);
		if (s->s_state == S_SASL)
			session_sasl_line(s, buf, len);
		else
			session_line(s, buf, len);
		if (s->s_state == S_CLOSED || s->s_outlen > 0)
			return;
	}
}

/* Parse one command line and run it from the command table. */
static void
session_line(struct session *s, const char *line, size_t len)
{
	struct pop3_line	 pl;
	enum pop3_status	 st;
	char			 esc[128];
	size_t			 i;

	st = pop3_parse(line, len, &pl);
	if (st == POP3_ENUL) {
		session_reply(s, REPLY_NUL);
		return;
	}
	if (st == POP3_EEMPTY || st == POP3_EUNKNOWN) {
		log_debug("session=%llx unknown command \"%s\"", s->s_id,
		    log_escape(esc, sizeof(esc), line, len));
		session_reply(s, REPLY_UNKNOWN);
		return;
	}
	for (i = 0; i < sizeof(session_cmds) / sizeof(session_cmds[0]); i++) {
		if (session_cmds[i].sc_cmd != pl.pl_cmd)
			continue;
		if (session_cmds[i].sc_secret)
			log_debug("session=%llx < %s ...", s->s_id, pl.pl_verb);
		else
			log_debug("session=%llx < \"%s\"", s->s_id,
			    log_escape(esc, sizeof(esc), line, len));
		if (st == POP3_EARGS) {
			session_reply(s, REPLY_SYNTAX);
			return;
		}
		session_cmds[i].sc_run(s, &pl);
		return;
	}
	session_reply(s, REPLY_UNKNOWN);
}

/* USER name: remember it; every name gets +OK (no enumeration). */
static void
session_cmd_user(struct session *s, const struct pop3_line *pl)
{
	char	*user;

	if (!session_login_ok(s)) {
		session_reply(s, REPLY_NEED_TLS);
		return;
	}
	if (pl->pl_arg1len >= AUTH_NAME_MAX) {
		session_reply(s, REPLY_SYNTAX);
		return;
	}
	if ((user = strndup(pl->pl_arg1, pl->pl_arg1len)) == NULL) {
		session_reply(s, REPLY_TEMP_BUSY);
		return;
	}
	free(s->s_user);
	s->s_user = user;
	session_enter_state(s, S_PASS);
	session_reply(s, REPLY_OK_USER);
}

/* PASS secret: check USER's password on a worker. */
static void
session_cmd_pass(struct session *s, const struct pop3_line *pl)
{
	if (!session_login_ok(s)) {
		session_reply(s, REPLY_NEED_TLS);
		return;
	}
	if (s->s_state != S_PASS || s->s_user == NULL) {
		session_reply(s, REPLY_NEED_USER);
		return;
	}
	session_auth(s, s->s_user, strlen(s->s_user), pl->pl_arg1,
	    pl->pl_arg1len, NULL);
}

/* APOP name digest: check the digest on a worker. */
static void
session_cmd_apop(struct session *s, const struct pop3_line *pl)
{
	if (!session_login_ok(s)) {
		session_reply(s, REPLY_NEED_TLS);
		return;
	}
	if (s->s_timestamp == NULL) {
		session_reply(s, REPLY_NO_APOP);
		return;
	}
	if (pl->pl_arg1len >= AUTH_NAME_MAX) {
		session_reply(s, REPLY_SYNTAX);
		return;
	}
	session_auth(s, pl->pl_arg1, pl->pl_arg1len, NULL, 0, pl->pl_arg2);
}

/* CAPA: the RFC 2449 list. */
static void
session_cmd_capa(struct session *s, const struct pop3_line *pl)
{
	char	 buf[512];
	int	 len;

	(void)pl;
	if ((len = reply_capa(buf, sizeof(buf), env->ps_conf,
	    session_capa_flags(s))) > 0)
		session_send(s, buf, len);
}

/*
 * May this connection log in? Always with TLS or from loopback; without
 * TLS elsewhere only with plaintext 1 (RFC 2595 §4: refused with [AUTH]
 * and the words clients know from Dovecot). Behind a trusted proxy the
 * address is the one of the PROXY header.
 */
static int
session_login_ok(const struct session *s)
{
	const struct addrkey	*k = &s->s_peer;
	static const unsigned char v6lo[16] = { [15] = 1 };

	if (env->ps_conf->cf_plaintext || (s->s_flags & SF_TLS))
		return 1;
	if (k->ak_family == AF_INET)
		return k->ak_addr[0] == 127;
	return memcmp(k->ak_addr, v6lo, sizeof(v6lo)) == 0;
}

/* What CAPA lists for this connection now. */
static unsigned int
session_capa_flags(const struct session *s)
{
	unsigned int	 flags = 0;

	if (!(s->s_flags & SF_TLS) && tls_enabled())
		flags |= CAPA_STLS;
	if (session_login_ok(s))
		flags |= CAPA_LOGIN;
	return flags;
}

/*
 * STLS (RFC 2595): +OK, then the handshake. Whatever the client sent
 * after STLS before the handshake is plaintext nobody vouches for (the
 * STARTTLS injection of CVE-2011-0411): it is read and dropped unseen,
 * and the USER given before is forgotten.
 */
static void
session_cmd_stls(struct session *s, const struct pop3_line *pl)
{
	char	 junk[4096];
	size_t	 dropped = 0;
	ssize_t	 n;

	(void)pl;
	if (s->s_flags & SF_TLS) {
		session_reply(s, REPLY_TLS_ACTIVE);
		return;
	}
	if (!tls_enabled()) {
		session_reply(s, REPLY_NOT_SUPPORTED);
		return;
	}
	for (;;) {
		n = s->s_io->io_peek(s->s_io_arg, s->s_fd, junk, sizeof(junk));
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0 || s->s_io->io_read(s->s_io_arg, s->s_fd, junk, n) !=
		    n) {
			session_close(s, n == 0 ? "eof" : "read error");
			return;
		}
		if ((dropped += n) > SESSION_STLS_DISCARD) {
			session_close(s, "plaintext after STLS");
			return;
		}
	}
	if (dropped > 0)
		log_debug("session=%llx STLS: %zu octets of plaintext dropped",
		    s->s_id, dropped);
	free(s->s_user);
	s->s_user = NULL;
	session_enter_state(s, S_STLS);
	if (session_reply(s, REPLY_OK_STLS) == 0 && s->s_outlen == 0)
		session_tls_start(s);
}

/*
 * AUTH (RFC 5034): alone, the list of mechanisms; AUTH PLAIN with its
 * initial response ("=" for an empty one), or without, and the response
 * then comes on a line of its own after "+ ".
 */
static void
session_cmd_auth(struct session *s, const struct pop3_line *pl)
{
	const char	*arg = pl->pl_arg1;
	size_t		 len = pl->pl_arg1len;

	while (len > 0 && (arg[len - 1] == ' ' || arg[len - 1] == '\t'))
		len--;
	if (len == 0) {
		session_reply(s, session_login_ok(s) ? REPLY_AUTH_LIST :
		    REPLY_AUTH_LIST_NONE);
		return;
	}
	if (!session_login_ok(s)) {
		session_reply(s, REPLY_NEED_TLS);
		return;
	}
	if (len < 5 || strncasecmp(arg, "PLAIN", 5) != 0 ||
	    (len > 5 && arg[5] != ' ')) {
		session_reply(s, REPLY_SASL_MECH);
		return;
	}
	free(s->s_user);
	s->s_user = NULL;
	if (s->s_state == S_PASS)
		session_enter_state(s, S_USER);
	if (len == 5) {
		session_enter_state(s, S_SASL);
		session_reply(s, REPLY_SASL_CONT);
		return;
	}
	session_sasl_plain(s, arg + 6, len - 6);
}

/* The client's response to "+ ": never logged; "*" cancels. */
static void
session_sasl_line(struct session *s, const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	session_enter_state(s, S_USER);
	if (len == 1 && line[0] == '*') {
		session_reply(s, REPLY_SASL_CANCEL);
		return;
	}
	session_sasl_plain(s, line, len);
}

/*
 * A PLAIN response: an authorization identity, if given, must be the
 * user's own; then the check goes as for PASS, with the same delay,
 * penalty, maxfails and log lines.
 */
static void
session_sasl_plain(struct session *s, const char *b64, size_t len)
{
	struct sasl_plain	 sp;
	char			 login[AUTH_NAME_MAX];
	size_t			 i, n;

	if (sasl_plain_parse(b64, len, &sp) != SASL_OK) {
		sasl_plain_wipe(&sp);
		session_reply(s, REPLY_SASL_BAD);
		return;
	}
	n = sp.sp_authcidlen < sizeof(login) - 1 ? sp.sp_authcidlen :
	    sizeof(login) - 1;
	memcpy(login, sp.sp_authcid, n);
	login[n] = '\0';
	for (i = 0; i < sp.sp_authcidlen; i++)
		if ((unsigned char)sp.sp_authcid[i] <= 0x20 ||
		    (unsigned char)sp.sp_authcid[i] == 0x7f)
			break;
	if (i < sp.sp_authcidlen || sp.sp_authcidlen >= AUTH_NAME_MAX)
		session_fail(s, login, "malformed login name");
	else if (sp.sp_passwdlen >= AUTH_SECRET_MAX)
		session_fail(s, login, "password too long");
	else if (sp.sp_authzidlen > 0 &&
	    (sp.sp_authzidlen != sp.sp_authcidlen ||
	    memcmp(sp.sp_authzid, sp.sp_authcid, sp.sp_authcidlen) != 0))
		session_fail(s, login, "authorization identity differs");
	else
		session_auth(s, sp.sp_authcid, sp.sp_authcidlen, sp.sp_passwd,
		    sp.sp_passwdlen, NULL);
	sasl_plain_wipe(&sp);
	explicit_bzero(login, sizeof(login));
}

/* QUIT: say goodbye and close. */
static void
session_cmd_quit(struct session *s, const struct pop3_line *pl)
{
	(void)pl;
	session_finish(s, REPLY_OK_QUIT, "quit");
}

/* A TRANSACTION command before login. */
static void
session_cmd_notauthed(struct session *s, const struct pop3_line *pl)
{
	(void)pl;
	session_reply(s, REPLY_NOT_AUTHED);
}

/*
 * Hand a login to the workers: login is the typed name, secret the PASS
 * argument or digest the APOP one.
 */
static void
session_auth(struct session *s, const char *login, size_t loginlen,
    const char *secret, size_t secretlen, const char *digest)
{
	const struct config	*cf = env->ps_conf;
	struct auth_job		*aj;

	if ((aj = calloc(1, sizeof(*aj))) == NULL) {
		session_reply(s, REPLY_TEMP_BUSY);
		return;
	}
	aj->aj_work.w_run = auth_run;
	aj->aj_work.w_done = session_auth_done;
	aj->aj_userdb = env->ps_userdb;
	aj->aj_hashed = cf->cf_crypt;
	aj->aj_minuid = (uid_t)cf->cf_minuid;
	aj->aj_mingid = (gid_t)cf->cf_mingid;
	aj->aj_peer = s->s_peer;
	memcpy(aj->aj_login, login, loginlen);
	aj->aj_login[loginlen] = '\0';
	if (digest != NULL) {
		aj->aj_apop = 1;
		snprintf(aj->aj_timestamp, sizeof(aj->aj_timestamp), "%s",
		    s->s_timestamp);
		memcpy(aj->aj_digest, digest, APOP_DIGEST_LEN);
		aj->aj_digest[APOP_DIGEST_LEN] = '\0';
	} else {
		if (secretlen >= sizeof(aj->aj_secret))
			secretlen = sizeof(aj->aj_secret) - 1;
		memcpy(aj->aj_secret, secret, secretlen);
		aj->aj_secretlen = secretlen;
	}

	if (auth_split_login(cf, aj->aj_login, aj->aj_account,
	    sizeof(aj->aj_account), aj->aj_folder, sizeof(aj->aj_folder),
	    aj->aj_option, sizeof(aj->aj_option), &aj->aj_has_option) == -1 ||
	    aj->aj_account[0] == '\0') {
		session_fail(s, aj->aj_login, "malformed login name");
		auth_job_free(aj);
		return;
	}
	if (strchr(aj->aj_folder, '/') != NULL ||
	    strcmp(aj->aj_folder, ".") == 0 ||
	    strcmp(aj->aj_folder, "..") == 0) {
		session_fail(s, aj->aj_login, "invalid folder name");
		auth_job_free(aj);
		return;
	}
	/* The job keeps its userdb open across a reload (SIGHUP). */
	userdb_ref(aj->aj_userdb);
	if (workers_submit(&aj->aj_work) == -1) {
		userdb_close(aj->aj_userdb);
		auth_job_free(aj);
		env->ps_stats.st_tempfails++;
		log_warnx("session=%llx worker queue full", s->s_id);
		/* From within session_read(), which reads on. */
		session_enter_state(s, S_USER);
		session_reply(s, REPLY_TEMP_BUSY);
		return;
	}
	aj->aj_session = s;
	s->s_job = aj;
	session_enter_state(s, S_CHECKING);
	/* A database that never answers must not hang the client. */
	session_want_timer(s, cf->cf_checktimeout, session_check_timeout);
}

/* On the loop: a worker has answered. */
static void
session_auth_done(struct work *w)
{
	struct auth_job	*aj = (struct auth_job *)w;
	struct session	*s = aj->aj_session;
	char		 ip[64], user[128], why[4 * sizeof(aj->aj_reason)];

	userdb_close(aj->aj_userdb);	/* the reference session_auth took */
	aj->aj_userdb = NULL;
	if (s == NULL) {		/* the client left meanwhile */
		auth_job_free(aj);
		return;
	}
	s->s_job = NULL;
	if (!atomic_load(&aj->aj_work.w_ran)) {	/* cancelled at exit */
		aj->aj_status = AUTH_TEMPFAIL;
		snprintf(aj->aj_reason, sizeof(aj->aj_reason), "cancelled");
	}
	switch (aj->aj_status) {
	case AUTH_OK:
		session_login(s, aj);
		break;
	case AUTH_FAIL:
		session_fail(s, aj->aj_login, aj->aj_reason);
		break;
	case AUTH_TEMPFAIL:
		/* The reason may quote a database's error text: escape it. */
		env->ps_stats.st_tempfails++;
		log_warnx("session=%llx ip=%s user=\"%s\" result=tempfail "
		    "reason=\"%s\"", s->s_id, session_ip(s, ip, sizeof(ip)),
		    log_escape(user, sizeof(user), aj->aj_login,
		    strlen(aj->aj_login)), log_escape(why, sizeof(why),
		    aj->aj_reason, strlen(aj->aj_reason)));
		session_tempfail(s, REPLY_TEMP_USERDB);
		break;
	}
	auth_job_free(aj);
}

/*
 * The check has not come back within checktimeout seconds: answer
 * [SYS/TEMP] and let the client try again. The job runs on; its result
 * is dropped when it comes (aj_session is NULL).
 */
static void
session_check_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;
	char		 ip[64];

	(void)fd;
	(void)what;
	env->ps_stats.st_tempfails++;
	log_warnx("session=%llx ip=%s result=tempfail reason=\"no answer from "
	    "the user database in %d s\"", s->s_id,
	    session_ip(s, ip, sizeof(ip)), env->ps_conf->cf_checktimeout);
	if (s->s_job != NULL) {
		s->s_job->aj_session = NULL;
		s->s_job = NULL;
	}
	free(s->s_user);
	s->s_user = NULL;
	session_tempfail(s, REPLY_TEMP_USERDB);
}

/*
 * A temporary failure found outside session_read() (a worker's answer,
 * the check deadline): say so, and wait for the next command.
 */
static void
session_tempfail(struct session *s, enum reply r)
{
	session_enter_state(s, S_USER);
	if (session_reply(s, r) == 0 && s->s_outlen == 0) {
		session_want_read(s);
		session_read(s);
	}
}

/*
 * A failed login of the typed name login (from USER or APOP): log it now,
 * so fail2ban-style tools see every attempt, and answer after faildelay.
 */
static void
session_fail(struct session *s, const char *login, const char *reason)
{
	const struct config	*cf = env->ps_conf;
	struct sockaddr_storage	 ss;
	struct timespec		 now;
	char			 ip[64], user[128], why[512];
	int			 delay = cf->cf_faildelay;

	env->ps_stats.st_logins_failed++;
	if (s->s_fails < 255)
		s->s_fails++;
	/* Recent failures from this address lengthen the delay. */
	if (cf->cf_failpenalty) {
		addrkey_to_sockaddr(&s->s_peer, &ss);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!config_is_trusted(cf, (struct sockaddr *)&ss))
			delay = penalty_fail(env->ps_penalty, &s->s_peer,
			    now.tv_sec, cf->cf_faildelay);
	}
	log_info("session=%llx ip=%s user=\"%s\" result=failed reason=\"%s\" "
	    "attempt=%u delay=%d", s->s_id, session_ip(s, ip, sizeof(ip)),
	    log_escape(user, sizeof(user), login, strlen(login)),
	    log_escape(why, sizeof(why), reason, strlen(reason)), s->s_fails,
	    delay);
	free(s->s_user);
	s->s_user = NULL;
	session_enter_state(s, S_DELAY);
	if (delay > 0)
		session_want_timer(s, delay, session_delay_done);
	else
		session_delay_done(-1, EV_TIMEOUT, s);
}

/* The failure delay is over: answer, and close after maxfails. */
static void
session_delay_done(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;

	(void)fd;
	(void)what;
	if (s->s_fails >= env->ps_conf->cf_maxfails) {
		session_finish(s, REPLY_AUTH_FAILED, "maxfails");
		return;
	}
	session_enter_state(s, S_USER);
	if (session_reply(s, REPLY_AUTH_FAILED) == 0 && s->s_outlen == 0) {
		session_want_read(s);
		session_read(s);
	}
}

/*
 * A good login: start popit on the connection and forget the session.
 * Over TLS popit still gets plain POP3 on fd 0/1: the socket itself when
 * the kernel does TLS both ways and nothing decrypted is left here, or
 * else a socket pair whose other end a relay (relay.c) joins to the TLS
 * connection, OpenSSL's buffered input first.
 */
static void
session_login(struct session *s, struct auth_job *aj)
{
	char		 ip[64];
	const char	*how = "";
	int		 fd = s->s_fd, pair[2] = { -1, -1 };

	session_ip(s, ip, sizeof(ip));
	if ((s->s_flags & SF_TLS) && tls_conn_ktls(s->s_io_arg)) {
		/* The kernel carries TLS on: no close_notify from here. */
		tls_conn_release(s->s_io_arg);
		s->s_io_arg = NULL;
		how = " tls=ktls";
		env->ps_stats.st_ktls++;
	} else if (s->s_flags & SF_TLS) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		    pair) == -1 || relay_start(s->s_io_arg, s->s_fd, pair[0],
		    s->s_id, &s->s_peer) == -1) {
			log_warn("session=%llx relay", s->s_id);
			if (pair[0] != -1) {
				close(pair[0]);
				close(pair[1]);
			}
			session_finish(s, REPLY_TEMP_MAILBOX, "relay failed");
			return;
		}
		/* The relay has the client now; popit gets the pair. */
		s->s_fd = -1;
		s->s_io_arg = NULL;
		fd = pair[1];
		how = " tls=relay";
		env->ps_stats.st_relayed++;
	}
	/*
	 * From here the handoff owns the socket and the address's slot, and
	 * logs the outcome: the session ends now, without a word.
	 */
	if (handoff_spawn(env->ps_conf, aj, fd, ip, s->s_id, how) == 0) {
		if (fd == s->s_fd)
			s->s_fd = -1;
		s->s_handed_off = 1;
	} else {
		char	 user[128], folder[128];

		log_info("session=%llx ip=%s user=\"%s\" result=tempfail "
		    "reason=\"popit not started\" folder=\"%s\"", s->s_id, ip,
		    log_escape(user, sizeof(user), aj->aj_login,
		    strlen(aj->aj_login)), log_escape(folder, sizeof(folder),
		    aj->aj_folder, strlen(aj->aj_folder)));
		if (pair[1] != -1)
			close(pair[1]);
	}
	session_close(s, NULL);
}

/*
 * Send bytes, keeping what the socket does not take now. Returns -1 if
 * the session was closed.
 */
static int
session_send(struct session *s, const char *buf, size_t len)
{
	ssize_t	 n;

	n = s->s_io->io_write(s->s_io_arg, s->s_fd, buf, len);
	if (n == -1) {
		if (errno != EAGAIN && errno != EINTR) {
			session_close(s, "write error");
			return -1;
		}
		n = 0;
	}
	if ((size_t)n == len)
		return 0;
	if ((s->s_out = malloc(len - n)) == NULL) {
		session_close(s, "out of memory");
		return -1;
	}
	memcpy(s->s_out, buf + n, len - n);
	s->s_outlen = len - n;
	session_want_write(s);
	return 0;
}

/* Send a last reply, then close with reason once it is written. */
static void
session_finish(struct session *s, enum reply r, const char *reason)
{
	session_enter_state(s, S_FLUSH);
	s->s_why = reason;
	if (session_reply(s, r) == 0 && s->s_outlen == 0)
		session_close(s, reason);
}

/* Send one reply from the reply table. */
static int
session_reply(struct session *s, enum reply r)
{
	return session_send(s, reply_text(r), reply_len(r));
}

/*
 * The one way out: release the socket and the address slot, log the
 * outcome (reason NULL: already logged), and free the session later,
 * outside its own callbacks. Safe to call twice.
 */
static void
session_close(struct session *s, const char *reason)
{
	char	 ip[64], user[128];

	if (s->s_state == S_CLOSED)
		return;
	if (reason != NULL)
		log_info("session=%llx ip=%s user=\"%s\" result=%s",
		    s->s_id, session_ip(s, ip, sizeof(ip)),
		    s->s_user ? log_escape(user, sizeof(user), s->s_user,
		    strlen(s->s_user)) : "", reason);
	session_enter_state(s, S_CLOSED);
	if (s->s_job != NULL) {
		s->s_job->aj_session = NULL;
		s->s_job = NULL;
	}
	event_del(&s->s_ev);
	session_io_release(s->s_fd, s->s_io, s->s_io_arg);
	s->s_fd = -1;
	s->s_io_arg = NULL;
	if (!s->s_handed_off)
		addrtab_dec(env->ps_addrs, &s->s_peer);
	TAILQ_REMOVE(&sessions, s, s_entry);
	env->ps_nsessions--;
	listener_update();
	drain_check();		/* the last one, after TERM or autoclose? */

	TAILQ_INSERT_TAIL(&session_dead, s, s_entry);
	if (session_reaper == NULL)
		session_reaper = event_new(env->ps_base, -1, 0, session_reap,
		    NULL);
	if (session_reaper != NULL)
		event_active(session_reaper, EV_TIMEOUT, 0);
}

/* Free closed sessions, from a callback of their own. */
static void
session_reap(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s;

	(void)fd;
	(void)what;
	(void)arg;
	while ((s = TAILQ_FIRST(&session_dead)) != NULL) {
		TAILQ_REMOVE(&session_dead, s, s_entry);
		free(s->s_user);
		free(s->s_timestamp);
		free(s->s_out);
		free(s->s_part);
		free(s);
	}
}

/* Close every session now (orderly exit). */
void
session_close_all(const char *reason)
{
	struct session	*s;

	while ((s = TAILQ_FIRST(&sessions)) != NULL)
		session_close(s, reason);
	session_reap(-1, 0, NULL);
}

/* Sessions waiting on a worker. */
unsigned int
session_checking(void)
{
	return session_nchecking;
}
