/*
 * Listening sockets. Each readiness event accepts at most `accepts`
 * connections (SPEC §2); accepting pauses at `maxconn` and when the
 * process runs out of descriptors, and resumes from a timer or when a
 * session ends, so popserv never spins on a full descriptor table.
 */

#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "config.h"
#include "listener.h"
#include "log.h"
#include "popserv.h"
#include "session.h"

#define LISTENER_BACKOFF_MS	100	/* after EMFILE/ENFILE */

struct listener {
	TAILQ_ENTRY(listener)	 l_entry;
	struct event		 l_ev;
	int			 l_fd;
	int			 l_adopted;	/* from inetd or systemd */
	char			 l_name[128];
};

TAILQ_HEAD(listenerq, listener);

static struct listenerq	 listeners = TAILQ_HEAD_INITIALIZER(listeners);
static int		 listener_paused;	/* events removed */
static int		 listener_fd_shortage;	/* waiting for the timer */
static struct event	*listener_timer;

static int	 listener_bind(const struct cfg_addr *);
static int	 listener_add(int, int, const char *);
static void	 listener_accept(evutil_socket_t, short, void *);
static void	 listener_pause(void);
static void	 listener_resume(void);
static void	 listener_retry(evutil_socket_t, short, void *);

/* Open, bind and listen on one address; returns the descriptor or -1. */
static int
listener_bind(const struct cfg_addr *ca)
{
	struct sockaddr_in6	 sin6;
	struct sockaddr_in	 sin;
	const struct sockaddr	*sa = (const struct sockaddr *)&ca->ca_ss;
	socklen_t		 salen = ca->ca_len;
	int			 fd, on = 1, off = 0, family;

	family = sa->sa_family;
	if (ca->ca_any) {
		in_port_t port = sa->sa_family == AF_INET6 ?
		    ((const struct sockaddr_in6 *)sa)->sin6_port :
		    ((const struct sockaddr_in *)sa)->sin_port;

		/* All addresses: one dual-stack IPv6 socket on the port. */
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_addr = in6addr_any;
		sin6.sin6_port = port;
		sa = (const struct sockaddr *)&sin6;
		salen = sizeof(sin6);
		family = AF_INET6;
		fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1 && errno == EAFNOSUPPORT) {
			/* No IPv6 on this host: every IPv4 address. */
			memset(&sin, 0, sizeof(sin));
			sin.sin_family = AF_INET;
			sin.sin_addr.s_addr = htonl(INADDR_ANY);
			sin.sin_port = port;
			sa = (const struct sockaddr *)&sin;
			salen = sizeof(sin);
			family = AF_INET;
			fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
			    SOCK_CLOEXEC, 0);
		}
	} else
		fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("%s: socket", ca->ca_text);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
		    ca->ca_any ? &off : &on, sizeof(int));
	if (bind(fd, sa, salen) == -1) {
		log_warn("%s: bind", ca->ca_text);
		close(fd);
		return -1;
	}
	if (listen(fd, SOMAXCONN) == -1) {
		log_warn("%s: listen", ca->ca_text);
		close(fd);
		return -1;
	}
	return fd;
}

/* Start watching a listening descriptor. */
static int
listener_add(int fd, int adopted, const char *name)
{
	struct listener	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -1;
	l->l_fd = fd;
	l->l_adopted = adopted;
	snprintf(l->l_name, sizeof(l->l_name), "%s", name);
	event_assign(&l->l_ev, env->ps_base, fd, EV_READ | EV_PERSIST,
	    listener_accept, l);
	if (!listener_paused)
		event_add(&l->l_ev, NULL);
	TAILQ_INSERT_TAIL(&listeners, l, l_entry);
	log_info("listening on %s", name);
	return 0;
}

/* Bind every configured address; the default is all addresses, port 110. */
int
listener_open(const struct config *cf)
{
	struct cfg_addr	 def;
	char		 err[128];
	size_t		 i, n = cf->cf_nbindto;
	const struct cfg_addr *addrs = cf->cf_bindto;
	int		 fd;

	if (n == 0) {
		if (config_parse_addr("", "110", &def, err, sizeof(err)) == -1)
			fatalx("default address: %s", err);
		addrs = &def;
		n = 1;
	}
	for (i = 0; i < n; i++) {
		if ((fd = listener_bind(&addrs[i])) == -1)
			return -1;
		if (listener_add(fd, 0, addrs[i].ca_text) == -1) {
			close(fd);
			return -1;
		}
	}
	return 0;
}

/* Take over a socket that is already bound and listening. */
int
listener_adopt(int fd)
{
	int	 flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warn("listening socket %d", fd);
		return -1;
	}
	return listener_add(fd, 1, "inherited socket");
}

/* Close every listening socket. */
void
listener_close_all(void)
{
	struct listener	*l;

	while ((l = TAILQ_FIRST(&listeners)) != NULL) {
		TAILQ_REMOVE(&listeners, l, l_entry);
		event_del(&l->l_ev);
		close(l->l_fd);
		free(l);
	}
	if (listener_timer != NULL)
		event_del(listener_timer);
}

/* Accept up to `accepts` connections from one ready listener. */
static void
listener_accept(evutil_socket_t fd, short what, void *arg)
{
	const struct config	*cf = env->ps_conf;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 i, s;

	(void)what;
	(void)arg;
	for (i = 0; i < cf->cf_accepts; i++) {
		if (env->ps_nsessions >= (unsigned int)cf->cf_maxconn) {
			listener_pause();
			return;
		}
		len = sizeof(ss);
		s = accept4(fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s == -1) {
			switch (errno) {
			case EINTR:
			case ECONNABORTED:
				continue;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				/* Back off instead of spinning. */
				log_warn("accept");
				listener_fd_shortage = 1;
				listener_pause();
				return;
			default:
				if (errno != EAGAIN)
					log_warn("accept");
				return;
			}
		}
		session_accept(s, (struct sockaddr *)&ss, len);
	}
}

/* Stop watching every listener (connections wait in the backlog). */
static void
listener_pause(void)
{
	struct listener	*l;
	struct timeval	 tv = { 0, LISTENER_BACKOFF_MS * 1000 };

	if (!listener_paused) {
		TAILQ_FOREACH(l, &listeners, l_entry)
			event_del(&l->l_ev);
		listener_paused = 1;
	}
	if (listener_fd_shortage) {
		if (listener_timer == NULL)
			listener_timer = evtimer_new(env->ps_base,
			    listener_retry, NULL);
		if (listener_timer != NULL)
			evtimer_add(listener_timer, &tv);
	}
}

/* Watch the listeners again. */
static void
listener_resume(void)
{
	struct listener	*l;

	if (!listener_paused)
		return;
	TAILQ_FOREACH(l, &listeners, l_entry)
		event_add(&l->l_ev, NULL);
	listener_paused = 0;
}

/* The descriptor back-off is over: try accepting again. */
static void
listener_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	listener_fd_shortage = 0;
	listener_update();
}

/* Pause or resume accepting after the session count changed. */
void
listener_update(void)
{
	if (listener_fd_shortage)
		return;
	if (env->ps_nsessions >= (unsigned int)env->ps_conf->cf_maxconn)
		listener_pause();
	else
		listener_resume();
}
