/*
 * loginfo: run loginfo.query on MySQL for each successful login. The loop
 * only appends to a bounded ring; one thread of its own connects, expands
 * the query with mysql_real_escape_string() and runs it, and reconnects
 * with a back-off. When the server is down or slow, the ring fills and
 * new entries are dropped and counted: logins never wait.
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
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
#define LOGINFO_STOP_WAIT	(2 * DBM_TIMEOUT + 2)	/* seconds */

/* One login waiting to be written. */
struct loginfo_entry {
	char		 le_user[AUTH_NAME_MAX];
	char		 le_ip[64];
	long long	 le_time;
	int		 le_attempts;
};

static void	*loginfo_main(void *);
static int	 loginfo_run(MYSQL *, struct loginfo_entry *, char *, size_t);
static void	 loginfo_wait(int);
static void	 loginfo_settings_free(void);
static int	 loginfo_due(time_t *, time_t);
static int	 loginfo_spawn(void);
static void	 loginfo_atfork_init(void);
static void	 loginfo_atfork_prepare(void);
static void	 loginfo_atfork_parent(void);
static void	 loginfo_atfork_child(void);

/*
 * li_mtx guards the ring, the counters and li_stopping; the settings are
 * written before the thread starts and after it ends, read-only between.
 */
static pthread_once_t	 loginfo_atfork_once = PTHREAD_ONCE_INIT;

static struct {
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;	/* work arrived, or stop */
	pthread_cond_t		 gone;	/* the thread is done */
	struct loginfo_entry	*ring;
	size_t			 head;
	size_t			 count;
	int			 running;
	int			 stopping;
	int			 done;
	int			 respawn;	/* forked: start anew */
	pthread_t		 thread;
	MYSQL			*conn;		/* the thread's */
	MYSQL			*orphan;	/* the parent's, after fork */
	struct cfg_mysql	 my;
	char			*host;	/* %h */

	uint64_t		 queued;
	uint64_t		 sent;
	uint64_t		 dropped;
	uint64_t		 failed;
	uint64_t		 dropped_unsaid;
	time_t			 drop_lastlog;
} li = {
	.mtx = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.gone = PTHREAD_COND_INITIALIZER,
};

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

/* Free the copied settings. */
static void
loginfo_settings_free(void)
{
	config_mysql_free(&li.my);
	free(li.host);
	li.host = NULL;
}

/* Copy the settings and start the thread. */
int
loginfo_start(const struct config *cf)
{
	const struct cfg_mysql	*my = &cf->cf_loginfo;

#define LI_DUP(dst, src)	((src) == NULL || ((dst) = strdup(src)) != NULL)
	if (my->my_query == NULL || my->my_query[0] == '\0' || li.running)
		return 0;
	if (!LI_DUP(li.my.my_host, my->my_host) ||
	    !LI_DUP(li.my.my_user, my->my_user) ||
	    !LI_DUP(li.my.my_password, my->my_password) ||
	    !LI_DUP(li.my.my_database, my->my_database) ||
	    !LI_DUP(li.my.my_query, my->my_query) ||
	    !LI_DUP(li.host, cf->cf_hostname) ||
	    (li.ring = calloc(LOGINFO_QUEUE_MAX, sizeof(*li.ring))) == NULL) {
		log_warn("loginfo");
		loginfo_settings_free();
		return -1;
	}
#undef LI_DUP
	pthread_once(&loginfo_atfork_once, loginfo_atfork_init);
	dbm_library_init();
	if (loginfo_spawn() == -1) {
		free(li.ring);
		li.ring = NULL;
		loginfo_settings_free();
		dbm_library_end();
		return -1;
	}
	log_debug("loginfo: logging to %s",
	    li.my.my_host ? li.my.my_host : "localhost");
	return 0;
}

/* Start the thread on an empty ring, with every signal blocked. */
static int
loginfo_spawn(void)
{
	sigset_t	 all, old;
	int		 error;

	li.head = li.count = 0;
	li.stopping = li.done = li.respawn = 0;
	li.conn = NULL;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	error = pthread_create(&li.thread, NULL, loginfo_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (error != 0) {
		errno = error;
		log_warn("loginfo: pthread_create");
		return -1;
	}
	li.running = 1;
	return 0;
}

/* Keep the ring consistent across fork(2) (the TERM drain). */
static void
loginfo_atfork_init(void)
{
	pthread_atfork(loginfo_atfork_prepare, loginfo_atfork_parent,
	    loginfo_atfork_child);
}

/* Before fork: no thread may hold the ring's lock in the child. */
static void
loginfo_atfork_prepare(void)
{
	pthread_mutex_lock(&li.mtx);
}

/* In the parent: carry on. */
static void
loginfo_atfork_parent(void)
{
	pthread_mutex_unlock(&li.mtx);
}

/*
 * In the child the thread is gone and its connection belongs to the
 * parent (never to be used nor closed here). Queued entries are the
 * parent's to write. A new thread starts at the next login.
 */
static void
loginfo_atfork_child(void)
{
	pthread_mutex_t	 m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t	 c = PTHREAD_COND_INITIALIZER;

	li.mtx = m;
	li.cond = c;
	li.gone = c;
	if (!li.running)
		return;
	li.running = 0;
	li.respawn = 1;
	li.orphan = li.conn;
	li.conn = NULL;
	li.head = li.count = 0;
}

/* On the loop: append one entry, or drop it when the ring is full. */
void
loginfo_login(const char *user, const char *ip, long long t)
{
	struct loginfo_entry	*e;
	uint64_t		 unsaid = 0;
	int			 say = 0;

	if (li.respawn && loginfo_spawn() == -1)
		li.respawn = 0;		/* logged; loginfo stays off here */
	if (!li.running)
		return;
	pthread_mutex_lock(&li.mtx);
	if (li.count == LOGINFO_QUEUE_MAX || li.stopping) {
		li.dropped++;
		li.dropped_unsaid++;
		if (loginfo_due(&li.drop_lastlog, time(NULL))) {
			say = 1;
			unsaid = li.dropped_unsaid;
			li.dropped_unsaid = 0;
		}
		pthread_mutex_unlock(&li.mtx);
		if (say)
			log_warnx("loginfo: queue full (%d entries): %llu "
			    "dropped since last said", LOGINFO_QUEUE_MAX,
			    (unsigned long long)unsaid);
		return;
	}
	e = &li.ring[(li.head + li.count) % LOGINFO_QUEUE_MAX];
	snprintf(e->le_user, sizeof(e->le_user), "%s", user);
	snprintf(e->le_ip, sizeof(e->le_ip), "%s", ip);
	e->le_time = t;
	e->le_attempts = 0;
	li.count++;
	li.queued++;
	pthread_cond_signal(&li.cond);
	pthread_mutex_unlock(&li.mtx);
}

/* On the thread: sleep up to seconds, or until told to stop. */
static void
loginfo_wait(int seconds)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += seconds;
	pthread_mutex_lock(&li.mtx);
	while (!li.stopping &&
	    pthread_cond_timedwait(&li.cond, &li.mtx, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&li.mtx);
}

/* Expand and run the query for e; 0, or -1 with the reason in err. */
static int
loginfo_run(MYSQL *m, struct loginfo_entry *e, char *err, size_t errsz)
{
	char	*q;
	size_t	 len;
	int	 rc;

	q = loginfo_expand(li.my.my_query, e->le_user, e->le_ip, li.host,
	    e->le_time, dbm_escape_mysql, m, &len);
	if (q == NULL) {
		snprintf(err, errsz, "cannot expand the query: %s",
		    strerror(errno));
		return -1;
	}
	rc = dbm_exec(m, q, len, err, errsz);
	free(q);
	return rc;
}

/*
 * The thread: connect (back-off 1 s doubling to 60 s on failure), take
 * the oldest entry, run it; an entry whose query failed on a live
 * connection is counted and dropped, one that met a lost connection is
 * tried again after reconnecting (a few times at most).
 */
static void *
loginfo_main(void *arg)
{
	struct loginfo_entry	 e;
	char			 err[512], esc[600], user[128];
	time_t			 conn_lastlog = 0, fail_lastlog = 0;
	int			 backoff = LOGINFO_BACKOFF_MIN, lost, ok;
	int			 stopping;

	(void)arg;
	mysql_thread_init();
	for (;;) {
		pthread_mutex_lock(&li.mtx);
		while (li.count == 0 && !li.stopping)
			pthread_cond_wait(&li.cond, &li.mtx);
		/* Stopping: write what is queued first (loginfo_stop waits). */
		if (li.count == 0) {
			pthread_mutex_unlock(&li.mtx);
			break;
		}
		e = li.ring[li.head];
		pthread_mutex_unlock(&li.mtx);

		if (li.conn == NULL) {
			if (dbm_connect(&li.my, &li.conn, err, sizeof(err)) ==
			    NULL) {
				pthread_mutex_lock(&li.mtx);
				stopping = li.stopping;
				pthread_mutex_unlock(&li.mtx);
				if (stopping)
					break;	/* the rest is counted lost */
				if (loginfo_due(&conn_lastlog, time(NULL)))
					log_warnx("loginfo: %s; again in %d s",
					    log_escape(esc, sizeof(esc), err,
					    strlen(err)), backoff);
				loginfo_wait(backoff);
				backoff = backoff * 2 > LOGINFO_BACKOFF_MAX ?
				    LOGINFO_BACKOFF_MAX : backoff * 2;
				continue;
			}
			if (conn_lastlog != 0)
				log_info("loginfo: connected to %s again",
				    li.my.my_host ? li.my.my_host :
				    "localhost");
			conn_lastlog = 0;
			backoff = LOGINFO_BACKOFF_MIN;
		}

		ok = loginfo_run(li.conn, &e, err, sizeof(err)) == 0;
		lost = !ok && dbm_conn_lost(li.conn);
		pthread_mutex_lock(&li.mtx);
		if (lost && li.count > 0 &&
		    ++li.ring[li.head].le_attempts < LOGINFO_ATTEMPTS) {
			/* Keep the entry; reconnect first. */
			pthread_mutex_unlock(&li.mtx);
			if (loginfo_due(&conn_lastlog, time(NULL)))
				log_warnx("loginfo: %s; reconnecting",
				    log_escape(esc, sizeof(esc), err,
				    strlen(err)));
			mysql_close(li.conn);
			li.conn = NULL;
			continue;
		}
		if (ok)
			li.sent++;
		else
			li.failed++;
		if (li.count > 0) {	/* loginfo_stop() may have emptied it */
			li.head = (li.head + 1) % LOGINFO_QUEUE_MAX;
			li.count--;
		}
		pthread_mutex_unlock(&li.mtx);
		if (!ok && loginfo_due(&fail_lastlog, time(NULL)))
			log_warnx("loginfo: query for user \"%s\" failed: %s",
			    log_escape(user, sizeof(user), e.le_user,
			    strlen(e.le_user)),
			    log_escape(esc, sizeof(esc), err, strlen(err)));
		if (lost) {
			mysql_close(li.conn);
			li.conn = NULL;
		}
	}
	if (li.conn != NULL)
		mysql_close(li.conn);
	li.conn = NULL;
	mysql_thread_end();
	pthread_mutex_lock(&li.mtx);
	li.done = 1;
	pthread_cond_signal(&li.gone);
	pthread_mutex_unlock(&li.mtx);
	return NULL;
}

/* Counters for SIGUSR1. */
void
loginfo_stats(uint64_t *queued, uint64_t *sent, uint64_t *dropped,
    uint64_t *failed)
{
	pthread_mutex_lock(&li.mtx);
	*queued = li.queued;
	*sent = li.sent;
	*dropped = li.dropped;
	*failed = li.failed;
	pthread_mutex_unlock(&li.mtx);
}

/*
 * Stop the thread. It notices at once unless it is inside the client
 * library, where DBM_TIMEOUT bounds every step; past LOGINFO_STOP_WAIT
 * it is left behind (the process is on its way out). Entries still
 * queued are counted as dropped.
 */
void
loginfo_stop(void)
{
	struct timespec	 ts;
	int		 done;

	if (!li.running && li.respawn) {	/* forked, never restarted */
		li.respawn = 0;
		free(li.ring);
		li.ring = NULL;
		loginfo_settings_free();
		dbm_library_end();
		return;
	}
	if (!li.running)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += LOGINFO_STOP_WAIT;
	pthread_mutex_lock(&li.mtx);
	li.stopping = 1;
	pthread_cond_broadcast(&li.cond);
	while (!li.done &&
	    pthread_cond_timedwait(&li.gone, &li.mtx, &ts) != ETIMEDOUT)
		;
	done = li.done;
	if (li.count > 0) {
		log_warnx("loginfo: %zu entries not written at exit",
		    li.count);
		li.dropped += li.count;
		li.count = 0;
	}
	pthread_mutex_unlock(&li.mtx);
	li.running = 0;
	if (!done) {
		log_warnx("loginfo: the thread does not stop; left behind");
		pthread_detach(li.thread);
		return;
	}
	pthread_join(li.thread, NULL);
	free(li.ring);
	li.ring = NULL;
	loginfo_settings_free();
	dbm_library_end();
}
