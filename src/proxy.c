/*
 * The PROXY protocol header (haproxy's proxy-protocol.txt), versions 1
 * (text) and 2 (binary), as sent by haproxy's send-proxy and
 * send-proxy-v2: a pure parser that never reads past the header, so the
 * session can peek, parse, and consume exactly the header's octets.
 */

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "proxy.h"

#define PROXY_V1_PREFIX	"PROXY "
#define PROXY_V2_CMD_LOCAL	0x0
#define PROXY_V2_CMD_PROXY	0x1
#define PROXY_V2_TCP4		0x11
#define PROXY_V2_TCP6		0x21
#define PROXY_V2_LEN_TCP4	12
#define PROXY_V2_LEN_TCP6	36

static const unsigned char proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static int	 proxy_prefix(const unsigned char *, size_t,
		    const unsigned char *, size_t);
static ssize_t	 proxy_v1(const unsigned char *, size_t, struct proxy_hdr *);
static ssize_t	 proxy_v2(const unsigned char *, size_t, struct proxy_hdr *);
static int	 proxy_v1_word(const unsigned char **, const unsigned char *,
		    char *, size_t);
static int	 proxy_v1_port(const char *, in_port_t *);
static int	 proxy_v1_addr(int, const char *, const char *,
		    struct sockaddr_storage *);

/* Does buf[0..len) match the start of sig[0..siglen)? */
static int
proxy_prefix(const unsigned char *buf, size_t len, const unsigned char *sig,
    size_t siglen)
{
	return memcmp(buf, sig, len < siglen ? len : siglen) == 0;
}

/* Parse a header: see proxy.h. */
ssize_t
proxy_parse(const void *data, size_t len, struct proxy_hdr *ph)
{
	const unsigned char	*buf = data;

	memset(ph, 0, sizeof(*ph));
	if (len == 0)
		return 0;
	if (proxy_prefix(buf, len, proxy_v2_sig, sizeof(proxy_v2_sig))) {
		if (len < PROXY_V2_HDR)
			return 0;
		return proxy_v2(buf, len, ph);
	}
	if (proxy_prefix(buf, len, (const unsigned char *)PROXY_V1_PREFIX,
	    strlen(PROXY_V1_PREFIX)))
		return proxy_v1(buf, len, ph);
	return PROXY_NOT;
}

/*
 * Version 2: signature, version and command, family and protocol, the
 * length of what follows (addresses, then TLVs, which are skipped).
 */
static ssize_t
proxy_v2(const unsigned char *buf, size_t len, struct proxy_hdr *ph)
{
	struct sockaddr_in	*s4, *d4;
	struct sockaddr_in6	*s6, *d6;
	const unsigned char	*a;
	size_t			 body;

	ph->ph_version = 2;
	if ((buf[12] >> 4) != 2)
		return PROXY_BAD;
	body = (size_t)buf[14] << 8 | buf[15];
	if (body > PROXY_V2_BODY)
		return PROXY_BAD;
	if (len < PROXY_V2_HDR + body)
		return 0;
	a = buf + PROXY_V2_HDR;
	switch (buf[12] & 0x0f) {
	case PROXY_V2_CMD_LOCAL:
		ph->ph_local = 1;
		return PROXY_V2_HDR + body;
	case PROXY_V2_CMD_PROXY:
		break;
	default:
		return PROXY_BAD;
	}
	switch (buf[13]) {
	case PROXY_V2_TCP4:
		if (body < PROXY_V2_LEN_TCP4)
			return PROXY_BAD;
		s4 = (struct sockaddr_in *)&ph->ph_src;
		d4 = (struct sockaddr_in *)&ph->ph_dst;
		s4->sin_family = d4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a, 4);
		memcpy(&d4->sin_addr, a + 4, 4);
		memcpy(&s4->sin_port, a + 8, 2);
		memcpy(&d4->sin_port, a + 10, 2);
		break;
	case PROXY_V2_TCP6:
		if (body < PROXY_V2_LEN_TCP6)
			return PROXY_BAD;
		s6 = (struct sockaddr_in6 *)&ph->ph_src;
		d6 = (struct sockaddr_in6 *)&ph->ph_dst;
		s6->sin6_family = d6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a, 16);
		memcpy(&d6->sin6_addr, a + 16, 16);
		memcpy(&s6->sin6_port, a + 32, 2);
		memcpy(&d6->sin6_port, a + 34, 2);
		break;
	default:
		/* UNSPEC, UDP, Unix sockets: the real endpoints stand. */
		ph->ph_local = 1;
		break;
	}
	return PROXY_V2_HDR + body;
}

/*
 * The next word of a version 1 line into word[0..wordsz): octets up to a
 * space or the CR. Returns 0, or -1 if it is empty or too long.
 */
static int
proxy_v1_word(const unsigned char **pp, const unsigned char *end, char *word,
    size_t wordsz)
{
	const unsigned char	*p = *pp;
	size_t			 n = 0;

	while (p < end && *p != ' ' && *p != '\r') {
		if (n + 1 >= wordsz)
			return -1;
		word[n++] = (char)*p++;
	}
	word[n] = '\0';
	*pp = p;
	return n == 0 ? -1 : 0;
}

/* A port in decimal, 0..65535, without a sign or leading zeros. */
static int
proxy_v1_port(const char *s, in_port_t *port)
{
	unsigned long	 v = 0;
	size_t		 i, n = strlen(s);

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = htons((in_port_t)v);
	return 0;
}

/* A numeric address and port of family af into ss. */
static int
proxy_v1_addr(int af, const char *addr, const char *port,
    struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	if (af == AF_INET) {
		sin->sin_family = AF_INET;
		if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
			return -1;
		return proxy_v1_port(port, &sin->sin_port);
	}
	sin6->sin6_family = AF_INET6;
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
		return -1;
	return proxy_v1_port(port, &sin6->sin6_port);
}

/*
 * Version 1: "PROXY TCP4|TCP6 src dst sport dport\r\n", or "PROXY UNKNOWN"
 * and anything up to the CRLF; at most 107 octets in all.
 */
static ssize_t
proxy_v1(const unsigned char *buf, size_t len, struct proxy_hdr *ph)
{
	const unsigned char	*p, *end, *cr;
	char			 proto[8], src[48], dst[48];
	char			 sport[8], dport[8];
	size_t			 scan;
	int			 af;

	ph->ph_version = 1;
	scan = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
	cr = memchr(buf, '\r', scan);
	/* A bare LF ends no header: say so now rather than wait. */
	if (memchr(buf, '\n', cr != NULL ? (size_t)(cr - buf) : scan) != NULL)
		return PROXY_BAD;
	if (cr == NULL || cr + 1 == buf + scan)
		return len < PROXY_V1_MAX ? 0 : PROXY_BAD;
	if (cr[1] != '\n')
		return PROXY_BAD;
	end = cr;
	p = buf + strlen(PROXY_V1_PREFIX);
	if (proxy_v1_word(&p, end, proto, sizeof(proto)) == -1)
		return PROXY_BAD;
	if (strcmp(proto, "UNKNOWN") == 0) {
		ph->ph_local = 1;
		return cr + 2 - buf;
	}
	if (strcmp(proto, "TCP4") == 0)
		af = AF_INET;
	else if (strcmp(proto, "TCP6") == 0)
		af = AF_INET6;
	else
		return PROXY_BAD;
	if (p >= end || *p++ != ' ' ||
	    proxy_v1_word(&p, end, src, sizeof(src)) == -1 ||
	    p >= end || *p++ != ' ' ||
	    proxy_v1_word(&p, end, dst, sizeof(dst)) == -1 ||
	    p >= end || *p++ != ' ' ||
	    proxy_v1_word(&p, end, sport, sizeof(sport)) == -1 ||
	    p >= end || *p++ != ' ' ||
	    proxy_v1_word(&p, end, dport, sizeof(dport)) == -1 ||
	    p != end)
		return PROXY_BAD;
	if (proxy_v1_addr(af, src, sport, &ph->ph_src) == -1 ||
	    proxy_v1_addr(af, dst, dport, &ph->ph_dst) == -1)
		return PROXY_BAD;
	return cr + 2 - buf;
}
