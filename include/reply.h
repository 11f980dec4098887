/* Every reply popserv sends, in one place, with RFC 3206 codes. */
#ifndef REPLY_H
#define REPLY_H

#include <stddef.h>

struct config;

enum reply {
	REPLY_OK_USER,		/* +OK after USER */
	REPLY_OK_QUIT,		/* +OK after QUIT */
	REPLY_AUTH_FAILED,	/* -ERR [AUTH] Authentication failed. */
	REPLY_TEMP_USERDB,	/* -ERR [SYS/TEMP] user database unavailable */
	REPLY_TEMP_BUSY,	/* -ERR [SYS/TEMP] server busy */
	REPLY_TEMP_SAMEADDR,	/* -ERR [SYS/TEMP] Too many connections ... */
	REPLY_TEMP_MAILBOX,	/* -ERR [SYS/TEMP] mailbox unavailable */
	REPLY_TOO_LONG,		/* -ERR line too long */
	REPLY_SYNTAX,		/* -ERR syntax error */
	REPLY_NUL,		/* -ERR NUL byte in command */
	REPLY_UNKNOWN,		/* -ERR unknown command */
	REPLY_NEED_USER,	/* -ERR PASS without USER */
	REPLY_NOT_AUTHED,	/* -ERR transaction command before login */
	REPLY_NO_APOP,		/* -ERR APOP not enabled */
	REPLY_NOT_SUPPORTED,	/* -ERR command not supported here */
	REPLY_OK_STLS,		/* +OK, then the TLS handshake */
	REPLY_TLS_ACTIVE,	/* -ERR STLS when TLS is on already */
	REPLY_NEED_TLS,		/* -ERR [AUTH] plaintext login refused */
	REPLY_AUTH_LIST,	/* AUTH alone: +OK, PLAIN, . */
	REPLY_AUTH_LIST_NONE,	/* AUTH alone, no mechanism offered here */
	REPLY_SASL_MECH,	/* -ERR an unknown SASL mechanism */
	REPLY_SASL_CONT,	/* "+ ": send the response */
	REPLY_SASL_CANCEL,	/* -ERR after "*" */
	REPLY_SASL_BAD,		/* -ERR not base64, or not a PLAIN message */
};

/* What CAPA lists beside the fixed items (RFC 2449, RFC 2595). */
#define CAPA_STLS	0x01	/* STLS: TLS configured, not on yet */
#define CAPA_LOGIN	0x02	/* USER and SASL PLAIN: logins allowed here */

/* The reply line, CRLF included. */
const char	*reply_text(enum reply);
/* Its length. */
size_t		 reply_len(enum reply);

/*
 * The greeting "+OK popserv ready <timestamp>" (timestamp NULL: no APOP).
 * Returns its length, or -1 if it does not fit.
 */
int		 reply_greeting(char *buf, size_t bufsz, const char *timestamp);
/* The CAPA response, multi-line, with the CAPA_* items in flags. */
int		 reply_capa(char *buf, size_t bufsz, const struct config *,
		    unsigned int flags);

#endif
