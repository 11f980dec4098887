/* libFuzzer target: the passwd-format user file, line and whole file. */

#include <sys/mman.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "userdb.h"
#include "userdb_file.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Parse every line alone, then the input as a file for popserv -t. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		 fd = -1;
	static struct config	*cf;
	struct userdb_entry	 ue;
	struct config_msgs	 msgs;
	char			*copy, *line, *next, err[128];

	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (line = copy; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		memset(&ue, 0, sizeof(ue));
		if (userdb_file_parse_line(line, &ue, err, sizeof(err)) == 0 &&
		    (ue.ue_name == NULL || ue.ue_home == NULL))
			__builtin_trap();
	}
	free(copy);

	if (fd == -1) {
		char	 path[64];

		if ((fd = memfd_create("fuzz-passwd", 0)) == -1 ||
		    (cf = config_default()) == NULL)
			return 0;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		cf->cf_userdb = USERDB_FILE;
		cf->cf_userdb_path = strdup(path);
	}
	if (ftruncate(fd, 0) == -1 || pwrite(fd, data, size, 0) !=
	    (ssize_t)size)
		return 0;
	memset(&msgs, 0, sizeof(msgs));
	(void)userdb_check(cf, &msgs);
	config_msgs_free(&msgs);
	return 0;
}
