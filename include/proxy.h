/* The PROXY protocol header, versions 1 and 2 (haproxy's proxy-protocol.txt): a pure parser. */
#ifndef PROXY_H
#define PROXY_H

#include <sys/types.h>
#include <sys/socket.h>

#define PROXY_V1_MAX	107		/* octets, CRLF included */
#define PROXY_V2_HDR	16		/* signature, command, family, length */
#define PROXY_V2_BODY	1024		/* addresses and TLVs accepted */
#define PROXY_MAX	(PROXY_V2_HDR + PROXY_V2_BODY)

#define PROXY_NOT	(-1)		/* the input does not start a header */
#define PROXY_BAD	(-2)		/* a header, but malformed or too long */

struct proxy_hdr {
	int			 ph_version;	/* 1 or 2 */
	/*
	 * LOCAL (v2), UNKNOWN (v1), or an address family other than TCP
	 * over IPv4/IPv6: the connection's own addresses stand.
	 */
	int			 ph_local;
	struct sockaddr_storage	 ph_src;	/* the client, with its port */
	struct sockaddr_storage	 ph_dst;	/* where it connected to */
};

/*
 * Parse a PROXY header at the start of buf[0..len). Returns its length
 * (> 0) when it is whole and valid, 0 when the bytes so far begin a header
 * and more must come, PROXY_NOT when they cannot begin one (the peer
 * speaks without a header), or PROXY_BAD. Reads nothing past the header.
 */
ssize_t	proxy_parse(const void *buf, size_t len, struct proxy_hdr *);

#endif
