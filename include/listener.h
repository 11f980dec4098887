/* Listening sockets and the bounded accept loop (SPEC §4, §7). */
#ifndef LISTENER_H
#define LISTENER_H

struct config;

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

#endif
