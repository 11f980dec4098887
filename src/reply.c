/* Replies: one table, so the same failure always reads the same. */

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "reply.h"

static const char *const reply_table[] = {
	[REPLY_OK_USER] = "+OK send PASS\r\n",
	[REPLY_OK_QUIT] = "+OK popserv signing off\r\n",
	[REPLY_AUTH_FAILED] = "-ERR [AUTH] Authentication failed.\r\n",
	[REPLY_TEMP_USERDB] =
	    "-ERR [SYS/TEMP] User database unavailable, try again later\r\n",
	[REPLY_TEMP_BUSY] = "-ERR [SYS/TEMP] Server busy, try again later\r\n",
	[REPLY_TEMP_SAMEADDR] =
	    "-ERR [SYS/TEMP] Too many connections from your address\r\n",
	[REPLY_TEMP_MAILBOX] =
	    "-ERR [SYS/TEMP] Mailbox unavailable, try again later\r\n",
	[REPLY_TOO_LONG] = "-ERR line too long\r\n",
	[REPLY_SYNTAX] = "-ERR syntax error\r\n",
	[REPLY_NUL] = "-ERR syntax error: NUL in command\r\n",
	[REPLY_UNKNOWN] = "-ERR unknown command\r\n",
	[REPLY_NEED_USER] = "-ERR USER first\r\n",
	[REPLY_NOT_AUTHED] = "-ERR not logged in\r\n",
	[REPLY_NO_APOP] = "-ERR APOP not available\r\n",
	[REPLY_NOT_SUPPORTED] = "-ERR not supported\r\n",
	[REPLY_OK_STLS] = "+OK Begin TLS negotiation\r\n",
	[REPLY_TLS_ACTIVE] = "-ERR TLS is already active\r\n",
	/* The code and words clients know from Dovecot (RFC 2595 §4). */
	[REPLY_NEED_TLS] = ("-ERR [AUTH] Plaintext authentication disallowed "
	    "without TLS, use STLS first\r\n"),
	[REPLY_AUTH_LIST] = "+OK\r\nPLAIN\r\n.\r\n",
	[REPLY_AUTH_LIST_NONE] = "+OK\r\n.\r\n",
	[REPLY_SASL_MECH] = "-ERR unsupported authentication mechanism\r\n",
	[REPLY_SASL_CONT] = "+ \r\n",
	[REPLY_SASL_CANCEL] = "-ERR authentication cancelled\r\n",
	[REPLY_SASL_BAD] = "-ERR invalid SASL response\r\n",
};

/* The reply line, CRLF included. */
const char *
reply_text(enum reply r)
{
	return reply_table[r];
}

/* Length of the reply line. */
size_t
reply_len(enum reply r)
{
	return strlen(reply_table[r]);
}

/* The greeting, with the APOP timestamp when there is one. */
int
reply_greeting(char *buf, size_t bufsz, const char *timestamp)
{
	int	 n;

	if (timestamp != NULL)
		n = snprintf(buf, bufsz, "+OK popserv ready %s\r\n", timestamp);
	else
		n = snprintf(buf, bufsz, "+OK popserv ready\r\n");
	if (n < 0 || (size_t)n >= bufsz)
		return -1;
	return n;
}

/*
 * CAPA (RFC 2449): what the AUTHORIZATION state offers now. USER and
 * SASL PLAIN only where a login may be made (not before TLS with
 * plaintext 0), STLS only before TLS and with a certificate (RFC 2595).
 * popit repeats the fixed items after login.
 */
int
reply_capa(char *buf, size_t bufsz, const struct config *cf,
    unsigned int flags)
{
	int	 n;

	(void)cf;
	n = snprintf(buf, bufsz,
	    "+OK Capability list follows\r\n"
	    "%s"
	    "TOP\r\n"
	    "UIDL\r\n"
	    "RESP-CODES\r\n"
	    "AUTH-RESP-CODE\r\n"
	    "PIPELINING\r\n"
	    "%s%s"
	    "IMPLEMENTATION popserv\r\n"
	    ".\r\n",
	    flags & CAPA_LOGIN ? "USER\r\n" : "",
	    flags & CAPA_LOGIN ? "SASL PLAIN\r\n" : "",
	    flags & CAPA_STLS ? "STLS\r\n" : "");
	if (n < 0 || (size_t)n >= bufsz)
		return -1;
	return n;
}
