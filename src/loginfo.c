/*
 * loginfo: run loginfo.query on MySQL for each successful login. The loop
 * only appends to a bounded ring; one thread of its own connects, expands
 * the query with mysql_real_escape_string() and runs it, and reconnects
 * with a back-off. When the server is down or slow, the ring fills and
 * new entries are dropped and counted: logins never wait.
 *
 * Each configuration gets an object of its own (struct loginfo: ring,
 * settings, connection, thread). A reload that changes the settings
 * retires the running object without waiting for its thread, which may
 * be stuck in a server that trickles bytes: the thread finishes with its
 * own object and frees it, and a new object serves the new settings, so
 * no two threads ever share a connection or a ring. The loop never
 * waits for a loginfo thread but for a bounded moment at exit.
 */

#include <sys/queue.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysql.h>

#include "auth.h"
#include "config.h"
#include "dbmysql.h"
#include "log.h"
#include "loginfo.h"

#define LOGINFO_ATTEMPTS	3	/* tries of one entry on lost links */

/* One login waiting to be written. */
struct loginfo_entry {
	char		 le_user[AUTH_NAME_MAX];
	char		 le_ip[64];
	long long	 le_time;
	int		 le_attempts;
};

/*
 * One configuration's loginfo. li_mtx guards the ring and the flags;
 * the settings are read-only once the thread runs, and li_conn and
 * li_query are the thread's (kept here, not on its stack, so that they
 * stay reachable in a forked child that does not have the thread).
 * The loop owns the object until it retires or abandons it; from then
 * on the thread does, and frees it when it ends.
 */
struct loginfo {
	LIST_ENTRY(loginfo)	 li_entry;	/* loginfo_all */
	pthread_mutex_t		 li_mtx;
	pthread_cond_t		 li_cond;	/* work arrived, or stop */
	pthread_cond_t		 li_gone;	/* the thread is done */
	struct loginfo_entry	*li_ring;
	size_t			 li_head;
	size_t			 li_count;
	int			 li_stopping;
	int			 li_done;	/* the thread has finished */
	int			 li_detached;	/* the thread frees the object */
	int			 li_orphan;	/* its thread is the parent's */
	pthread_t		 li_thread;
	MYSQL			*li_conn;	/* also while connecting */
	char			*li_query;	/* being run */
	struct cfg_mysql	 li_my;
	char			*li_host;	/* %h */
};

static struct loginfo	*loginfo_new(const struct config *);
static void		 loginfo_free(struct loginfo *);
static void		*loginfo_main(void *);
static int		 loginfo_run(struct loginfo *, struct loginfo_entry *,
			    char *, size_t);
static void		 loginfo_wait(struct loginfo *, int);
static int		 loginfo_due(time_t *, time_t);
static void		 loginfo_takeover(struct loginfo *, struct loginfo *);
static void		 loginfo_release(int, int);
static void		 loginfo_atfork_init(void);
static void		 loginfo_atfork_prepare(void);
static void		 loginfo_atfork_parent(void);
static void		 loginfo_atfork_child(void);

static pthread_once_t	 loginfo_atfork_once = PTHREAD_ONCE_INIT;

/* Every object whose thread has not ended, for fork(2) and for LSan. */
static pthread_mutex_t	 loginfo_all_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(, loginfo) loginfo_all = LIST_HEAD_INITIALIZER(loginfo_all);

static struct loginfo	*loginfo_cur;	/* the loop's; NULL: off */
static struct loginfo	*loginfo_heir;	/* forked: the parent's, to take over */

/* Process-wide counters: they survive reloads and the drain fork. */
static atomic_uint_fast64_t	 loginfo_queued;
static atomic_uint_fast64_t	 loginfo_sent;
static atomic_uint_fast64_t	 loginfo_dropped;
static atomic_uint_fast64_t	 loginfo_failed;
static uint64_t			 loginfo_dropped_unsaid;	/* loop only */
static time_t			 loginfo_drop_lastlog;		/* loop only */

/* The query for one login, each value escaped by esc. */
char *
loginfo_expand(const char *tmpl, const char *user, const char *ip,
    const char *host, long long t, dbm_escape_fn esc, void *arg,
    size_t *lenp)
{
	struct dbm_var	 vars[4];
	char		 tbuf[32];

	snprintf(tbuf, sizeof(tbuf), "%lld", t);
	vars[0].dv_name = 'u';
	vars[0].dv_value = user;
	vars[1].dv_name = 'i';
	vars[1].dv_value = ip;
	vars[2].dv_name = 'h';
	vars[2].dv_value = host;
	vars[3].dv_name = 't';
	vars[3].dv_value = tbuf;
	return dbm_expand(tmpl, vars, 4, esc, arg, lenp);
}

/* Once per LOGINFO_LOG_EVERY seconds, keyed by *last. */
static int
loginfo_due(time_t *last, time_t now)
{
	if (*last != 0 && now - *last < LOGINFO_LOG_EVERY)
		return 0;
	*last = now;
	return 1;
}

/* A new object with a copy of cf's settings and an empty ring. */
static struct loginfo *
loginfo_new(const struct config *cf)
{
	const struct cfg_mysql	*my = &cf->cf_loginfo;
	struct loginfo		*li;

	if ((li = calloc(1, sizeof(*li))) == NULL)
		return NULL;
#define LI_DUP(dst, src)	((src) == NULL || ((dst) = strdup(src)) != NULL)
	if (!LI_DUP(li->li_my.my_host, my->my_host) ||
	    !LI_DUP(li->li_my.my_user, my->my_user) ||
	    !LI_DUP(li->li_my.my_password, my->my_password) ||
	    !LI_DUP(li->li_my.my_database, my->my_database) ||
	    !LI_DUP(li->li_my.my_query, my->my_query) ||
	    !LI_DUP(li->li_host, cf->cf_hostname) ||
	    (li->li_ring = calloc(LOGINFO_QUEUE_MAX,
	    sizeof(*li->li_ring))) == NULL) {
		config_mysql_free(&li->li_my);
		free(li->li_host);
		free(li);
		return NULL;
	}
#undef LI_DUP
	pthread_mutex_init(&li->li_mtx, NULL);
	pthread_cond_init(&li->li_cond, NULL);
	pthread_cond_init(&li->li_gone, NULL);
	return li;
}

/* Unlink and free an object whose thread has ended (or never ran). */
static void
loginfo_free(struct loginfo *li)
{
	pthread_mutex_lock(&loginfo_all_lock);
	LIST_REMOVE(li, li_entry);
	pthread_mutex_unlock(&loginfo_all_lock);
	pthread_mutex_destroy(&li->li_mtx);
	pthread_cond_destroy(&li->li_cond);
	pthread_cond_destroy(&li->li_gone);
	free(li->li_ring);
	config_mysql_free(&li->li_my);
	free(li->li_host);
	free(li);
	dbm_library_end();
}

/* Forked: queue what the parent's object had not written yet. */
static void
loginfo_takeover(struct loginfo *li, struct loginfo *old)
{
	size_t	 i;

	for (i = 0; i < old->li_count; i++)
		li->li_ring[i] = old->li_ring[(old->li_head + i) %
		    LOGINFO_QUEUE_MAX];
	li->li_count = old->li_count;
	old->li_count = 0;
}

/* Start an object and its thread for cf, if it asks for loginfo. */
int
loginfo_start(const struct config *cf)
{
	const struct cfg_mysql	*my = &cf->cf_loginfo;
	struct loginfo		*li;
	sigset_t		 all, old;
	int			 error;

	if (my->my_query == NULL || my->my_query[0] == '\0' ||
	    loginfo_cur != NULL)
		return 0;
	if ((li = loginfo_new(cf)) == NULL) {
		log_warn("loginfo");
		return -1;
	}
	pthread_once(&loginfo_atfork_once, loginfo_atfork_init);
	dbm_library_init();
	if (loginfo_heir != NULL) {
		loginfo_takeover(li, loginfo_heir);
		loginfo_heir = NULL;
	}
	pthread_mutex_lock(&loginfo_all_lock);
	LIST_INSERT_HEAD(&loginfo_all, li, li_entry);
	pthread_mutex_unlock(&loginfo_all_lock);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	error = pthread_create(&li->li_thread, NULL, loginfo_main, li);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (error != 0) {
		errno = error;
		log_warn("loginfo: pthread_create");
		atomic_fetch_add(&loginfo_dropped, li->li_count);
		loginfo_free(li);
		return -1;
	}
	loginfo_cur = li;
	log_debug("loginfo: logging to %s",
	    li->li_my.my_host ? li->li_my.my_host : "localhost");
	return 0;
}

/* Keep every object consistent across fork(2) (the TERM drain). */
static void
loginfo_atfork_init(void)
{
	pthread_atfork(loginfo_atfork_prepare, loginfo_atfork_parent,
	    loginfo_atfork_child);
}

/* Before fork: no thread may hold a lock of ours in the child. */
static void
loginfo_atfork_prepare(void)
{
	struct loginfo	*li;

	pthread_mutex_lock(&loginfo_all_lock);
	LIST_FOREACH(li, &loginfo_all, li_entry)
		pthread_mutex_lock(&li->li_mtx);
}

/* In the parent: carry on. */
static void
loginfo_atfork_parent(void)
{
	struct loginfo	*li;

	LIST_FOREACH(li, &loginfo_all, li_entry)
		pthread_mutex_unlock(&li->li_mtx);
	pthread_mutex_unlock(&loginfo_all_lock);
}

/*
 * In the child no loginfo thread exists: every object (and the
 * connection in it, the parent's, never to be used nor closed here)
 * stays on loginfo_all, reachable and untouched. The loop's one hands
 * its queue to the object that loginfo_start() makes next.
 */
static void
loginfo_atfork_child(void)
{
	pthread_mutex_t	 m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t	 c = PTHREAD_COND_INITIALIZER;
	struct loginfo	*li;

	loginfo_all_lock = m;
	LIST_FOREACH(li, &loginfo_all, li_entry) {
		li->li_mtx = m;
		li->li_cond = c;
		li->li_gone = c;
		li->li_orphan = 1;
	}
	loginfo_heir = loginfo_cur;
	loginfo_cur = NULL;
}

/* On the loop: append one entry, or drop it when the ring is full. */
void
loginfo_login(const char *user, const char *ip, long long t)
{
	struct loginfo		*li = loginfo_cur;
	struct loginfo_entry	*e;
	uint64_t		 unsaid;

	if (li == NULL)
		return;
	pthread_mutex_lock(&li->li_mtx);
	if (li->li_count == LOGINFO_QUEUE_MAX || li->li_stopping) {
		pthread_mutex_unlock(&li->li_mtx);
		atomic_fetch_add(&loginfo_dropped, 1);
		loginfo_dropped_unsaid++;
		if (loginfo_due(&loginfo_drop_lastlog, time(NULL))) {
			unsaid = loginfo_dropped_unsaid;
			loginfo_dropped_unsaid = 0;
			log_warnx("loginfo: queue full (%d entries): %llu "
			    "dropped since last said", LOGINFO_QUEUE_MAX,
			    (unsigned long long)unsaid);
		}
		return;
	}
	e = &li->li_ring[(li->li_head + li->li_count) % LOGINFO_QUEUE_MAX];
	snprintf(e->le_user, sizeof(e->le_user), "%s", user);
	snprintf(e->le_ip, sizeof(e->le_ip), "%s", ip);
	e->le_time = t;
	e->le_attempts = 0;
	li->li_count++;
	atomic_fetch_add(&loginfo_queued, 1);
	pthread_cond_signal(&li->li_cond);
	pthread_mutex_unlock(&li->li_mtx);
}

/* On the thread: sleep up to seconds, or until told to stop. */
static void
loginfo_wait(struct loginfo *li, int seconds)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += seconds;
	pthread_mutex_lock(&li->li_mtx);
	while (!li->li_stopping &&
	    pthread_cond_timedwait(&li->li_cond, &li->li_mtx, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&li->li_mtx);
}

/* Expand and run the query for e; 0, or -1 with the reason in err. */
static int
loginfo_run(struct loginfo *li, struct loginfo_entry *e, char *err,
    size_t errsz)
{
	size_t	 len;
	int	 rc;

	li->li_query = loginfo_expand(li->li_my.my_query, e->le_user,
	    e->le_ip, li->li_host, e->le_time, dbm_escape_mysql, li->li_conn,
	    &len);
	if (li->li_query == NULL) {
		snprintf(err, errsz, "cannot expand the query: %s",
		    strerror(errno));
		return -1;
	}
	rc = dbm_exec(li->li_conn, li->li_query, len, err, errsz);
	free(li->li_query);
	li->li_query = NULL;
	return rc;
}

/*
 * The thread: connect (back-off 1 s doubling to 60 s on failure), take
 * the oldest entry, run it; an entry whose query failed on a live
 * connection is counted and dropped, one that met a lost connection is
 * tried again after reconnecting (a few times at most). Told to stop,
 * it writes what is queued first; when it cannot, the rest is counted
 * as dropped. A retired or abandoned object is freed here at the end.
 */
static void *
loginfo_main(void *arg)
{
	struct loginfo		*li = arg;
	struct loginfo_entry	 e;
	char			 err[512], esc[600], user[128];
	time_t			 conn_lastlog = 0, fail_lastlog = 0;
	int			 backoff = LOGINFO_BACKOFF_MIN, lost, ok;
	int			 stopping, detached;

	mysql_thread_init();
	for (;;) {
		pthread_mutex_lock(&li->li_mtx);
		while (li->li_count == 0 && !li->li_stopping)
			pthread_cond_wait(&li->li_cond, &li->li_mtx);
		if (li->li_count == 0) {
			pthread_mutex_unlock(&li->li_mtx);
			break;
		}
		e = li->li_ring[li->li_head];
		pthread_mutex_unlock(&li->li_mtx);

		if (li->li_conn == NULL) {
			if (dbm_connect(&li->li_my, &li->li_conn, err,
			    sizeof(err)) == NULL) {
				pthread_mutex_lock(&li->li_mtx);
				stopping = li->li_stopping;
				pthread_mutex_unlock(&li->li_mtx);
				if (stopping)
					break;	/* the rest is counted lost */
				if (loginfo_due(&conn_lastlog, time(NULL)))
					log_warnx("loginfo: %s; again in %d s",
					    log_escape(esc, sizeof(esc), err,
					    strlen(err)), backoff);
				loginfo_wait(li, backoff);
				backoff = backoff * 2 > LOGINFO_BACKOFF_MAX ?
				    LOGINFO_BACKOFF_MAX : backoff * 2;
				continue;
			}
			if (conn_lastlog != 0)
				log_info("loginfo: connected to %s again",
				    li->li_my.my_host ? li->li_my.my_host :
				    "localhost");
			conn_lastlog = 0;
			backoff = LOGINFO_BACKOFF_MIN;
		}

		ok = loginfo_run(li, &e, err, sizeof(err)) == 0;
		lost = !ok && dbm_conn_lost(li->li_conn);
		pthread_mutex_lock(&li->li_mtx);
		if (lost && li->li_count > 0 &&
		    ++li->li_ring[li->li_head].le_attempts < LOGINFO_ATTEMPTS) {
			/* Keep the entry; reconnect first. */
			pthread_mutex_unlock(&li->li_mtx);
			if (loginfo_due(&conn_lastlog, time(NULL)))
				log_warnx("loginfo: %s; reconnecting",
				    log_escape(esc, sizeof(esc), err,
				    strlen(err)));
			mysql_close(li->li_conn);
			li->li_conn = NULL;
			continue;
		}
		atomic_fetch_add(ok ? &loginfo_sent : &loginfo_failed, 1);
		if (li->li_count > 0) {	/* loginfo_stop() may have emptied it */
			li->li_head = (li->li_head + 1) % LOGINFO_QUEUE_MAX;
			li->li_count--;
		}
		pthread_mutex_unlock(&li->li_mtx);
		if (!ok && loginfo_due(&fail_lastlog, time(NULL)))
			log_warnx("loginfo: query for user \"%s\" failed: %s",
			    log_escape(user, sizeof(user), e.le_user,
			    strlen(e.le_user)),
			    log_escape(esc, sizeof(esc), err, strlen(err)));
		if (lost) {
			mysql_close(li->li_conn);
			li->li_conn = NULL;
		}
	}
	if (li->li_conn != NULL)
		mysql_close(li->li_conn);
	li->li_conn = NULL;
	mysql_thread_end();
	pthread_mutex_lock(&li->li_mtx);
	atomic_fetch_add(&loginfo_dropped, li->li_count);
	li->li_count = 0;
	li->li_done = 1;
	detached = li->li_detached;
	pthread_cond_signal(&li->li_gone);
	pthread_mutex_unlock(&li->li_mtx);
	if (detached)
		loginfo_free(li);
	return NULL;
}

/* Counters for SIGUSR1. */
void
loginfo_stats(uint64_t *queued, uint64_t *sent, uint64_t *dropped,
    uint64_t *failed)
{
	*queued = atomic_load(&loginfo_queued);
	*sent = atomic_load(&loginfo_sent);
	*dropped = atomic_load(&loginfo_dropped);
	*failed = atomic_load(&loginfo_failed);
}

/*
 * Tell the loop's object to stop and wait for its thread at most
 * wait_ms. A thread that is done is joined and its object freed; one
 * that is not is detached and frees the object itself when it ends.
 * With drop, what is still queued is counted as dropped now (exit).
 */
static void
loginfo_release(int wait_ms, int drop)
{
	struct loginfo	*li = loginfo_cur;
	struct timespec	 ts;
	size_t		 left = 0;
	int		 done;

	if (li == NULL)
		return;
	loginfo_cur = NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += wait_ms / 1000;
	ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&li->li_mtx);
	li->li_stopping = 1;
	pthread_cond_broadcast(&li->li_cond);
	while (wait_ms > 0 && !li->li_done &&
	    pthread_cond_timedwait(&li->li_gone, &li->li_mtx, &ts) != ETIMEDOUT)
		;
	done = li->li_done;
	if (!done) {
		/*
		 * Detached under the lock: once li_detached is seen, the
		 * thread may free li the moment the lock is released.
		 */
		pthread_detach(li->li_thread);
		li->li_detached = 1;
		if (drop) {
			left = li->li_count;
			atomic_fetch_add(&loginfo_dropped, left);
			li->li_count = 0;
		}
	}
	pthread_mutex_unlock(&li->li_mtx);
	if (done) {
		pthread_join(li->li_thread, NULL);
		loginfo_free(li);
		return;
	}
	if (drop)
		log_warnx("loginfo: the thread does not stop; left behind, "
		    "%zu entries not written", left);
	else
		log_debug("loginfo: the old settings' thread finishes on its "
		    "own");
}

/* SIGHUP with new settings: see loginfo.h. */
void
loginfo_retire(void)
{
	loginfo_release(0, 0);
}

/* At exit: see loginfo.h. */
void
loginfo_stop(void)
{
	if (loginfo_heir != NULL) {	/* a drain child that never restarted */
		atomic_fetch_add(&loginfo_dropped, loginfo_heir->li_count);
		loginfo_heir->li_count = 0;
		loginfo_heir = NULL;
	}
	loginfo_release(LOGINFO_EXIT_WAIT_MS, 1);
}
