/*
 * The cost guard for POSIX extended regexes: an upper bound on what
 * glibc's regcomp() builds for one, so that a short pattern in the
 * configuration cannot take gigabytes or minutes. Pure: no I/O.
 */

#include <stdlib.h>
#include <string.h>

#include "regex_cost.h"

static size_t	 regex_cost_seq(const char **, int, size_t *);
static size_t	 regex_bail(const char **, const char *);

/*
 * Give up on a regex: too costly. The rest of it is skipped, so that the
 * callers up the nesting stop too (parsing it again at each level would
 * take exponential time).
 */
static size_t
regex_bail(const char **sp, const char *s)
{
	*sp = s + strlen(s);
	return REGEX_MAXCOST + 1;
}

/*
 * An upper bound on the parse-tree nodes regcomp() builds for an ERE:
 * glibc expands "x+" to "xx*" and "x{m,n}" to n copies of x, so nested
 * or stacked repetitions grow exponentially. Saturates above the limit.
 *
 * *eps counts what can be crossed without matching a character in that
 * expansion: each "*", "?", optional copy of "{m,n}" and empty
 * alternative. regcomp() computes an epsilon closure for every node, and
 * their sizes grow with this count: "(a*){5000}", "a*+++++++++++" or
 * "((|){16}){2,50}" have few nodes and take seconds. Two quantifiers in
 * a row (a repetition of a repetition in glibc, undefined in POSIX)
 * saturate at once.
 */
static size_t
regex_cost_seq(const char **sp, int depth, size_t *eps)
{
	const char	*s = *sp;
	size_t		 total = 0, alt = 0, piece, mult, pe, ae = 0;
	unsigned long	 m, n;
	char		*end;
	int		 nquant, empty = 1;

	*eps = 0;
	for (;;) {
		if (*s == '\0' || *s == ')' || *s == '|') {
			/* The end of an alternative. */
			if (empty)
				ae++;		/* "(|)", "a|": an empty one */
			total += alt;
			*eps += ae;
			if (*s != '|')
				break;
			alt = ae = 0;
			empty = 1;
			s++;
			continue;
		}
		empty = 0;
		/* An atom. */
		pe = 0;
		if (*s == '(') {
			s++;
			if (depth > 64)
				return regex_bail(sp, s);
			piece = regex_cost_seq(&s, depth + 1, &pe) + 1;
			if (*s == ')')
				s++;
		} else if (*s == '[') {
			s++;
			if (*s == '^')
				s++;
			if (*s == ']')
				s++;
			while (*s != '\0' && *s != ']') {
				if (s[0] == '[' && (s[1] == ':' || s[1] == '.' ||
				    s[1] == '=')) {
					char	 close = s[1];

					for (s += 2; *s != '\0' && !(s[0] == close &&
					    s[1] == ']'); s++)
						;
					if (*s != '\0')
						s += 2;
					continue;
				}
				s++;
			}
			if (*s == ']')
				s++;
			piece = 1;
		} else {
			if (*s == '\\' && s[1] != '\0')
				s++;
			s++;
			piece = 1;
		}
		/* Its quantifier, multiplying what came before. */
		for (nquant = 0;; nquant++) {
			if (*s == '*' || *s == '?') {
				mult = 1;
				pe = pe + 1;
			} else if (*s == '+') {
				mult = 2;
				pe = 2 * pe + 1;
			} else if (*s == '{') {
				m = strtoul(s + 1, &end, 10);
				n = m;
				if (*end == ',') {
					n = strtoul(end + 1, &end, 10);
					if (n < m)
						n = m + 1;	/* {m,}: m+1 */
				}
				if (*end != '}')
					break;		/* regcomp judges it */
				s = end;
				mult = n > 1 ? n : 1;
				if (mult > REGEX_MAXCOST)
					mult = REGEX_MAXCOST + 1;
				/* n copies, n - m of them optional. */
				pe = pe > REGEX_MAXEPS / mult ?
				    REGEX_MAXEPS + 1 : pe * mult +
				    (n > m ? n - m : 0);
			} else
				break;
			if (nquant > 0)
				return regex_bail(sp, s);
			s++;
			piece = piece > REGEX_MAXCOST / mult ?
			    REGEX_MAXCOST + 1 : piece * mult;
			if (pe > REGEX_MAXEPS)
				return regex_bail(sp, s);
		}
		alt += piece;
		if (alt > REGEX_MAXCOST)
			alt = REGEX_MAXCOST + 1;
		ae += pe;
		if (ae > REGEX_MAXEPS)
			return regex_bail(sp, s);
	}
	*sp = s;
	if (*eps > REGEX_MAXEPS)
		return regex_bail(sp, s);
	return total > REGEX_MAXCOST ? REGEX_MAXCOST + 1 : total;
}

/*
 * The cost of a whole ERE (see regex_cost_seq): above the limit when
 * it would expand to too many nodes or too many epsilon moves, or
 * stacks quantifiers, or has a ")" that opens nothing.
 */
size_t
regex_cost(const char *re)
{
	size_t	 total, eps;

	total = regex_cost_seq(&re, 0, &eps);
	if (*re != '\0')
		return REGEX_MAXCOST + 1;	/* a stray ")" */
	return total;
}
