/*
 * logudp: one UDP datagram per successful login to logudp.dst, with an
 * MD5 proof of logudp.secret over a fresh random challenge. Lines end in
 * "\n" (see docs/accounting.md); the packet ends with a "." line.
 */

#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <md5.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "logudp.h"

#define LOGUDP_PACKET_MAX	2048
#define LOGUDP_LOG_EVERY	10	/* seconds between complaints */

static int	 logudp_field_ok(const char *);
static int	 logudp_is_multicast(const struct sockaddr_storage *);
static int	 logudp_challenge(char *, size_t);

static struct {
	int		 fd;
	struct cfg_addr	 dst;		/* as when the socket was made */
	uint64_t	 sent;
	uint64_t	 errors;	/* since the last complaint */
	time_t		 lastlog;
} lu = { .fd = -1 };

/* A field must not be empty nor hold a byte that could end a line. */
static int
logudp_field_ok(const char *s)
{
	const unsigned char	*p;

	if (s == NULL || *s == '\0')
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < ' ' || *p == 0x7f)
			return 0;
	return 1;
}

/* Build the packet; a pure function of its fields. */
int
logudp_packet(char *buf, size_t bufsz, const struct logudp_fields *f)
{
	MD5_CTX		 ctx;
	char		 proof[MD5_DIGEST_STRING_LENGTH];
	size_t		 len = 0;
	int		 n;

	if (!logudp_field_ok(f->lf_user) || !logudp_field_ok(f->lf_ip) ||
	    !logudp_field_ok(f->lf_source))
		return -1;
	if (f->lf_secret != NULL) {
		if (!logudp_field_ok(f->lf_challenge) ||
		    strchr(f->lf_challenge, ' ') != NULL)
			return -1;
		MD5Init(&ctx);
		MD5Update(&ctx, (const uint8_t *)f->lf_challenge,
		    strlen(f->lf_challenge));
		MD5Update(&ctx, (const uint8_t *)f->lf_secret,
		    strlen(f->lf_secret));
		MD5End(&ctx, proof);
		n = snprintf(buf, bufsz, "md5 %s %s\n", proof,
		    f->lf_challenge);
		explicit_bzero(&ctx, sizeof(ctx));
		if (n < 0 || (size_t)n >= bufsz)
			return -1;
		len = (size_t)n;
	}
	n = snprintf(buf + len, bufsz - len, "time %lld\nservice pop\n"
	    "user %s\nip %s\nsource %s\n.\n", f->lf_time, f->lf_user,
	    f->lf_ip, f->lf_source);
	if (n < 0 || (size_t)n >= bufsz - len)
		return -1;
	return (int)(len + (size_t)n);
}

/* Is the destination a multicast group? */
static int
logudp_is_multicast(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	if (ss->ss_family == AF_INET) {
		sin = (const struct sockaddr_in *)ss;
		return IN_MULTICAST(ntohl(sin->sin_addr.s_addr));
	}
	if (ss->ss_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)ss;
		return IN6_IS_ADDR_MULTICAST(&sin6->sin6_addr);
	}
	return 0;
}

/*
 * The socket: unconnected, so that no ICMP error from an absent
 * receiver ever comes back to it; multicast TTL as configured.
 */
int
logudp_socket(const struct cfg_addr *dst, int ttl)
{
	int	 fd;

	fd = socket(dst->ca_ss.ss_family,
	    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("logudp: socket");
		return -1;
	}
	if (!logudp_is_multicast(&dst->ca_ss))
		return fd;
	if (dst->ca_ss.ss_family == AF_INET) {
		if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl,
		    sizeof(ttl)) == -1) {
			log_warn("logudp: IP_MULTICAST_TTL %d", ttl);
			close(fd);
			return -1;
		}
	} else if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl,
	    sizeof(ttl)) == -1) {
		log_warn("logudp: IPV6_MULTICAST_HOPS %d", ttl);
		close(fd);
		return -1;
	}
	return fd;
}

/* Open the socket when logudp.dst is set. */
int
logudp_open(const struct config *cf)
{
	if (!cf->cf_logudp_set || lu.fd != -1)
		return 0;
	if ((lu.fd = logudp_socket(&cf->cf_logudp_dst,
	    cf->cf_logudp_ttl)) == -1)
		return -1;
	lu.dst = cf->cf_logudp_dst;
	log_debug("logudp: notices go to %s", lu.dst.ca_text);
	return 0;
}

/* Fresh random hex text for one packet. */
static int
logudp_challenge(char *buf, size_t bufsz)
{
	unsigned char	 r[LOGUDP_CHALLENGE_BYTES];
	size_t		 i;

	if (bufsz < 2 * sizeof(r) + 1)
		return -1;
	/* 16 bytes never block once the pool is ready, nor return short. */
	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		return -1;
	for (i = 0; i < sizeof(r); i++)
		snprintf(buf + 2 * i, 3, "%02x", r[i]);
	return 0;
}

/* Send the notice; never waits, never fails the login. */
void
logudp_login(const struct config *cf, const char *user, const char *ip)
{
	struct logudp_fields	 f;
	char			 pkt[LOGUDP_PACKET_MAX], esc[128];
	char			 challenge[2 * LOGUDP_CHALLENGE_BYTES + 1];
	int			 len;

	if (lu.fd == -1)
		return;
	memset(&f, 0, sizeof(f));
	f.lf_secret = cf->cf_logudp_secret;
	if (f.lf_secret != NULL) {
		if (logudp_challenge(challenge, sizeof(challenge)) == -1) {
			log_warn("logudp: getrandom");
			return;
		}
		f.lf_challenge = challenge;
	}
	f.lf_time = (long long)time(NULL);
	f.lf_user = user;
	f.lf_ip = ip;
	f.lf_source = cf->cf_hostname;
	if ((len = logudp_packet(pkt, sizeof(pkt), &f)) == -1) {
		log_warnx("logudp: user \"%s\": notice cannot be built",
		    log_escape(esc, sizeof(esc), user, strlen(user)));
		return;
	}
	if (sendto(lu.fd, pkt, len, MSG_DONTWAIT | MSG_NOSIGNAL,
	    (const struct sockaddr *)&lu.dst.ca_ss, lu.dst.ca_len) == len) {
		lu.sent++;
		return;
	}
	lu.errors++;
	if (lu.lastlog == 0 || time(NULL) - lu.lastlog >= LOGUDP_LOG_EVERY) {
		lu.lastlog = time(NULL);
		log_warn("logudp: send to %s (%llu failed since last said)",
		    lu.dst.ca_text, (unsigned long long)lu.errors);
		lu.errors = 0;
	}
}

/* Counters for SIGUSR1. */
void
logudp_stats(uint64_t *sent)
{
	*sent = lu.sent;
}

/* Close the socket. */
void
logudp_close(void)
{
	if (lu.fd != -1)
		close(lu.fd);
	lu.fd = -1;
}
