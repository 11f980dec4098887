/*
 * The narrow interface between the network-facing loop and everything
 * privileged (docs/security.md): a request in (login, secret or APOP digest, peer),
 * a result out (status, and the account to hand off).
 */
#ifndef AUTH_H
#define AUTH_H

#include <stdint.h>
#include <sys/types.h>

#include "addrtab.h"
#include "apop.h"
#include "userdb.h"
#include "worker.h"

#define AUTH_NAME_MAX	256
#define AUTH_SECRET_MAX	256
#define AUTH_MAXGROUPS	64

enum auth_status {
	AUTH_OK,
	AUTH_FAIL,		/* unknown user or wrong password: [AUTH] */
	AUTH_TEMPFAIL		/* database down, queue full ...: [SYS/TEMP] */
};

struct config;
struct userdb;
struct session;

struct auth_job {
	struct work		 aj_work;
	struct session		*aj_session;	/* loop only; NULL if gone */

	/* Request: everything the worker needs, copied. */
	struct userdb		*aj_userdb;
	int			 aj_hashed;	/* crypt 1 */
	uid_t			 aj_minuid;	/* minuid: lower uids refused */
	gid_t			 aj_mingid;	/* mingid: lower gids refused */
	char			 aj_login[AUTH_NAME_MAX];	/* as typed */
	char			 aj_secret[AUTH_SECRET_MAX];	/* wiped at free */
	size_t			 aj_secretlen;
	int			 aj_apop;
	char			 aj_timestamp[APOP_TIMESTAMP_MAX];
	char			 aj_digest[APOP_DIGEST_LEN + 1];
	struct addrkey		 aj_peer;

	/* Result. */
	enum auth_status	 aj_status;
	char			 aj_reason[128];	/* for the log only */
	char			 aj_account[AUTH_NAME_MAX];
	char			 aj_folder[AUTH_NAME_MAX];
	char			 aj_option[AUTH_NAME_MAX];
	int			 aj_has_option;
	uid_t			 aj_uid;
	gid_t			 aj_gid;
	gid_t			 aj_groups[AUTH_MAXGROUPS];
	int			 aj_ngroups;
	char			*aj_home;
	char			*aj_shell;

	/*
	 * auth_run()'s copy of the account, here rather than on the
	 * worker's stack so that it stays reachable (and is wiped) when a
	 * fork leaves the worker behind.
	 */
	struct userdb_entry	 aj_entry;
};

/*
 * A typed login split into account, folder and option: where
 * auth_split_login() writes them, and what it found.
 */
struct auth_split {
	char		*as_account;
	size_t		 as_accountsz;
	char		*as_folder;
	size_t		 as_foldersz;
	char		*as_option;
	size_t		 as_optionsz;
	int		 as_has_option;	/* useropt matched (maybe empty) */
};

/*
 * Split a typed login (docs/configuration.md, folder and useropt): the
 * whole matches of the folder and useropt regexes are removed from the
 * account; their first groups are the folder and the option. Returns 0,
 * or -1 when a part does not fit its buffer.
 */
int	auth_split_login(const struct config *, const char *login,
	    struct auth_split *);

/*
 * A request for the typed login (len octets) from peer, to check in udb
 * under cf, with the account, folder and option split off. NULL when out
 * of memory. A login that does not split, or whose folder is not a name
 * of one level, gets a job that has failed already (AUTH_FAIL, aj_reason
 * says why): it is never checked.
 */
struct auth_job *auth_job_new(const struct config *, struct userdb *udb,
	    const struct addrkey *peer, const char *login, size_t len);
/* The secret to check: PASS's argument, or AUTH PLAIN's password. */
void	auth_job_secret(struct auth_job *, const char *secret, size_t len);
/* Or an APOP digest of the challenge timestamp. */
void	auth_job_apop(struct auth_job *, const char *timestamp,
	    const char *digest);

/*
 * Run on a worker: look the account up and verify the secret. Can run
 * again on the same job (the TERM drain child re-runs a check that was
 * running in the parent): it keeps its input and resets its result.
 */
void	auth_run(struct work *);
/* Free a job, wiping the secret and everything it held. */
void	auth_job_free(struct auth_job *);

#endif
