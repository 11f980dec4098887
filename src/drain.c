/*
 * Stopping without dropping a login. After SIGTERM, or after autoclose
 * seconds without a new connection, the listening sockets are closed and
 * the process exits once its last AUTHORIZATION session has ended (a
 * login handed to popit has ended here too) and its last TLS relay is
 * done (a relayed popit needs this process till the end). SIGTERM forks
 * first, so that a supervisor sees the service stop at once while the
 * child finishes the sessions. The fork does not wait for the workers
 * (one may be stuck for ever): the child re-initialises the loop, starts
 * fresh workers and runs again the checks that were running on the
 * parent's threads; the parent exits at once.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "drain.h"
#include "handoff.h"
#include "listener.h"
#include "log.h"
#include "state.h"
#include "systemd.h"
#include "worker.h"

static struct event	*drain_autoclose_ev;
static time_t		 drain_lastaccept;	/* CLOCK_MONOTONIC seconds */
static int		 drain_draining;
static int		 drain_termed;		/* SIGTERM seen */
static int		 drain_forkwanted;

static time_t	 drain_now(void);
static void	 drain_autoclose(evutil_socket_t, short, void *);
static void	 drain_autoclose_arm(void);
static unsigned int drain_left(void);
static void	 drain_soon(evutil_socket_t, short, void *);

/*
 * What keeps the process: sessions, logins on their way to popit (each
 * bounded by spawntimeout), and TLS relays to running popits.
 */
static unsigned int
drain_left(void)
{
	return env->ps_nsessions + env->ps_nhandoffs + env->ps_nrelays;
}

/* Seconds on the monotonic clock. */
static time_t
drain_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Set up autoclose from the configuration in force. */
void
drain_init(struct event_base *base)
{
	drain_lastaccept = drain_now();
	if ((drain_autoclose_ev = evtimer_new(base, drain_autoclose,
	    NULL)) == NULL)
		fatalx("autoclose timer");
	drain_autoclose_arm();
}

/* (Re)arm the autoclose timer for what is left of the idle spell. */
static void
drain_autoclose_arm(void)
{
	struct timeval	 tv = { 0, 0 };
	int		 limit = env->ps_conf->cf_autoclose;
	time_t		 idle;

	evtimer_del(drain_autoclose_ev);
	if (limit <= 0 || drain_draining)
		return;
	idle = drain_now() - drain_lastaccept;
	if (idle < limit)
		tv.tv_sec = limit - idle;
	evtimer_add(drain_autoclose_ev, &tv);
}

/* A reload may have changed autoclose. */
void
drain_reconfigure(void)
{
	drain_autoclose_arm();
}

/* A new connection: the idle spell starts again (the timer re-checks). */
void
drain_accepted(void)
{
	drain_lastaccept = drain_now();
}

/* The autoclose timer: idle long enough, or re-arm for the rest. */
static void
drain_autoclose(evutil_socket_t fd, short what, void *arg)
{
	int	 limit = env->ps_conf->cf_autoclose;

	(void)fd;
	(void)what;
	(void)arg;
	if (limit <= 0 || drain_draining)
		return;
	if (drain_now() - drain_lastaccept < limit) {
		drain_autoclose_arm();
		return;
	}
	log_info("autoclose: no connection for %d s, closing the listening "
	    "sockets; %u sessions left, %u relays", limit, env->ps_nsessions,
	    env->ps_nrelays);
	systemd_notify("STOPPING=1");
	listener_close_all();
	drain_draining = 1;
	drain_check();
}

/* From an event of its own: drain_check(). */
static void
drain_soon(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	drain_check();
}

/* Leave the loop when draining and the last session and relay are gone. */
void
drain_check(void)
{
	if (drain_draining && drain_left() == 0)
		event_base_loopbreak(env->ps_base);
}

/* Are we waiting for the last sessions? */
int
drain_active(void)
{
	return drain_draining;
}

/* Has SIGTERM already started a drain (here or in the parent)? */
int
drain_terminating(void)
{
	return drain_termed;
}

/* SIGTERM: stop accepting, then fork (from main) if sessions are left. */
void
drain_term(void)
{
	log_info("SIGTERM: closing the listening sockets, %u sessions left, "
	    "%u relays", env->ps_nsessions, env->ps_nrelays);
	systemd_notify("STOPPING=1");
	listener_close_all();
	evtimer_del(drain_autoclose_ev);
	drain_draining = 1;
	drain_termed = 1;
	drain_forkwanted = drain_left() > 0;
	event_base_loopbreak(env->ps_base);
}

/* Does the TERM drain still have to fork? */
int
drain_want_fork(void)
{
	return drain_forkwanted && drain_left() > 0;
}

/*
 * Fork the drain child: see drain.h. Nothing here waits for a thread: a
 * worker may be stuck for ever in a user database, and the parent must
 * exit at once (SPEC §7). The workers' lock is taken around fork() (the
 * other modules' locks by their pthread_atfork handlers), so the child
 * finds every lock free; its fresh workers run again what the parent's
 * threads were running.
 */
long
drain_fork(void)
{
	struct timeval	 zero = { 0, 0 };
	sigset_t all, old;
	pid_t	 pid;
	int	 saved;

	drain_forkwanted = 0;
	fflush(NULL);
	/*
	 * Until the child has its own signal pipe (event_reinit), a signal
	 * would be written to the parent's: keep them pending till then.
	 */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	workers_fork_prepare();
	pid = fork();
	saved = errno;
	if (pid != 0)
		workers_fork_parent();
	if (pid > 0) {
		log_info("draining %u sessions in pid %ld, %u relays",
		    env->ps_nsessions, (long)pid, env->ps_nrelays);
		return pid;
	}
	if (pid == -1) {
		errno = saved;
		log_warn("fork: draining in this process");
	} else {
		if (event_reinit(env->ps_base) == -1)
			fatalx("draining: event_reinit failed");
		systemd_forget();
		handoff_forget_children();
		if (workers_fork_child() == -1)
			fatalx("draining: cannot start worker threads");
		/*
		 * The parent's logins on their way to popit were all it had
		 * left: nothing keeps this child, so leave as soon as the
		 * loop runs (a loopbreak before it runs would be lost).
		 */
		if (drain_left() == 0)
			(void)event_base_once(env->ps_base, -1, EV_TIMEOUT,
			    drain_soon, NULL, &zero);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return pid == -1 ? -1 : 0;
}
