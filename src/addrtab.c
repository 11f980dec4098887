/* Per-address connection counts for sameaddrmax: a keyed, resizing hash. */

#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addrtab.h"

/*
 * Open addressing with linear probing and backward-shift deletion: no
 * tombstones, so a table that has seen millions of addresses come and go
 * probes exactly as one that has not. A slot is 24 bytes. The table
 * doubles past 3/4 full and halves below 1/8 full (down to ADDRTAB_MINCAP
 * slots), so an address costs 32 to 192 bytes while it is counted and
 * nothing once it has gone; each operation is O(1) amortised.
 *
 * The hash is SipHash-1-3 keyed with 128 random bits per table, so a
 * client choosing its addresses (an IPv6 /64 gives it plenty) cannot
 * aim them at one chain.
 */

#define ADDRTAB_MINCAP	16		/* a power of two */

struct addrent {
	struct addrkey	 ae_key;	/* normalised: unused bytes zero */
	unsigned int	 ae_count;	/* 0: the slot is empty */
};

struct addrtab {
	struct addrent	*at_ents;
	size_t		 at_cap;	/* slots, a power of two */
	size_t		 at_size;	/* slots in use */
	uint64_t	 at_seed[2];
};

static size_t	 addrkey_len(unsigned char);
static uint64_t	 addrtab_siphash(const uint64_t[2], const unsigned char *,
		    size_t);
static size_t	 addrtab_home(const struct addrtab *, const struct addrkey *);
static size_t	 addrtab_find(const struct addrtab *, const struct addrkey *);
static int	 addrtab_resize(struct addrtab *, size_t);
static void	 addrtab_remove(struct addrtab *, size_t);

/* Octets of the address that count for a family. */
static size_t
addrkey_len(unsigned char family)
{
	return family == AF_INET ? 4 : 16;
}

/* Count an IPv6 key by its first bits: see addrtab.h. */
void
addrkey_set_prefix(struct addrkey *key, int bits)
{
	if (key->ak_family == AF_INET6)
		key->ak_bits = bits <= 0 || bits >= 128 ? 0 :
		    (unsigned char)bits;
}

/*
 * Copy a key cut to its counting prefix, zeroing the octets its family
 * does not use and the bits past the prefix.
 */
void
addrkey_prefix(struct addrkey *dst, const struct addrkey *src)
{
	size_t	 bits = src->ak_bits, i;

	memset(dst, 0, sizeof(*dst));
	dst->ak_family = src->ak_family;
	memcpy(dst->ak_addr, src->ak_addr, addrkey_len(src->ak_family));
	if (src->ak_family != AF_INET6 || bits == 0)
		return;
	dst->ak_bits = src->ak_bits;
	for (i = bits / 8; i < 16; i++)
		dst->ak_addr[i] = i == bits / 8 ?
		    dst->ak_addr[i] & (unsigned char)(0xff00 >> (bits % 8)) : 0;
}

/* Key of a socket address, ::ffff:a.b.c.d folded to a.b.c.d; -1 if not IP. */
int
addrkey_from_sockaddr(struct addrkey *key, const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	memset(key, 0, sizeof(*key));
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		key->ak_family = AF_INET;
		memcpy(key->ak_addr, &sin->sin_addr, 4);
		return 0;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			/* ::ffff:a.b.c.d is the IPv4 host a.b.c.d. */
			key->ak_family = AF_INET;
			memcpy(key->ak_addr, &sin6->sin6_addr.s6_addr[12], 4);
		} else {
			key->ak_family = AF_INET6;
			memcpy(key->ak_addr, &sin6->sin6_addr, 16);
		}
		return 0;
	}
	return -1;
}

/*
 * Numeric text of the key in buf; "?" when the family is unknown or buf
 * is too small, so the result can always go straight into a log line.
 */
const char *
addrkey_ntop(const struct addrkey *key, char *buf, size_t bufsz)
{
	if (buf == NULL || bufsz == 0)
		return "?";
	if ((key->ak_family == AF_INET || key->ak_family == AF_INET6) &&
	    inet_ntop(key->ak_family, key->ak_addr, buf,
	    (socklen_t)(bufsz > INT_MAX ? INT_MAX : bufsz)) != NULL)
		return buf;
	if (bufsz >= 2) {
		buf[0] = '?';
		buf[1] = '\0';
		return buf;
	}
	return "?";
}

/*
 * 128 random bits for the hash key. Without getrandom() (an old kernel)
 * fall back to clocks and addresses: the table still works, it is only
 * easier to flood.
 */
void
addrkey_seed(uint64_t seed[2])
{
	struct timespec	 ts;
	ssize_t		 n;

	do
		n = getrandom(seed, 2 * sizeof(seed[0]), 0);
	while (n == -1 && errno == EINTR);
	if (n == (ssize_t)(2 * sizeof(seed[0])))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	seed[0] = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	seed[1] = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)getpid() ^
	    (uint64_t)(uintptr_t)seed;
}

#define ROTL64(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND(v0, v1, v2, v3) do {					\
	v0 += v1; v1 = ROTL64(v1, 13); v1 ^= v0; v0 = ROTL64(v0, 32);	\
	v2 += v3; v3 = ROTL64(v3, 16); v3 ^= v2;			\
	v0 += v3; v3 = ROTL64(v3, 21); v3 ^= v0;			\
	v2 += v1; v1 = ROTL64(v1, 17); v1 ^= v2; v2 = ROTL64(v2, 32);	\
} while (0)
#define SIP_CROUNDS	1
#define SIP_DROUNDS	3

/* SipHash-1-3 of m[0..len) under key k. */
static uint64_t
addrtab_siphash(const uint64_t k[2], const unsigned char *m, size_t len)
{
	uint64_t	 v0 = 0x736f6d6570736575ULL ^ k[0];
	uint64_t	 v1 = 0x646f72616e646f6dULL ^ k[1];
	uint64_t	 v2 = 0x6c7967656e657261ULL ^ k[0];
	uint64_t	 v3 = 0x7465646279746573ULL ^ k[1];
	uint64_t	 w;
	size_t		 i, j;
	int		 r;

	for (i = 0; i + 8 <= len; i += 8) {
		w = 0;
		for (j = 0; j < 8; j++)
			w |= (uint64_t)m[i + j] << (8 * j);
		v3 ^= w;
		for (r = 0; r < SIP_CROUNDS; r++)
			SIPROUND(v0, v1, v2, v3);
		v0 ^= w;
	}
	w = (uint64_t)len << 56;
	for (j = 0; i + j < len; j++)
		w |= (uint64_t)m[i + j] << (8 * j);
	v3 ^= w;
	for (r = 0; r < SIP_CROUNDS; r++)
		SIPROUND(v0, v1, v2, v3);
	v0 ^= w;
	v2 ^= 0xff;
	for (r = 0; r < SIP_DROUNDS; r++)
		SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* Keyed hash of a key: family, prefix and the octets that count for it. */
uint64_t
addrkey_hash(const struct addrkey *key, const uint64_t seed[2])
{
	struct addrkey	 k;
	unsigned char	 m[2 + sizeof(k.ak_addr)];
	size_t		 len = addrkey_len(key->ak_family);

	addrkey_prefix(&k, key);
	m[0] = k.ak_family;
	m[1] = k.ak_bits;
	memcpy(m + 2, k.ak_addr, len);
	return addrtab_siphash(seed, m, 2 + len);
}

/* Do two keys count as the same client (same family, prefix, octets)? */
int
addrkey_eq(const struct addrkey *a, const struct addrkey *b)
{
	struct addrkey	 ka, kb;

	addrkey_prefix(&ka, a);
	addrkey_prefix(&kb, b);
	return memcmp(&ka, &kb, sizeof(ka)) == 0;
}

/* The socket address of a key (port 0), for CIDR checks. */
socklen_t
addrkey_to_sockaddr(const struct addrkey *key, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (key->ak_family == AF_INET) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, key->ak_addr, 4);
		return sizeof(*sin);
	}
	sin6->sin6_family = AF_INET6;
	memcpy(&sin6->sin6_addr, key->ak_addr, 16);
	return sizeof(*sin6);
}

/* The slot where a normalised key's probe sequence starts. */
static size_t
addrtab_home(const struct addrtab *at, const struct addrkey *key)
{
	return (size_t)addrkey_hash(key, at->at_seed) & (at->at_cap - 1);
}

/*
 * The slot holding a normalised key, or the empty slot where it would go.
 * The load never reaches 1, so the probe always ends.
 */
static size_t
addrtab_find(const struct addrtab *at, const struct addrkey *key)
{
	size_t	 i, mask = at->at_cap - 1;

	for (i = addrtab_home(at, key); at->at_ents[i].ae_count != 0;
	    i = (i + 1) & mask)
		if (memcmp(&at->at_ents[i].ae_key, key, sizeof(*key)) == 0)
			break;
	return i;
}

/* Move every entry into a table of newcap slots; -1 if out of memory. */
static int
addrtab_resize(struct addrtab *at, size_t newcap)
{
	struct addrent	*old = at->at_ents, *ents;
	size_t		 oldcap = at->at_cap, i, j;

	if ((ents = calloc(newcap, sizeof(*ents))) == NULL)
		return -1;
	at->at_ents = ents;
	at->at_cap = newcap;
	for (i = 0; i < oldcap; i++) {
		if (old[i].ae_count == 0)
			continue;
		j = addrtab_find(at, &old[i].ae_key);
		ents[j] = old[i];
	}
	free(old);
	return 0;
}

/*
 * Empty slot i and pull later entries of its cluster back into the hole
 * when their probe sequence allows, so no tombstone is left behind.
 */
static void
addrtab_remove(struct addrtab *at, size_t i)
{
	size_t	 j, home, mask = at->at_cap - 1;

	for (j = (i + 1) & mask; at->at_ents[j].ae_count != 0;
	    j = (j + 1) & mask) {
		home = addrtab_home(at, &at->at_ents[j].ae_key);
		/* Leave j where it is if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		at->at_ents[i] = at->at_ents[j];
		i = j;
	}
	memset(&at->at_ents[i], 0, sizeof(at->at_ents[i]));
	at->at_size--;
}

/* An empty table with a fresh random hash key; NULL if out of memory. */
struct addrtab *
addrtab_new(void)
{
	struct addrtab	*at;

	if ((at = calloc(1, sizeof(*at))) == NULL)
		return NULL;
	if ((at->at_ents = calloc(ADDRTAB_MINCAP, sizeof(*at->at_ents))) ==
	    NULL) {
		free(at);
		return NULL;
	}
	at->at_cap = ADDRTAB_MINCAP;
	addrkey_seed(at->at_seed);
	return at;
}

/* Free the table; NULL is fine. */
void
addrtab_free(struct addrtab *at)
{
	if (at == NULL)
		return;
	free(at->at_ents);
	free(at);
}

/*
 * Count one more connection from key and return the new count. Returns 0
 * only when the address is new and no memory is left to track it; the
 * count saturates at UINT_MAX rather than wrap.
 */
unsigned int
addrtab_inc(struct addrtab *at, const struct addrkey *key)
{
	struct addrkey	 k;
	size_t		 i;

	addrkey_prefix(&k, key);
	i = addrtab_find(at, &k);
	if (at->at_ents[i].ae_count != 0) {
		if (at->at_ents[i].ae_count < UINT_MAX)
			at->at_ents[i].ae_count++;
		return at->at_ents[i].ae_count;
	}
	/* Keep the load at most 3/4: grow, or at least keep one hole. */
	if ((at->at_size + 1) * 4 > at->at_cap * 3) {
		if (at->at_cap <= SIZE_MAX / 2 / sizeof(*at->at_ents) &&
		    addrtab_resize(at, at->at_cap * 2) == 0)
			i = addrtab_find(at, &k);
		else if (at->at_size + 2 > at->at_cap)
			return 0;
	}
	at->at_ents[i].ae_key = k;
	at->at_ents[i].ae_count = 1;
	at->at_size++;
	return 1;
}

/*
 * Count one connection less and return the new count; an address that
 * is not in the table stays out and gives 0. At zero the entry goes,
 * and a table left sparse shrinks to half.
 */
unsigned int
addrtab_dec(struct addrtab *at, const struct addrkey *key)
{
	struct addrkey	 k;
	size_t		 i;

	addrkey_prefix(&k, key);
	i = addrtab_find(at, &k);
	if (at->at_ents[i].ae_count == 0)
		return 0;
	if (--at->at_ents[i].ae_count != 0)
		return at->at_ents[i].ae_count;
	addrtab_remove(at, i);
	/* Below 1/8 full: halve, to a load under 1/4. A failure is harmless. */
	if (at->at_cap > ADDRTAB_MINCAP && at->at_size * 8 < at->at_cap)
		(void)addrtab_resize(at, at->at_cap / 2);
	return 0;
}

/* The current count for key, 0 if the address is not tracked. */
unsigned int
addrtab_get(const struct addrtab *at, const struct addrkey *key)
{
	struct addrkey	 k;

	addrkey_prefix(&k, key);
	return at->at_ents[addrtab_find(at, &k)].ae_count;
}

/* Addresses with a non-zero count. */
size_t
addrtab_size(const struct addrtab *at)
{
	return at->at_size;
}

/* Slots allocated, for tests and the SIGUSR1 counters. */
size_t
addrtab_capacity(const struct addrtab *at)
{
	return at->at_cap;
}
