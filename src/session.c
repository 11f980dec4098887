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

#include "account.h"
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
#include "popserv.h"
#include "reply.h"
#include "session.h"
#include "userdb.h"

enum session_state {
	S_USER,			/* waiting for USER or APOP */
	S_PASS,			/* USER given, waiting for PASS */
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
	unsigned short		 s_outlen;	/* unsent bytes in s_out */
	struct timeval		 s_idle_since;	/* waiting for a command since */
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
static void	 session_cmd_notauthed(struct session *,
		    const struct pop3_line *);
static void	 session_cmd_unsupported(struct session *,
		    const struct pop3_line *);

static const struct session_cmd session_cmds[] = {
	{ POP3_CMD_USER, 0, session_cmd_user },
	{ POP3_CMD_PASS, 1, session_cmd_pass },
	{ POP3_CMD_APOP, 1, session_cmd_apop },
	{ POP3_CMD_CAPA, 0, session_cmd_capa },
	{ POP3_CMD_QUIT, 0, session_cmd_quit },
	{ POP3_CMD_AUTH, 1, session_cmd_unsupported },
	{ POP3_CMD_STLS, 0, session_cmd_unsupported },
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
	case S_USER:	return "user";
	case S_PASS:	return "pass";
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

/* Start a session for a freshly accepted connection. */
void
session_accept(int fd, const struct sockaddr *peer, socklen_t peerlen)
{
	struct addrkey		 key;

	(void)peerlen;
	if (addrkey_from_sockaddr(&key, peer) == -1) {
		env->ps_stats.st_accepted++;
		close(fd);
		return;
	}
	(void)session_start(fd, &key, &session_io_plain, NULL);
}

/* Start a session on a transport: see session.h. */
struct session *
session_start(int fd, const struct addrkey *key, const struct session_io *io,
    void *io_arg)
{
	const struct config	*cf = env->ps_conf;
	struct session		*s;
	char			 greeting[256], ip[64];
	unsigned int		 n;
	int			 len;

	env->ps_stats.st_accepted++;
	n = addrtab_inc(env->ps_addrs, key);
	if (cf->cf_sameaddrmax > 0 && n > (unsigned int)cf->cf_sameaddrmax) {
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

	if (cf->cf_apop_on) {
		char	 ts[APOP_TIMESTAMP_MAX];

		if (apop_timestamp(ts, sizeof(ts), (long)getpid(),
		    ++session_apop_counter, (long long)time(NULL),
		    cf->cf_hostname) == -1 ||
		    (s->s_timestamp = strdup(ts)) == NULL) {
			session_close(s, "apop timestamp");
			return NULL;
		}
	}
	log_debug("session=%llx ip=%s connected", s->s_id,
	    session_ip(s, ip, sizeof(ip)));

	len = reply_greeting(greeting, sizeof(greeting), s->s_timestamp);
	if (len == -1 || session_send(s, greeting, len) == -1)
		return NULL;
	if (s->s_outlen == 0)
		session_want_read(s);
	return s;
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

/* Wait until the unsent reply can be written. */
static void
session_want_write(struct session *s)
{
	event_del(&s->s_ev);
	event_assign(&s->s_ev, env->ps_base, s->s_fd, EV_WRITE | EV_PERSIST,
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
	if (what & EV_TIMEOUT) {
		env->ps_stats.st_timeouts++;
		session_close(s, "timeout");
		return;
	}
	if (what & EV_WRITE) {
		n = s->s_io->io_write(s->s_io_arg, s->s_fd, s->s_out,
		    s->s_outlen);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
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
	char	 buf[POP3_LINE_MAX + 1];
	size_t	 have;
	ssize_t	 n, len;

	while (s->s_state == S_USER || s->s_state == S_PASS) {
		/* The line so far: what came before, then what the kernel has. */
		if ((have = s->s_partlen) > 0)
			memcpy(buf, s->s_part, have);
		n = s->s_io->io_peek(s->s_io_arg, s->s_fd, buf + have,
		    POP3_LINE_MAX - have);
		if (n == 0) {
			session_close(s, "eof");
			return;
		}
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				session_idle_arm(s);
				return;
			}
			session_close(s, "read error");
			return;
		}
		len = pop3_line_end(buf, have + n);
		if (len == -1) {
			session_finish(s, REPLY_TOO_LONG, "line too long");
			return;
		}
		if (len == 0) {
			/* Take the start of the line; the rest is on its way. */
			if (s->s_part == NULL &&
			    (s->s_part = malloc(POP3_LINE_MAX)) == NULL) {
				session_close(s, "out of memory");
				return;
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
	if ((len = reply_capa(buf, sizeof(buf), env->ps_conf)) > 0)
		session_send(s, buf, len);
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

/* A command popserv knows but does not offer in this build or state. */
static void
session_cmd_unsupported(struct session *s, const struct pop3_line *pl)
{
	(void)pl;
	session_reply(s, REPLY_NOT_SUPPORTED);
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
	char		 ip[64], user[128];

	userdb_close(aj->aj_userdb);	/* the reference session_auth took */
	aj->aj_userdb = NULL;
	if (s == NULL) {		/* the client left meanwhile */
		auth_job_free(aj);
		return;
	}
	s->s_job = NULL;
	switch (aj->aj_status) {
	case AUTH_OK:
		session_login(s, aj);
		break;
	case AUTH_FAIL:
		session_fail(s, aj->aj_login, aj->aj_reason);
		break;
	case AUTH_TEMPFAIL:
		env->ps_stats.st_tempfails++;
		log_warnx("session=%llx ip=%s user=\"%s\" result=tempfail "
		    "reason=\"%s\"", s->s_id, session_ip(s, ip, sizeof(ip)),
		    log_escape(user, sizeof(user), aj->aj_login,
		    strlen(aj->aj_login)), aj->aj_reason);
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
	char			 ip[64], user[128];
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
	    reason, s->s_fails, delay);
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

/* A good login: start popit on the connection and forget the session. */
static void
session_login(struct session *s, struct auth_job *aj)
{
	char		 ip[64], user[128], folder[128];

	session_ip(s, ip, sizeof(ip));
	log_escape(user, sizeof(user), aj->aj_login, strlen(aj->aj_login));
	log_escape(folder, sizeof(folder), aj->aj_folder,
	    strlen(aj->aj_folder));
	switch (handoff_spawn(env->ps_conf, aj, s->s_fd, ip)) {
	case 0:
		break;
	case 1:
		s->s_handed_off = 1;
		/* FALLTHROUGH */
	default:
		log_info("session=%llx ip=%s user=\"%s\" result=tempfail "
		    "reason=\"popit not started\" folder=\"%s\"", s->s_id, ip,
		    user, folder);
		session_close(s, NULL);
		return;
	}
	env->ps_stats.st_logins_ok++;
	log_info("session=%llx ip=%s user=\"%s\" result=login folder=\"%s\"",
	    s->s_id, ip, user, folder);
	account_login(env->ps_conf, aj->aj_account, aj->aj_login, &s->s_peer);
	s->s_handed_off = 1;
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
