/*
 * The handoff to popit: how a good login leaves (the socket, kernel TLS
 * or a relay) and the only place popserv starts a process.
 */
#ifndef HANDOFF_H
#define HANDOFF_H

struct auth_job;
struct config;
struct tls_conn;

/*
 * Open the log channel for popit's stderr, reserve the spawners' low
 * descriptors and start reaping children.
 */
int	handoff_init(void);
/* What became of a login (handoff_login). */
enum handoff_result {
	HANDOFF_QUEUED,		/* popit is on its way */
	HANDOFF_FAILED,		/* popit cannot be started */
	HANDOFF_NORELAY,	/* TLS found no relay: nothing was taken */
};

/*
 * Start popit for a good login on the client's connection fd, over tc
 * when it is TLS (NULL: plain), from a spawner thread (the loop never
 * waits for a clone). HANDOFF_QUEUED: from then on the handoff owns fd,
 * tc and the address's sameaddrmax slot, logs the outcome as session's
 * ("result=login ...", or "result=tempfail"), tells the accounting
 * channels, and tells the client [SYS/TEMP] itself if popit does not
 * start within spawntimeout. HANDOFF_FAILED: it could not even be
 * queued; the client was told [SYS/TEMP], the outcome logged, fd and tc
 * are gone, and the slot stays the caller's. HANDOFF_NORELAY: nothing
 * was said or taken.
 */
enum handoff_result handoff_login(const struct config *,
	    const struct auth_job *, int fd, struct tls_conn *tc,
	    unsigned long long session);
/* Logins on their way to popit (queued for, or in, a spawner). */
unsigned int	handoff_pending(void);
/* The TERM drain child: forget the popits of the parent (not ours). */
void	handoff_forget_children(void);

#endif
