/*
 * Worker threads: password hashing and user database lookups run here,
 * never on the event loop. Results go back to the loop through one event
 * that the workers activate.
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "log.h"
#include "worker.h"

TAILQ_HEAD(workq, work);

static struct {
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cond;
	struct workq	 queue;		/* waiting for a thread */
	struct workq	 done;		/* waiting for the loop */
	size_t		 nqueued;
	size_t		 nrunning;
	size_t		 ndone;
	size_t		 queuemax;
	int		 stopping;	/* finish the queue, then exit */
	int		 pausing;	/* finish the running item, then exit */
	pthread_t	*threads;
	int		 nthreads;
	int		 nwanted;	/* as started, for workers_resume() */
	struct event_base *base;
	struct event	*done_ev;
} wk = {
	.mtx = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.queue = TAILQ_HEAD_INITIALIZER(wk.queue),
	.done = TAILQ_HEAD_INITIALIZER(wk.done),
};

static void	*worker_main(void *);
static void	 worker_deliver(evutil_socket_t, short, void *);
static void	 workers_join(int *);

/* A worker thread: take work, run it, hand it to the loop. */
static void *
worker_main(void *arg)
{
	struct work	*w;

	(void)arg;
	pthread_mutex_lock(&wk.mtx);
	for (;;) {
		while (TAILQ_EMPTY(&wk.queue) && !wk.stopping && !wk.pausing)
			pthread_cond_wait(&wk.cond, &wk.mtx);
		if (TAILQ_EMPTY(&wk.queue) || wk.pausing)
			break;		/* stopping with nothing left, or pausing */
		w = TAILQ_FIRST(&wk.queue);
		TAILQ_REMOVE(&wk.queue, w, w_entry);
		wk.nqueued--;
		wk.nrunning++;
		pthread_mutex_unlock(&wk.mtx);

		w->w_run(w);

		pthread_mutex_lock(&wk.mtx);
		wk.nrunning--;
		TAILQ_INSERT_TAIL(&wk.done, w, w_entry);
		if (wk.ndone++ == 0)
			event_active(wk.done_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&wk.mtx);
	return NULL;
}

/* On the loop: run the done callback of every finished item. */
static void
worker_deliver(evutil_socket_t fd, short ev, void *arg)
{
	struct workq	 done;
	struct work	*w;

	(void)fd;
	(void)ev;
	(void)arg;
	TAILQ_INIT(&done);
	pthread_mutex_lock(&wk.mtx);
	TAILQ_CONCAT(&done, &wk.done, w_entry);
	wk.ndone = 0;
	pthread_mutex_unlock(&wk.mtx);

	while ((w = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, w, w_entry);
		w->w_done(w);
	}
}

/* Start n threads; the queue holds at most queuemax waiting items. */
int
workers_start(struct event_base *base, int n, size_t queuemax)
{
	sigset_t	 all, old;
	int		 i, error;

	/* The queues survive a restart after workers_pause() (and fork). */
	wk.base = base;
	wk.nwanted = n;
	wk.queuemax = queuemax;
	wk.stopping = 0;
	wk.pausing = 0;
	if (wk.done_ev == NULL &&
	    (wk.done_ev = event_new(base, -1, 0, worker_deliver, NULL)) == NULL)
		return -1;
	if ((wk.threads = calloc(n, sizeof(*wk.threads))) == NULL)
		return -1;

	/* Signals are the loop's business: workers block them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < n; i++) {
		error = pthread_create(&wk.threads[i], NULL, worker_main, NULL);
		if (error != 0) {
			errno = error;
			log_warn("pthread_create");
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	wk.nthreads = i;
	if (i == 0)
		return -1;
	/* Results finished before a pause still wait for the loop. */
	pthread_mutex_lock(&wk.mtx);
	if (wk.ndone > 0)
		event_active(wk.done_ev, EV_READ, 0);
	pthread_mutex_unlock(&wk.mtx);
	return 0;
}

/* Queue w for a worker; -1 when the queue is full. */
int
workers_submit(struct work *w)
{
	pthread_mutex_lock(&wk.mtx);
	if (wk.nqueued >= wk.queuemax || wk.stopping) {
		pthread_mutex_unlock(&wk.mtx);
		return -1;
	}
	TAILQ_INSERT_TAIL(&wk.queue, w, w_entry);
	wk.nqueued++;
	pthread_cond_signal(&wk.cond);
	pthread_mutex_unlock(&wk.mtx);
	return 0;
}

/* Items queued, running or finished but not yet delivered. */
size_t
workers_pending(void)
{
	size_t	 n;

	pthread_mutex_lock(&wk.mtx);
	n = wk.nqueued + wk.nrunning + wk.ndone;
	pthread_mutex_unlock(&wk.mtx);
	return n;
}

/* Raise flag (stopping or pausing) for every thread and join them all. */
static void
workers_join(int *flag)
{
	int	 i;

	pthread_mutex_lock(&wk.mtx);
	*flag = 1;
	pthread_cond_broadcast(&wk.cond);
	pthread_mutex_unlock(&wk.mtx);
	for (i = 0; i < wk.nthreads; i++)
		pthread_join(wk.threads[i], NULL);
	free(wk.threads);
	wk.threads = NULL;
	wk.nthreads = 0;
}

/* Finish everything queued, deliver it, and join the threads. */
void
workers_stop(void)
{
	workers_join(&wk.stopping);
	worker_deliver(-1, 0, NULL);
}

/*
 * Let the running items finish and join the threads, leaving queued
 * items queued and finished ones undelivered: after this the process has
 * one thread and may fork (the TERM drain); workers_start() resumes.
 */
void
workers_pause(void)
{
	workers_join(&wk.pausing);
}

/* Start the threads again after workers_pause(), as many as before. */
int
workers_resume(void)
{
	return workers_start(wk.base, wk.nwanted, wk.queuemax);
}
