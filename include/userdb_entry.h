/* One account as a user database gives it, and the status of a lookup. */
#ifndef USERDB_ENTRY_H
#define USERDB_ENTRY_H

#include <sys/types.h>

enum userdb_status {
	USERDB_FOUND,
	USERDB_NOTFOUND,
	USERDB_TEMPFAIL		/* database unreadable or unreachable */
};

/* One account, copied out of the database; owned by the caller. */
struct userdb_entry {
	char		*ue_name;
	char		*ue_password;	/* hash (crypt 1), plaintext (crypt 0) */
	uid_t		 ue_uid;
	gid_t		 ue_gid;
	char		*ue_home;
	char		*ue_shell;
	int		 ue_sysgroups;	/* supplementary groups from NSS */
};

/* Free an entry's strings, wiping the password, and zero it. NULL is fine. */
void		 userdb_entry_clear(struct userdb_entry *);
/*
 * Copy src's strings to the heap (a backend's answer, out of its own
 * buffers). -1, dst cleared, when out of memory.
 */
int		 userdb_entry_copy(struct userdb_entry *dst,
		    const struct userdb_entry *src);

#endif
