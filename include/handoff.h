/* The handoff to popit (SPEC §5): the only place popserv forks. */
#ifndef HANDOFF_H
#define HANDOFF_H

struct auth_job;
struct config;

/*
 * Open the log channel for popit's stderr, reserve the spawners' low
 * descriptors and start reaping children.
 */
int	handoff_init(void);
/*
 * Start popit for a successful login on fd, from a spawner thread (the
 * loop never waits for a clone). Returns 0 when the request is queued:
 * from then on the handoff owns fd and the address's sameaddrmax slot,
 * logs the outcome as session's ("result=login ...", how appended, or
 * "result=tempfail"), tells the accounting channels, and tells the
 * client [SYS/TEMP] itself if popit does not start within spawntimeout.
 * Returns -1 when it could not even be queued: the client was told
 * [SYS/TEMP], and the caller keeps fd and the slot.
 */
int	handoff_spawn(const struct config *, const struct auth_job *, int fd,
	    const char *remote_addr, unsigned long long session,
	    const char *how);
/* Logins on their way to popit (queued for, or in, a spawner). */
unsigned int	handoff_pending(void);
/* The TERM drain child: forget the popits of the parent (not ours). */
void	handoff_forget_children(void);

#endif
