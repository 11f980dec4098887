/* User databases (docs/userdb.md): the dispatch to a backend, on workers. */
#ifndef USERDB_H
#define USERDB_H

#include <stddef.h>

#include "userdb_entry.h"

struct config;
struct config_msgs;
struct userdb;

/*
 * Open the database the configuration names. Thread-safe: lookups run
 * concurrently on the worker threads. NULL with a message in err when it
 * cannot be used at all (a missing file is not that: it is a TEMPFAIL at
 * lookup time, so it can appear later).
 */
struct userdb	*userdb_open(const struct config *, char *err, size_t errsz);
/*
 * Reference counting, on the loop thread only: userdb_open() returns one
 * reference, every queued lookup takes another, so a database replaced
 * on SIGHUP is closed only after the last lookup that uses it.
 * userdb_close() drops one and closes the database with the last.
 */
struct userdb	*userdb_ref(struct userdb *);
void		 userdb_close(struct userdb *);

/*
 * Look name up. A `userdb file` is re-read first when its mtime, size or
 * inode changed; malformed lines are logged with file:line and skipped.
 * On USERDB_TEMPFAIL, err says why (for the log, never for the client).
 */
enum userdb_status userdb_lookup(struct userdb *, const char *name,
		    struct userdb_entry *, char *err, size_t errsz);

/*
 * For popserv -t: check the database the configuration names, appending
 * "file:line: text" errors to msgs. Returns the number of errors.
 */
int		 userdb_check(const struct config *, struct config_msgs *);

/*
 * Burn the time a check of the configured kind would take, for an
 * unknown user, so that timing does not tell unknown users from wrong
 * passwords: passwd_dummy() with the setting of the hashes db holds (a
 * file's first valid hash; for the system and mysql databases, that of
 * the last hash a lookup found). db NULL: the system's preferred method.
 */
void		 userdb_dummy(struct userdb *, const char *secret,
		    size_t secretlen, int hashed);

#endif
