/* One account out of a user database: copying it, clearing it. */

#include <stdlib.h>
#include <string.h>

#include "userdb_entry.h"

/* Free an entry's strings, wiping the password, and zero it. */
void
userdb_entry_clear(struct userdb_entry *e)
{
	if (e == NULL)
		return;
	if (e->ue_password != NULL) {
		explicit_bzero(e->ue_password, strlen(e->ue_password));
		free(e->ue_password);
	}
	free(e->ue_name);
	free(e->ue_home);
	free(e->ue_shell);
	memset(e, 0, sizeof(*e));
}

/* Copy src's strings to the heap; -1 (dst cleared) when out of memory. */
int
userdb_entry_copy(struct userdb_entry *dst, const struct userdb_entry *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->ue_uid = src->ue_uid;
	dst->ue_gid = src->ue_gid;
	dst->ue_sysgroups = src->ue_sysgroups;
	if ((dst->ue_name = strdup(src->ue_name)) == NULL ||
	    (dst->ue_password = strdup(src->ue_password)) == NULL ||
	    (dst->ue_home = strdup(src->ue_home)) == NULL ||
	    (dst->ue_shell = strdup(src->ue_shell)) == NULL) {
		userdb_entry_clear(dst);
		return -1;
	}
	return 0;
}
