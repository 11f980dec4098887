/* Worker threads: blocking work off the event loop (SPEC §4). */
#ifndef WORKER_H
#define WORKER_H

#include <stddef.h>
#include <sys/queue.h>

struct event_base;

/*
 * One unit of work: w_run runs on a worker thread and must not touch
 * anything the loop owns; w_done then runs on the loop thread.
 */
struct work {
	void			(*w_run)(struct work *);
	void			(*w_done)(struct work *);
	TAILQ_ENTRY(work)	  w_entry;
};

/* Start n threads with a queue bound of queuemax pending items. */
int	workers_start(struct event_base *, int n, size_t queuemax);
/* Queue w; -1 when the queue is full (the caller answers [SYS/TEMP]). */
int	workers_submit(struct work *);
/* Items queued or running. */
size_t	workers_pending(void);
/*
 * Let every queued and running item finish, deliver the results, and
 * join the threads (before fork for the TERM drain, and at exit).
 */
void	workers_stop(void);
/*
 * Let running items finish and join the threads, but keep the queue and
 * the undelivered results: the process is then single-threaded and can
 * fork. workers_start() (in the child) carries on with what is left.
 */
void	workers_pause(void);
/* Start as many threads as workers_start() did, after workers_pause(). */
int	workers_resume(void);

#endif
