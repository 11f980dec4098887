/* Worker threads: blocking work off the event loop (docs/internals.md). */
#ifndef WORKER_H
#define WORKER_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/queue.h>

struct event_base;

/*
 * One unit of work: w_run runs on a worker thread and must not touch
 * anything the loop owns; w_done then runs on the loop thread. w_run
 * must be idempotent: after a fork (the TERM drain) an item that was
 * running on one of the parent's threads, which the child does not
 * have, is run again from the start in the child. w_done is also
 * called, without w_run, for an item cancelled at exit.
 */
struct work {
	void			(*w_run)(struct work *);
	void			(*w_done)(struct work *);
	TAILQ_ENTRY(work)	  w_entry;
	atomic_int		  w_ran;	/* w_run has returned */
};

/* Start n threads with a queue bound of queuemax pending items. */
int	workers_start(struct event_base *, int n, size_t queuemax);
/* Queue w; -1 when the queue is full (the caller answers [SYS/TEMP]). */
int	workers_submit(struct work *);
/* Items queued or running. */
size_t	workers_pending(void);
/*
 * At exit: cancel what is queued, wait at most timeout_ms for the
 * running items, join the threads that are done and abandon (detach)
 * the others, whose items stay reachable and are never delivered; then
 * deliver every finished or cancelled item.
 */
void	workers_stop(int timeout_ms);
/*
 * Around fork() (the TERM drain), on the loop thread: prepare takes the
 * queue's lock so that no worker holds it in the child; parent gives it
 * back; child makes a fresh lock, puts the items that were running on
 * the parent's threads (which the child lacks) back at the head of the
 * queue, or on the done list if their w_run had returned, and starts
 * as many new threads as before. Nothing here waits for a worker.
 */
void	workers_fork_prepare(void);
void	workers_fork_parent(void);
int	workers_fork_child(void);

#endif
