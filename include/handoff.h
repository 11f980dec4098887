/* The handoff to popit (SPEC §5): the only place popserv forks. */
#ifndef HANDOFF_H
#define HANDOFF_H

struct auth_job;
struct config;

/* Open the log channel for popit's stderr and start reaping children. */
int	handoff_init(void);
/*
 * Start popit for a successful login on fd. Returns 0 when popit runs
 * (it answers the PASS itself); 1 when a child started but failed before
 * exec (logged, the client told [SYS/TEMP]); -1 when no child could be
 * started (the client told [SYS/TEMP]). With 0 and 1 the child holds the
 * address's sameaddrmax slot until it exits; with -1 the caller keeps it.
 * In every case the caller closes its copy of fd.
 */
int	handoff_spawn(const struct config *, const struct auth_job *, int fd,
	    const char *remote_addr);
/* The TERM drain child: forget the popits of the parent (not ours). */
void	handoff_forget_children(void);

#endif
