/*
 * Brute-force penalties: a bounded, set-associative table of recent
 * failures per address. Each bucket holds four addresses; a new address
 * takes an expired slot or evicts the one whose last failure is oldest,
 * so memory is fixed and every operation is O(1) however many addresses
 * attack. The bucket is chosen with a keyed hash, so an attacker cannot
 * aim at a victim's bucket. An IPv6 client counts by its prefix
 * (ipv6prefix, a /64 by default: the key's ak_bits): one subscriber has
 * 2^64 addresses, and a fresh one for every attempt would otherwise
 * never be penalised.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addrtab.h"
#include "penalty.h"

#define PENALTY_WAYS	4

struct penalty_ent {
	struct addrkey	 pe_key;
	unsigned char	 pe_fails;	/* 0: slot free */
	time_t		 pe_last;	/* last failure, monotonic seconds */
};

struct penalty {
	struct penalty_ent	*pt_ents;
	size_t			 pt_nbuckets;	/* a power of two */
	size_t			 pt_used;
	uint64_t		 pt_seed[2];
};

static struct penalty_ent *penalty_bucket(const struct penalty *,
		    const struct addrkey *);
static void	 penalty_key(struct addrkey *, const struct addrkey *);
static int	 penalty_live(const struct penalty_ent *, time_t);

/* A table for at least maxentries addresses. */
struct penalty *
penalty_new(size_t maxentries)
{
	struct penalty	*pt;
	size_t		 n = 1;

	while (n * PENALTY_WAYS < maxentries)
		n <<= 1;
	if ((pt = calloc(1, sizeof(*pt))) == NULL)
		return NULL;
	if ((pt->pt_ents = calloc(n * PENALTY_WAYS,
	    sizeof(*pt->pt_ents))) == NULL) {
		free(pt);
		return NULL;
	}
	pt->pt_nbuckets = n;
	addrkey_seed(pt->pt_seed);
	return pt;
}

void
penalty_free(struct penalty *pt)
{
	if (pt == NULL)
		return;
	free(pt->pt_ents);
	free(pt);
}

/* The key an address is remembered by: IPv6 cut to its prefix. */
static void
penalty_key(struct addrkey *out, const struct addrkey *in)
{
	addrkey_prefix(out, in);
}

/* The first of the PENALTY_WAYS slots that key may live in. */
static struct penalty_ent *
penalty_bucket(const struct penalty *pt, const struct addrkey *key)
{
	size_t	 b = addrkey_hash(key, pt->pt_seed) & (pt->pt_nbuckets - 1);

	return &pt->pt_ents[b * PENALTY_WAYS];
}

/* Is the slot in use and its last failure recent? */
static int
penalty_live(const struct penalty_ent *pe, time_t now)
{
	return pe->pe_fails > 0 && now - pe->pe_last < PENALTY_WINDOW;
}

/* Record a failure; returns the delay before it is answered. */
int
penalty_fail(struct penalty *pt, const struct addrkey *addr, time_t now,
    int faildelay)
{
	struct penalty_ent	*b, *pe = NULL;
	struct addrkey		 k, *key = &k;
	unsigned int		 earlier;
	long			 delay;
	int			 i;

	penalty_key(key, addr);
	b = penalty_bucket(pt, key);

	for (i = 0; i < PENALTY_WAYS; i++)
		if (b[i].pe_fails > 0 && addrkey_eq(&b[i].pe_key, key)) {
			pe = &b[i];
			break;
		}
	if (pe == NULL) {
		/* A free or expired slot, else the stalest one. */
		pe = &b[0];
		for (i = 0; i < PENALTY_WAYS; i++) {
			if (!penalty_live(&b[i], now)) {
				pe = &b[i];
				break;
			}
			if (b[i].pe_last < pe->pe_last)
				pe = &b[i];
		}
		if (pe->pe_fails == 0)
			pt->pt_used++;
		memset(pe, 0, sizeof(*pe));
		pe->pe_key = *key;
	} else if (!penalty_live(pe, now))
		pe->pe_fails = 0;	/* quiet for the window: forgiven */

	earlier = pe->pe_fails;
	if (pe->pe_fails < 255)
		pe->pe_fails++;
	pe->pe_last = now;

	delay = faildelay;
	while (earlier-- > 0 && delay < PENALTY_MAXDELAY)
		delay *= 2;
	if (delay > PENALTY_MAXDELAY && faildelay <= PENALTY_MAXDELAY)
		delay = PENALTY_MAXDELAY;
	return (int)delay;
}

/* Failures from key still remembered at now. */
unsigned int
penalty_count(const struct penalty *pt, const struct addrkey *addr,
    time_t now)
{
	const struct penalty_ent	*b;
	struct addrkey			 k, *key = &k;
	int				 i;

	penalty_key(key, addr);
	b = penalty_bucket(pt, key);

	for (i = 0; i < PENALTY_WAYS; i++)
		if (b[i].pe_fails > 0 && addrkey_eq(&b[i].pe_key, key))
			return penalty_live(&b[i], now) ? b[i].pe_fails : 0;
	return 0;
}

/* Slots in use. */
size_t
penalty_size(const struct penalty *pt)
{
	return pt->pt_used;
}
