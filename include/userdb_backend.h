/*
 * What a user database backend gives userdb.c (the dispatch): one
 * struct userdb_ops, as OpenSMTPD's table backends do. Private to
 * userdb*.c.
 */
#ifndef USERDB_BACKEND_H
#define USERDB_BACKEND_H

#include <stddef.h>

#include "config.h"
#include "userdb_entry.h"

/* Around fork(2), for the backends' locks: see userdb_atfork_prepare(). */
enum userdb_fork {
	USERDB_FORK_PREPARE,
	USERDB_FORK_PARENT,
	USERDB_FORK_CHILD
};

/*
 * One backend: the kind of database the configuration names. open makes
 * the backend's state (*privp, handed to every other call; it may stay
 * NULL); lookup runs on the worker threads, concurrently; setting
 * (optional) gives the crypt setting of the hashes in use, for
 * userdb_dummy(); check (optional) serves popserv -t; fork (optional)
 * keeps the backend's locks usable in a forked child.
 */
struct userdb_ops {
	enum userdb_kind	 uo_kind;
	const char		*uo_name;
	int	(*uo_open)(void **privp, const struct config *, char *,
		    size_t);
	enum userdb_status (*uo_lookup)(void *, const char *,
		    struct userdb_entry *, char *, size_t);
	void	(*uo_close)(void *);
	int	(*uo_setting)(void *, char *, size_t);
	int	(*uo_check)(const struct config *, struct config_msgs *);
	void	(*uo_fork)(void *, enum userdb_fork);
};

#endif
