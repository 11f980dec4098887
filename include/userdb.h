/* User databases (SPEC §2 userdb) and password checks; run on workers. */
#ifndef USERDB_H
#define USERDB_H

#include <stddef.h>
#include <sys/types.h>

struct config;
struct config_msgs;

enum userdb_status {
	USERDB_FOUND,
	USERDB_NOTFOUND,
	USERDB_TEMPFAIL		/* database unreadable or unreachable */
};

/* One account, copied out of the database; owned by the caller. */
struct userdb_entry {
	char		*ue_name;
	char		*ue_password;	/* hash (crypt 1) or plaintext (crypt 0) */
	uid_t		 ue_uid;
	gid_t		 ue_gid;
	char		*ue_home;
	char		*ue_shell;
	int		 ue_sysgroups;	/* supplementary groups from NSS */
};

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
void		 userdb_entry_clear(struct userdb_entry *);

/*
 * Parse one passwd(5) line "user:password:uid:gid:gecos:home:shell"
 * (no newline) in place into e, pointing into line. Returns 0, or -1 with
 * a reason in err. Comment and blank lines are the caller's business.
 */
int		 userdb_parse_line(char *line, struct userdb_entry *e,
		    char *err, size_t errsz);

/*
 * For popserv -t: check the database the configuration names, appending
 * "file:line: text" errors to msgs. Returns the number of errors.
 */
int		 userdb_check(const struct config *, struct config_msgs *);

/*
 * Is a stored password a locked or disabled account's: empty, or
 * beginning with '!' or '*' (usermod -L, useradd's "!", "*", "*LK*")?
 * Such a value never matches, whatever the mechanism or crypt setting.
 */
int		 passwd_locked(const char *stored);

/*
 * Check secret against the stored password: crypt(3) hash with
 * crypt_rn() when hashed, constant-time comparison when plaintext.
 * Returns 1 on a match.
 */
int		 passwd_verify(const char *stored, const char *secret,
		    size_t secretlen, int hashed);

/*
 * Burn the time a check of the configured kind would take, for an
 * unknown user, so that timing does not tell unknown users from wrong
 * passwords.
 */
void		 passwd_dummy(struct userdb *, const char *secret,
		    size_t secretlen, int hashed);

#endif
