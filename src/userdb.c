/*
 * User databases (docs/userdb.md): the dispatch to the backend the
 * configuration names (userdb_system.c, userdb_file.c, userdb_mysql.c,
 * each one struct userdb_ops), reference counting, the fork handlers, and
 * the hash setting an unknown user's dummy check uses.
 */

#include <sys/queue.h>

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "passwd.h"
#include "userdb.h"
#include "userdb_backend.h"
#include "userdb_file.h"
#include "userdb_mysql.h"
#include "userdb_system.h"

/* An open database: a backend and its state. */
struct userdb {
	LIST_ENTRY(userdb)	 ud_entry;	/* userdb_all */
	const struct userdb_ops	*ud_ops;
	void			*ud_priv;	/* the backend's state */
	unsigned int		 ud_refs;	/* loop thread only */
	/*
	 * For a backend without uo_setting (system, mysql): the setting of
	 * the last hash a lookup found, which userdb_dummy() then uses, so
	 * that an unknown user costs what the accounts in use cost rather
	 * than what the system's preferred method would.
	 */
	pthread_mutex_t		 ud_seen_lock;
	char			 ud_seen[CRYPT_OUTPUT_SIZE];
};

static const struct userdb_ops *userdb_ops_find(enum userdb_kind);
static void	 userdb_atfork_init(void);
static void	 userdb_atfork_prepare(void);
static void	 userdb_atfork_parent(void);
static void	 userdb_atfork_child(void);

static const struct userdb_ops *const userdb_kinds[] = {
	&userdb_system_ops,
	&userdb_file_ops,
	&userdb_mysql_ops,
};

/*
 * Every open database, so that a fork (the TERM drain) can take their
 * locks first: a child must find each of them free, whatever a worker
 * was doing. Workers hold these locks only for a moment.
 */
static pthread_once_t	 userdb_atfork_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t	 userdb_all_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(, userdb) userdb_all = LIST_HEAD_INITIALIZER(userdb_all);

/* The backend for a kind, or NULL. */
static const struct userdb_ops *
userdb_ops_find(enum userdb_kind kind)
{
	size_t	 i;

	for (i = 0; i < sizeof(userdb_kinds) / sizeof(userdb_kinds[0]); i++)
		if (userdb_kinds[i]->uo_kind == kind)
			return userdb_kinds[i];
	return NULL;
}

/* Register the fork handlers, once. */
static void
userdb_atfork_init(void)
{
	pthread_atfork(userdb_atfork_prepare, userdb_atfork_parent,
	    userdb_atfork_child);
}

/* Before fork: every database's short-lived locks. */
static void
userdb_atfork_prepare(void)
{
	struct userdb	*db;

	pthread_mutex_lock(&userdb_all_lock);
	LIST_FOREACH(db, &userdb_all, ud_entry) {
		pthread_mutex_lock(&db->ud_seen_lock);
		if (db->ud_ops->uo_fork != NULL)
			db->ud_ops->uo_fork(db->ud_priv, USERDB_FORK_PREPARE);
	}
}

/* In the parent after fork: give them back. */
static void
userdb_atfork_parent(void)
{
	struct userdb	*db;

	LIST_FOREACH(db, &userdb_all, ud_entry) {
		if (db->ud_ops->uo_fork != NULL)
			db->ud_ops->uo_fork(db->ud_priv, USERDB_FORK_PARENT);
		pthread_mutex_unlock(&db->ud_seen_lock);
	}
	pthread_mutex_unlock(&userdb_all_lock);
}

/* In the child after fork: fresh locks (this is the only thread). */
static void
userdb_atfork_child(void)
{
	pthread_mutex_t	 m = PTHREAD_MUTEX_INITIALIZER;
	struct userdb	*db;

	userdb_all_lock = m;
	LIST_FOREACH(db, &userdb_all, ud_entry) {
		db->ud_seen_lock = m;
		if (db->ud_ops->uo_fork != NULL)
			db->ud_ops->uo_fork(db->ud_priv, USERDB_FORK_CHILD);
	}
}

/* Open the database cf names; NULL with err set when it cannot be used. */
struct userdb *
userdb_open(const struct config *cf, char *err, size_t errsz)
{
	const struct userdb_ops	*ops;
	struct userdb		*db;

	if ((ops = userdb_ops_find(cf->cf_userdb)) == NULL) {
		log_seterr(err, errsz, "userdb: unknown kind %d",
		    (int)cf->cf_userdb);
		return NULL;
	}
	if ((db = calloc(1, sizeof(*db))) == NULL) {
		log_seterr(err, errsz, "userdb %s: %s", ops->uo_name,
		    strerror(errno));
		return NULL;
	}
	db->ud_ops = ops;
	db->ud_refs = 1;
	pthread_mutex_init(&db->ud_seen_lock, NULL);
	if (ops->uo_open != NULL &&
	    ops->uo_open(&db->ud_priv, cf, err, errsz) == -1) {
		pthread_mutex_destroy(&db->ud_seen_lock);
		free(db);
		return NULL;
	}
	pthread_once(&userdb_atfork_once, userdb_atfork_init);
	pthread_mutex_lock(&userdb_all_lock);
	LIST_INSERT_HEAD(&userdb_all, db, ud_entry);
	pthread_mutex_unlock(&userdb_all_lock);
	return db;
}

/* One more holder of db (a queued lookup, or the process after reload). */
struct userdb *
userdb_ref(struct userdb *db)
{
	db->ud_refs++;
	return db;
}

/*
 * Drop a reference; the last one closes the database. NULL is fine. No
 * lookup may be running on a database whose last reference goes.
 */
void
userdb_close(struct userdb *db)
{
	if (db == NULL || --db->ud_refs > 0)
		return;
	pthread_mutex_lock(&userdb_all_lock);
	LIST_REMOVE(db, ud_entry);
	pthread_mutex_unlock(&userdb_all_lock);
	if (db->ud_ops->uo_close != NULL)
		db->ud_ops->uo_close(db->ud_priv);
	pthread_mutex_destroy(&db->ud_seen_lock);
	free(db);
}

/* Look name up into e (heap copies); err says why on TEMPFAIL. */
enum userdb_status
userdb_lookup(struct userdb *db, const char *name, struct userdb_entry *e,
    char *err, size_t errsz)
{
	enum userdb_status	 st;
	char			 setting[CRYPT_OUTPUT_SIZE];

	memset(e, 0, sizeof(*e));
	log_seterr(err, errsz, "%s", "");
	st = db->ud_ops->uo_lookup(db->ud_priv, name, e, err, errsz);
	/* Learn the kind of hash in use, for userdb_dummy(). */
	if (st == USERDB_FOUND && db->ud_ops->uo_setting == NULL &&
	    e->ue_password != NULL &&
	    passwd_setting_of(e->ue_password, setting, sizeof(setting)) == 0) {
		pthread_mutex_lock(&db->ud_seen_lock);
		if (strcmp(db->ud_seen, setting) != 0)
			memcpy(db->ud_seen, setting, sizeof(db->ud_seen));
		pthread_mutex_unlock(&db->ud_seen_lock);
		explicit_bzero(setting, sizeof(setting));
	}
	return st;
}

/* For popserv -t: check the database cf names; returns the error count. */
int
userdb_check(const struct config *cf, struct config_msgs *msgs)
{
	const struct userdb_ops	*ops;

	if ((ops = userdb_ops_find(cf->cf_userdb)) == NULL) {
		config_msg_add(msgs, 1, cf->cf_path, 0, "userdb",
		    "unknown kind %d", (int)cf->cf_userdb);
		return 1;
	}
	if (ops->uo_check == NULL)
		return 0;
	return ops->uo_check(cf, msgs);
}

/*
 * For an unknown user: passwd_dummy() against the setting of the kind of
 * hash the database uses (a file's first valid hash; for the system and
 * mysql databases, that of the last hash a lookup found; else the
 * system's preferred method).
 */
void
userdb_dummy(struct userdb *db, const char *secret, size_t secretlen,
    int hashed)
{
	char	 setting[CRYPT_OUTPUT_SIZE];

	setting[0] = '\0';
	if (secret != NULL && hashed && db != NULL) {
		if (db->ud_ops->uo_setting != NULL) {
			if (db->ud_ops->uo_setting(db->ud_priv, setting,
			    sizeof(setting)) == -1)
				setting[0] = '\0';
		} else {
			pthread_mutex_lock(&db->ud_seen_lock);
			memcpy(setting, db->ud_seen, sizeof(setting));
			pthread_mutex_unlock(&db->ud_seen_lock);
		}
	}
	passwd_dummy(setting, secret, secretlen, hashed);
	explicit_bzero(setting, sizeof(setting));
}
