/*
 * systemd integration: listening sockets passed by socket activation
 * (sd_listen_fds) and readiness, reload and stop notifications with a
 * STATUS= line (sd_notify). Built as no-ops without libsystemd, so the
 * rest of popserv never needs an #ifdef.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "state.h"
#include "systemd.h"

#define SYSTEMD_STATUS_SECS	5

static int		 systemd_off;	/* the drain child */
static struct event	*systemd_status_ev;
static char		 systemd_last_status[128];

static void	 systemd_status_text(char *, size_t);
static void	 systemd_status_tick(evutil_socket_t, short, void *);

/* STATUS= text: what systemctl status shows. */
static void
systemd_status_text(char *buf, size_t bufsz)
{
	snprintf(buf, bufsz, "%u sessions, %u popits", env->ps_nsessions,
	    env->ps_nchildren);
}

/* The sockets systemd passed us: see systemd.h. */
int
systemd_listen(void)
{
#ifdef HAVE_LIBSYSTEMD
	int	 n, i, fd;

	if ((n = sd_listen_fds(1)) < 0) {
		log_warnx("sd_listen_fds: %s", strerror(-n));
		return -1;
	}
	for (i = 0; i < n; i++) {
		fd = SD_LISTEN_FDS_START + i;
		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
			log_warnx("socket activation: descriptor %d is not a "
			    "listening stream socket", fd);
			return -1;
		}
	}
	return n;
#else
	return 0;
#endif
}

/* Tell systemd our state, with the current status line. */
void
systemd_notify(const char *state)
{
#ifdef HAVE_LIBSYSTEMD
	char	 status[128], msg[256];
	int	 r;

	if (systemd_off || getenv("NOTIFY_SOCKET") == NULL)
		return;
	systemd_status_text(status, sizeof(status));
	snprintf(msg, sizeof(msg), "%s%sSTATUS=%s", state != NULL ? state : "",
	    state != NULL ? "\n" : "", status);
	if ((r = sd_notify(0, msg)) < 0)
		log_debug("sd_notify: %s", strerror(-r));
	else
		snprintf(systemd_last_status, sizeof(systemd_last_status), "%s",
		    status);
#else
	(void)state;
#endif
}

/* Every few seconds: send STATUS= if it changed. */
static void
systemd_status_tick(evutil_socket_t fd, short what, void *arg)
{
	char	 status[128];

	(void)fd;
	(void)what;
	(void)arg;
	systemd_status_text(status, sizeof(status));
	if (strcmp(status, systemd_last_status) != 0)
		systemd_notify(NULL);
}

/* Start the status timer when a service manager listens. */
void
systemd_status_start(struct event_base *base)
{
	struct timeval	 tv = { SYSTEMD_STATUS_SECS, 0 };

#ifndef HAVE_LIBSYSTEMD
	return;
#endif
	if (systemd_off || getenv("NOTIFY_SOCKET") == NULL ||
	    systemd_status_ev != NULL)
		return;
	systemd_status_ev = event_new(base, -1, EV_PERSIST,
	    systemd_status_tick, NULL);
	if (systemd_status_ev != NULL)
		event_add(systemd_status_ev, &tv);
}

/* The drain child is not the main process: no more notifications. */
void
systemd_forget(void)
{
	systemd_off = 1;
	unsetenv("NOTIFY_SOCKET");
	if (systemd_status_ev != NULL) {
		event_free(systemd_status_ev);
		systemd_status_ev = NULL;
	}
}
