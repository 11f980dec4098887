/* userdb mysql: user rows from MySQL, queried on the workers. */
#ifndef USERDB_MYSQL_H
#define USERDB_MYSQL_H

#include "userdb_backend.h"

/*
 * open copies the userdb.* settings (no connection yet); lookup uses
 * this thread's connection, made or remade as needed (the server
 * unreachable, or a row it gives that cannot be used, is
 * USERDB_TEMPFAIL; no row is USERDB_NOTFOUND); close closes every
 * thread's connection (no lookup may be running); check tests the
 * settings and tries to connect.
 */
extern const struct userdb_ops userdb_mysql_ops;

#endif
