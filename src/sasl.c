/*
 * SASL PLAIN (RFC 4616) for AUTH (RFC 5034): strict base64 checked here,
 * decoded by OpenSSL's EVP_DecodeBlock, then split at its two NULs. No
 * I/O, so unit tests and fuzzers drive it directly.
 */

#include <string.h>

#include <openssl/evp.h>

#include "sasl.h"

static int	 sasl_b64_char(int);

/* Is c in the base64 alphabet (RFC 4648 §4, not the URL one)? */
static int
sasl_b64_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Strict base64: see sasl.h. */
int
sasl_b64_decode(const char *in, size_t inlen, unsigned char *out,
    size_t outsz)
{
	size_t	 i, pad = 0;
	int	 n;

	if (inlen % 4 != 0 || inlen / 4 * 3 > outsz || inlen > SASL_B64_MAX)
		return -1;
	if (inlen == 0)
		return 0;
	if (in[inlen - 1] == '=')
		pad = in[inlen - 2] == '=' ? 2 : 1;
	for (i = 0; i < inlen - pad; i++)
		if (!sasl_b64_char((unsigned char)in[i]))
			return -1;
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)inlen);
	if (n < 0 || (size_t)n < pad)
		return -1;
	return n - (int)pad;
}

/* Decode and split a PLAIN message: see sasl.h. */
enum sasl_status
sasl_plain_parse(const char *b64, size_t len, struct sasl_plain *sp)
{
	const char	*nul1, *nul2, *end;
	int		 n;

	memset(sp->sp_buf, 0, sizeof(sp->sp_buf));
	sp->sp_authzid = sp->sp_authcid = sp->sp_passwd = sp->sp_buf;
	sp->sp_authzidlen = sp->sp_authcidlen = sp->sp_passwdlen = 0;
	if (len == 1 && b64[0] == '=')
		return SASL_EFORM;	/* an empty message */
	if ((n = sasl_b64_decode(b64, len, (unsigned char *)sp->sp_buf,
	    SASL_DECODED_MAX)) == -1)
		return SASL_EBASE64;
	end = sp->sp_buf + n;
	if ((nul1 = memchr(sp->sp_buf, '\0', n)) == NULL ||
	    (nul2 = memchr(nul1 + 1, '\0', end - nul1 - 1)) == NULL ||
	    memchr(nul2 + 1, '\0', end - nul2 - 1) != NULL)
		return SASL_EFORM;
	sp->sp_authzid = sp->sp_buf;
	sp->sp_authzidlen = nul1 - sp->sp_buf;
	sp->sp_authcid = nul1 + 1;
	sp->sp_authcidlen = nul2 - nul1 - 1;
	sp->sp_passwd = nul2 + 1;
	sp->sp_passwdlen = end - nul2 - 1;
	if (sp->sp_authcidlen == 0 || sp->sp_passwdlen == 0)
		return SASL_EFORM;
	return SASL_OK;
}

/* Wipe the decoded message. */
void
sasl_plain_wipe(struct sasl_plain *sp)
{
	explicit_bzero(sp->sp_buf, sizeof(sp->sp_buf));
	sp->sp_authzidlen = sp->sp_authcidlen = sp->sp_passwdlen = 0;
}
