/* logudp: a UDP notice of each successful login (docs/accounting.md). */
#ifndef LOGUDP_H
#define LOGUDP_H

#include <stddef.h>
#include <stdint.h>

#define LOGUDP_CHALLENGE_BYTES	16	/* random bytes, sent as hex */

struct cfg_addr;
struct config;

/* What goes into one packet. */
struct logudp_fields {
	const char	*lf_secret;	/* NULL: no md5 line */
	const char	*lf_challenge;	/* with a secret */
	long long	 lf_time;
	const char	*lf_user;
	const char	*lf_ip;
	const char	*lf_source;
};

/*
 * The packet: "md5 <hex md5(challenge secret)> <challenge>" (with a
 * secret), "time", "service pop", "user", "ip", "source" and ".", each
 * line ending in "\n". Returns its length, or -1 when it does not fit or
 * a field is empty or holds a control byte (it would forge a line).
 */
int	logudp_packet(char *buf, size_t bufsz, const struct logudp_fields *);

/*
 * A non-blocking datagram socket for dst; for a multicast dst with its
 * TTL (IPv4) or hop limit (IPv6) set to ttl. -1 on failure (logged).
 */
int	logudp_socket(const struct cfg_addr *dst, int ttl);

/* Open the socket when logudp.dst is set. 0 or -1. */
int	logudp_open(const struct config *);
/* Send the notice for user from ip. */
void	logudp_login(const struct config *, const char *user, const char *ip);
void	logudp_stats(uint64_t *sent);
void	logudp_close(void);

#endif
