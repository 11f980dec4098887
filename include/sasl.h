/* SASL PLAIN (RFC 4616) for the POP3 AUTH command (RFC 5034): pure. */
#ifndef SASL_H
#define SASL_H

#include <stddef.h>

/*
 * A client response line (base64, without its CRLF) may hold 1024
 * characters: the largest PLAIN message popserv could accept, a 255-octet
 * authorization identity, user name and password with their two NULs,
 * is 767 octets.
 */
#define SASL_B64_MAX		1024
#define SASL_DECODED_MAX	(SASL_B64_MAX / 4 * 3)

enum sasl_status {
	SASL_OK = 0,
	SASL_EBASE64,		/* not strict base64 (RFC 4648 §4, padded) */
	SASL_EFORM,		/* not authzid NUL authcid NUL passwd */
};

/* A decoded PLAIN message; pointers point into sp_buf. */
struct sasl_plain {
	char		 sp_buf[SASL_DECODED_MAX + 1];
	const char	*sp_authzid;	/* may be empty */
	size_t		 sp_authzidlen;
	const char	*sp_authcid;	/* the user name, not empty */
	size_t		 sp_authcidlen;
	const char	*sp_passwd;	/* not empty */
	size_t		 sp_passwdlen;
};

/*
 * Decode strict base64 in[0..inlen) into out (outsz octets): only the
 * alphabet of RFC 4648 §4, a length that is a multiple of 4, and at most
 * two '=' at the end. Returns the decoded length or -1.
 */
int		 sasl_b64_decode(const char *in, size_t inlen,
		    unsigned char *out, size_t outsz);
/*
 * Decode and split a PLAIN response (base64, or "=" for an empty one).
 * The caller wipes sp with sasl_plain_wipe() once done.
 */
enum sasl_status sasl_plain_parse(const char *b64, size_t len,
		    struct sasl_plain *);
/* Wipe the decoded secret. */
void		 sasl_plain_wipe(struct sasl_plain *);

#endif
