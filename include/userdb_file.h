/* userdb file: a passwd(5)-format file, re-read whenever it changes. */
#ifndef USERDB_FILE_H
#define USERDB_FILE_H

#include <stddef.h>

#include "userdb_backend.h"

extern const struct userdb_ops userdb_file_ops;

/*
 * Parse one passwd(5) line "user:password:uid:gid:gecos:home:shell"
 * (no newline) in place into e, pointing into line. Returns 0, or -1 with
 * a reason in err. Comment and blank lines are the caller's business.
 */
int		 userdb_file_parse_line(char *line, struct userdb_entry *e,
		    char *err, size_t errsz);

#endif
