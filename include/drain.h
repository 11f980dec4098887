/*
 * The SIGTERM drain: the listeners close, and a forked child finishes
 * the sessions while the parent exits at once (docs/deployment.md).
 */
#ifndef DRAIN_H
#define DRAIN_H

/*
 * SIGTERM: close the listeners and leave the loop; the caller then
 * calls drain_fork() if drain_want_fork() says sessions are left.
 */
void	drain_term(void);
int	drain_want_fork(void);
/* SIGTERM was seen (a second one means: exit now). */
int	drain_terminating(void);
/*
 * Fork without waiting for any thread. In the child (returns 0) the loop
 * is re-initialised, fresh workers run again the checks that were
 * running and the sessions go on; the parent gets the child's pid and
 * should exit 0 at once. -1: fork failed, and this process drains its
 * sessions itself.
 */
long	drain_fork(void);

#endif
