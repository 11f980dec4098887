/*
 * loginfo: one MySQL query per successful login (docs/accounting.md), run by a
 * thread of its own from a bounded queue, so the loop never waits.
 */
#ifndef LOGINFO_H
#define LOGINFO_H

#include <stddef.h>
#include <stdint.h>

#include "dbmysql.h"

#define LOGINFO_QUEUE_MAX	1000	/* entries waiting for the server */
#define LOGINFO_BACKOFF_MIN	1	/* seconds before a reconnect */
#define LOGINFO_BACKOFF_MAX	60
#define LOGINFO_LOG_EVERY	10	/* at most one drop line per this */
#define LOGINFO_EXIT_WAIT_MS	1000	/* at exit, for the queue */

struct config;

/*
 * The query for one login: tmpl with %u, %i, %h and %t replaced by
 * user, ip, host and t, each escaped by esc, and %% by %. A heap string,
 * or NULL (see dbm_expand()).
 */
char	*loginfo_expand(const char *tmpl, const char *user, const char *ip,
	    const char *host, long long t, dbm_escape_fn esc, void *arg,
	    size_t *lenp);

/*
 * Start loginfo for this configuration when loginfo.query is set: an
 * object of its own (ring, settings, connection, thread). In the TERM
 * drain child it takes over the entries the parent's had queued. 0 or -1.
 */
int	loginfo_start(const struct config *);
/* Queue one entry (on the loop); dropped and counted when full. */
void	loginfo_login(const char *user, const char *ip, long long t);
/* Counters for SIGUSR1, process-wide: they survive reloads. */
void	loginfo_stats(uint64_t *queued, uint64_t *sent, uint64_t *dropped,
	    uint64_t *failed);
/*
 * SIGHUP changed the settings: the running object is told to stop and
 * left to its thread, which writes what it has queued with the old
 * settings and frees it when it ends. Never waits.
 */
void	loginfo_retire(void);
/*
 * At exit: stop the thread, waiting at most LOGINFO_EXIT_WAIT_MS for it
 * to write its queue; past that it is left behind (detached) and what
 * is still queued is counted as dropped.
 */
void	loginfo_stop(void);

#endif
