/*
 * WHOSON (POP-before-SMTP): one "LOGIN <ip> <name>" datagram per allowed
 * login, as the whoson library's wso_login() sends it, from a connected,
 * non-blocking UDP socket on the loop. Replies ("+..." or "-...") are
 * read on the loop; a negative one is logged. Nothing waits for them.
 */

#include <sys/socket.h>

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "whoson.h"

#define WHOSON_PACKET_MAX	600	/* "LOGIN", an address, a name */
#define WHOSON_LOG_EVERY	10	/* seconds between complaints */

static void	 whoson_read(evutil_socket_t, short, void *);
static int	 whoson_field_ok(const char *);
static int	 whoson_should_log(void);

static struct {
	int		 fd;
	struct event	*ev;
	uint64_t	 sent;
	uint64_t	 negative;
	uint64_t	 errors;	/* since the last complaint */
	time_t		 lastlog;
	char		 server[128];	/* for logs */
} wso = { .fd = -1 };

/* First matching rule decides, case-insensitively; no match: deny. */
int
whoson_allowed(const struct config *cf, const char *name)
{
	size_t	 i;

	for (i = 0; i < cf->cf_nwhoson; i++)
		if (regexec(&cf->cf_whoson[i].wr_re, name, 0, NULL, 0) == 0)
			return cf->cf_whoson[i].wr_action == WHOSON_ALLOW;
	return 0;
}

/* A word of the protocol: not empty, no blank, no control byte. */
static int
whoson_field_ok(const char *s)
{
	const unsigned char	*p;

	if (*s == '\0')
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}

/* "LOGIN ip name" CRLF CRLF: the blank line ends a whoson request. */
int
whoson_packet(char *buf, size_t bufsz, const char *ip, const char *name)
{
	int	 n;

	if (!whoson_field_ok(ip) || !whoson_field_ok(name))
		return -1;
	n = snprintf(buf, bufsz, "LOGIN %s %s\r\n\r\n", ip, name);
	if (n < 0 || (size_t)n >= bufsz)
		return -1;
	return n;
}

/* At most one complaint per WHOSON_LOG_EVERY seconds. */
static int
whoson_should_log(void)
{
	time_t	 now = time(NULL);

	if (wso.lastlog != 0 && now - wso.lastlog < WHOSON_LOG_EVERY)
		return 0;
	wso.lastlog = now;
	return 1;
}

/* Open and connect the socket, and watch it for replies. */
int
whoson_open(struct event_base *base, const struct config *cf)
{
	const struct cfg_addr	*a = &cf->cf_whoson_server;

	if (cf->cf_nwhoson == 0 || wso.fd != -1)
		return 0;
	snprintf(wso.server, sizeof(wso.server), "%s", a->ca_text);
	wso.fd = socket(a->ca_ss.ss_family,
	    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (wso.fd == -1) {
		log_warn("whoson: socket");
		return -1;
	}
	/* Connected: replies come from the server only, ICMP errors show. */
	if (connect(wso.fd, (const struct sockaddr *)&a->ca_ss,
	    a->ca_len) == -1) {
		log_warn("whoson: connect %s", wso.server);
		goto fail;
	}
	wso.ev = event_new(base, wso.fd, EV_READ | EV_PERSIST, whoson_read,
	    NULL);
	if (wso.ev == NULL || event_add(wso.ev, NULL) == -1) {
		log_warnx("whoson: cannot watch the socket");
		goto fail;
	}
	log_debug("whoson: notices go to %s", wso.server);
	return 0;
 fail:
	if (wso.ev != NULL)
		event_free(wso.ev);
	wso.ev = NULL;
	close(wso.fd);
	wso.fd = -1;
	return -1;
}

/* Send LOGIN if the rules allow name; never waits. */
void
whoson_login(const struct config *cf, const char *name, const char *ip)
{
	char	 pkt[WHOSON_PACKET_MAX], esc[128];
	int	 len;

	if (wso.fd == -1 || !whoson_allowed(cf, name))
		return;
	if ((len = whoson_packet(pkt, sizeof(pkt), ip, name)) == -1) {
		log_warnx("whoson: user \"%s\": name cannot be sent",
		    log_escape(esc, sizeof(esc), name, strlen(name)));
		return;
	}
	if (send(wso.fd, pkt, len, MSG_DONTWAIT | MSG_NOSIGNAL) == len ||
	    /* An earlier datagram met a closed port; the error is cleared. */
	    (errno == ECONNREFUSED &&
	    send(wso.fd, pkt, len, MSG_DONTWAIT | MSG_NOSIGNAL) == len)) {
		wso.sent++;
		return;
	}
	wso.errors++;
	if (whoson_should_log()) {
		log_warn("whoson: send to %s (%llu failed since last said)",
		    wso.server, (unsigned long long)wso.errors);
		wso.errors = 0;
	}
}

/* Replies: "+..." is fine, "-..." is logged; errors are rate-limited. */
static void
whoson_read(evutil_socket_t fd, short what, void *arg)
{
	char	 buf[512], esc[256];
	ssize_t	 n;
	size_t	 len;
	int	 i;

	(void)what;
	(void)arg;
	/* Bounded: a flood of replies cannot hold the loop. */
	for (i = 0; i < 64; i++) {
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			wso.errors++;
			if (whoson_should_log()) {
				log_warn("whoson: %s (%llu errors since last "
				    "said)", wso.server,
				    (unsigned long long)wso.errors);
				wso.errors = 0;
			}
			continue;	/* the error is cleared by reading it */
		}
		len = (size_t)n;
		while (len > 0 &&
		    (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			len--;
		if (len > 0 && buf[0] == '-') {
			wso.negative++;
			log_warnx("whoson: %s answers \"%s\"", wso.server,
			    log_escape(esc, sizeof(esc), buf, len));
		} else
			log_debug("whoson: %s answers \"%s\"", wso.server,
			    log_escape(esc, sizeof(esc), buf, len));
	}
}

/* Counters for SIGUSR1. */
void
whoson_stats(uint64_t *sent, uint64_t *negative)
{
	*sent = wso.sent;
	*negative = wso.negative;
}

/* Close the socket. */
void
whoson_close(void)
{
	if (wso.ev != NULL)
		event_free(wso.ev);
	wso.ev = NULL;
	if (wso.fd != -1)
		close(wso.fd);
	wso.fd = -1;
}
