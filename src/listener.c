/*
 * Listening sockets. Each readiness event accepts at most `accepts`
 * connections (popserv.conf.5); accepting pauses at `maxconn` and when the
 * process runs out of descriptors, and resumes from a timer or when a
 * session ends, so popserv never spins on a full descriptor table.
 */

#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "addr.h"
#include "config.h"
#include "listener.h"
#include "log.h"
#include "session.h"
#include "state.h"
#include "systemd.h"

#define LISTENER_BACKOFF_MS	100	/* after EMFILE/ENFILE */
#define LISTENER_WARN_EVERY	60	/* seconds between shortage warnings */

struct listener {
	TAILQ_ENTRY(listener)	 l_entry;
	struct event		 l_ev;
	int			 l_fd;
	int			 l_adopted;	/* from inetd or systemd */
	int			 l_tls;		/* bindtls: TLS at once */
	struct cfg_addr		 l_addr;	/* bound from bindto/bindtls */
	char			 l_name[160];
};

/* A socket a configuration asks for. */
struct listener_want {
	const struct cfg_addr	*lw_addr;
	int			 lw_tls;
};

TAILQ_HEAD(listenerq, listener);

static struct listenerq	 listeners = TAILQ_HEAD_INITIALIZER(listeners);
static int		 listener_paused;	/* events removed */
static int		 listener_fd_shortage;	/* waiting for the timer */
static unsigned long	 listener_fd_retries;	/* failed for it, this spell */
static time_t		 listener_fd_warned;	/* monotonic seconds */
static struct event	*listener_timer;
static struct event	*listener_autoclose_ev;
static time_t		 listener_lastaccept;	/* monotonic seconds */
static int		 listener_drained;	/* closed for good */

static int	 listener_bind(const struct cfg_addr *);
static int	 listener_add(int, const struct cfg_addr *, int, const char *);
static size_t	 listener_wants(const struct config *, struct cfg_addr *,
		    struct listener_want *);
static void	 listener_free(struct listener *);
static void	 listener_accept(evutil_socket_t, short, void *);
static void	 listener_pause(void);
static void	 listener_resume(void);
static void	 listener_retry(evutil_socket_t, short, void *);
static void	 listener_shortage(void);
static time_t	 listener_now(void);
static void	 listener_autoclose(evutil_socket_t, short, void *);

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

/* Start watching a listening descriptor; ca NULL: adopted. */
static int
listener_add(int fd, const struct cfg_addr *ca, int tls, const char *name)
{
	struct listener	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -1;
	l->l_fd = fd;
	l->l_adopted = ca == NULL;
	l->l_tls = tls;
	if (ca != NULL)
		l->l_addr = *ca;
	snprintf(l->l_name, sizeof(l->l_name), "%s%s", name,
	    tls ? " (tls)" : "");
	event_assign(&l->l_ev, env->ps_base, fd, EV_READ | EV_PERSIST,
	    listener_accept, l);
	if (!listener_paused)
		event_add(&l->l_ev, NULL);
	TAILQ_INSERT_TAIL(&listeners, l, l_entry);
	log_info("listening on %s", l->l_name);
	return 0;
}

/*
 * The sockets cf asks for: its bindto lines (or all addresses, port
 * 110; def may be used for that), then its bindtls lines. Returns how
 * many are in w (room for 2 * CONFIG_MAXADDRS).
 */
static size_t
listener_wants(const struct config *cf, struct cfg_addr *def,
    struct listener_want *w)
{
	char	 err[128];
	size_t	 i, n = 0;

	if (cf->cf_nbindto > 0) {
		for (i = 0; i < cf->cf_nbindto; i++) {
			w[n].lw_addr = &cf->cf_bindto[i];
			w[n++].lw_tls = 0;
		}
	} else {
		if (addr_parse("", "110", def, err, sizeof(err)) == -1)
			fatalx("default address: %s", err);
		w[n].lw_addr = def;
		w[n++].lw_tls = 0;
	}
	for (i = 0; i < cf->cf_nbindtls; i++) {
		w[n].lw_addr = &cf->cf_bindtls[i];
		w[n++].lw_tls = 1;
	}
	return n;
}

/*
 * Bind every configured address: bindto (the default is all addresses,
 * port 110) and the implicit-TLS bindtls.
 */
int
listener_open(const struct config *cf)
{
	struct listener_want	 w[2 * CONFIG_MAXADDRS];
	struct cfg_addr		 def;
	size_t			 i, n;
	int			 fd;

	n = listener_wants(cf, &def, w);
	for (i = 0; i < n; i++) {
		if ((fd = listener_bind(w[i].lw_addr)) == -1)
			return -1;
		if (listener_add(fd, w[i].lw_addr, w[i].lw_tls,
		    w[i].lw_addr->ca_text) == -1) {
			close(fd);
			return -1;
		}
	}
	return 0;
}

/*
 * After a reload: keep the sockets whose address is still configured
 * (a socket moved between bindto and bindtls is kept and changes its
 * kind), bind the new ones, close the others. Binding comes first, so
 * on failure nothing has changed (-1). Sockets from inetd or systemd
 * are kept as they are, and bindto and bindtls are not used beside them.
 */
int
listener_reconfigure(const struct config *cf)
{
	struct listenerq	 fresh = TAILQ_HEAD_INITIALIZER(fresh);
	struct listener_want	 w[2 * CONFIG_MAXADDRS];
	struct cfg_addr		 def;
	struct listener		*l, *next;
	unsigned char		 keep[2 * CONFIG_MAXADDRS];
	size_t			 i, n;
	int			 fd;

	TAILQ_FOREACH(l, &listeners, l_entry)
		if (l->l_adopted)
			return 0;
	n = listener_wants(cf, &def, w);
	memset(keep, 0, sizeof(keep));
	for (i = 0; i < n; i++) {
		/*
		 * The same socket: the same endpoint, and ca_any alike (all
		 * addresses is a dual-stack socket, [::] a v6-only one).
		 */
		TAILQ_FOREACH(l, &listeners, l_entry)
			if (l->l_addr.ca_any == w[i].lw_addr->ca_any &&
			    addr_same(&l->l_addr, w[i].lw_addr))
				break;
		if (l != NULL)
			continue;
		if ((fd = listener_bind(w[i].lw_addr)) == -1 ||
		    (l = calloc(1, sizeof(*l))) == NULL) {
			if (fd != -1)
				close(fd);
			while ((l = TAILQ_FIRST(&fresh)) != NULL) {
				TAILQ_REMOVE(&fresh, l, l_entry);
				close(l->l_fd);
				free(l);
			}
			return -1;
		}
		l->l_fd = fd;
		l->l_addr = *w[i].lw_addr;
		l->l_tls = w[i].lw_tls;
		TAILQ_INSERT_TAIL(&fresh, l, l_entry);
	}

	/* Every new socket is bound: now close what is no longer wanted. */
	for (l = TAILQ_FIRST(&listeners); l != NULL; l = next) {
		next = TAILQ_NEXT(l, l_entry);
		for (i = 0; i < n; i++)
			if (!keep[i] &&
			    l->l_addr.ca_any == w[i].lw_addr->ca_any &&
			    addr_same(&l->l_addr, w[i].lw_addr))
				break;
		if (i < n) {
			keep[i] = 1;
			if (l->l_tls != w[i].lw_tls) {
				l->l_tls = w[i].lw_tls;
				snprintf(l->l_name, sizeof(l->l_name), "%s%s",
				    l->l_addr.ca_text, l->l_tls ? " (tls)" :
				    "");
				log_info("%s: now %s", l->l_name, l->l_tls ?
				    "implicit TLS" : "plain");
			}
			continue;
		}
		log_info("closing %s", l->l_name);
		TAILQ_REMOVE(&listeners, l, l_entry);
		listener_free(l);
	}
	while ((l = TAILQ_FIRST(&fresh)) != NULL) {
		TAILQ_REMOVE(&fresh, l, l_entry);
		fd = l->l_fd;
		if (listener_add(fd, &l->l_addr, l->l_tls,
		    l->l_addr.ca_text) == -1) {
			log_warn("%s", l->l_addr.ca_text);
			close(fd);
		}
		free(l);
	}
	return 0;
}

/* Take over a socket that is already bound and listening. */
int
listener_adopt(int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 name[128], host[INET6_ADDRSTRLEN];
	int			 flags, port = 0;

	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warn("listening socket %d", fd);
		return -1;
	}
	snprintf(name, sizeof(name), "inherited socket %d", fd);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
			port = ntohs(sin->sin_port);
			snprintf(name, sizeof(name), "inherited %s:%d", host,
			    port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &sin6->sin6_addr, host,
			    sizeof(host));
			port = ntohs(sin6->sin6_port);
			snprintf(name, sizeof(name), "inherited [%s]:%d", host,
			    port);
		}
	}
	return listener_add(fd, NULL, 0, name);
}

/* Stop watching a listener and close it. */
static void
listener_free(struct listener *l)
{
	event_del(&l->l_ev);
	close(l->l_fd);
	free(l);
}

/* Close every listening socket. */
void
listener_close_all(void)
{
	struct listener	*l;

	while ((l = TAILQ_FIRST(&listeners)) != NULL) {
		TAILQ_REMOVE(&listeners, l, l_entry);
		listener_free(l);
	}
	if (listener_timer != NULL)
		event_del(listener_timer);
	listener_fd_shortage = 0;
}

/* Accept up to `accepts` connections from one ready listener. */
static void
listener_accept(evutil_socket_t fd, short what, void *arg)
{
	const struct config	*cf = env->ps_conf;
	struct listener		*l = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 i, s;

	(void)what;
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
				listener_shortage();
				listener_fd_shortage = 1;
				listener_pause();
				return;
			default:
				if (errno != EAGAIN)
					log_warn("accept");
				return;
			}
		}
		if (listener_fd_retries > 0) {
			log_info("accepting again after %lu retries for want "
			    "of descriptors or memory", listener_fd_retries);
			listener_fd_retries = 0;
		}
		listener_lastaccept = listener_now();
		session_accept(s, (struct sockaddr *)&ss, len, l->l_tls);
	}
}

/*
 * accept() failed for want of descriptors or memory (errno says which):
 * warn when the shortage starts and then once a minute, not at every
 * retry, so that a server held at its limit does not flood the log.
 */
static void
listener_shortage(void)
{
	time_t	 now;
	int	 saved = errno;

	now = listener_now();
	errno = saved;
	if (listener_fd_retries++ == 0 ||
	    now - listener_fd_warned >= LISTENER_WARN_EVERY) {
		if (listener_fd_retries == 1)
			log_warn("accept");
		else
			log_warn("accept (still, %lu retries)",
			    listener_fd_retries);
		listener_fd_warned = now;
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

/* Seconds on the monotonic clock. */
static time_t
listener_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/*
 * Start the autoclose timer when the configuration asks for one, and
 * take the upward call (state.h) for the modules below.
 */
void
listener_init(struct event_base *base)
{
	env->ps_collect = listener_collect;
	listener_lastaccept = listener_now();
	if ((listener_autoclose_ev = evtimer_new(base, listener_autoclose,
	    NULL)) == NULL)
		fatalx("autoclose timer");
	listener_autoclose_reset();
}

/* (Re)arm the autoclose timer for what is left of the idle spell. */
void
listener_autoclose_reset(void)
{
	struct timeval	 tv = { 0, 0 };
	int		 limit = env->ps_conf->cf_autoclose;
	time_t		 idle;

	if (listener_autoclose_ev == NULL)
		return;
	evtimer_del(listener_autoclose_ev);
	if (limit <= 0 || listener_drained)
		return;
	idle = listener_now() - listener_lastaccept;
	if (idle < limit)
		tv.tv_sec = limit - idle;
	evtimer_add(listener_autoclose_ev, &tv);
}

/*
 * The autoclose timer: no new connection for autoclose seconds closes
 * the listeners for good, and the process ends with its last session;
 * else the timer is armed again for the rest.
 */
static void
listener_autoclose(evutil_socket_t fd, short what, void *arg)
{
	int	 limit = env->ps_conf->cf_autoclose;

	(void)fd;
	(void)what;
	(void)arg;
	if (limit <= 0 || listener_drained)
		return;
	if (listener_now() - listener_lastaccept < limit) {
		listener_autoclose_reset();
		return;
	}
	log_info("autoclose: no connection for %d s, closing the listening "
	    "sockets; %u sessions left, %u relays", limit, env->ps_nsessions,
	    env->ps_nrelays);
	listener_drain();
	listener_collect();
}

/* Close the listeners for good: see listener.h. */
void
listener_drain(void)
{
	systemd_notify("STOPPING=1");
	listener_close_all();
	if (listener_autoclose_ev != NULL)
		evtimer_del(listener_autoclose_ev);
	listener_drained = 1;
}

/* Are the listeners closed for good? */
int
listener_draining(void)
{
	return listener_drained;
}

/*
 * Something that kept the process ended (a session, a login on its way
 * to popit, a relay): accepting resumes below maxconn, and once the
 * listeners are closed for good and nothing is left, the loop ends.
 */
void
listener_collect(void)
{
	listener_update();
	if (listener_drained && state_left() == 0)
		event_base_loopbreak(env->ps_base);
}
