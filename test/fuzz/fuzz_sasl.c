/* libFuzzer target: strict base64 and SASL PLAIN messages (sasl.c). */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sasl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * Parse the input as a PLAIN response: the three parts lie inside the
 * decoded buffer, do not overlap, and hold no NUL; what decodes also
 * decodes on its own to the same length.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sasl_plain	 sp;
	unsigned char		 out[SASL_DECODED_MAX];
	char			*copy;
	const char		*end;
	int			 n;

	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	n = sasl_b64_decode(copy, size, out, sizeof(out));
	if (n > (int)sizeof(out) || (n >= 0 && (size_t)n > size))
		__builtin_trap();
	if (sasl_plain_parse(copy, size, &sp) == SASL_OK) {
		end = sp.sp_buf + sizeof(sp.sp_buf);
		if (sp.sp_authzid != sp.sp_buf ||
		    sp.sp_authcid != sp.sp_authzid + sp.sp_authzidlen + 1 ||
		    sp.sp_passwd != sp.sp_authcid + sp.sp_authcidlen + 1 ||
		    sp.sp_passwd + sp.sp_passwdlen > end ||
		    sp.sp_authcidlen == 0 || sp.sp_passwdlen == 0 ||
		    memchr(sp.sp_buf, '\0', sp.sp_authzidlen) != NULL ||
		    memchr(sp.sp_authcid, '\0', sp.sp_authcidlen) != NULL ||
		    memchr(sp.sp_passwd, '\0', sp.sp_passwdlen) != NULL ||
		    n != (int)(sp.sp_authzidlen + sp.sp_authcidlen +
		    sp.sp_passwdlen + 2))
			__builtin_trap();
	}
	sasl_plain_wipe(&sp);
	free(copy);
	return 0;
}
