/* The POP3 command-line parser (RFC 1939, RFC 2449): pure, no I/O. */
#ifndef POP3_H
#define POP3_H

#include <stddef.h>
#include <sys/types.h>

#define POP3_LINE_MAX	255	/* octets, CRLF included (RFC 2449 §4) */
/* A SASL response line after "+ " (RFC 5034 §4 sets no 255 limit). */
#define POP3_SASL_LINE_MAX	1026	/* 1024 base64 characters, CRLF */

enum pop3_cmd {
	POP3_CMD_UNKNOWN = 0,
	POP3_CMD_USER,
	POP3_CMD_PASS,
	POP3_CMD_APOP,
	POP3_CMD_AUTH,
	POP3_CMD_CAPA,
	POP3_CMD_QUIT,
	POP3_CMD_NOOP,
	POP3_CMD_STLS,
	/* Known, but only in the TRANSACTION state. */
	POP3_CMD_STAT,
	POP3_CMD_LIST,
	POP3_CMD_RETR,
	POP3_CMD_DELE,
	POP3_CMD_RSET,
	POP3_CMD_TOP,
	POP3_CMD_UIDL,
	POP3_CMD_LAST,
};

enum pop3_status {
	POP3_OK = 0,
	POP3_EEMPTY,		/* empty line */
	POP3_ENUL,		/* NUL byte in the line */
	POP3_EUNKNOWN,		/* not a POP3 command */
	POP3_EARGS,		/* wrong number or form of arguments */
};

/* One parsed command line; pointers point into the caller's line. */
struct pop3_line {
	enum pop3_cmd	 pl_cmd;
	char		 pl_verb[5];	/* as typed, upper-cased, NUL-ended */
	const char	*pl_arg1;	/* USER name, PASS secret, APOP name */
	size_t		 pl_arg1len;
	const char	*pl_arg2;	/* APOP digest: 32 hex digits, as typed */
	size_t		 pl_arg2len;
};

/*
 * Find the end of the first line in buf[0..len): returns its length
 * including the LF (CRLF or bare LF), 0 when no LF is there yet and the
 * line may still fit, or -1 when the line is already longer than
 * POP3_LINE_MAX octets.
 */
ssize_t		 pop3_line_end(const char *buf, size_t len);
/* The same with another limit: a SASL response line (RFC 5034 §4). */
ssize_t		 pop3_line_end_max(const char *buf, size_t len, size_t max);

/*
 * Parse one line of len octets (its LF included, as found by
 * pop3_line_end). The verb is case-insensitive. PASS takes the rest of
 * the line, spaces kept; USER one name; APOP a name and a digest.
 */
enum pop3_status pop3_parse(const char *line, size_t len, struct pop3_line *);

/* The name of a command for logs ("USER"); "?" for unknown. */
const char	*pop3_cmd_name(enum pop3_cmd);

#endif
