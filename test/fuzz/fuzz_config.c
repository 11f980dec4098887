/* libFuzzer target: the configuration file parser, whole files. */

#include <sys/mman.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Load the input as a configuration file through a memfd. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		 fd = -1;
	struct config_msgs	 msgs;
	struct config		*cf;
	char			 path[64];

	if (fd == -1 && (fd = memfd_create("fuzz-config", 0)) == -1)
		return 0;
	if (ftruncate(fd, 0) == -1 || pwrite(fd, data, size, 0) !=
	    (ssize_t)size)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	memset(&msgs, 0, sizeof(msgs));
	cf = config_load(path, &msgs);
	/* A configuration is returned exactly when there is no error. */
	if ((cf == NULL) != (msgs.cm_nerrors > 0))
		__builtin_trap();
	config_free(cf);
	config_msgs_free(&msgs);
	return 0;
}
