/*
 * The handoff to popit. A login is handed over with a clone() that shares
 * popserv's memory and descriptor table until the child has copied the
 * few low descriptors it keeps (CLONE_VM | CLONE_VFORK | CLONE_FILES,
 * then close_range(CLOSE_RANGE_UNSHARE)), so starting popit costs the
 * same whether popserv holds ten sessions or twenty thousand: neither its
 * memory nor its descriptor table is copied. Between clone and exec the
 * child makes only raw system calls, since it shares the threaded
 * parent's memory (see docs/internals.md on setxid).
 *
 * CLONE_VFORK suspends the calling thread until the child has exec'd,
 * and the child's chdir() into the user's Maildir can wait for ever on a
 * hung NFS, autofs or FUSE home. So the clone is made by spawner threads,
 * never by the loop: the loop queues a prepared request and gets the
 * result back as an event. Each request has a deadline (spawntimeout):
 * past it the client is told [SYS/TEMP] and the child is killed. A
 * spawner that is busy when a request comes makes room for another
 * (up to HANDOFF_SPAWNERS), so one hung home holds one thread, not every
 * login. Children are reaped on the loop, and keep their address's
 * sameaddrmax slot until they exit.
 */

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
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
#include "log.h"
#include "relay.h"
#include "reply.h"
#include "state.h"
#include "tls.h"

#define HANDOFF_ENVMAX		8
#define HANDOFF_ARGMAX		(CONFIG_MAXARGS + 3)
#define HANDOFF_STACK		(64 * 1024)	/* a clone child's stack */
#define HANDOFF_SPAWNERS	16	/* threads at most, each a low slot */

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE	(1U << 1)
#endif

/*
 * valgrind runs only the clone()s of fork, vfork and threads, and stops
 * the whole process at any other: a build for it (POPSERV_VALGRIND) does
 * not share the descriptor table, so the clone is a vfork to valgrind,
 * which runs it as a fork. The child then copies popserv's descriptor
 * table (closed again at once), and a failure before exec is known to
 * the parent only by popit's exit status 127.
 */
#ifdef POPSERV_VALGRIND
#define HANDOFF_CLONE	(CLONE_VM | CLONE_VFORK | CLONE_PARENT_SETTID | \
			    SIGCHLD)
#else
#define HANDOFF_CLONE	(CLONE_VM | CLONE_VFORK | CLONE_FILES | \
			    CLONE_PARENT_SETTID | SIGCHLD)
#endif

/* A running popit. */
struct child {
	struct child		*c_next;	/* hash chain */
	pid_t			 c_pid;
	struct addrkey		 c_peer;
	char			 c_user[128];	/* escaped, for the exit log */
};

/* What the clone child needs, all prepared before it runs. */
struct spawn {
	const char		*sp_path;
	char *const		*sp_argv;
	char *const		*sp_envp;
	const char		*sp_dir;
	int			 sp_fd;		/* the client, at a low slot */
	int			 sp_logfd;
	int			 sp_keep;	/* copy descriptors below this */
	int			 sp_setcreds;
	uid_t			 sp_uid;
	gid_t			 sp_gid;
	const gid_t		*sp_groups;
	int			 sp_ngroups;
	const char		*sp_errmsg;	/* for the client */
	size_t			 sp_errlen;
	/* Written by the child, read after clone returns. */
	volatile int		 sp_stage;
	volatile int		 sp_errno;
};

/* Where a child that failed before exec stopped. */
enum spawn_stage {
	STAGE_NONE,
	STAGE_UNSHARE,
	STAGE_DUP2,
	STAGE_SETGROUPS,
	STAGE_SETRESGID,
	STAGE_SETRESUID,
	STAGE_CHDIR,
	STAGE_EXECVE
};

enum handoff_state {
	H_QUEUED,		/* waiting for a spawner */
	H_RUNNING,		/* a spawner is in clone() for it */
	H_DONE			/* clone returned; waiting for the loop */
};

/*
 * One login on its way to popit: everything the child needs, copied, so
 * that nothing points into a session or a configuration that a callback
 * may free meanwhile. h_state, h_pid and h_killed are guarded by hs.mtx;
 * the rest is the loop's, or the spawner's while H_RUNNING.
 */
struct handoff {
	TAILQ_ENTRY(handoff)	 h_entry;	/* queue, or done list */
	TAILQ_ENTRY(handoff)	 h_inflight;	/* the loop's list */
	enum handoff_state	 h_state;
	int			 h_killed;	/* past spawntimeout */
	pid_t			 h_pid;		/* CLONE_PARENT_SETTID */
	int			 h_reaped;	/* exited before its report */
	int			 h_wstatus;
	int			 h_fd;		/* the client, or a relay pair */
	struct spawn		 h_sp;
	struct event		*h_timer;
	int			 h_timeout;	/* seconds, for the log */

	char			*h_argv[HANDOFF_ARGMAX];
	char			*h_envp[HANDOFF_ENVMAX];
	char			*h_path;
	char			*h_dir;
	gid_t			 h_groups[AUTH_MAXGROUPS];

	/* For the outcome's log line and the accounting. */
	unsigned long long	 h_session;
	struct addrkey		 h_peer;
	char			 h_ip[64];
	char			 h_user[128];	/* escaped typed login */
	char			 h_folder[128];	/* escaped */
	char			 h_how[16];	/* " tls=relay", ... */
	char			 h_account[AUTH_NAME_MAX];
	char			 h_login[AUTH_NAME_MAX];
};

TAILQ_HEAD(handoffq, handoff);

/* A spawner thread and the low descriptor it puts its clients on. */
struct spawner {
	pthread_t		 sr_thread;
	int			 sr_slot;
	char			*sr_stack;	/* top of the child's stack */
	struct handoff		*sr_cur;
};

/*
 * The spawners' shared state. mtx is never held across a system call
 * that can wait: only around queue and state changes.
 */
static struct {
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;
	struct handoffq		 queue;		/* H_QUEUED */
	struct handoffq		 done;		/* H_DONE, not yet delivered */
	int			 nidle;		/* spawners waiting for work */
	int			 nqueued;	/* requests on queue */
	int			 nspawners;
	int			 slots[HANDOFF_SPAWNERS];
	int			 slotbusy[HANDOFF_SPAWNERS];
	int			 keep;		/* above every slot */
	struct event		*done_ev;
} hs = {
	.mtx = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.queue = TAILQ_HEAD_INITIALIZER(hs.queue),
	.done = TAILQ_HEAD_INITIALIZER(hs.done),
};

static struct handoffq	 handoff_inflight =
			    TAILQ_HEAD_INITIALIZER(handoff_inflight);
static struct child	**child_tab;
static size_t		 child_tabsz;	/* buckets, a power of two */
static struct event	*handoff_sigchld_ev;
static struct event	*handoff_log_ev;
static int		 handoff_logfd = -1;	/* read end */

static int	 handoff_child(void *) __attribute__((noreturn));
static void	 handoff_reap(evutil_socket_t, short, void *);
static void	 handoff_log(evutil_socket_t, short, void *);
static void	 handoff_exited(pid_t, int, const struct addrkey *,
		    const char *, const char *);
static int	 child_insert(struct child *);
static struct child *child_remove(pid_t);
static int	 spawner_start(void);
static void	*spawner_main(void *);
static void	 spawner_run(struct spawner *, struct handoff *);
static void	 handoff_deliver(evutil_socket_t, short, void *);
static void	 handoff_finish(struct handoff *);
static void	 handoff_timeout(evutil_socket_t, short, void *);
static void	 handoff_tell(int);
static void	 handoff_untracked(struct handoff *);
static void	 handoff_fork_prepare(void);
static void	 handoff_fork_parent(void);
static void	 handoff_free(struct handoff *);
static const char *handoff_strstage(int);
static int	 handoff_spawn(const struct config *, const struct auth_job *,
		    int, const char *, unsigned long long, const char *);

/* Add a child to the pid table, growing it as needed. */
static int
child_insert(struct child *c)
{
	struct child	**tab, *p, *next;
	size_t		  i, sz;

	if (env->ps_nchildren + 1 > child_tabsz) {
		sz = child_tabsz ? child_tabsz * 2 : 64;
		if ((tab = calloc(sz, sizeof(*tab))) == NULL)
			return -1;
		for (i = 0; i < child_tabsz; i++)
			for (p = child_tab[i]; p != NULL; p = next) {
				next = p->c_next;
				p->c_next = tab[p->c_pid & (sz - 1)];
				tab[p->c_pid & (sz - 1)] = p;
			}
		free(child_tab);
		child_tab = tab;
		child_tabsz = sz;
	}
	i = c->c_pid & (child_tabsz - 1);
	c->c_next = child_tab[i];
	child_tab[i] = c;
	env->ps_nchildren++;
	return 0;
}

/* Take a child out of the pid table; NULL if it is not ours. */
static struct child *
child_remove(pid_t pid)
{
	struct child	**pp, *c;

	if (child_tabsz == 0)
		return NULL;
	for (pp = &child_tab[pid & (child_tabsz - 1)]; (c = *pp) != NULL;
	    pp = &c->c_next)
		if (c->c_pid == pid) {
			*pp = c->c_next;
			env->ps_nchildren--;
			return c;
		}
	return NULL;
}

/*
 * In the TERM drain child: the popits running now are its parent's
 * children, which it can never reap; forget them and free their slots.
 * Of the logins on their way to popit, those a spawner had taken are
 * the parent's (its spawners are threads this process does not have);
 * those still queued are started here, by spawners of its own.
 */
void
handoff_forget_children(void)
{
	pthread_mutex_t	 m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t	 cv = PTHREAD_COND_INITIALIZER;
	struct handoff	*h, *next;
	struct child	*c;
	size_t		 i;

	for (i = 0; i < child_tabsz; i++)
		while ((c = child_tab[i]) != NULL) {
			child_tab[i] = c->c_next;
			addrtab_dec(env->ps_addrs, &c->c_peer);
			free(c);
		}
	env->ps_nchildren = 0;

	hs.mtx = m;
	hs.cond = cv;
	hs.nidle = hs.nspawners = 0;
	memset(hs.slotbusy, 0, sizeof(hs.slotbusy));
	/* A spawner caught between its two dup3()s left a client there. */
	for (i = 0; i < HANDOFF_SPAWNERS; i++)
		(void)dup3(env->ps_logpipe, hs.slots[i], O_CLOEXEC);
	/*
	 * Requests no spawner took yet are this child's to start (their
	 * timers came along); the others belong to a clone the parent made,
	 * whose popit, if any, has the client now: let go of our copy.
	 */
	TAILQ_INIT(&hs.done);
	for (h = TAILQ_FIRST(&handoff_inflight); h != NULL; h = next) {
		next = TAILQ_NEXT(h, h_inflight);
		if (h->h_state == H_QUEUED)
			continue;
		TAILQ_REMOVE(&handoff_inflight, h, h_inflight);
		env->ps_nhandoffs--;
		addrtab_dec(env->ps_addrs, &h->h_peer);
		close(h->h_fd);
		handoff_free(h);
	}
	if (hs.nqueued > 0)
		(void)spawner_start();
}

/*
 * Open the channel for popit's stderr, reserve the spawners' low slots
 * and reap children on SIGCHLD.
 */
int
handoff_init(void)
{
	int	 sv[2], i;

	/*
	 * A datagram socket pair rather than a pipe: every write arrives as
	 * one whole message, and a popit that outlives popserv gets an
	 * error instead of SIGPIPE when it writes to stderr.
	 */
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
	    sv) == -1) {
		log_warn("socketpair");
		return -1;
	}
	handoff_logfd = sv[0];
	env->ps_logpipe = sv[1];
	shutdown(sv[0], SHUT_WR);

	/*
	 * Low descriptors, taken before any session exists, where each
	 * spawner puts its client socket for the child; between logins they
	 * rest on the log socket. The child copies only the descriptors
	 * below the highest slot, however many sessions are open.
	 */
	hs.keep = sv[1] + 1;
	for (i = 0; i < HANDOFF_SPAWNERS; i++) {
		if ((hs.slots[i] = fcntl(sv[1], F_DUPFD_CLOEXEC, 3)) == -1) {
			log_warn("handoff slot");
			return -1;
		}
		if (hs.slots[i] + 1 > hs.keep)
			hs.keep = hs.slots[i] + 1;
	}
	handoff_log_ev = event_new(env->ps_base, handoff_logfd,
	    EV_READ | EV_PERSIST, handoff_log, NULL);
	handoff_sigchld_ev = evsignal_new(env->ps_base, SIGCHLD, handoff_reap,
	    NULL);
	hs.done_ev = event_new(env->ps_base, -1, 0, handoff_deliver, NULL);
	/*
	 * A spawner reports with hs.mtx held and calls event_active(), which
	 * takes the event base's lock: a fork (the TERM drain) in between
	 * would leave that lock to a thread the child does not have.
	 */
	if (pthread_atfork(handoff_fork_prepare, handoff_fork_parent,
	    NULL) != 0) {
		log_warnx("handoff: pthread_atfork failed");
		return -1;
	}
	if (handoff_log_ev == NULL || handoff_sigchld_ev == NULL ||
	    hs.done_ev == NULL || event_add(handoff_log_ev, NULL) == -1 ||
	    event_add(handoff_sigchld_ev, NULL) == -1) {
		log_warnx("handoff: cannot set up events");
		return -1;
	}
	return 0;
}

/* Before fork: no spawner may be inside hs.mtx in the child. */
static void
handoff_fork_prepare(void)
{
	pthread_mutex_lock(&hs.mtx);
}

/* After fork, in the parent. The child starts anew (forget_children). */
static void
handoff_fork_parent(void)
{
	pthread_mutex_unlock(&hs.mtx);
}

/* Lines popit wrote to stderr: log them under its name, escaped. */
static void
handoff_log(evutil_socket_t fd, short what, void *arg)
{
	char	 buf[1024], esc[1024], *line, *nl;
	ssize_t	 n;
	int	 i;

	(void)what;
	(void)arg;
	for (i = 0; i < 64; i++) {
		if ((n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) <= 0)
			return;
		buf[n] = '\0';
		for (line = buf; *line != '\0'; line = nl) {
			if ((nl = strchr(line, '\n')) != NULL)
				*nl++ = '\0';
			else
				nl = line + strlen(line);
			if (*line != '\0')
				log_as("popit", "%s", log_escape(esc,
				    sizeof(esc), line, strlen(line)));
		}
	}
}

/* Log how a popit ended and give back its address's slot. */
static void
handoff_exited(pid_t pid, int status, const struct addrkey *peer,
    const char *ip, const char *user)
{
	if (WIFSIGNALED(status))
		log_warnx("popit pid=%ld ip=%s user=\"%s\" signal=%d",
		    (long)pid, ip, user, WTERMSIG(status));
	else if (WEXITSTATUS(status) != 0)
		log_warnx("popit pid=%ld ip=%s user=\"%s\" exit=%d",
		    (long)pid, ip, user, WEXITSTATUS(status));
	else
		log_info("popit pid=%ld ip=%s user=\"%s\" exit=0",
		    (long)pid, ip, user);
	addrtab_dec(env->ps_addrs, peer);
}

/*
 * SIGCHLD: reap every exited popit and free its address slot. A child
 * whose spawner has not reported yet is still in flight: its status is
 * kept there until the report comes (handoff_finish).
 */
static void
handoff_reap(evutil_socket_t sig, short what, void *arg)
{
	struct handoff	*h;
	struct child	*c;
	char		 ip[64];
	pid_t		 pid;
	int		 status;

	(void)sig;
	(void)what;
	(void)arg;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((c = child_remove(pid)) != NULL) {
			addrkey_ntop(&c->c_peer, ip, sizeof(ip));
			handoff_exited(pid, status, &c->c_peer, ip, c->c_user);
			free(c);
			continue;
		}
		pthread_mutex_lock(&hs.mtx);
		TAILQ_FOREACH(h, &handoff_inflight, h_inflight)
			if (h->h_pid == pid) {
				h->h_reaped = 1;
				h->h_wstatus = status;
				break;
			}
		pthread_mutex_unlock(&hs.mtx);
	}
}

/*
 * The clone child: only raw system calls from here to execve, since the
 * parent's memory and thread list are shared. It first takes a private
 * descriptor table holding only the low descriptors (the client's slot
 * and the log socket among them), so no cost grows with the sessions
 * popserv holds. Failure tells the client (never blocking: the socket is
 * in blocking mode by now) and the parent, then _exit(127).
 */
static int
handoff_child(void *arg)
{
	struct spawn		*sp = arg;
	struct sigaction	 sa;
	sigset_t		 none;
	int			 sig, fd, out = sp->sp_fd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	sigemptyset(&none);

	sp->sp_stage = STAGE_UNSHARE;
	if (syscall(SYS_close_range, (unsigned int)sp->sp_keep, ~0U,
	    CLOSE_RANGE_UNSHARE) == -1) {
		/* Before Linux 5.9: copy the whole table, close the rest. */
		if (unshare(CLONE_FILES) == -1)
			goto fail;
		for (fd = sp->sp_keep; fd < 65536; fd++)
			(void)close(fd);
	}
	sp->sp_stage = STAGE_DUP2;
	if (dup2(sp->sp_fd, 0) == -1 || dup2(sp->sp_fd, 1) == -1 ||
	    dup2(sp->sp_logfd, 2) == -1)
		goto fail;
	if (syscall(SYS_close_range, 3U, ~0U, 0U) == -1)
		for (fd = 3; fd < sp->sp_keep; fd++)
			(void)close(fd);
	out = 1;
	if (sp->sp_setcreds) {
		sp->sp_stage = STAGE_SETGROUPS;
		if (syscall(SYS_setgroups, (size_t)sp->sp_ngroups,
		    sp->sp_groups) == -1)
			goto fail;
		sp->sp_stage = STAGE_SETRESGID;
		if (syscall(SYS_setresgid, sp->sp_gid, sp->sp_gid,
		    sp->sp_gid) == -1)
			goto fail;
		sp->sp_stage = STAGE_SETRESUID;
		if (syscall(SYS_setresuid, sp->sp_uid, sp->sp_uid,
		    sp->sp_uid) == -1)
			goto fail;
	}
	sp->sp_stage = STAGE_CHDIR;
	if (chdir(sp->sp_dir) == -1)
		goto fail;
	sp->sp_stage = STAGE_EXECVE;
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	execve(sp->sp_path, sp->sp_argv, sp->sp_envp);
fail:
	sp->sp_errno = errno;
	(void)send(out, sp->sp_errmsg, sp->sp_errlen,
	    MSG_DONTWAIT | MSG_NOSIGNAL);
	_exit(127);
}

/* The name of a stage, for the log. */
static const char *
handoff_strstage(int stage)
{
	switch (stage) {
	case STAGE_UNSHARE:	return "unshare";
	case STAGE_DUP2:	return "dup2";
	case STAGE_SETGROUPS:	return "setgroups";
	case STAGE_SETRESGID:	return "setresgid";
	case STAGE_SETRESUID:	return "setresuid";
	case STAGE_CHDIR:	return "chdir";
	case STAGE_EXECVE:	return "execve";
	default:		return "start";
	}
}

/* Free a request and what it copied. */
static void
handoff_free(struct handoff *h)
{
	size_t	 i;

	if (h->h_timer != NULL)
		event_free(h->h_timer);
	for (i = 0; i < HANDOFF_ARGMAX && h->h_argv[i] != NULL; i++)
		free(h->h_argv[i]);
	for (i = 0; i < HANDOFF_ENVMAX && h->h_envp[i] != NULL; i++)
		free(h->h_envp[i]);
	free(h->h_path);
	free(h->h_dir);
	explicit_bzero(h, sizeof(*h));
	free(h);
}

/*
 * A good login: see handoff.h. Over TLS popit still gets plain POP3 on
 * fd 0/1: the socket itself when the kernel does TLS both ways and
 * nothing decrypted is left in user space, or else a socket pair whose
 * other end a relay (relay.c) joins to the TLS connection, OpenSSL's
 * buffered input first.
 */
enum handoff_result
handoff_login(const struct config *cf, const struct auth_job *aj, int fd,
    struct tls_conn *tc, unsigned long long session)
{
	char		 ip[64], user[128], folder[128];
	const char	*how = "";
	int		 pair[2] = { -1, -1 };

	addrkey_ntop(&aj->aj_peer, ip, sizeof(ip));
	if (tc != NULL && tls_conn_ktls(tc)) {
		/* The kernel carries TLS on: no close_notify from here. */
		tls_conn_release(tc);
		how = " tls=ktls";
		env->ps_stats.st_ktls++;
	} else if (tc != NULL) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		    pair) == -1 || relay_start(tc, fd, pair[0], session,
		    &aj->aj_peer) == -1) {
			log_warn("session=%llx relay", session);
			if (pair[0] != -1) {
				close(pair[0]);
				close(pair[1]);
			}
			return HANDOFF_NORELAY;
		}
		/* The relay has the client now; popit gets the pair. */
		fd = pair[1];
		how = " tls=relay";
		env->ps_stats.st_relayed++;
	}
	if (handoff_spawn(cf, aj, fd, ip, session, how) == 0)
		return HANDOFF_QUEUED;
	log_info("session=%llx ip=%s user=\"%s\" result=tempfail "
	    "reason=\"popit not started\" folder=\"%s\"", session, ip,
	    log_escape(user, sizeof(user), aj->aj_login,
	    strlen(aj->aj_login)), log_escape(folder, sizeof(folder),
	    aj->aj_folder, strlen(aj->aj_folder)));
	close(fd);
	return HANDOFF_FAILED;
}

/*
 * Start popit for a good login on fd: prepare everything the child
 * needs and queue it for a spawner.
 */
static int
handoff_spawn(const struct config *cf, const struct auth_job *aj, int fd,
    const char *remote_addr, unsigned long long session, const char *how)
{
	struct handoff	*h;
	struct timeval	 tv;
	const char	*why = "out of memory";
	char		*dir = NULL;
	size_t		 i, argc = 0;
	int		 n, ok = 1;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		goto fail;
	h->h_fd = fd;
	h->h_session = session;
	h->h_peer = aj->aj_peer;
	h->h_timeout = cf->cf_spawntimeout;
	snprintf(h->h_ip, sizeof(h->h_ip), "%s", remote_addr);
	snprintf(h->h_how, sizeof(h->h_how), "%s", how);
	snprintf(h->h_account, sizeof(h->h_account), "%s", aj->aj_account);
	snprintf(h->h_login, sizeof(h->h_login), "%s", aj->aj_login);
	log_escape(h->h_user, sizeof(h->h_user), aj->aj_login,
	    strlen(aj->aj_login));
	log_escape(h->h_folder, sizeof(h->h_folder), aj->aj_folder,
	    strlen(aj->aj_folder));

	if (aj->aj_folder[0] != '\0')
		n = asprintf(&dir, "%s/%s/.%s", aj->aj_home, cf->cf_maildir,
		    aj->aj_folder);
	else
		n = asprintf(&dir, "%s/%s", aj->aj_home, cf->cf_maildir);
	if (n < 0)
		goto fail;
	h->h_dir = dir;
	if (n >= PATH_MAX) {
		why = "path too long";
		goto fail;
	}

	/* argv: popitargs (or the program), then "--" and the option. */
#define H_DUP(dst, src)	do {						\
		if (((dst) = strdup(src)) == NULL)			\
			ok = 0;						\
	} while (0)
	if (cf->cf_npopitargs > 0)
		for (i = 0; i < cf->cf_npopitargs; i++)
			H_DUP(h->h_argv[argc++], cf->cf_popitargs[i]);
	else
		H_DUP(h->h_argv[argc++], cf->cf_popit);
	if (aj->aj_has_option) {
		H_DUP(h->h_argv[argc++], "--");
		H_DUP(h->h_argv[argc++], aj->aj_option);
	}
	H_DUP(h->h_path, cf->cf_popit);
#undef H_DUP
	if (!ok)
		goto fail;

	/* The environment, and nothing else. */
	if (asprintf(&h->h_envp[0], "SHELL=%s", aj->aj_shell) < 0 ||
	    asprintf(&h->h_envp[1], "HOME=%s", aj->aj_home) < 0 ||
	    asprintf(&h->h_envp[2], "USER=%s", aj->aj_account) < 0 ||
	    asprintf(&h->h_envp[3], "EXTENSION=%s", aj->aj_folder) < 0 ||
	    asprintf(&h->h_envp[4], "LOGNAME=%s", aj->aj_login) < 0 ||
	    asprintf(&h->h_envp[5], "REMOTE_ADDR=%s", remote_addr) < 0 ||
	    (h->h_envp[6] = strdup("PATH=/usr/bin:/bin")) == NULL)
		goto fail;

	memcpy(h->h_groups, aj->aj_groups, sizeof(h->h_groups));
	h->h_sp.sp_path = h->h_path;
	h->h_sp.sp_argv = h->h_argv;
	h->h_sp.sp_envp = h->h_envp;
	h->h_sp.sp_dir = h->h_dir;
	h->h_sp.sp_logfd = env->ps_logpipe;
	h->h_sp.sp_keep = hs.keep;
	/* A server running under uid/gid, or not as root, cannot switch. */
	h->h_sp.sp_setcreds = cf->cf_uid == -1 && geteuid() == 0;
	h->h_sp.sp_uid = aj->aj_uid;
	h->h_sp.sp_gid = aj->aj_gid;
	h->h_sp.sp_groups = h->h_groups;
	h->h_sp.sp_ngroups = aj->aj_ngroups;
	h->h_sp.sp_errmsg = reply_text(REPLY_TEMP_MAILBOX);
	h->h_sp.sp_errlen = reply_len(REPLY_TEMP_MAILBOX);

	if ((h->h_timer = evtimer_new(env->ps_base, handoff_timeout,
	    h)) == NULL)
		goto fail;
	tv.tv_sec = h->h_timeout;
	tv.tv_usec = 0;
	evtimer_add(h->h_timer, &tv);

	pthread_mutex_lock(&hs.mtx);
	h->h_state = H_QUEUED;
	TAILQ_INSERT_TAIL(&hs.queue, h, h_entry);
	hs.nqueued++;
	TAILQ_INSERT_TAIL(&handoff_inflight, h, h_inflight);
	env->ps_nhandoffs++;
	/*
	 * More requests waiting than spawners waiting (one may be stuck in
	 * a hung home, and several logins come from one callback): one more.
	 */
	pthread_cond_signal(&hs.cond);
	if (hs.nqueued > hs.nidle && hs.nspawners < HANDOFF_SPAWNERS)
		(void)spawner_start();
	pthread_mutex_unlock(&hs.mtx);
	return 0;

fail:
	log_warnx("popit for user=\"%s\" ip=%s: %s", h ? h->h_user : "?",
	    remote_addr, why);
	if (h != NULL) {
		h->h_fd = -1;
		handoff_free(h);
	}
	handoff_tell(fd);
	return -1;
}

/* [SYS/TEMP] to a client whose popit did not start; never blocks. */
static void
handoff_tell(int fd)
{
	(void)send(fd, reply_text(REPLY_TEMP_MAILBOX),
	    reply_len(REPLY_TEMP_MAILBOX), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/*
 * Start one more spawner thread on a free slot, with every signal
 * blocked (they are the loop's). Called with hs.mtx held.
 */
static int
spawner_start(void)
{
	struct spawner	*sr;
	sigset_t	 all, old;
	long		 pg = sysconf(_SC_PAGESIZE);
	char		*p;
	int		 i, error;

	for (i = 0; i < HANDOFF_SPAWNERS && hs.slotbusy[i]; i++)
		;
	if (i == HANDOFF_SPAWNERS || (sr = calloc(1, sizeof(*sr))) == NULL)
		return -1;
	p = mmap(NULL, HANDOFF_STACK + pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (p == MAP_FAILED || mprotect(p, pg, PROT_NONE) == -1) {
		log_warn("handoff stack");
		if (p != MAP_FAILED)
			munmap(p, HANDOFF_STACK + pg);
		free(sr);
		return -1;
	}
	sr->sr_stack = p + pg + HANDOFF_STACK;	/* grows down */
	sr->sr_slot = i;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	error = pthread_create(&sr->sr_thread, NULL, spawner_main, sr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (error != 0) {
		errno = error;
		log_warn("handoff: pthread_create");
		munmap(p, HANDOFF_STACK + pg);
		free(sr);
		return -1;
	}
	pthread_detach(sr->sr_thread);
	hs.slotbusy[i] = 1;
	hs.nspawners++;
	return 0;
}

/* A spawner: take a request, clone for it, report it to the loop. */
static void *
spawner_main(void *arg)
{
	struct spawner	*sr = arg;
	struct handoff	*h;

	pthread_mutex_lock(&hs.mtx);
	for (;;) {
		hs.nidle++;
		while (TAILQ_EMPTY(&hs.queue))
			pthread_cond_wait(&hs.cond, &hs.mtx);
		hs.nidle--;
		h = TAILQ_FIRST(&hs.queue);
		TAILQ_REMOVE(&hs.queue, h, h_entry);
		hs.nqueued--;
		h->h_state = H_RUNNING;
		pthread_mutex_unlock(&hs.mtx);

		spawner_run(sr, h);

		pthread_mutex_lock(&hs.mtx);
		h->h_state = H_DONE;
		TAILQ_INSERT_TAIL(&hs.done, h, h_entry);
		event_active(hs.done_ev, EV_READ, 0);
	}
	/* NOTREACHED */
	return NULL;
}

/*
 * On a spawner: the client on this spawner's slot, in blocking mode (the
 * socket's file description is shared with popit), then the clone; the
 * thread waits in it until the child has exec'd or failed, or was
 * killed for taking longer than spawntimeout.
 */
static void
spawner_run(struct spawner *sr, struct handoff *h)
{
	int	 slot = hs.slots[sr->sr_slot], off = 0, killed;
	pid_t	 pid;

	pthread_mutex_lock(&hs.mtx);
	killed = h->h_killed;
	pthread_mutex_unlock(&hs.mtx);
	if (killed)
		return;			/* answered already: no child */
	(void)ioctl(h->h_fd, FIONBIO, &off);
	if (dup3(h->h_fd, slot, O_CLOEXEC) == -1) {
		h->h_sp.sp_errno = errno;
		h->h_sp.sp_stage = STAGE_NONE;
		return;
	}
	h->h_sp.sp_fd = slot;
	pid = clone(handoff_child, sr->sr_stack, HANDOFF_CLONE, &h->h_sp,
	    &h->h_pid);
	if (pid == -1) {
		h->h_sp.sp_errno = errno;
		h->h_sp.sp_stage = STAGE_NONE;
	}
	/* The slot rests on the log socket again. */
	(void)dup3(env->ps_logpipe, slot, O_CLOEXEC);
}

/* On the loop: the spawners' reports. */
static void
handoff_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct handoffq	 done;
	struct handoff	*h;

	(void)fd;
	(void)what;
	(void)arg;
	TAILQ_INIT(&done);
	pthread_mutex_lock(&hs.mtx);
	TAILQ_CONCAT(&done, &hs.done, h_entry);
	while ((h = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, h, h_entry);
		TAILQ_REMOVE(&handoff_inflight, h, h_inflight);
		pthread_mutex_unlock(&hs.mtx);
		handoff_finish(h);
		pthread_mutex_lock(&hs.mtx);
	}
	pthread_mutex_unlock(&hs.mtx);
}

/*
 * One handoff is over: say why popit did not start if it did not, log
 * the outcome and tell the accounting channels, track the child (or log
 * its exit, if it was reaped before this report), let go of the socket.
 */
static void
handoff_finish(struct handoff *h)
{
	struct child	*c;
	int		 failed = h->h_killed || h->h_sp.sp_errno != 0 ||
			    h->h_pid <= 0;

	env->ps_nhandoffs--;
	if (h->h_pid > 0)
		env->ps_stats.st_spawned++;
	if (failed)
		env->ps_stats.st_spawn_failed++;
	if (h->h_pid <= 0 && !h->h_killed) {
		errno = h->h_sp.sp_errno;
		log_warn("popit for user=\"%s\" ip=%s: cannot start it",
		    h->h_user, h->h_ip);
		handoff_tell(h->h_fd);
	} else if (h->h_pid > 0 && h->h_sp.sp_errno != 0)
		log_warnx("popit for user=\"%s\" ip=%s: %s %s: %s", h->h_user,
		    h->h_ip, handoff_strstage(h->h_sp.sp_stage),
		    h->h_sp.sp_stage == STAGE_CHDIR ? h->h_dir :
		    h->h_sp.sp_stage == STAGE_EXECVE ? h->h_path : "",
		    strerror(h->h_sp.sp_errno));

	if (h->h_killed)
		log_info("session=%llx ip=%s user=\"%s\" result=tempfail "
		    "reason=\"popit did not start in %d s\" folder=\"%s\"",
		    h->h_session, h->h_ip, h->h_user, h->h_timeout,
		    h->h_folder);
	else if (failed)
		log_info("session=%llx ip=%s user=\"%s\" result=tempfail "
		    "reason=\"popit not started\" folder=\"%s\"", h->h_session,
		    h->h_ip, h->h_user, h->h_folder);
	else {
		env->ps_stats.st_logins_ok++;
		log_info("session=%llx ip=%s user=\"%s\" result=login "
		    "folder=\"%s\"%s", h->h_session, h->h_ip, h->h_user,
		    h->h_folder, h->h_how);
		account_login(env->ps_conf, h->h_account, h->h_login,
		    &h->h_peer);
	}

	/* The child keeps the address's slot until it exits; else it is back. */
	if (h->h_pid <= 0)
		addrtab_dec(env->ps_addrs, &h->h_peer);
	else if (h->h_reaped)
		handoff_exited(h->h_pid, h->h_wstatus, &h->h_peer, h->h_ip,
		    h->h_user);
	else if ((c = calloc(1, sizeof(*c))) == NULL)
		handoff_untracked(h);
	else {
		c->c_pid = h->h_pid;
		c->c_peer = h->h_peer;
		snprintf(c->c_user, sizeof(c->c_user), "%s", h->h_user);
		if (child_insert(c) == -1) {
			free(c);
			handoff_untracked(h);
		}
	}
	close(h->h_fd);
	handoff_free(h);
	env->ps_collect();	/* the last one, when draining? */
}

/* A child we cannot track: its slot is freed now, its exit unlogged. */
static void
handoff_untracked(struct handoff *h)
{
	log_warnx("popit pid=%ld: child table full", (long)h->h_pid);
	addrtab_dec(env->ps_addrs, &h->h_peer);
}

/*
 * spawntimeout: a request still queued is dropped; a child still short
 * of its exec (a chdir into a hung file system) is killed. Either way
 * the client is told [SYS/TEMP] now; the report, when the spawner comes
 * back, finishes the rest.
 */
static void
handoff_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	 again = { 0, 100000 };
	struct handoff	*h = arg;
	int		 queued = 0, told;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&hs.mtx);
	if (h->h_state == H_DONE) {	/* reported meanwhile */
		pthread_mutex_unlock(&hs.mtx);
		return;
	}
	told = h->h_killed;
	h->h_killed = 1;
	if (h->h_state == H_QUEUED) {
		TAILQ_REMOVE(&hs.queue, h, h_entry);
		hs.nqueued--;
		TAILQ_REMOVE(&handoff_inflight, h, h_inflight);
		queued = 1;
	} else if (h->h_pid > 0 && !h->h_reaped)
		(void)kill(h->h_pid, SIGKILL);	/* ours, not yet waited for */
	else if (h->h_pid <= 0)
		/* Inside clone() before the pid is known: look again soon. */
		evtimer_add(h->h_timer, &again);
	pthread_mutex_unlock(&hs.mtx);

	if (told)
		return;
	log_warnx("popit for user=\"%s\" ip=%s: not started in %d s (%s); "
	    "the client is told to try again", h->h_user, h->h_ip,
	    h->h_timeout, queued ? "no spawner free" : "killed");
	handoff_tell(h->h_fd);
	if (queued)
		handoff_finish(h);
}

/* Logins on their way to popit, for SIGUSR1. */
unsigned int
handoff_pending(void)
{
	return env->ps_nhandoffs;
}
