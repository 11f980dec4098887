/* userdb mysql (SPEC §2): user rows from MySQL, queried on the workers. */
#ifndef USERDB_MYSQL_H
#define USERDB_MYSQL_H

#include <stddef.h>

#include "userdb.h"

struct config;
struct config_msgs;
struct userdb_mysql;

/* Copy the userdb.* settings; no connection yet. NULL with err set. */
struct userdb_mysql *userdb_mysql_open(const struct config *, char *err,
		    size_t errsz);
/*
 * Look name up with this thread's connection (made or remade as needed).
 * The server unreachable, or a row it gives that cannot be used, is
 * USERDB_TEMPFAIL with the reason in err; no row is USERDB_NOTFOUND.
 */
enum userdb_status userdb_mysql_lookup(struct userdb_mysql *,
		    const char *name, struct userdb_entry *, char *err,
		    size_t errsz);
/* Close every thread's connection. No lookup may be running. */
void		 userdb_mysql_close(struct userdb_mysql *);
/* popserv -t: check the settings and try to connect. Error count. */
int		 userdb_mysql_check(const struct config *,
		    struct config_msgs *);

#endif
