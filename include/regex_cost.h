/* The cost guard for POSIX extended regexes (glibc's regcomp()). */
#ifndef REGEX_COST_H
#define REGEX_COST_H

#include <stddef.h>

/*
 * Upper bound on the nodes regcomp() builds for an ERE; regexes above
 * REGEX_MAXCOST are refused, since glibc copies repetitions and a
 * short pattern can otherwise take gigabytes.
 */
#define REGEX_MAXCOST	20000
/*
 * Epsilon moves in that expansion (each "*", "?", optional copy, empty
 * alternative): regcomp()'s epsilon closures grow with them, so
 * "(a*){5000}" takes seconds with few nodes. Regexes with more are
 * refused too, as are stacked quantifiers ("a*+") and a stray ")".
 */
#define REGEX_MAXEPS	64

/*
 * The cost of a whole ERE: above REGEX_MAXCOST when it would expand to
 * too many nodes or too many epsilon moves, or stacks quantifiers, or
 * has a ")" that opens nothing.
 */
size_t		 regex_cost(const char *);

#endif
