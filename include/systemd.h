/* systemd integration (docs/deployment.md): socket activation and sd_notify. */
#ifndef SYSTEMD_H
#define SYSTEMD_H

struct event_base;

/*
 * Sockets passed by socket activation (LISTEN_FDS for this pid): the
 * number of listening stream sockets passed, from SYSTEMD_LISTEN_FD up,
 * 0 when none were passed (or popserv was built without libsystemd), -1
 * when a passed descriptor is not one. The LISTEN_* variables are
 * removed from the environment either way, so popit never sees them.
 */
#define SYSTEMD_LISTEN_FD	3	/* SD_LISTEN_FDS_START */
int	systemd_listen(void);
/* Send one notification ("READY=1", ...) with a fresh STATUS= line. */
void	systemd_notify(const char *state);
/* Keep STATUS= up to date every few seconds while NOTIFY_SOCKET is set. */
void	systemd_status_start(struct event_base *);
/*
 * The TERM drain child: systemd only listens to the main process, so
 * stop notifying and drop NOTIFY_SOCKET.
 */
void	systemd_forget(void);

#endif
