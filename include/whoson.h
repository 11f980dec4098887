/* WHOSON notices for POP-before-SMTP (docs/accounting.md), as wso_login() sends them. */
#ifndef WHOSON_H
#define WHOSON_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct event_base;

/* Do the whoson.allow/deny rules allow name (first match; none: no)? */
int	whoson_allowed(const struct config *, const char *name);
/*
 * "LOGIN <ip> <name>\r\n\r\n" into buf. Returns its length, or -1 when
 * it does not fit or a field is empty or holds a blank or control byte.
 */
int	whoson_packet(char *buf, size_t bufsz, const char *ip,
	    const char *name);

/* Open the socket to whoson.server when there are rules. 0 or -1. */
int	whoson_open(struct event_base *, const struct config *);
/* Send LOGIN for name from ip if the rules allow it. */
void	whoson_login(const struct config *, const char *name, const char *ip);
void	whoson_stats(uint64_t *sent, uint64_t *negative);
void	whoson_close(void);

#endif
