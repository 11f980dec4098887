/* SIGHUP: re-read the configuration and apply it (docs/deployment.md). */
#ifndef RELOAD_H
#define RELOAD_H

/* Remember how the configuration was loaded: -C path and -b override. */
void	reload_init(const char *path, const char *bind);
/*
 * Load the file into a new configuration and, if it is good, swap it
 * in: listeners, limits, the user database, popit and accounting
 * settings for new work. Returns 0, or -1 when the file (or a new
 * listener, or the new user database) is bad and the old configuration
 * stays in force; every reason is logged.
 */
int	reload_config(void);
/* The idle limit of cf as the loop's timeout (NULL: none). */
void	reload_set_timelimit(int seconds);

#endif
