/*
 * Shared pieces of the unit tests (fixture.h): temporary directories,
 * files written from text, the monotonic clock. Nothing here shells out.
 */

#include <sys/stat.h>

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"

static int	 fixture_rm(const char *, const struct stat *, int,
		    struct FTW *);

/* Make the directory /tmp/<name>.XXXXXX into buf; 0, or -1. */
int
fixture_mkdtemp(char *buf, size_t bufsz, const char *name)
{
	if ((size_t)snprintf(buf, bufsz, "/tmp/%s.XXXXXX", name) >= bufsz)
		return -1;
	return mkdtemp(buf) == NULL ? -1 : 0;
}

/* nftw(3) callback of fixture_rmtree(): remove one entry. */
static int
fixture_rm(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* rm -rf path, depth first, never following a symbolic link; 0, or -1. */
int
fixture_rmtree(const char *path)
{
	return nftw(path, fixture_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write text to path (replacing it) with mode; returns path. */
const char *
fixture_write(const char *path, const char *text, mode_t mode)
{
	FILE	*fp;

	unlink(path);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

/* Milliseconds on the monotonic clock. */
double
fixture_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
