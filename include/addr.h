/* Addresses as the configuration writes them: endpoints and CIDR blocks. */
#ifndef ADDR_H
#define ADDR_H

#include <sys/socket.h>
#include <stddef.h>

/* A listening or destination address: "[address][:port]". */
struct cfg_addr {
	struct sockaddr_storage	 ca_ss;		/* address and port */
	socklen_t		 ca_len;
	int			 ca_any;	/* no address given: all */
	char			 ca_text[128];	/* as written, for logs */
};

/* A CIDR block for "trusted". */
struct cfg_cidr {
	int			 cc_family;	/* AF_INET or AF_INET6 */
	unsigned char		 cc_addr[16];
	int			 cc_prefix;
};

/*
 * Parse "[address][:port]" with a default port; the address must be
 * numeric ("[v6]" for IPv6), the port a number or /etc/services name.
 * Empty: all addresses ([::], ca_any). Returns 0, or -1 with a message
 * in err.
 */
int		 addr_parse(const char *, const char *defport,
		    struct cfg_addr *, char *err, size_t errsz);
/*
 * Parse a CIDR block "address[/prefix]" (IPv6 may be in brackets); host
 * bits are cleared, an IPv4-mapped IPv6 block becomes IPv4. Returns 0,
 * or -1 with a message in err.
 */
int		 addr_parse_cidr(const char *, struct cfg_cidr *, char *err,
		    size_t errsz);
/* Does sa fall in one of n blocks (IPv4-mapped IPv6 matched as IPv4)? */
int		 addr_in_cidrs(const struct cfg_cidr *, size_t n,
		    const struct sockaddr *);
/*
 * Are two addresses the same endpoint (family, address, port, IPv6
 * scope)? ca_any and ca_text are not compared.
 */
int		 addr_same(const struct cfg_addr *, const struct cfg_addr *);

#endif
