/*
 * Listening sockets, the bounded accept loop, autoclose, and the end of
 * the loop once the listeners are closed and nothing is left.
 */
#ifndef LISTENER_H
#define LISTENER_H

struct config;
struct event_base;

/* Bind every bindto of cf (or the -b override in it). -1 on failure. */
int	listener_open(const struct config *);
/* Take over an already listening socket (inetd -i, systemd). */
int	listener_adopt(int fd);
/*
 * SIGHUP: keep the sockets whose address is unchanged, bind new ones,
 * close the rest; -1 (nothing changed) when a new one cannot be bound.
 * Adopted sockets are kept and bindto is then ignored.
 */
int	listener_reconfigure(const struct config *);
/* Stop and close every listening socket. */
void	listener_close_all(void);
/* Accepting pauses at maxconn and resumes below it. */
void	listener_update(void);
/*
 * Start the autoclose timer (when autoclose is set) and become the
 * upward call of state.h (env->ps_collect).
 */
void	listener_init(struct event_base *);
/* The configuration was reloaded: autoclose may have changed. */
void	listener_autoclose_reset(void);
/*
 * Close the listeners for good (SIGTERM, autoclose): the process ends
 * once nothing is left (listener_collect).
 */
void	listener_drain(void);
/* Have the listeners been closed for good? */
int	listener_draining(void);
/*
 * The one upward call, made when a session, a login on its way to popit
 * or a relay ends: accepting resumes below maxconn, and the loop ends
 * once the listeners are closed for good and nothing is left.
 */
void	listener_collect(void);

#endif
