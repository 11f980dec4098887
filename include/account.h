/*
 * Accounting on each successful login (docs/accounting.md): one call
 * from the session, fanned out to WHOSON, logudp and loginfo. Nothing
 * here can delay or fail a login.
 */
#ifndef ACCOUNT_H
#define ACCOUNT_H

#include <stdint.h>

#include "addrtab.h"

struct config;
struct event_base;

/* Counters for SIGUSR1. */
struct account_stats {
	uint64_t	 as_whoson_sent;
	uint64_t	 as_whoson_negative;	/* "-..." replies */
	uint64_t	 as_logudp_sent;
	uint64_t	 as_loginfo_queued;
	uint64_t	 as_loginfo_sent;
	uint64_t	 as_loginfo_dropped;	/* queue full, or shutdown */
	uint64_t	 as_loginfo_failed;	/* the query failed */
};

/*
 * Open the sockets and start the loginfo thread the configuration asks
 * for. Problems are logged; the channel concerned stays off.
 */
void	account_init(struct event_base *, const struct config *);
/*
 * SIGHUP: old is replaced by cf. Reopen each channel whose socket or
 * connection settings changed (old NULL: all of them, as account_init()
 * does); nothing waits for loginfo's old thread.
 */
void	account_reconfigure(struct event_base *, const struct config *old,
	    const struct config *cf);
/*
 * A login succeeded: account is the mailbox name, login the name as
 * typed, peer the client. Returns at once.
 */
void	account_login(const struct config *, const char *account,
	    const char *login, const struct addrkey *peer);
/* Log the counters (SIGUSR1). */
void	account_log_stats(void);
void	account_stats(struct account_stats *);
/* Close the sockets, stop the loginfo thread (a bounded wait). */
void	account_shutdown(void);
/* In the TERM drain child: open everything anew; nothing waits. */
void	account_forked(struct event_base *, const struct config *);

#endif
