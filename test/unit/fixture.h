/*
 * Pieces the unit tests share: temporary directories made and removed
 * in C, files written from text, configurations loaded from text, and
 * the monotonic clock in milliseconds.
 */

#ifndef FIXTURE_H
#define FIXTURE_H

#include <sys/types.h>

#include <stddef.h>

struct config;
struct config_msgs;

int		 fixture_mkdtemp(char *, size_t, const char *);
int		 fixture_rmtree(const char *);
const char	*fixture_write(const char *, const char *, mode_t);
struct config	*fixture_load(const char *, const char *, mode_t,
		    struct config_msgs *);
double		 fixture_now_ms(void);

#endif /* FIXTURE_H */
