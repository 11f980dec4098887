/*
 * userdb mysql: one row per user from userdb.query, on the worker
 * threads. Each thread keeps a connection of its own (a pthread key),
 * made at its first lookup and remade after a failure; a server that
 * cannot be reached is a temporary failure, never "no such user".
 *
 * A worker can be stuck in a server that trickles bytes when the TERM
 * drain forks: the child's fresh threads make connections of their own,
 * and the ones the parent's threads had are left alone there (never
 * used nor closed: they are the parent's), kept reachable on
 * udm_orphans. udm_lock is never held across a call that can wait, and
 * is taken around fork(2), so a child always finds it free.
 */

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>

#include "config.h"
#include "dbmysql.h"
#include "log.h"
#include "userdb_entry.h"
#include "userdb_mysql.h"

#define UDM_NCOLUMNS	5	/* password, uid, gid, home, shell */
#define UDM_RETRY_SECS	1	/* after a failed connect, fail fast */

/*
 * One thread's connection. uc_mysql (also while connecting), uc_query
 * and uc_res are kept here rather than on the thread's stack, so that
 * they stay reachable in a child that does not have the thread.
 */
struct udm_conn {
	TAILQ_ENTRY(udm_conn)	 uc_entry;
	struct userdb_mysql	*uc_um;
	pid_t			 uc_pid;	/* the process of its thread */
	MYSQL			*uc_mysql;	/* NULL: not connected */
	char			*uc_query;	/* being run */
	MYSQL_RES		*uc_res;	/* being read */
	time_t			 uc_retry;	/* no connect before this */
};

TAILQ_HEAD(udm_conns, udm_conn);

struct userdb_mysql {
	struct cfg_mysql	 um_my;
	pthread_key_t		 um_key;
	struct udm_conns	 um_conns;	/* under udm_lock */
};

static int	 userdb_mysql_open(void **, const struct config *, char *,
		    size_t);
static enum userdb_status userdb_mysql_lookup(void *, const char *,
		    struct userdb_entry *, char *, size_t);
static void	 userdb_mysql_close(void *);
static int	 userdb_mysql_check(const struct config *,
		    struct config_msgs *);
static struct udm_conn *udm_conn_get(struct userdb_mysql *);
static void	 udm_conn_drop(struct udm_conn *);
static int	 udm_connect(struct userdb_mysql *, struct udm_conn *, char *,
		    size_t);
static enum userdb_status udm_query(struct userdb_mysql *,
		    struct udm_conn *, const char *, struct userdb_entry *,
		    int *, char *, size_t);
static enum userdb_status udm_row(MYSQL_RES *, const char *,
		    struct userdb_entry *, char *, size_t);
static int	 udm_id(const char *, unsigned long, uintmax_t, uintmax_t *);
static void	 udm_thread_end(void *);
static void	 udm_atfork_init(void);
static void	 udm_atfork_prepare(void);
static void	 udm_atfork_parent(void);
static void	 udm_atfork_child(void);

/* No hash setting to tell (userdb.c learns it), no fork handler there. */
const struct userdb_ops userdb_mysql_ops = {
	USERDB_MYSQL, "mysql", userdb_mysql_open, userdb_mysql_lookup,
	userdb_mysql_close, NULL, userdb_mysql_check, NULL
};

static pthread_once_t	 udm_atfork_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t	 udm_lock = PTHREAD_MUTEX_INITIALIZER;
/* Connections of a parent's threads, in a forked child: left alone. */
static struct udm_conns	 udm_orphans = TAILQ_HEAD_INITIALIZER(udm_orphans);

/* udm_lock is free in a forked child (the TERM drain). */
static void
udm_atfork_init(void)
{
	pthread_atfork(udm_atfork_prepare, udm_atfork_parent,
	    udm_atfork_child);
}

/* Before fork: take udm_lock, held only for a moment by anyone. */
static void
udm_atfork_prepare(void)
{
	pthread_mutex_lock(&udm_lock);
}

/* In the parent after fork. */
static void
udm_atfork_parent(void)
{
	pthread_mutex_unlock(&udm_lock);
}

/* In the child after fork: a fresh lock. */
static void
udm_atfork_child(void)
{
	pthread_mutex_t	 m = PTHREAD_MUTEX_INITIALIZER;

	udm_lock = m;
}

/*
 * A worker that used the library exits (workers_stop(), or the pause
 * before the drain fork): close its connection and release its library
 * state, so no connection outlives its thread nor is shared by a fork.
 */
static void
udm_thread_end(void *arg)
{
	struct udm_conn		*uc = arg;
	struct userdb_mysql	*um = uc->uc_um;

	pthread_mutex_lock(&udm_lock);
	TAILQ_REMOVE(&um->um_conns, uc, uc_entry);
	pthread_mutex_unlock(&udm_lock);
	udm_conn_drop(uc);
	free(uc);
	mysql_thread_end();
}

/* Copy the settings; connections come later, one per thread. */
static int
userdb_mysql_open(void **privp, const struct config *cf, char *err,
    size_t errsz)
{
	const struct cfg_mysql	*my = &cf->cf_userdb_mysql;
	struct userdb_mysql	*um;
	struct dbm_target	 t;
	char			 why[256];
	int			 error;

	if (my->my_query == NULL || my->my_query[0] == '\0') {
		log_seterr(err, errsz, "userdb mysql: no userdb.query");
		return -1;
	}
	if (dbm_parse_host(my->my_host, &t, why, sizeof(why)) == -1) {
		log_seterr(err, errsz, "userdb mysql: userdb.host: %s", why);
		return -1;
	}
	if ((um = calloc(1, sizeof(*um))) == NULL) {
		log_seterr(err, errsz, "userdb mysql: %s", strerror(errno));
		return -1;
	}
#define UDM_DUP(f)	(my->f == NULL || (um->um_my.f = strdup(my->f)) != NULL)
	if (!UDM_DUP(my_host) || !UDM_DUP(my_user) || !UDM_DUP(my_password) ||
	    !UDM_DUP(my_database) || !UDM_DUP(my_query)) {
		config_mysql_free(&um->um_my);
		free(um);
		log_seterr(err, errsz, "userdb mysql: %s", strerror(ENOMEM));
		return -1;
	}
#undef UDM_DUP
	if ((error = pthread_key_create(&um->um_key, udm_thread_end)) != 0) {
		config_mysql_free(&um->um_my);
		free(um);
		log_seterr(err, errsz, "userdb mysql: %s", strerror(error));
		return -1;
	}
	pthread_once(&udm_atfork_once, udm_atfork_init);
	TAILQ_INIT(&um->um_conns);
	/* Here, on the main thread, before any worker uses the library. */
	dbm_library_init();
	*privp = um;
	return 0;
}

/* This thread's connection slot, made at its first lookup. */
static struct udm_conn *
udm_conn_get(struct userdb_mysql *um)
{
	struct udm_conn	*uc;

	if ((uc = pthread_getspecific(um->um_key)) != NULL)
		return uc;
	if ((uc = calloc(1, sizeof(*uc))) == NULL)
		return NULL;
	uc->uc_um = um;
	uc->uc_pid = getpid();
	if (pthread_setspecific(um->um_key, uc) != 0) {
		free(uc);
		return NULL;
	}
	mysql_thread_init();
	pthread_mutex_lock(&udm_lock);
	TAILQ_INSERT_TAIL(&um->um_conns, uc, uc_entry);
	pthread_mutex_unlock(&udm_lock);
	return uc;
}

/* Forget a broken connection; the next lookup makes a new one. */
static void
udm_conn_drop(struct udm_conn *uc)
{
	if (uc->uc_mysql != NULL)
		mysql_close(uc->uc_mysql);
	uc->uc_mysql = NULL;
}

/*
 * Connect this thread's slot. After a failure the next try waits
 * UDM_RETRY_SECS, so a dead server costs each login one quick answer
 * rather than a connect timeout.
 */
static int
udm_connect(struct userdb_mysql *um, struct udm_conn *uc, char *err,
    size_t errsz)
{
	char	 why[512];
	time_t	 now = time(NULL);

	if (uc->uc_mysql != NULL)
		return 0;
	if (now < uc->uc_retry) {
		log_seterr(err, errsz, "userdb mysql: server unreachable, "
		    "not retried yet");
		return -1;
	}
	if (dbm_connect(&um->um_my, &uc->uc_mysql, why, sizeof(why)) ==
	    NULL) {
		uc->uc_retry = now + UDM_RETRY_SECS;
		log_seterr(err, errsz, "userdb mysql: %s", why);
		return -1;
	}
	uc->uc_retry = 0;
	return 0;
}

/* A uid or gid column: decimal digits only, below max. */
static int
udm_id(const char *s, unsigned long len, uintmax_t max, uintmax_t *out)
{
	uintmax_t	 v = 0;
	unsigned long	 i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (max - (uintmax_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uintmax_t)(s[i] - '0');
	}
	if (v >= max)
		return -1;
	*out = v;
	return 0;
}

/* Copy the first row of res into e; a row that cannot be used TEMPFAILs. */
static enum userdb_status
udm_row(MYSQL_RES *res, const char *name, struct userdb_entry *e, char *err,
    size_t errsz)
{
	static const char *const cols[UDM_NCOLUMNS] = {
		"password", "uid", "gid", "home", "shell"
	};
	MYSQL_ROW	 row;
	unsigned long	*lens;
	uintmax_t	 uid, gid;
	unsigned int	 i;

	if (mysql_num_fields(res) < UDM_NCOLUMNS) {
		log_seterr(err, errsz, "userdb mysql: the query gives %u "
		    "columns, %d expected (password, uid, gid, home, shell)",
		    mysql_num_fields(res), UDM_NCOLUMNS);
		return USERDB_TEMPFAIL;
	}
	if ((row = mysql_fetch_row(res)) == NULL)
		return USERDB_NOTFOUND;
	lens = mysql_fetch_lengths(res);
	for (i = 0; i < UDM_NCOLUMNS; i++) {
		if (row[i] == NULL) {
			log_seterr(err, errsz, "userdb mysql: %s is NULL",
			    cols[i]);
			return USERDB_TEMPFAIL;
		}
		if (memchr(row[i], '\0', lens[i]) != NULL) {
			log_seterr(err, errsz, "userdb mysql: NUL byte in %s",
			    cols[i]);
			return USERDB_TEMPFAIL;
		}
	}
	if (udm_id(row[1], lens[1], (uid_t)-1, &uid) == -1) {
		log_seterr(err, errsz, "userdb mysql: uid is not a number "
		    "in range");
		return USERDB_TEMPFAIL;
	}
	if (udm_id(row[2], lens[2], (gid_t)-1, &gid) == -1) {
		log_seterr(err, errsz, "userdb mysql: gid is not a number "
		    "in range");
		return USERDB_TEMPFAIL;
	}
	if (row[3][0] != '/') {
		log_seterr(err, errsz, "userdb mysql: home is not an "
		    "absolute path");
		return USERDB_TEMPFAIL;
	}
	memset(e, 0, sizeof(*e));
	e->ue_uid = (uid_t)uid;
	e->ue_gid = (gid_t)gid;
	if ((e->ue_name = strdup(name)) == NULL ||
	    (e->ue_password = strdup(row[0])) == NULL ||
	    (e->ue_home = strdup(row[3])) == NULL ||
	    (e->ue_shell = strdup(row[4])) == NULL) {
		userdb_entry_clear(e);
		log_seterr(err, errsz, "userdb mysql: %s", strerror(ENOMEM));
		return USERDB_TEMPFAIL;
	}
	return USERDB_FOUND;
}

/* Run the query for name on uc; *lost says the connection is gone. */
static enum userdb_status
udm_query(struct userdb_mysql *um, struct udm_conn *uc, const char *name,
    struct userdb_entry *e, int *lost, char *err, size_t errsz)
{
	struct dbm_var		 var = { 'u', name };
	enum userdb_status	 st;
	MYSQL			*m = uc->uc_mysql;
	size_t			 len;
	int			 rc;

	*lost = 0;
	if ((uc->uc_query = dbm_expand(um->um_my.my_query, &var, 1,
	    dbm_escape_mysql, m, &len)) == NULL) {
		log_seterr(err, errsz, "userdb mysql: cannot expand the "
		    "query: %s", strerror(errno));
		return USERDB_TEMPFAIL;
	}
	rc = mysql_real_query(m, uc->uc_query, (unsigned long)len);
	free(uc->uc_query);
	uc->uc_query = NULL;
	if (rc != 0) {
		*lost = dbm_conn_lost(m);
		log_seterr(err, errsz, "userdb mysql: query: %s",
		    mysql_error(m));
		return USERDB_TEMPFAIL;
	}
	if ((uc->uc_res = mysql_store_result(m)) == NULL) {
		*lost = dbm_conn_lost(m);
		log_seterr(err, errsz, "userdb mysql: %s",
		    mysql_field_count(m) == 0 ? "the query returns no rows" :
		    mysql_error(m));
		return USERDB_TEMPFAIL;
	}
	st = udm_row(uc->uc_res, name, e, err, errsz);
	mysql_free_result(uc->uc_res);
	uc->uc_res = NULL;
	/* A CALL leaves more results: read them so the link stays usable. */
	while (mysql_more_results(m) && mysql_next_result(m) == 0)
		if ((uc->uc_res = mysql_store_result(m)) != NULL) {
			mysql_free_result(uc->uc_res);
			uc->uc_res = NULL;
		}
	return st;
}

/*
 * Look name up. A connection that turns out to be lost (the server
 * restarted, a timeout) is remade and the query tried once more.
 */
static enum userdb_status
userdb_mysql_lookup(void *priv, const char *name, struct userdb_entry *e,
    char *err, size_t errsz)
{
	struct userdb_mysql	*um = priv;
	struct udm_conn		*uc;
	enum userdb_status	 st;
	int			 lost, attempt;

	if (name[0] == '\0')
		return USERDB_NOTFOUND;
	if ((uc = udm_conn_get(um)) == NULL) {
		log_seterr(err, errsz, "userdb mysql: %s", strerror(ENOMEM));
		return USERDB_TEMPFAIL;
	}
	for (attempt = 0; attempt < 2; attempt++) {
		if (udm_connect(um, uc, err, errsz) == -1)
			return USERDB_TEMPFAIL;
		st = udm_query(um, uc, name, e, &lost, err, errsz);
		if (!lost)
			return st;
		udm_conn_drop(uc);
	}
	return USERDB_TEMPFAIL;
}

/*
 * Close every connection, those of live workers included (they are
 * idle: no lookup runs; deleting the key means their destructor will
 * not run for it). The calling thread's library state goes too. In a
 * forked child, the connections of the parent's threads (one may be
 * stuck in a lookup that will never end here) are not closed but kept
 * on udm_orphans: they are the parent's.
 */
static void
userdb_mysql_close(void *priv)
{
	struct userdb_mysql	*um = priv;
	struct udm_conns	 mine_conns;
	struct udm_conn		*uc;
	pid_t			 me = getpid();
	int			 mine;

	if (um == NULL)
		return;
	mine = pthread_getspecific(um->um_key) != NULL;
	TAILQ_INIT(&mine_conns);
	pthread_mutex_lock(&udm_lock);
	while ((uc = TAILQ_FIRST(&um->um_conns)) != NULL) {
		TAILQ_REMOVE(&um->um_conns, uc, uc_entry);
		uc->uc_um = NULL;
		if (uc->uc_pid != me)
			TAILQ_INSERT_TAIL(&udm_orphans, uc, uc_entry);
		else
			TAILQ_INSERT_TAIL(&mine_conns, uc, uc_entry);
	}
	pthread_mutex_unlock(&udm_lock);
	/* mysql_close() talks to the server: not under udm_lock. */
	while ((uc = TAILQ_FIRST(&mine_conns)) != NULL) {
		TAILQ_REMOVE(&mine_conns, uc, uc_entry);
		udm_conn_drop(uc);
		free(uc);
	}
	pthread_setspecific(um->um_key, NULL);
	pthread_key_delete(um->um_key);
	config_mysql_free(&um->um_my);
	free(um);
	if (mine)
		mysql_thread_end();
	dbm_library_end();
}

/* popserv -t: the settings must parse; an unreachable server warns. */
static int
userdb_mysql_check(const struct config *cf, struct config_msgs *msgs)
{
	const struct cfg_mysql	*my = &cf->cf_userdb_mysql;
	struct dbm_target	 t;
	MYSQL			*m;
	char			 why[512], esc[600];

	if (my->my_query == NULL || my->my_query[0] == '\0') {
		config_msg_add(msgs, 1, cf->cf_path, 0, "userdb",
		    "mysql: no userdb.query");
		return 1;
	}
	if (dbm_parse_host(my->my_host, &t, why, sizeof(why)) == -1) {
		config_msg_add(msgs, 1, cf->cf_path, 0, "userdb.host",
		    "%s", why);
		return 1;
	}
	dbm_library_init();
	if ((m = dbm_connect(my, NULL, why, sizeof(why))) == NULL)
		config_msg_add(msgs, 0, cf->cf_path, 0, "userdb",
		    "mysql: %s (logins fail with [SYS/TEMP] meanwhile)",
		    log_escape(esc, sizeof(esc), why, strlen(why)));
	else
		mysql_close(m);
	mysql_thread_end();
	dbm_library_end();
	return 0;
}
