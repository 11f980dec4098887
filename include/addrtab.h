/* Per-address connection counts for sameaddrmax (popserv.conf.5). */
#ifndef ADDRTAB_H
#define ADDRTAB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * A client address reduced to its family and bytes, with IPv4-mapped
 * IPv6 addresses folded to IPv4, so one host counts once. ak_bits is the
 * prefix by which an IPv6 client counts for sameaddrmax and the penalty
 * (ipv6prefix: one subscriber holds a whole /64); 0 counts the whole
 * address. ak_addr always keeps the whole address, for logs.
 */
struct addrkey {
	unsigned char	ak_family;	/* AF_INET or AF_INET6 */
	unsigned char	ak_bits;	/* IPv6 counting prefix, 0: all 128 */
	unsigned char	ak_addr[16];
};

struct addrtab;

/* Fill key from a socket address; -1 for a family other than IPv4/IPv6. */
int		 addrkey_from_sockaddr(struct addrkey *, const struct sockaddr *);
/* Count an IPv6 key by its first bits (1..128); IPv4 keys are unchanged. */
void		 addrkey_set_prefix(struct addrkey *, int bits);
/* The key that counts: the address cut to its prefix, unused octets 0. */
void		 addrkey_prefix(struct addrkey *dst, const struct addrkey *src);
/* Numeric text of the key ("192.0.2.1", "2001:db8::1"). */
const char	*addrkey_ntop(const struct addrkey *, char *buf, size_t bufsz);

/* 128 random bits for addrkey_hash (getrandom, or clocks without it). */
void		 addrkey_seed(uint64_t seed[2]);
/*
 * SipHash-1-3 of the key under seed: flooding-resistant bucket choice.
 * Both it and addrkey_eq() look at the counting prefix only.
 */
uint64_t	 addrkey_hash(const struct addrkey *, const uint64_t seed[2]);
/* Do two keys count as the same client? */
int		 addrkey_eq(const struct addrkey *, const struct addrkey *);
/* The socket address of a key, port 0; returns its length. */
socklen_t	 addrkey_to_sockaddr(const struct addrkey *,
		    struct sockaddr_storage *);

/* A hash table that grows and shrinks with the number of addresses. */
struct addrtab	*addrtab_new(void);
void		 addrtab_free(struct addrtab *);
/* Count one more connection from key; returns the new count. */
unsigned int	 addrtab_inc(struct addrtab *, const struct addrkey *);
/* Count one less; the entry goes away at zero. Returns the new count. */
unsigned int	 addrtab_dec(struct addrtab *, const struct addrkey *);
unsigned int	 addrtab_get(const struct addrtab *, const struct addrkey *);
/* Number of addresses with a non-zero count. */
size_t		 addrtab_size(const struct addrtab *);
/* Slots allocated (tests, counters): shrinks as addresses leave. */
size_t		 addrtab_capacity(const struct addrtab *);

#endif
