/* libFuzzer target: the POP3 line splitter and command parser. */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pop3.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Split the input into lines as the session does, and parse each one. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*buf = (const char *)data;
	struct pop3_line	 pl;
	ssize_t			 len;
	size_t			 off = 0;

	while (off < size) {
		len = pop3_line_end(buf + off,
		    size - off < POP3_LINE_MAX ? size - off : POP3_LINE_MAX);
		if (len <= 0)
			break;
		if (pop3_parse(buf + off, (size_t)len, &pl) == POP3_OK) {
			/* Arguments must lie inside the line. */
			if (pl.pl_arg1 != NULL && (pl.pl_arg1 < buf + off ||
			    pl.pl_arg1 + pl.pl_arg1len > buf + off + len))
				__builtin_trap();
			if (pl.pl_arg2 != NULL && (pl.pl_arg2 < buf + off ||
			    pl.pl_arg2 + pl.pl_arg2len > buf + off + len))
				__builtin_trap();
		}
		off += (size_t)len;
	}
	return 0;
}
