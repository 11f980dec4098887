/*
 * POP3 AUTHORIZATION sessions: greeting, USER/PASS, APOP, AUTH PLAIN,
 * CAPA, STLS, QUIT, the failure delay and the PROXY header a trusted
 * peer may send first, all on the event loop. How the bytes move, lines
 * are read and time limits kept is the transport's business (sio.c):
 * this file hears of it as events and decides what they mean.
 *
 * Whatever a client pipelines after a successful PASS stays unread for
 * popit: the transport never reads past the end of a command, and once a
 * login is good no more lines are asked for. STLS and implicit TLS
 * (bindtls) run their handshakes on the loop; plaintext logins are
 * refused off loopback unless plaintext 1 (docs/security.md).
 */

#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
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
#include "handoff.h"
#include "listener.h"
#include "log.h"
#include "penalty.h"
#include "pop3.h"
#include "proxy.h"
#include "reply.h"
#include "sasl.h"
#include "session.h"
#include "sio.h"
#include "state.h"
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

enum session_state {
	S_PROXY,		/* trusted peer: a PROXY header first? */
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

/* The states in which commands are read, as a mask. */
#define ST(s)		(1u << (s))
#define ST_COMMAND	(ST(S_USER) | ST(S_PASS))

/*
 * The transport comes first: its event's argument is then the session's
 * own address, which is how the fuzz driver finds a session's events.
 */
struct session {
	struct sio		 s_sio;		/* the transport */
	TAILQ_ENTRY(session)	 s_entry;
	unsigned long long	 s_id;
	enum session_state	 s_state;
	unsigned char		 s_fails;
	unsigned char		 s_handed_off;	/* addrtab slot moved to popit */
	unsigned char		 s_flags;	/* SF_* */
	struct addrkey		 s_peer;
	char			*s_user;	/* after USER */
	char			*s_timestamp;	/* APOP challenge */
	struct auth_job		*s_job;		/* while S_CHECKING */
	const char		*s_why;		/* close reason after S_FLUSH */
};

TAILQ_HEAD(sessionq, session);
_Static_assert(offsetof(struct session, s_sio) == 0,
    "the transport is the session's first member");

/* sc_flags */
#define SC_SECRET	0x01	/* arguments never reach a log */
#define SC_LOGIN	0x02	/* logs in: refused where login is not allowed */

/*
 * A command: the states it may come in (else REPLY_NEED_USER), what it
 * is, and how it runs once session_line() has checked all that.
 */
struct session_cmd {
	enum pop3_cmd	 sc_cmd;
	unsigned int	 sc_states;	/* ST() mask */
	unsigned char	 sc_flags;	/* SC_* */
	void		(*sc_run)(struct session *, const struct pop3_line *);
};

static struct session *session_alloc(int, const struct addrkey *,
		    const struct session_io *, void *);
static void	 session_event(struct sio *, enum sio_event, const char *,
		    size_t);
static void	 session_enter_state(struct session *, enum session_state);
static void	 session_log(const struct session *, int, const char *,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
static int	 session_greet(struct session *);
static void	 session_reject(struct session *, const char *);
static int	 session_over_limit(unsigned int);
static int	 session_login_ok(const struct session *);
static unsigned int session_capa_flags(const struct session *);
static void	 session_proxy(struct session *);
static int	 session_proxy_read(struct session *);
static void	 session_tls_start(struct session *);
static void	 session_tls_ready(struct session *);
static int	 session_tls_secs(void);
static void	 session_resume(struct session *);
static void	 session_answer(struct session *, enum reply);
static void	 session_drained(struct session *);
static void	 session_timer(struct session *);
static const char *session_timeout_reason(const struct session *,
		    enum sio_event);
static void	 session_forget_user(struct session *);
static void	 session_sasl_line(struct session *, const char *, size_t);
static void	 session_sasl_plain(struct session *, const char *, size_t);
static void	 session_line(struct session *, const char *, size_t);
static void	 session_check_timeout(struct session *);
static void	 session_delay_done(struct session *);
static int	 session_reply(struct session *, enum reply);
static void	 session_close(struct session *, const char *);
static void	 session_finish(struct session *, enum reply, const char *);
static void	 session_auth(struct session *, const char *, size_t,
		    const char *, size_t, const char *);
static void	 session_auth_done(struct work *);
static void	 session_fail(struct session *, const char *, const char *);
static void	 session_login(struct session *, struct auth_job *);
static void	 session_reap(evutil_socket_t, short, void *);
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

/*
 * AUTH is no SC_LOGIN command: alone it lists the mechanisms, and only
 * AUTH PLAIN is refused where login is not allowed (session_cmd_auth).
 */
static const struct session_cmd session_cmds[] = {
	{ POP3_CMD_USER, ST_COMMAND, SC_LOGIN, session_cmd_user },
	{ POP3_CMD_PASS, ST(S_PASS), SC_LOGIN | SC_SECRET, session_cmd_pass },
	{ POP3_CMD_APOP, ST_COMMAND, SC_LOGIN | SC_SECRET, session_cmd_apop },
	{ POP3_CMD_CAPA, ST_COMMAND, 0, session_cmd_capa },
	{ POP3_CMD_QUIT, ST_COMMAND, 0, session_cmd_quit },
	{ POP3_CMD_AUTH, ST_COMMAND, SC_SECRET, session_cmd_auth },
	{ POP3_CMD_STLS, ST_COMMAND, 0, session_cmd_stls },
	{ POP3_CMD_NOOP, ST_COMMAND, 0, session_cmd_notauthed },
	{ POP3_CMD_STAT, ST_COMMAND, 0, session_cmd_notauthed },
	{ POP3_CMD_LIST, ST_COMMAND, 0, session_cmd_notauthed },
	{ POP3_CMD_RETR, ST_COMMAND, 0, session_cmd_notauthed },
	{ POP3_CMD_DELE, ST_COMMAND, 0, session_cmd_notauthed },
	{ POP3_CMD_RSET, ST_COMMAND, 0, session_cmd_notauthed },
	{ POP3_CMD_TOP, ST_COMMAND, 0, session_cmd_notauthed },
	{ POP3_CMD_UIDL, ST_COMMAND, 0, session_cmd_notauthed },
	{ POP3_CMD_LAST, ST_COMMAND, 0, session_cmd_notauthed },
};

static struct sessionq	 sessions = TAILQ_HEAD_INITIALIZER(sessions);
static struct sessionq	 session_dead = TAILQ_HEAD_INITIALIZER(session_dead);
static struct event	*session_reaper;
static unsigned long long session_nextid;
static unsigned long	 session_apop_counter;
static unsigned int	 session_nchecking;

/* The session a transport belongs to. */
static struct session *
session_of(struct sio *sio)
{
	return (struct session *)(void *)((char *)sio -
	    offsetof(struct session, s_sio));
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

/*
 * Enter a new state; every transition is logged when debugging. A SASL
 * response may be longer than a command (RFC 5034 §4).
 */
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
	sio_linemax(&s->s_sio, st == S_SASL ? POP3_SASL_LINE_MAX :
	    POP3_LINE_MAX);
}

/*
 * One line about the session at syslog priority pri: "session=… ip=…",
 * then user="…" when user is not NULL (escaped here), then the message.
 */
static void
session_log(const struct session *s, int pri, const char *user,
    const char *fmt, ...)
{
	char	 msg[1024], ip[64], esc[128];
	va_list	 ap;

	if (pri == LOG_DEBUG && !log_getverbose())
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	addrkey_ntop(&s->s_peer, ip, sizeof(ip));
	if (user != NULL)
		log_msg(pri, "session=%llx ip=%s user=\"%s\" %s", s->s_id, ip,
		    log_escape(esc, sizeof(esc), user, strlen(user)), msg);
	else
		log_msg(pri, "session=%llx ip=%s %s", s->s_id, ip, msg);
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
		(void)session_start(fd, &key, &sio_plain, NULL);
		return;
	}
	env->ps_stats.st_accepted++;
	n = addrtab_inc(env->ps_addrs, &key);
	if ((s = session_alloc(fd, &key, &sio_plain, NULL)) == NULL)
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
		sio_wait_input(&s->s_sio);
		session_proxy(s);
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
		sio_discard(fd, io, io_arg);
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
		sio_discard(fd, io, io_arg);
		return NULL;
	}
	s->s_id = ++session_nextid;
	sio_init(&s->s_sio, fd, io, io_arg, session_event, POP3_LINE_MAX);
	s->s_peer = *key;
	s->s_state = S_USER;
	TAILQ_INSERT_TAIL(&sessions, s, s_entry);
	env->ps_nsessions++;
	listener_update();
	return s;
}

/*
 * Greet the client (with the APOP challenge when APOP is on) and wait
 * for its first command: a trusted peer's first bytes may be a PROXY
 * header. -1 if the session was closed.
 */
static int
session_greet(struct session *s)
{
	const struct config	*cf = env->ps_conf;
	char			 greeting[256];
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
	session_log(s, LOG_DEBUG, NULL, "connected%s",
	    s->s_flags & SF_TLS ? " tls" : "");
	if (s->s_flags & SF_PROXY)	/* the header is the first thing read */
		session_enter_state(s, S_PROXY);

	len = reply_greeting(greeting, sizeof(greeting), s->s_timestamp);
	if (len == -1 || sio_send(&s->s_sio, greeting, len) == -1)
		return -1;
	if (sio_pending(&s->s_sio))
		return 0;
	if (s->s_state == S_PROXY)
		sio_wait_input(&s->s_sio);
	else {
		sio_wait_lines(&s->s_sio);
		/* After a handshake the first command may be here already. */
		if (s->s_flags & SF_TLS)
			sio_read_lines(&s->s_sio);
	}
	return 0;
}

/*
 * Over sameaddrmax, found once the client's address or its TLS were
 * known: say so and close (tls: before the handshake, no word at all).
 */
static void
session_reject(struct session *s, const char *tls)
{
	env->ps_stats.st_rejected_sameaddr++;
	session_log(s, LOG_INFO, NULL, "result=rejected reason=sameaddrmax "
	    "count=%u%s", addrtab_get(env->ps_addrs, &s->s_peer) - 1,
	    tls != NULL ? tls : "");
	if (tls != NULL)
		session_close(s, NULL);
	else
		session_finish(s, REPLY_TEMP_SAMEADDR, NULL);
}

/*
 * Events from the transport. The idle limit and the deadlines, the end
 * of the input and a broken transport close the session here; the rest
 * goes where the state says.
 */
static void
session_event(struct sio *sio, enum sio_event ev, const char *data,
    size_t len)
{
	struct session	*s = session_of(sio);
	char		 esc[256];

	switch (ev) {
	case SIO_LINE:
		if (s->s_state == S_SASL)
			session_sasl_line(s, data, len);
		else
			session_line(s, data, len);
		break;
	case SIO_INPUT:
		session_proxy(s);
		break;
	case SIO_DRAINED:
		session_drained(s);
		break;
	case SIO_TLSREADY:
		session_tls_ready(s);
		break;
	case SIO_TLSFAIL:
		env->ps_stats.st_tls_failed++;
		session_log(s, LOG_INFO, NULL, "tls handshake failed: %s",
		    log_escape(esc, sizeof(esc), data, len));
		session_close(s, "tls failed");
		break;
	case SIO_TOOLONG:
		session_finish(s, REPLY_TOO_LONG, "line too long");
		break;
	case SIO_TIMER:
		session_timer(s);
		break;
	case SIO_TIMEOUT:
	case SIO_DEADLINE:
		env->ps_stats.st_timeouts++;
		session_close(s, session_timeout_reason(s, ev));
		break;
	case SIO_EOF:
		session_close(s, "eof");
		break;
	case SIO_ERROR:
		session_close(s, data);
		break;
	}
}

/* What the log calls a timeout in this state. */
static const char *
session_timeout_reason(const struct session *s, enum sio_event ev)
{
	if (s->s_state == S_HANDSHAKE)
		return "tls timeout";
	if (s->s_state == S_PROXY && ev == SIO_DEADLINE)
		return "proxy timeout";
	return "timeout";
}

/* The reply is written: what the state waited for comes next. */
static void
session_drained(struct session *s)
{
	switch (s->s_state) {
	case S_FLUSH:
		session_close(s, s->s_why);
		break;
	case S_STLS:
		session_tls_start(s);
		break;
	case S_PROXY:
		sio_wait_input(&s->s_sio);
		session_proxy(s);
		break;
	default:
		session_resume(s);
		break;
	}
}

/* Read the next commands, with the idle limit counted from now. */
static void
session_resume(struct session *s)
{
	sio_wait_lines(&s->s_sio);
	sio_read_lines(&s->s_sio);
}

/*
 * Back in S_USER from outside the reader (a worker's answer, a timer):
 * answer r, then read the next commands once it is written.
 */
static void
session_answer(struct session *s, enum reply r)
{
	session_enter_state(s, S_USER);
	if (session_reply(s, r) == 0 && !sio_pending(&s->s_sio))
		session_resume(s);
}

/* The timer of S_CHECKING (the check's deadline) or S_DELAY. */
static void
session_timer(struct session *s)
{
	if (s->s_state == S_CHECKING)
		session_check_timeout(s);
	else if (s->s_state == S_DELAY)
		session_delay_done(s);
}

/*
 * S_PROXY: the first bytes of a trusted peer, a PROXY header or not. On
 * a bindtls listener the handshake comes next, within the time one may
 * take; on a plain one the commands (the greeting is out), and a header
 * that has begun has SESSION_PROXY_SECS to end, while nothing at all is
 * a client that thinks, under the idle limit.
 */
static void
session_proxy(struct session *s)
{
	int	 implicit = s->s_flags & SF_IMPLICIT;

	switch (session_proxy_read(s)) {
	case -1:
		return;
	case 0:
		if (implicit)
			(void)sio_deadline(&s->s_sio, EV_READ | EV_ET,
			    session_tls_secs());
		else
			sio_idle(&s->s_sio);
		return;
	case 2:
		(void)sio_deadline(&s->s_sio, EV_READ | EV_ET, implicit ?
		    session_tls_secs() : SESSION_PROXY_SECS);
		return;
	}
	s->s_flags &= ~SF_PROXY;
	if (implicit) {
		session_tls_start(s);
		return;
	}
	if (s->s_flags & SF_REJECT) {
		session_reject(s, NULL);
		return;
	}
	session_enter_state(s, S_USER);
	session_resume(s);
}

/*
 * Read a PROXY header, or find there is none. A whole header is consumed
 * exactly, and its address becomes the client's for everything
 * (sameaddrmax, the penalty, logs, REMOTE_ADDR, accounting). Returns 1
 * when decided (SF_REJECT set if the client is over sameaddrmax), 0 when
 * nothing came yet, 2 when a header has begun and the rest must come, -1
 * if closed.
 */
static int
session_proxy_read(struct session *s)
{
	struct proxy_hdr	 ph;
	struct addrkey		 key;
	unsigned char		 buf[PROXY_MAX];
	char			 from[64], ip[64];
	ssize_t			 n, len;

	n = sio_peek(&s->s_sio, buf, sizeof(buf));
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
	if (len == PROXY_NOT)
		return 1;
	if (len == PROXY_BAD) {
		session_close(s, "bad PROXY header");
		return -1;
	}
	if (sio_take(&s->s_sio, buf, len) != len) {
		session_close(s, "read error");
		return -1;
	}
	env->ps_stats.st_proxied++;
	addrkey_ntop(&s->s_peer, from, sizeof(from));
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
	    ph.ph_version, addrkey_ntop(&s->s_peer, ip, sizeof(ip)));
	return 1;
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

	if (s->s_flags & SF_REJECT) {
		session_reject(s, " tls=refused-before-handshake");
		return;
	}
	if ((tc = tls_conn_new(s->s_sio.sio_fd)) == NULL) {
		session_close(s, "tls unavailable");
		return;
	}
	s->s_flags |= SF_TLS;
	session_enter_state(s, S_HANDSHAKE);
	sio_starttls(&s->s_sio, &tls_session_io, tc, session_tls_secs());
}

/* The handshake is done: the greeting, or (after STLS) the next command. */
static void
session_tls_ready(struct session *s)
{
	char	 desc[256];

	env->ps_stats.st_tls++;
	log_debug("session=%llx tls %s", s->s_id,
	    tls_conn_describe(s->s_sio.sio_arg, desc, sizeof(desc)));
	if (s->s_flags & SF_IMPLICIT) {
		(void)session_greet(s);
		return;
	}
	/* After STLS: the client speaks next (RFC 2595 §4). */
	session_enter_state(s, S_USER);
	session_resume(s);
}

/* Drive a session from outside its event: see session.h. */
void
session_ready(struct session *s, short what)
{
	sio_ready(&s->s_sio, what);
}

/*
 * Parse one command line and run it from the command table, once the
 * table's conditions hold: the arguments parse, a login is allowed here,
 * and the state is one the command may come in.
 */
static void
session_line(struct session *s, const char *line, size_t len)
{
	const struct session_cmd	*sc = NULL;
	struct pop3_line		 pl;
	enum pop3_status		 st;
	char				 esc[128];
	size_t				 i;

	st = pop3_parse(line, len, &pl);
	if (st == POP3_ENUL) {
		session_reply(s, REPLY_NUL);
		return;
	}
	if (st != POP3_EEMPTY && st != POP3_EUNKNOWN)
		for (i = 0; i < sizeof(session_cmds) / sizeof(session_cmds[0]);
		    i++)
			if (session_cmds[i].sc_cmd == pl.pl_cmd) {
				sc = &session_cmds[i];
				break;
			}
	if (sc == NULL) {
		log_debug("session=%llx unknown command \"%s\"", s->s_id,
		    log_escape(esc, sizeof(esc), line, len));
		session_reply(s, REPLY_UNKNOWN);
		return;
	}
	if (sc->sc_flags & SC_SECRET)
		log_debug("session=%llx < %s ...", s->s_id, pl.pl_verb);
	else
		log_debug("session=%llx < \"%s\"", s->s_id,
		    log_escape(esc, sizeof(esc), line, len));
	if (st == POP3_EARGS)
		session_reply(s, REPLY_SYNTAX);
	else if ((sc->sc_flags & SC_LOGIN) && !session_login_ok(s))
		session_reply(s, REPLY_NEED_TLS);
	else if (!(sc->sc_states & ST(s->s_state)))
		session_reply(s, REPLY_NEED_USER);
	else
		sc->sc_run(s, &pl);
}

/* The name from USER is forgotten (STLS, a failure, AUTH). */
static void
session_forget_user(struct session *s)
{
	free(s->s_user);
	s->s_user = NULL;
}

/* USER name: remember it; every name gets +OK (no enumeration). */
static void
session_cmd_user(struct session *s, const struct pop3_line *pl)
{
	char	*user;

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
	session_auth(s, s->s_user, strlen(s->s_user), pl->pl_arg1,
	    pl->pl_arg1len, NULL);
}

/* APOP name digest: check the digest on a worker. */
static void
session_cmd_apop(struct session *s, const struct pop3_line *pl)
{
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
		(void)sio_send(&s->s_sio, buf, len);
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
		n = sio_peek(&s->s_sio, junk, sizeof(junk));
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0 || sio_take(&s->s_sio, junk, n) != n) {
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
	session_forget_user(s);
	session_enter_state(s, S_STLS);
	if (session_reply(s, REPLY_OK_STLS) == 0 && !sio_pending(&s->s_sio))
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
	session_forget_user(s);
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

	if ((aj = auth_job_new(cf, env->ps_userdb, &s->s_peer, login,
	    loginlen)) == NULL) {
		session_reply(s, REPLY_TEMP_BUSY);
		return;
	}
	if (aj->aj_status == AUTH_FAIL) {	/* refused before any check */
		session_fail(s, aj->aj_login, aj->aj_reason);
		auth_job_free(aj);
		return;
	}
	if (digest != NULL)
		auth_job_apop(aj, s->s_timestamp, digest);
	else
		auth_job_secret(aj, secret, secretlen);
	aj->aj_work.w_done = session_auth_done;
	/* The job keeps its userdb open across a reload (SIGHUP). */
	userdb_ref(aj->aj_userdb);
	if (workers_submit(&aj->aj_work) == -1) {
		userdb_close(aj->aj_userdb);
		auth_job_free(aj);
		env->ps_stats.st_tempfails++;
		log_warnx("session=%llx worker queue full", s->s_id);
		/* From within the reader, which reads on. */
		session_enter_state(s, S_USER);
		session_reply(s, REPLY_TEMP_BUSY);
		return;
	}
	aj->aj_session = s;
	s->s_job = aj;
	session_enter_state(s, S_CHECKING);
	/* A database that never answers must not hang the client. */
	sio_timer(&s->s_sio, cf->cf_checktimeout);
}

/* On the loop: a worker has answered. */
static void
session_auth_done(struct work *w)
{
	struct auth_job	*aj = (struct auth_job *)w;
	struct session	*s = aj->aj_session;
	char		 why[4 * sizeof(aj->aj_reason)];

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
		session_log(s, LOG_WARNING, aj->aj_login, "result=tempfail "
		    "reason=\"%s\"", log_escape(why, sizeof(why),
		    aj->aj_reason, strlen(aj->aj_reason)));
		session_answer(s, REPLY_TEMP_USERDB);
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
session_check_timeout(struct session *s)
{
	env->ps_stats.st_tempfails++;
	session_log(s, LOG_WARNING, NULL, "result=tempfail reason=\"no answer "
	    "from the user database in %d s\"", env->ps_conf->cf_checktimeout);
	if (s->s_job != NULL) {
		s->s_job->aj_session = NULL;
		s->s_job = NULL;
	}
	session_forget_user(s);
	session_answer(s, REPLY_TEMP_USERDB);
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
	char			 why[512];
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
	session_log(s, LOG_INFO, login, "result=failed reason=\"%s\" "
	    "attempt=%u delay=%d", log_escape(why, sizeof(why), reason,
	    strlen(reason)), s->s_fails, delay);
	session_forget_user(s);
	session_enter_state(s, S_DELAY);
	if (delay > 0)
		sio_timer(&s->s_sio, delay);
	else
		session_delay_done(s);
}

/* The failure delay is over: answer, and close after maxfails. */
static void
session_delay_done(struct session *s)
{
	if (s->s_fails >= env->ps_conf->cf_maxfails) {
		session_finish(s, REPLY_AUTH_FAILED, "maxfails");
		return;
	}
	session_answer(s, REPLY_AUTH_FAILED);
}

/*
 * A good login: the handoff (handoff.c) decides how popit gets the
 * connection and logs the outcome; the session ends without a word,
 * unless TLS found no relay and the client must hear it from here.
 */
static void
session_login(struct session *s, struct auth_job *aj)
{
	struct tls_conn	*tc = NULL;

	if (s->s_flags & SF_TLS)
		tc = s->s_sio.sio_arg;
	switch (handoff_login(env->ps_conf, aj, s->s_sio.sio_fd, tc,
	    s->s_id)) {
	case HANDOFF_NORELAY:
		session_finish(s, REPLY_TEMP_MAILBOX, "relay failed");
		return;
	case HANDOFF_QUEUED:
		s->s_handed_off = 1;
		break;
	case HANDOFF_FAILED:
		break;
	}
	sio_detach(&s->s_sio);		/* the handoff's now */
	session_close(s, NULL);
}

/* Send a last reply, then close with reason once it is written. */
static void
session_finish(struct session *s, enum reply r, const char *reason)
{
	session_enter_state(s, S_FLUSH);
	s->s_why = reason;
	if (session_reply(s, r) == 0 && !sio_pending(&s->s_sio))
		session_close(s, reason);
}

/* Send one reply from the reply table; -1 if the session was closed. */
static int
session_reply(struct session *s, enum reply r)
{
	return sio_send(&s->s_sio, reply_text(r), reply_len(r));
}

/*
 * The one way out: release the transport and the address slot, log the
 * outcome (reason NULL: already logged), and free the session later,
 * outside its own callbacks. Safe to call twice.
 */
static void
session_close(struct session *s, const char *reason)
{
	if (s->s_state == S_CLOSED)
		return;
	if (reason != NULL)
		session_log(s, LOG_INFO, s->s_user ? s->s_user : "",
		    "result=%s", reason);
	session_enter_state(s, S_CLOSED);
	if (s->s_job != NULL) {
		s->s_job->aj_session = NULL;
		s->s_job = NULL;
	}
	sio_close(&s->s_sio);
	if (!s->s_handed_off)
		addrtab_dec(env->ps_addrs, &s->s_peer);
	TAILQ_REMOVE(&sessions, s, s_entry);
	env->ps_nsessions--;
	listener_collect();

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
