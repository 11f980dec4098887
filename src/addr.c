/*
 * Addresses as the configuration writes them: "[address][:port]"
 * endpoints, CIDR blocks, and the matching of a peer against them.
 * Numeric only (no DNS); ports may be /etc/services names.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

static int	 addr_parse_port(const char *, in_port_t *, char *, size_t);
static int	 addr_parse_host(const char *, int, struct sockaddr_storage *,
		    socklen_t *, char *, size_t);
static int	 addr_cidr_match(const struct cfg_cidr *, int,
		    const unsigned char *);

/* A port: a number 1..65535 or an /etc/services name; network order out. */
static int
addr_parse_port(const char *s, in_port_t *port, char *err, size_t errsz)
{
	struct servent	*se;
	const char	*p;
	unsigned long	 v = 0;

	if (*s == '\0') {
		snprintf(err, errsz, "empty port");
		return -1;
	}
	if (isdigit((unsigned char)*s)) {
		for (p = s; isdigit((unsigned char)*p); p++) {
			v = v * 10 + (unsigned long)(*p - '0');
			if (v > 65535)
				break;
		}
		if (*p == '\0' && v >= 1 && v <= 65535) {
			*port = htons((in_port_t)v);
			return 0;
		}
		if (*p == '\0' || isdigit((unsigned char)*p)) {
			snprintf(err, errsz, "port %s out of range (1..65535)",
			    s);
			return -1;
		}
	}
	if ((se = getservbyname(s, "tcp")) == NULL &&
	    (se = getservbyname(s, "udp")) == NULL) {
		snprintf(err, errsz, "unknown port or service \"%s\"", s);
		return -1;
	}
	*port = (in_port_t)se->s_port;
	return 0;
}

/* A numeric address of family af (v6 may carry a %scope); port left 0. */
static int
addr_parse_host(const char *s, int af, struct sockaddr_storage *ss,
    socklen_t *len, char *err, size_t errsz)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	char			*scope;
	unsigned int		 idx = 0;

	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		if (inet_pton(AF_INET, s, &sin->sin_addr) != 1) {
			snprintf(err, errsz, "\"%s\" is not a numeric IPv4 "
			    "address", s);
			return -1;
		}
		sin->sin_family = AF_INET;
		*len = sizeof(*sin);
		return 0;
	}
	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errsz, "\"%s\" is not a numeric IPv6 address", s);
		return -1;
	}
	memcpy(buf, s, strlen(s) + 1);
	if ((scope = strchr(buf, '%')) != NULL) {
		*scope++ = '\0';
		if (*scope == '\0' || (idx = if_nametoindex(scope)) == 0) {
			char	*end;
			unsigned long	 v;

			errno = 0;
			v = strtoul(scope, &end, 10);
			if (*scope == '\0' || !isdigit((unsigned char)*scope) ||
			    *end != '\0' || errno != 0 || v > UINT_MAX) {
				snprintf(err, errsz, "unknown scope \"%s\" "
				    "in \"%s\"", scope, s);
				return -1;
			}
			idx = (unsigned int)v;
		}
	}
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1) {
		snprintf(err, errsz, "\"%s\" is not a numeric IPv6 address", s);
		return -1;
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_scope_id = idx;
	*len = sizeof(*sin6);
	return 0;
}

/* Parse "[address][:port]": numeric v4, [v6], or empty for all addresses. */
int
addr_parse(const char *s, const char *defport, struct cfg_addr *ca,
    char *err, size_t errsz)
{
	struct cfg_addr		 a;
	char			 host[256];
	const char		*port = NULL, *p;
	size_t			 hlen;
	in_port_t		 pn;
	int			 af;

	memset(&a, 0, sizeof(a));
	if (s == NULL)
		s = "";
	if (strlen(s) >= sizeof(a.ca_text)) {
		snprintf(err, errsz, "address too long");
		return -1;
	}
	memcpy(a.ca_text, s, strlen(s) + 1);
	if (s[0] == '[') {
		if ((p = strchr(s, ']')) == NULL) {
			snprintf(err, errsz, "\"%s\": missing ]", s);
			return -1;
		}
		hlen = (size_t)(p - s - 1);
		if (hlen == 0 || hlen >= sizeof(host)) {
			snprintf(err, errsz, "\"%s\": bad IPv6 address", s);
			return -1;
		}
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		af = AF_INET6;
		p++;
		if (*p == ':')
			port = p + 1;
		else if (*p != '\0') {
			snprintf(err, errsz, "\"%s\": junk after ]", s);
			return -1;
		}
	} else {
		if ((p = strchr(s, ':')) != NULL &&
		    strchr(p + 1, ':') != NULL) {
			snprintf(err, errsz, "\"%s\": an IPv6 address must be "
			    "written in brackets, [address]:port", s);
			return -1;
		}
		hlen = p ? (size_t)(p - s) : strlen(s);
		if (hlen >= sizeof(host)) {
			snprintf(err, errsz, "address too long");
			return -1;
		}
		memcpy(host, s, hlen);
		host[hlen] = '\0';
		af = AF_INET;
		if (p != NULL)
			port = p + 1;
	}
	if (port == NULL) {
		if (defport == NULL) {
			snprintf(err, errsz, "\"%s\": a port is needed", s);
			return -1;
		}
		port = defport;
	}
	if (addr_parse_port(port, &pn, err, errsz) == -1)
		return -1;
	if (host[0] == '\0') {
		struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&a.ca_ss;

		/* All addresses: [::], which takes IPv4 too unless V6ONLY. */
		a.ca_any = 1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = pn;
		a.ca_len = sizeof(*sin6);
	} else {
		if (addr_parse_host(host, af, &a.ca_ss, &a.ca_len, err,
		    errsz) == -1)
			return -1;
		if (af == AF_INET)
			((struct sockaddr_in *)&a.ca_ss)->sin_port = pn;
		else
			((struct sockaddr_in6 *)&a.ca_ss)->sin6_port = pn;
	}
	*ca = a;
	return 0;
}

/* One CIDR, "address[/prefix]"; host bits cleared, mapped v4 folded. */
int
addr_parse_cidr(const char *v, struct cfg_cidr *cc, char *err, size_t errsz)
{
	char		 buf[INET6_ADDRSTRLEN + 8], *slash, *addr;
	long long	 prefix;
	int		 max, i, bits;
	size_t		 len;
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	memset(cc, 0, sizeof(*cc));
	if ((len = strlen(v)) >= sizeof(buf)) {
		snprintf(err, errsz, "\"%s\" is not an address or CIDR block",
		    v);
		return -1;
	}
	memcpy(buf, v, len + 1);
	addr = buf;
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (addr[0] == '[' && (len = strlen(addr)) > 2 &&
	    addr[len - 1] == ']') {
		addr[len - 1] = '\0';
		addr++;
	}
	if (inet_pton(AF_INET, addr, cc->cc_addr) == 1) {
		cc->cc_family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, cc->cc_addr) == 1) {
		cc->cc_family = AF_INET6;
		max = 128;
	} else {
		snprintf(err, errsz, "\"%s\" is not a numeric address", v);
		return -1;
	}
	prefix = max;
	if (slash != NULL) {
		if (!isdigit((unsigned char)*slash) || strlen(slash) > 3 ||
		    strspn(slash, "0123456789") != strlen(slash) ||
		    (prefix = atoi(slash)) > max) {
			snprintf(err, errsz, "\"%s\": bad prefix length (0..%d)",
			    v, max);
			return -1;
		}
	}
	cc->cc_prefix = (int)prefix;
	for (i = 0, bits = cc->cc_prefix; i < 16; i++, bits -= 8) {
		if (bits >= 8)
			continue;
		cc->cc_addr[i] &= bits <= 0 ? 0 :
		    (unsigned char)(0xff << (8 - bits));
	}
	if (cc->cc_family == AF_INET6 && cc->cc_prefix >= 96 &&
	    memcmp(cc->cc_addr, mapped, sizeof(mapped)) == 0) {
		memmove(cc->cc_addr, cc->cc_addr + 12, 4);
		memset(cc->cc_addr + 4, 0, 12);
		cc->cc_family = AF_INET;
		cc->cc_prefix -= 96;
	}
	return 0;
}

/* Does the address (af, bytes) fall inside the CIDR block? */
static int
addr_cidr_match(const struct cfg_cidr *cc, int af,
    const unsigned char *addr)
{
	int		 bits, i;
	unsigned char	 mask;

	if (cc->cc_family != af)
		return 0;
	bits = cc->cc_prefix;
	for (i = 0; bits > 0; i++, bits -= 8) {
		mask = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
		if ((addr[i] & mask) != (cc->cc_addr[i] & mask))
			return 0;
	}
	return 1;
}

/*
 * Does the peer fall in one of n CIDR blocks? IPv4-mapped IPv6 is
 * matched as IPv4.
 */
int
addr_in_cidrs(const struct cfg_cidr *cc, size_t n, const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const unsigned char		*addr;
	size_t				 i;
	int				 af;

	if (sa == NULL)
		return 0;
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		addr = (const unsigned char *)&sin->sin_addr;
		af = AF_INET;
		break;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		addr = (const unsigned char *)&sin6->sin6_addr;
		af = AF_INET6;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			addr += 12;
			af = AF_INET;
		}
		break;
	default:
		return 0;
	}
	for (i = 0; i < n; i++)
		if (addr_cidr_match(&cc[i], af, addr))
			return 1;
	return 0;
}

/*
 * Are two addresses the same endpoint: family, address, port and (IPv6)
 * scope? What bind(2) or sendto(2) would be given; ca_any and ca_text
 * are not compared (see listener.c for ca_any). Two addresses without a
 * family (never set) are the same.
 */
int
addr_same(const struct cfg_addr *a, const struct cfg_addr *b)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;

	if (a->ca_ss.ss_family != b->ca_ss.ss_family)
		return 0;
	switch (a->ca_ss.ss_family) {
	case AF_INET:
		a4 = (const struct sockaddr_in *)&a->ca_ss;
		b4 = (const struct sockaddr_in *)&b->ca_ss;
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	case AF_INET6:
		a6 = (const struct sockaddr_in6 *)&a->ca_ss;
		b6 = (const struct sockaddr_in6 *)&b->ca_ss;
		return a6->sin6_port == b6->sin6_port &&
		    a6->sin6_scope_id == b6->sin6_scope_id &&
		    memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof(b6->sin6_addr)) == 0;
	default:
		return 1;
	}
}
