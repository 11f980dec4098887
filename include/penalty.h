/*
 * Brute-force penalties (failpenalty, popserv.conf.5): each recent failed login
 * from an address doubles the failure delay for that address. An IPv6
 * address counts by its prefix (ipv6prefix, the key's ak_bits).
 */
#ifndef PENALTY_H
#define PENALTY_H

#include <stddef.h>
#include <time.h>

#include "addrtab.h"

#define PENALTY_MAXDELAY	15		/* seconds */
#define PENALTY_WINDOW		(15 * 60)	/* forgotten after this */
#define PENALTY_ENTRIES		65536		/* addresses remembered */

struct penalty;

/* A table remembering at most maxentries addresses (rounded to 4 ways). */
struct penalty	*penalty_new(size_t maxentries);
void		 penalty_free(struct penalty *);

/*
 * Record a failed login from key at now (monotonic seconds) and return
 * the delay, in seconds, before it is answered: faildelay doubled for
 * each earlier failure within PENALTY_WINDOW, at most PENALTY_MAXDELAY
 * (or faildelay itself, if that is larger).
 */
int		 penalty_fail(struct penalty *, const struct addrkey *,
		    time_t now, int faildelay);
/* Failures from key still remembered at now. */
unsigned int	 penalty_count(const struct penalty *, const struct addrkey *,
		    time_t now);
/* Addresses remembered, expired ones included until reused. */
size_t		 penalty_size(const struct penalty *);

#endif
