/*
 * libFuzzer target: the AUTHORIZATION session engine (session.c), driven
 * through its transport interface (struct session_io) with no socket.
 *
 * The input is a little program for up to FZ_MAXCONN clients: start a
 * connection, deliver bytes to one, let it write so much, half-close it,
 * reset it, finish the pending password checks (with a chosen outcome
 * and handoff result), fire the pending timers, switch to another
 * configuration (as SIGHUP would). So the fuzzer chooses not only what a
 * client says but when checks finish and timers fire relative to it.
 *
 * No thread and no process is ever started: this file replaces, at link
 * time, the modules session.c calls into for them. workers_submit()
 * queues the job here, and the "finish checks" step runs the real
 * auth_run() (userdb file on a memfd, plaintext passwords, so a check
 * costs microseconds) and then the job's w_done on this thread, exactly
 * as worker_deliver() would on the loop. handoff_login() records the
 * login instead of cloning popit, and releases its sameaddrmax slot when
 * the input ends, as the SIGCHLD of popit would. account_login(),
 * listener_update() and listener_collect() do nothing. The log lines are
 * handed to a hook (log_sethook()) rather than the logging thread, so
 * they go nowhere but are checked (and printed to stderr when
 * FUZZ_SESSION_LOG is set, to follow a seed or a crash).
 *
 * What must hold (else __builtin_trap()):
 * - every log line is printable ASCII: client text is always escaped;
 * - at a handoff, the input consumed ends exactly at the end of a line:
 *   nothing the client sent after PASS/APOP was taken from popit;
 * - io_read() takes no more than io_peek() showed, and no transport call
 *   comes after the session released its transport;
 * - every LF written is part of a CRLF;
 * - when the input ends and every session is closed, no session, check
 *   or sameaddrmax slot is left over (and LeakSanitizer sees no leak).
 */

#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "account.h"
#include "addrtab.h"
#include "auth.h"
#include "config.h"
#include "handoff.h"
#include "listener.h"
#include "log.h"
#include "penalty.h"
#include "state.h"
#include "session.h"
#include "sio.h"
#include "userdb.h"
#include "worker.h"

#define FZ_MAXCONN	4
#define FZ_INMAX	4096	/* bytes delivered to one connection */
#define FZ_MAXJOBS	8	/* then workers_submit() says "full" */
#define FZ_NCONF	3

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* One client and its end of the transport (the session's io_arg). */
struct fz_conn {
	struct session	*fc_session;	/* NULL once released */
	int		 fc_used;
	int		 fc_fd;	/* a pipe's read end: never ready */
	int		 fc_wfd;	/* its write end, kept open */
	unsigned char	 fc_in[FZ_INMAX]; /* delivered so far */
	size_t		 fc_inlen;
	size_t		 fc_pos;	/* consumed by the session */
	size_t		 fc_peeked;	/* shown by the last peek */
	int		 fc_eof;	/* half-closed by the client */
	int		 fc_reset;	/* reset by the client */
	int		 fc_full;	/* writes take nothing (EAGAIN) */
	size_t		 fc_window;	/* bytes a write takes, 0: all */
	int		 fc_lastcr;	/* the last byte written was CR */
};

/* A login handed to the "popit" of this file. */
struct fz_child {
	struct addrkey	 ch_peer;
};

static struct popserv	 fz_env;
struct popserv		*env = &fz_env;

static struct config	*fz_conf[FZ_NCONF];
static struct fz_conn	 fz_conns[FZ_MAXCONN];
static TAILQ_HEAD(, work) fz_jobs = TAILQ_HEAD_INITIALIZER(fz_jobs);
static size_t		 fz_njobs;
static size_t		 fz_maxjobs;
static int		 fz_handoff_result;
static struct fz_child	 fz_children[64];
static size_t		 fz_nchildren;

static const char fz_passwd[] =
    "joe:secret:1000:1000:Joe:/home/joe:/bin/sh\n"
    "ann:tanstaaf:1001:1001:Ann:/home/ann:/bin/sh\n"
    "root:rootpw:0:0:root:/root:/bin/sh\n";

/* The configurations an input may switch between; each gets a userdb. */
static const char *fz_conftext[FZ_NCONF] = {
	("crypt 0\napop 1\nhostname fuzz.example\nfaildelay 0\nmaxfails 3\n"
	"sameaddrmax 2\ntimelimit 600\n"
	"folder \\+([^%@/]*)\nuseropt /([^%@+]*)\n"),
	("crypt 0\nfaildelay 1\nfailpenalty 1\nmaxfails 5\ntimelimit 30\n"),
	("crypt 0\napop 0\nfaildelay 0\nmaxfails 1\nsameaddrmax 1\n"
	"trusted 127.0.0.0/8\nfolder \\+(.*)\n"),
};

static ssize_t	 fz_peek(void *, int, void *, size_t);
static ssize_t	 fz_read(void *, int, void *, size_t);
static ssize_t	 fz_write(void *, int, const void *, size_t);
static void	 fz_free(void *);

static const struct session_io fz_io = {
	"fuzz", fz_peek, fz_read, fz_write, NULL, fz_free, NULL
};

/* --- The transport: a client that exists only in this file. --- */

static ssize_t
fz_peek(void *arg, int fd, void *buf, size_t len)
{
	struct fz_conn	*c = arg;
	size_t		 n;

	if (c == NULL || c->fc_session == NULL || fd != c->fc_fd)
		__builtin_trap();
	if (c->fc_reset) {
		errno = ECONNRESET;
		return -1;
	}
	n = c->fc_inlen - c->fc_pos;
	if (n == 0) {
		if (c->fc_eof)
			return 0;
		errno = EAGAIN;
		return -1;
	}
	if (n > len)
		n = len;
	memcpy(buf, c->fc_in + c->fc_pos, n);
	c->fc_peeked = n;
	return (ssize_t)n;
}

static ssize_t
fz_read(void *arg, int fd, void *buf, size_t len)
{
	struct fz_conn	*c = arg;

	if (c == NULL || c->fc_session == NULL || fd != c->fc_fd)
		__builtin_trap();
	/* Only what a peek has shown may be consumed. */
	if (len > c->fc_peeked)
		__builtin_trap();
	memcpy(buf, c->fc_in + c->fc_pos, len);
	c->fc_pos += len;
	c->fc_peeked -= len;
	return (ssize_t)len;
}

static ssize_t
fz_write(void *arg, int fd, const void *buf, size_t len)
{
	struct fz_conn		*c = arg;
	const unsigned char	*p = buf;
	size_t			 i;

	if (c == NULL || c->fc_session == NULL || fd != c->fc_fd)
		__builtin_trap();
	if (c->fc_reset) {
		errno = EPIPE;
		return -1;
	}
	if (c->fc_full) {
		errno = EAGAIN;
		return -1;
	}
	if (c->fc_window > 0 && len > c->fc_window)
		len = c->fc_window;
	for (i = 0; i < len; i++) {
		if (p[i] == '\n' && !c->fc_lastcr)
			__builtin_trap();
		c->fc_lastcr = p[i] == '\r';
	}
	return (ssize_t)len;
}

/* session_close(): the session lets go of its transport. */
static void
fz_free(void *arg)
{
	struct fz_conn	*c = arg;

	if (c == NULL || c->fc_session == NULL)
		__builtin_trap();
	c->fc_session = NULL;
	close(c->fc_wfd);
}

/* --- Link-time stand-ins for the modules that thread or fork. --- */

/* worker.c: queue the job; fz_finish_jobs() runs it later. */
int
workers_submit(struct work *w)
{
	if (fz_njobs >= fz_maxjobs)
		return -1;
	TAILQ_INSERT_TAIL(&fz_jobs, w, w_entry);
	fz_njobs++;
	return 0;
}

size_t
workers_pending(void)
{
	return fz_njobs;
}

/*
 * handoff.c: check what popit would get, and pretend it was queued (it
 * then holds the address's slot, as a real popit would), or refused.
 * Either way the handoff takes the connection, as the real one does.
 */
enum handoff_result
handoff_login(const struct config *cf, const struct auth_job *aj, int fd,
    struct tls_conn *tc, unsigned long long session)
{
	struct fz_conn	*c = NULL;
	size_t		 i;

	(void)cf;
	(void)session;
	if (tc != NULL)		/* no TLS here */
		__builtin_trap();
	if (aj == NULL || aj->aj_status != AUTH_OK)
		__builtin_trap();
	for (i = 0; i < FZ_MAXCONN; i++)
		if (fz_conns[i].fc_used && fz_conns[i].fc_session != NULL &&
		    fz_conns[i].fc_session == aj->aj_session)
			c = &fz_conns[i];
	if (c == NULL || fd != c->fc_fd)
		__builtin_trap();
	/* Not a byte past the end of the PASS/APOP line was consumed. */
	if (c->fc_pos == 0 || c->fc_in[c->fc_pos - 1] != '\n')
		__builtin_trap();
	fz_free(c);
	close(fd);
	if (fz_handoff_result == -1)
		return HANDOFF_FAILED;
	if (fz_nchildren == sizeof(fz_children) / sizeof(fz_children[0]))
		return HANDOFF_FAILED;
	fz_children[fz_nchildren++].ch_peer = aj->aj_peer;
	return HANDOFF_QUEUED;
}

void
account_login(const struct config *cf, const char *account,
    const char *login, const struct addrkey *peer)
{
	if (cf == NULL || account == NULL || login == NULL || peer == NULL)
		__builtin_trap();
}

void
listener_update(void)
{
}

void
listener_collect(void)
{
}

/* Every log line (log_sethook): checked instead of queued. */
static void
fz_logline(int pri, const char *line)
{
	const char	*p;

	static int	 verbose = -1;

	(void)pri;
	if (verbose == -1)
		verbose = getenv("FUZZ_SESSION_LOG") != NULL;
	if (verbose)
		fprintf(stderr, "log: %s\n", line);
	for (p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			__builtin_trap();
}

/* --- The driver. --- */

/* Set up once: the loop, the configurations, the user file. */
static int
fz_init(void)
{
	static struct timeval	 idle = { 600, 0 };
	struct config_msgs	 msgs;
	char			 path[64], cpath[64], text[512];
	int			 fd, cfd, i;

	log_sethook(fz_logline);
	log_init("fuzz", 0);
	log_setverbose(1);		/* debug lines are checked too */
	if ((env->ps_base = event_base_new()) == NULL ||
	    (env->ps_addrs = addrtab_new()) == NULL)
		return -1;
	env->ps_idle_tv = event_base_init_common_timeout(env->ps_base, &idle);
	if ((fd = memfd_create("fuzz-passwd", 0)) == -1 ||
	    write(fd, fz_passwd, sizeof(fz_passwd) - 1) !=
	    (ssize_t)sizeof(fz_passwd) - 1)
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if ((cfd = memfd_create("fuzz-conf", 0)) == -1)
		return -1;
	snprintf(cpath, sizeof(cpath), "/proc/self/fd/%d", cfd);
	for (i = 0; i < FZ_NCONF; i++) {
		snprintf(text, sizeof(text), "%suserdb file %s\n",
		    fz_conftext[i], path);
		if (ftruncate(cfd, 0) == -1 ||
		    pwrite(cfd, text, strlen(text), 0) != (ssize_t)strlen(text))
			return -1;
		memset(&msgs, 0, sizeof(msgs));
		fz_conf[i] = config_load(cpath, &msgs);
		config_msgs_free(&msgs);
		if (fz_conf[i] == NULL)
			__builtin_trap();	/* a preset must load */
	}
	close(cfd);
	env->ps_conf = fz_conf[0];
	if ((env->ps_userdb = userdb_open(fz_conf[0], text,
	    sizeof(text))) == NULL)
		return -1;
	return 0;
}

/* Run what is ready on the loop (the reaper, activated events). */
static void
fz_loop(void)
{
	event_base_loop(env->ps_base, EVLOOP_NONBLOCK);
}

/* The events of live sessions, collected by fz_collect(). */
struct fz_events {
	struct event	*fe_ev[64];
	short		 fe_what[64];
	size_t		 fe_n;
	const void	*fe_arg;	/* NULL: every session's */
	short		 fe_want;	/* EV_READ, EV_WRITE or timeout */
};

static int
fz_collect(const struct event_base *base, const struct event *ev, void *arg)
{
	struct fz_events	*fe = arg;
	void			*cbarg = event_get_callback_arg(ev);
	short			 what = event_get_events(ev);
	size_t			 i;
	int			 ours = 0;

	(void)base;
	for (i = 0; i < FZ_MAXCONN; i++)
		if (fz_conns[i].fc_used && fz_conns[i].fc_session != NULL &&
		    (void *)fz_conns[i].fc_session == cbarg)
			ours = 1;
	if (!ours || (fe->fe_arg != NULL && fe->fe_arg != cbarg))
		return 0;
	if (fe->fe_want == EV_TIMEOUT) {
		if (!event_pending(ev, EV_TIMEOUT, NULL))
			return 0;
		what = EV_TIMEOUT;
	} else if ((what &= fe->fe_want) == 0)
		return 0;
	/* Only what the event waits for, as the kernel would report. */
	if (fe->fe_n < sizeof(fe->fe_ev) / sizeof(fe->fe_ev[0])) {
		fe->fe_ev[fe->fe_n] = (struct event *)ev;
		fe->fe_what[fe->fe_n++] = what;
	}
	return 0;
}

/*
 * Fire what a session (or every session) waits for, as the kernel or the
 * clock would: want is EV_READ, EV_WRITE or EV_TIMEOUT.
 */
static void
fz_fire(struct session *s, short want)
{
	struct fz_events	 fe;
	size_t			 i;

	memset(&fe, 0, sizeof(fe));
	fe.fe_arg = s;
	fe.fe_want = want;
	event_base_foreach_event(env->ps_base, fz_collect, &fe);
	for (i = 0; i < fe.fe_n; i++)
		event_active(fe.fe_ev[i], fe.fe_what[i], 1);
	fz_loop();
}

/* Finish the first n pending checks; status 1 forces a TEMPFAIL. */
static void
fz_finish_jobs(size_t n, int status)
{
	struct work	*w;
	struct auth_job	*aj;

	while (n-- > 0 && (w = TAILQ_FIRST(&fz_jobs)) != NULL) {
		TAILQ_REMOVE(&fz_jobs, w, w_entry);
		fz_njobs--;
		w->w_run(w);
		aj = (struct auth_job *)w;
		if (status == 1 && aj->aj_status == AUTH_OK) {
			aj->aj_status = AUTH_TEMPFAIL;
			snprintf(aj->aj_reason, sizeof(aj->aj_reason),
			    "fuzz");
		}
		w->w_done(w);
		fz_loop();
	}
}

/* A new client from one of a few addresses (so sameaddrmax matters). */
static void
fz_connect(unsigned char sel)
{
	struct sockaddr_in	 sin;
	struct addrkey		 key;
	struct fz_conn		*c = NULL;
	struct session		*s;
	size_t			 i;
	int			 fds[2];

	for (i = 0; i < FZ_MAXCONN; i++)
		if (!fz_conns[i].fc_used || fz_conns[i].fc_session == NULL) {
			c = &fz_conns[i];
			break;
		}
	if (c == NULL)
		return;
	memset(c, 0, sizeof(*c));
	c->fc_used = 1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x7f000001 + (sel & 3));
	if (addrkey_from_sockaddr(&key, (struct sockaddr *)&sin) == -1)
		__builtin_trap();
	/*
	 * A descriptor of its own that never becomes ready (the read end of
	 * an empty pipe whose write end stays open: neither readable nor
	 * writable), so that the session's read and write events sit in
	 * libevent's I/O map, where fz_fire() finds them, as a socket's
	 * would; the session closes it. (Events on fd -1 work, but
	 * event_base_foreach_event() does not show them.) Marked as the
	 * session's before it exists: the greeting is sent from
	 * session_start() itself.
	 */
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1)
		abort();
	c->fc_fd = fds[0];
	c->fc_wfd = fds[1];
	c->fc_session = (struct session *)c;
	s = session_start(c->fc_fd, &key, &fz_io, c);
	if (s == NULL) {
		/* Refused, or closed at once: its transport was released. */
		c->fc_used = 0;
		c->fc_session = NULL;
		fz_loop();
		return;
	}
	c->fc_session = s;
}

/* Give connection c more input. */
static void
fz_deliver(struct fz_conn *c, const uint8_t *data, size_t n)
{
	if (n > FZ_INMAX - c->fc_inlen)
		n = FZ_INMAX - c->fc_inlen;
	memcpy(c->fc_in + c->fc_inlen, data, n);
	c->fc_inlen += n;
}

/* The connection selected by a byte, if it still has a session. */
static struct fz_conn *
fz_pick(unsigned char sel)
{
	struct fz_conn	*c = &fz_conns[sel % FZ_MAXCONN];

	if (!c->fc_used)
		return NULL;
	if (c->fc_session == NULL) {
		c->fc_used = 0;	/* closed: the slot is free again */
		return NULL;
	}
	return c;
}

/* Close everything and check that nothing is left over. */
static void
fz_end(void)
{
	struct work	*w;
	size_t		 i;

	session_close_all("fuzz");
	fz_loop();
	/* Checks of sessions that are gone: delivered, then freed. */
	while ((w = TAILQ_FIRST(&fz_jobs)) != NULL) {
		TAILQ_REMOVE(&fz_jobs, w, w_entry);
		fz_njobs--;
		w->w_done(w);
	}
	for (i = 0; i < FZ_MAXCONN; i++) {
		if (fz_conns[i].fc_used && fz_conns[i].fc_session != NULL)
			__builtin_trap();
		fz_conns[i].fc_used = 0;
	}
	/* Every popit exits. */
	for (i = 0; i < fz_nchildren; i++)
		addrtab_dec(env->ps_addrs, &fz_children[i].ch_peer);
	fz_nchildren = 0;
	fz_loop();
	if (env->ps_nsessions != 0 || session_checking() != 0 ||
	    addrtab_size(env->ps_addrs) != 0)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 ready;
	struct fz_conn	*c;
	size_t		 off = 0, n;
	uint8_t		 op, arg;

	if (!ready) {
		if (fz_init() == -1)
			abort();
		ready = 1;
	}
	/* Each input starts afresh: no penalty memory from the last one. */
	penalty_free(env->ps_penalty);
	if ((env->ps_penalty = penalty_new(64)) == NULL)
		abort();
	env->ps_conf = fz_conf[0];
	fz_maxjobs = FZ_MAXJOBS;
	fz_handoff_result = 0;

	while (off + 2 <= size) {
		op = data[off++];
		arg = data[off++];
		switch (op & 7) {
		case 0:		/* connect from address arg & 3 */
			fz_connect(arg);
			break;
		case 1:		/* the next (op >> 3) + 1 bytes to arg */
			n = (size_t)(op >> 3) + 1;
			if (n > size - off)
				n = size - off;
			if ((c = fz_pick(arg)) != NULL) {
				fz_deliver(c, data + off, n);
				fz_fire(c->fc_session, EV_READ);
			}
			off += n;
			break;
		case 2:		/* writes take: 0 all, 1 none, n n-1 */
			if ((c = fz_pick(arg)) != NULL) {
				n = op >> 3;
				c->fc_full = n == 1;
				c->fc_window = n > 1 ? n - 1 : 0;
				fz_fire(c->fc_session, EV_WRITE);
			}
			break;
		case 3:		/* arg half-closes */
			if ((c = fz_pick(arg)) != NULL) {
				c->fc_eof = 1;
				fz_fire(c->fc_session, EV_READ);
			}
			break;
		case 4:		/* arg resets */
			if ((c = fz_pick(arg)) != NULL) {
				c->fc_reset = 1;
				fz_fire(c->fc_session, EV_READ | EV_WRITE);
			}
			break;
		case 5:		/* finish (op >> 3) + 1 checks */
			fz_handoff_result = (int)((arg & 3) % 3) - 1;
			fz_finish_jobs((size_t)(op >> 3) + 1, (arg >> 2) & 1);
			break;
		case 6:		/* the clock: timers of arg, or of all */
			c = fz_pick(arg);
			fz_fire(c != NULL && (op & 8) ? c->fc_session : NULL,
			    EV_TIMEOUT);
			break;
		case 7:		/* reload: configuration, queue bound */
			env->ps_conf = fz_conf[arg % FZ_NCONF];
			fz_maxjobs = (size_t)(op >> 3) % (FZ_MAXJOBS + 1);
			break;
		}
	}
	fz_end();
	return 0;
}
