/*
 * The handoff to popit (SPEC §5). A login is handed over with a clone()
 * that shares popserv's memory and descriptor table until the child has
 * copied the few low descriptors it keeps (CLONE_VM | CLONE_VFORK |
 * CLONE_FILES, then close_range(CLOSE_RANGE_UNSHARE)), so starting popit
 * costs the same whether popserv holds ten sessions or twenty thousand:
 * neither its memory nor its descriptor table is copied. Between clone
 * and exec the child makes only raw system calls, since it shares the
 * threaded parent's memory (see STYLE.md on setxid). Children are reaped
 * on the loop, and keep their address's sameaddrmax slot until they exit.
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

#include "addrtab.h"
#include "auth.h"
#include "config.h"
#include "handoff.h"
#include "log.h"
#include "popserv.h"
#include "reply.h"

#define HANDOFF_ENVMAX		8
#define HANDOFF_ARGMAX		(CONFIG_MAXARGS + 3)
#define HANDOFF_STACK		(64 * 1024)	/* the clone child's stack */

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
#define HANDOFF_CLONE	(CLONE_VM | CLONE_VFORK | SIGCHLD)
#else
#define HANDOFF_CLONE	(CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD)
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
	/* Written by the child, read by the parent after clone returns. */
	volatile const char	*sp_stage;
	volatile int		 sp_errno;
};

static struct child	**child_tab;
static size_t		 child_tabsz;	/* buckets, a power of two */
static struct event	*handoff_sigchld_ev;
static struct event	*handoff_log_ev;
static int		 handoff_logfd = -1;	/* read end */
static int		 handoff_slot = -1;	/* low descriptor for the client */
static char		*handoff_stack;		/* top of the child's stack */

static int	 handoff_child(void *) __attribute__((noreturn));
static void	 handoff_reap(evutil_socket_t, short, void *);
static void	 handoff_log(evutil_socket_t, short, void *);
static int	 child_insert(struct child *);
static struct child *child_remove(pid_t);

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
 * children, which it can never reap. Forget them and free their slots.
 */
void
handoff_forget_children(void)
{
	struct child	*c;
	size_t		 i;

	for (i = 0; i < child_tabsz; i++)
		while ((c = child_tab[i]) != NULL) {
			child_tab[i] = c->c_next;
			addrtab_dec(env->ps_addrs, &c->c_peer);
			free(c);
		}
	env->ps_nchildren = 0;
}

/* Open the channel for popit's stderr and reap children on SIGCHLD. */
int
handoff_init(void)
{
	int	 sv[2];

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
	 * A low descriptor, taken before any session exists, where each
	 * client socket is put for the child; between logins it rests on
	 * the log socket. The child copies only the descriptors below the
	 * slot and the log socket, however many sessions are open.
	 */
	if ((handoff_slot = fcntl(sv[1], F_DUPFD_CLOEXEC, 3)) == -1) {
		log_warn("handoff slot");
		return -1;
	}
	if (handoff_stack == NULL) {
		long	 pg = sysconf(_SC_PAGESIZE);
		char	*p;

		p = mmap(NULL, HANDOFF_STACK + pg, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (p == MAP_FAILED || mprotect(p, pg, PROT_NONE) == -1) {
			log_warn("handoff stack");
			return -1;
		}
		handoff_stack = p + pg + HANDOFF_STACK;	/* grows down */
	}
	handoff_log_ev = event_new(env->ps_base, handoff_logfd,
	    EV_READ | EV_PERSIST, handoff_log, NULL);
	handoff_sigchld_ev = evsignal_new(env->ps_base, SIGCHLD, handoff_reap,
	    NULL);
	if (handoff_log_ev == NULL || handoff_sigchld_ev == NULL ||
	    event_add(handoff_log_ev, NULL) == -1 ||
	    event_add(handoff_sigchld_ev, NULL) == -1) {
		log_warnx("handoff: cannot set up events");
		return -1;
	}
	return 0;
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

/* SIGCHLD: reap every exited popit and free its address slot. */
static void
handoff_reap(evutil_socket_t sig, short what, void *arg)
{
	struct child	*c;
	char		 ip[64];
	pid_t		 pid;
	int		 status;

	(void)sig;
	(void)what;
	(void)arg;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((c = child_remove(pid)) == NULL)
			continue;
		addrkey_ntop(&c->c_peer, ip, sizeof(ip));
		if (WIFSIGNALED(status))
			log_warnx("popit pid=%ld ip=%s user=\"%s\" "
			    "signal=%d", (long)pid, ip, c->c_user,
			    WTERMSIG(status));
		else if (WEXITSTATUS(status) != 0)
			log_warnx("popit pid=%ld ip=%s user=\"%s\" exit=%d",
			    (long)pid, ip, c->c_user, WEXITSTATUS(status));
		else
			log_info("popit pid=%ld ip=%s user=\"%s\" exit=0",
			    (long)pid, ip, c->c_user);
		addrtab_dec(env->ps_addrs, &c->c_peer);
		free(c);
	}
}

/*
 * The clone child: only raw system calls from here to execve, since the
 * parent's memory and thread list are shared. It first takes a private
 * descriptor table holding only the low descriptors (the client's slot
 * and the log socket among them), so no cost grows with the sessions
 * popserv holds. Failure tells the client and the parent, then
 * _exit(127).
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

	sp->sp_stage = "unshare";
	if (syscall(SYS_close_range, (unsigned int)sp->sp_keep, ~0U,
	    CLOSE_RANGE_UNSHARE) == -1) {
		/* Before Linux 5.9: copy the whole table, close the rest. */
		if (unshare(CLONE_FILES) == -1)
			goto fail;
		for (fd = sp->sp_keep; fd < 65536; fd++)
			(void)close(fd);
	}
	sp->sp_stage = "dup2";
	if (dup2(sp->sp_fd, 0) == -1 || dup2(sp->sp_fd, 1) == -1 ||
	    dup2(sp->sp_logfd, 2) == -1)
		goto fail;
	if (syscall(SYS_close_range, 3U, ~0U, 0U) == -1)
		for (fd = 3; fd < sp->sp_keep; fd++)
			(void)close(fd);
	out = 1;
	if (sp->sp_setcreds) {
		sp->sp_stage = "setgroups";
		if (syscall(SYS_setgroups, (size_t)sp->sp_ngroups,
		    sp->sp_groups) == -1)
			goto fail;
		sp->sp_stage = "setresgid";
		if (syscall(SYS_setresgid, sp->sp_gid, sp->sp_gid,
		    sp->sp_gid) == -1)
			goto fail;
		sp->sp_stage = "setresuid";
		if (syscall(SYS_setresuid, sp->sp_uid, sp->sp_uid,
		    sp->sp_uid) == -1)
			goto fail;
	}
	sp->sp_stage = "chdir";
	if (chdir(sp->sp_dir) == -1)
		goto fail;
	sp->sp_stage = "execve";
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	execve(sp->sp_path, sp->sp_argv, sp->sp_envp);
fail:
	sp->sp_errno = errno;
	(void)write(out, sp->sp_errmsg, sp->sp_errlen);
	_exit(127);
}

/* Start popit for a good login on fd (SPEC §5). */
int
handoff_spawn(const struct config *cf, const struct auth_job *aj, int fd,
    const char *remote_addr)
{
	char		 dir[PATH_MAX], user[128];
	char		 e_shell[PATH_MAX], e_home[PATH_MAX];
	char		 e_user[AUTH_NAME_MAX + 8], e_ext[AUTH_NAME_MAX + 16];
	char		 e_logname[AUTH_NAME_MAX + 16], e_addr[80];
	char		*envp[HANDOFF_ENVMAX], *argv[HANDOFF_ARGMAX];
	struct spawn	 sp;
	struct child	*c;
	sigset_t	 all, old;
	size_t		 i, argc = 0;
	pid_t		 pid;
	int		 n, saved, off = 0;

	log_escape(user, sizeof(user), aj->aj_login, strlen(aj->aj_login));
	if (aj->aj_folder[0] != '\0')
		n = snprintf(dir, sizeof(dir), "%s/%s/.%s", aj->aj_home,
		    cf->cf_maildir, aj->aj_folder);
	else
		n = snprintf(dir, sizeof(dir), "%s/%s", aj->aj_home,
		    cf->cf_maildir);
	if (n < 0 || (size_t)n >= sizeof(dir))
		goto toolong;

	/* argv: popitargs (or the program), then "--" and the option. */
	if (cf->cf_npopitargs > 0)
		for (i = 0; i < cf->cf_npopitargs; i++)
			argv[argc++] = cf->cf_popitargs[i];
	else
		argv[argc++] = cf->cf_popit;
	if (aj->aj_has_option) {
		argv[argc++] = (char *)"--";
		argv[argc++] = (char *)aj->aj_option;
	}
	argv[argc] = NULL;

	/* The environment, and nothing else. */
	if ((size_t)snprintf(e_shell, sizeof(e_shell), "SHELL=%s",
	    aj->aj_shell) >= sizeof(e_shell) ||
	    (size_t)snprintf(e_home, sizeof(e_home), "HOME=%s",
	    aj->aj_home) >= sizeof(e_home))
		goto toolong;
	snprintf(e_user, sizeof(e_user), "USER=%s", aj->aj_account);
	snprintf(e_ext, sizeof(e_ext), "EXTENSION=%s", aj->aj_folder);
	snprintf(e_logname, sizeof(e_logname), "LOGNAME=%s", aj->aj_login);
	snprintf(e_addr, sizeof(e_addr), "REMOTE_ADDR=%s", remote_addr);
	envp[0] = e_shell;
	envp[1] = e_home;
	envp[2] = e_user;
	envp[3] = e_ext;
	envp[4] = e_logname;
	envp[5] = e_addr;
	envp[6] = (char *)"PATH=/usr/bin:/bin";
	envp[7] = NULL;

	memset(&sp, 0, sizeof(sp));
	sp.sp_path = cf->cf_popit;
	sp.sp_argv = argv;
	sp.sp_envp = envp;
	sp.sp_dir = dir;
	sp.sp_fd = handoff_slot;
	sp.sp_logfd = env->ps_logpipe;
	sp.sp_keep = (handoff_slot > sp.sp_logfd ? handoff_slot :
	    sp.sp_logfd) + 1;
	/* A server running under uid/gid, or not as root, cannot switch. */
	sp.sp_setcreds = cf->cf_uid == -1 && geteuid() == 0;
	sp.sp_uid = aj->aj_uid;
	sp.sp_gid = aj->aj_gid;
	sp.sp_groups = aj->aj_groups;
	sp.sp_ngroups = aj->aj_ngroups;
	sp.sp_errmsg = reply_text(REPLY_TEMP_MAILBOX);
	sp.sp_errlen = reply_len(REPLY_TEMP_MAILBOX);

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("handoff");
		goto tempfail;
	}
	c->c_peer = aj->aj_peer;
	snprintf(c->c_user, sizeof(c->c_user), "%s", user);

	/* popit gets the socket in blocking mode, at the low slot. */
	(void)ioctl(fd, FIONBIO, &off);
	if (dup3(fd, handoff_slot, O_CLOEXEC) == -1) {
		log_warn("handoff: dup3");
		free(c);
		goto tempfail;
	}

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = clone(handoff_child, handoff_stack, HANDOFF_CLONE, &sp);
	saved = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* The slot rests on the log socket again: popserv's copy is fd. */
	(void)dup3(env->ps_logpipe, handoff_slot, O_CLOEXEC);
	if (pid == -1) {
		errno = saved;
		log_warn("clone");
		free(c);
		goto tempfail;
	}

	env->ps_stats.st_spawned++;
	c->c_pid = pid;
	if (child_insert(c) == -1) {
		/* Not tracked: its slot is freed now, its exit unlogged. */
		log_warnx("popit pid=%ld: child table full", (long)pid);
		free(c);
		addrtab_dec(env->ps_addrs, &aj->aj_peer);
	}
	if (sp.sp_errno != 0) {
		env->ps_stats.st_spawn_failed++;
		log_warnx("popit for user=\"%s\" ip=%s: %s %s: %s", user,
		    remote_addr, sp.sp_stage,
		    strcmp((const char *)sp.sp_stage, "chdir") == 0 ? dir :
		    strcmp((const char *)sp.sp_stage, "execve") == 0 ?
		    cf->cf_popit : "", strerror(sp.sp_errno));
		return 1;
	}
	return 0;

toolong:
	log_warnx("popit for user=\"%s\" ip=%s: path too long", user,
	    remote_addr);
tempfail:
	(void)send(fd, reply_text(REPLY_TEMP_MAILBOX),
	    reply_len(REPLY_TEMP_MAILBOX), MSG_NOSIGNAL | MSG_DONTWAIT);
	return -1;
}
