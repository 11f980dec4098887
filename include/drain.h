/*
 * How popserv stops serving (SPEC §7): autoclose after an idle spell,
 * the SIGTERM drain in a forked child, and the exit once the last
 * AUTHORIZATION session is over.
 */
#ifndef DRAIN_H
#define DRAIN_H

struct event_base;

/* Start the autoclose timer when the configuration asks for one. */
void	drain_init(struct event_base *);
/* The configuration was reloaded: autoclose may have changed. */
void	drain_reconfigure(void);
/* A connection was accepted: the autoclose spell starts again. */
void	drain_accepted(void);
/* A session ended: when draining and none is left, leave the loop. */
void	drain_check(void);
/* Listeners closed, waiting for the last session (TERM or autoclose). */
int	drain_active(void);
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
