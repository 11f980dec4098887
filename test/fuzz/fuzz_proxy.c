/* libFuzzer target: the PROXY protocol v1/v2 header parser. */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>
#include <netinet/in.h>

#include "proxy.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * Parse the input, and every prefix of a header found: a header's
 * length never exceeds the input, its prefixes only ever ask for more,
 * and a parsed address is IPv4 or IPv6.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_hdr	 ph;
	unsigned char		*copy;
	ssize_t			 n, m;
	size_t			 i;

	/* An exact-size copy, so that any overread is caught. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	n = proxy_parse(copy, size, &ph);
	if (n > (ssize_t)size || n < PROXY_BAD)
		__builtin_trap();
	if (n > 0) {
		if (ph.ph_version != 1 && ph.ph_version != 2)
			__builtin_trap();
		if (!ph.ph_local && ph.ph_src.ss_family != AF_INET &&
		    ph.ph_src.ss_family != AF_INET6)
			__builtin_trap();
		for (i = 0; i < (size_t)n; i++) {
			m = proxy_parse(copy, i, &ph);
			if (m != 0)
				__builtin_trap();
		}
	}
	free(copy);
	return 0;
}
