/*
 * fixture_load() (fixture.h): a configuration from text. A file of its
 * own, so that only the unit tests that link config.c pull it in from
 * the fixture library.
 */

#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "fixture.h"

/*
 * Write text to path with mode (to a temporary file of its own, removed
 * afterwards, when path is NULL) and load it. With msgs the caller gets
 * the messages and the result, NULL included; without, the configuration
 * must load: every error is printed and the test fails if it did not.
 */
struct config *
fixture_load(const char *path, const char *text, mode_t mode,
    struct config_msgs *msgs)
{
	struct config_msgs	 own;
	struct config		*cf;
	char			 tmp[] = "/tmp/fixture_conf.XXXXXX";
	size_t			 i;
	int			 fd;

	if (path == NULL) {
		assert_true((fd = mkstemp(tmp)) != -1);
		close(fd);
		path = tmp;
	}
	fixture_write(path, text, mode);
	if (msgs != NULL) {
		cf = config_load(path, msgs);
		if (path == tmp)
			unlink(tmp);
		return cf;
	}
	memset(&own, 0, sizeof(own));
	cf = config_load(path, &own);
	for (i = 0; i < own.cm_nerrors; i++)
		fprintf(stderr, "%s\n", own.cm_errors[i]);
	config_msgs_free(&own);
	if (path == tmp)
		unlink(tmp);
	assert_non_null(cf);
	return cf;
}
