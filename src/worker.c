/*
 * Worker threads: password hashing and user database lookups run here,
 * never on the event loop. Results go back to the loop through one event
 * that the workers activate.
 *
 * A worker may be stuck for ever (a user database that trickles bytes),
 * so nothing on the loop ever waits for one without a bound: the TERM
 * drain forks with the workers still running (the child runs again what
 * was running on the threads it does not have), and the exit waits a
 * moment, then leaves the stuck ones behind.
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "log.h"
#include "worker.h"

TAILQ_HEAD(workq, work);

/* One thread; the array is kept while an abandoned thread may write it. */
struct worker_slot {
	pthread_t	 ws_thread;
	int		 ws_exited;	/* under wk.mtx */
};

static struct {
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cond;		/* work arrived, or stop */
	pthread_cond_t	 idle;		/* stopping: an item or thread ended */
	struct workq	 queue;		/* waiting for a thread */
	struct workq	 running;	/* on a thread now */
	struct workq	 done;		/* waiting for the loop */
	size_t		 nqueued;
	size_t		 nrunning;
	size_t		 ndone;
	size_t		 queuemax;
	int		 stopping;	/* cancel the queue, exit */
	struct worker_slot *slots;
	int		 nthreads;
	int		 nexited;	/* threads out of worker_main() */
	int		 nwanted;	/* as started, for the drain child */
	struct event_base *base;
	struct event	*done_ev;
} wk = {
	.mtx = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.idle = PTHREAD_COND_INITIALIZER,
	.queue = TAILQ_HEAD_INITIALIZER(wk.queue),
	.running = TAILQ_HEAD_INITIALIZER(wk.running),
	.done = TAILQ_HEAD_INITIALIZER(wk.done),
};

static void	*worker_main(void *);
static void	 worker_deliver(evutil_socket_t, short, void *);
static int	 workers_spawn(int);

/* A worker thread: take work, run it, hand it to the loop. */
static void *
worker_main(void *arg)
{
	struct worker_slot	*ws = arg;
	struct work		*w;

	pthread_mutex_lock(&wk.mtx);
	for (;;) {
		while (TAILQ_EMPTY(&wk.queue) && !wk.stopping)
			pthread_cond_wait(&wk.cond, &wk.mtx);
		if (wk.stopping)
			break;
		w = TAILQ_FIRST(&wk.queue);
		TAILQ_REMOVE(&wk.queue, w, w_entry);
		wk.nqueued--;
		TAILQ_INSERT_TAIL(&wk.running, w, w_entry);
		wk.nrunning++;
		pthread_mutex_unlock(&wk.mtx);

		w->w_run(w);
		/* A fork from now on delivers w instead of running it again. */
		atomic_store(&w->w_ran, 1);

		pthread_mutex_lock(&wk.mtx);
		TAILQ_REMOVE(&wk.running, w, w_entry);
		wk.nrunning--;
		TAILQ_INSERT_TAIL(&wk.done, w, w_entry);
		if (wk.ndone++ == 0)
			event_active(wk.done_ev, EV_READ, 0);
	}
	ws->ws_exited = 1;
	wk.nexited++;
	pthread_cond_signal(&wk.idle);
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

/* Start n threads with every signal blocked; 0, or -1 if none started. */
static int
workers_spawn(int n)
{
	sigset_t	 all, old;
	int		 i, error;

	if ((wk.slots = calloc(n, sizeof(*wk.slots))) == NULL)
		return -1;
	/* Signals are the loop's business: workers block them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < n; i++) {
		error = pthread_create(&wk.slots[i].ws_thread, NULL,
		    worker_main, &wk.slots[i]);
		if (error != 0) {
			errno = error;
			log_warn("pthread_create");
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	wk.nthreads = i;
	wk.nexited = 0;
	return i == 0 ? -1 : 0;
}

/* Start n threads; the queue holds at most queuemax waiting items. */
int
workers_start(struct event_base *base, int n, size_t queuemax)
{
	wk.base = base;
	wk.nwanted = n;
	wk.queuemax = queuemax;
	wk.stopping = 0;
	if (wk.done_ev == NULL &&
	    (wk.done_ev = event_new(base, -1, 0, worker_deliver, NULL)) == NULL)
		return -1;
	return workers_spawn(n);
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
	atomic_store(&w->w_ran, 0);
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

/*
 * Cancel the queue, give the running items timeout_ms, join the threads
 * that have exited and detach the rest (their items stay on wk.running,
 * reachable, and are never delivered), then deliver what is done.
 */
void
workers_stop(int timeout_ms)
{
	struct timespec	 ts;
	struct work	*w;
	size_t		 left;
	int		 i, abandoned = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&wk.mtx);
	wk.stopping = 1;
	/* Cancelled: w_done without w_run (w_ran stays 0). */
	while ((w = TAILQ_FIRST(&wk.queue)) != NULL) {
		TAILQ_REMOVE(&wk.queue, w, w_entry);
		TAILQ_INSERT_TAIL(&wk.done, w, w_entry);
		wk.ndone++;
	}
	wk.nqueued = 0;
	pthread_cond_broadcast(&wk.cond);
	while (wk.nexited < wk.nthreads &&
	    pthread_cond_timedwait(&wk.idle, &wk.mtx, &ts) != ETIMEDOUT)
		;
	left = wk.nrunning;
	pthread_mutex_unlock(&wk.mtx);

	for (i = 0; i < wk.nthreads; i++) {
		pthread_mutex_lock(&wk.mtx);
		if (!wk.slots[i].ws_exited) {
			pthread_mutex_unlock(&wk.mtx);
			pthread_detach(wk.slots[i].ws_thread);
			abandoned++;
			continue;
		}
		pthread_mutex_unlock(&wk.mtx);
		pthread_join(wk.slots[i].ws_thread, NULL);
	}
	if (abandoned > 0)
		log_warnx("workers: %zu checks still running after %d ms, "
		    "%d threads left behind", left, timeout_ms, abandoned);
	else {
		/* An abandoned thread still writes its slot: keep them. */
		free(wk.slots);
		wk.slots = NULL;
	}
	wk.nthreads = 0;
	worker_deliver(-1, 0, NULL);
}

/* Before fork: no worker may hold the queue's lock in the child. */
void
workers_fork_prepare(void)
{
	pthread_mutex_lock(&wk.mtx);
}

/* In the parent after fork: the workers carry on. */
void
workers_fork_parent(void)
{
	pthread_mutex_unlock(&wk.mtx);
}

/*
 * In the child after fork: only this thread exists. The items that were
 * running go back to the head of the queue (in order), or to the done
 * list when their w_run had returned; then fresh threads start.
 */
int
workers_fork_child(void)
{
	pthread_mutex_t	 m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t	 c = PTHREAD_COND_INITIALIZER;
	struct work	*w;
	size_t		 rerun = 0;

	wk.mtx = m;
	wk.cond = c;
	wk.idle = c;
	while ((w = TAILQ_LAST(&wk.running, workq)) != NULL) {
		TAILQ_REMOVE(&wk.running, w, w_entry);
		if (atomic_load(&w->w_ran)) {
			TAILQ_INSERT_TAIL(&wk.done, w, w_entry);
			wk.ndone++;
		} else {
			TAILQ_INSERT_HEAD(&wk.queue, w, w_entry);
			wk.nqueued++;
			rerun++;
		}
	}
	wk.nrunning = 0;
	/* The parent's threads are not ours to join or detach. */
	free(wk.slots);
	wk.slots = NULL;
	wk.nthreads = 0;
	if (rerun > 0)
		log_info("draining: %zu checks that were running start again",
		    rerun);
	if (workers_spawn(wk.nwanted) == -1)
		return -1;
	if (wk.ndone > 0)
		event_active(wk.done_ev, EV_READ, 0);
	return 0;
}
