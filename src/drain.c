/*
 * Stopping without dropping a login: the SIGTERM drain. The listening
 * sockets are closed (listener_drain) and the process exits once its
 * last AUTHORIZATION session has ended (a login handed to popit has
 * ended here too) and its last TLS relay is done (a relayed popit needs
 * this process till the end); autoclose ends the same way, from the
 * listener. SIGTERM forks first, so that a supervisor sees the service stop at once while the
 * child finishes the sessions. The fork does not wait for the workers
 * (one may be stuck for ever): the child re-initialises the loop, starts
 * fresh workers and runs again the checks that were running on the
 * parent's threads; the parent exits at once.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <event2/event.h>

#include "drain.h"
#include "handoff.h"
#include "listener.h"
#include "log.h"
#include "state.h"
#include "systemd.h"
#include "worker.h"

/* Where the TERM drain is. */
enum drain_state {
	DRAIN_SERVING,		/* no SIGTERM yet */
	DRAIN_FORK,		/* SIGTERM with sessions left: fork next */
	DRAIN_TERMED,		/* SIGTERM seen, forked (or nothing left) */
};

static enum drain_state	 drain_state;

static void	 drain_soon(evutil_socket_t, short, void *);

/* From an event of its own: the end, if nothing is left. */
static void
drain_soon(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	listener_collect();
}

/* Has SIGTERM already started a drain (here or in the parent)? */
int
drain_terminating(void)
{
	return drain_state != DRAIN_SERVING;
}

/* SIGTERM: stop accepting, then fork (from main) if sessions are left. */
void
drain_term(void)
{
	log_info("SIGTERM: closing the listening sockets, %u sessions left, "
	    "%u relays", env->ps_nsessions, env->ps_nrelays);
	listener_drain();
	drain_state = state_left() > 0 ? DRAIN_FORK : DRAIN_TERMED;
	event_base_loopbreak(env->ps_base);
}

/* Does the TERM drain still have to fork? */
int
drain_want_fork(void)
{
	return drain_state == DRAIN_FORK && state_left() > 0;
}

/*
 * Fork the drain child: see drain.h. Nothing here waits for a thread: a
 * worker may be stuck for ever in a user database, and the parent must
 * exit at once (docs/deployment.md). The workers' lock is taken around fork() (the
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

	drain_state = DRAIN_TERMED;
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
		if (state_left() == 0)
			(void)event_base_once(env->ps_base, -1, EV_TIMEOUT,
			    drain_soon, NULL, &zero);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return pid == -1 ? -1 : 0;
}
