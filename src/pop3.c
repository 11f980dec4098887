/* The POP3 AUTHORIZATION-state line parser (RFC 1939, RFC 2449): pure, no I/O. */

#include <string.h>

#include "pop3.h"

/* How a command takes its arguments. */
enum pop3_argform {
	POP3_ARG_NONE,		/* nothing but trailing blanks */
	POP3_ARG_NAME,		/* one name without blanks or controls */
	POP3_ARG_SECRET,	/* the rest of the line, verbatim, not empty */
	POP3_ARG_APOP,		/* a name and a 32-digit hex digest */
	POP3_ARG_REST,		/* the rest of the line, verbatim, or empty */
};

/* One command: its verb and how it takes arguments. */
struct pop3_cmdent {
	enum pop3_cmd		 pc_cmd;
	const char		*pc_name;
	enum pop3_argform	 pc_args;
};

static const struct pop3_cmdent pop3_cmds[] = {
	{ POP3_CMD_USER,	"USER",	POP3_ARG_NAME },
	{ POP3_CMD_PASS,	"PASS",	POP3_ARG_SECRET },
	{ POP3_CMD_APOP,	"APOP",	POP3_ARG_APOP },
	{ POP3_CMD_AUTH,	"AUTH",	POP3_ARG_REST },
	{ POP3_CMD_CAPA,	"CAPA",	POP3_ARG_NONE },
	{ POP3_CMD_QUIT,	"QUIT",	POP3_ARG_NONE },
	{ POP3_CMD_NOOP,	"NOOP",	POP3_ARG_NONE },
	{ POP3_CMD_STLS,	"STLS",	POP3_ARG_NONE },
	{ POP3_CMD_STAT,	"STAT",	POP3_ARG_NONE },
	{ POP3_CMD_LIST,	"LIST",	POP3_ARG_REST },
	{ POP3_CMD_RETR,	"RETR",	POP3_ARG_REST },
	{ POP3_CMD_DELE,	"DELE",	POP3_ARG_REST },
	{ POP3_CMD_RSET,	"RSET",	POP3_ARG_NONE },
	{ POP3_CMD_TOP,		"TOP",	POP3_ARG_REST },
	{ POP3_CMD_UIDL,	"UIDL",	POP3_ARG_REST },
	{ POP3_CMD_LAST,	"LAST",	POP3_ARG_NONE },
};

#define NCMDS		(sizeof(pop3_cmds) / sizeof(pop3_cmds[0]))
#define POP3_DIGEST_LEN	32	/* APOP: hex MD5 */

static const struct pop3_cmdent *pop3_lookup(const char *, size_t);
static int	 pop3_upper(int);
static int	 pop3_isblank(int);
static int	 pop3_isnamechar(int);
static int	 pop3_ishex(int);
static size_t	 pop3_trim(const char *, size_t);
static int	 pop3_isname(const char *, size_t);
static enum pop3_status pop3_args(const struct pop3_cmdent *, const char *,
		    size_t, struct pop3_line *);

/* ASCII upper case, whatever the locale. */
static int
pop3_upper(int c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 'A';
	return c;
}

/* A space or a tab, the blanks tolerated at the end of an argument. */
static int
pop3_isblank(int c)
{
	return c == ' ' || c == '\t';
}

/* A byte allowed in a login name: not a blank, not a control (8-bit ok). */
static int
pop3_isnamechar(int c)
{
	unsigned char	 u = (unsigned char)c;

	return u > 0x20 && u != 0x7f;
}

/* An ASCII hex digit, either case. */
static int
pop3_ishex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* Length of s[0..len) without its trailing spaces and tabs. */
static size_t
pop3_trim(const char *s, size_t len)
{
	while (len > 0 && pop3_isblank((unsigned char)s[len - 1]))
		len--;
	return len;
}

/* Whether s[0..len) is a non-empty login name. */
static int
pop3_isname(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!pop3_isnamechar((unsigned char)s[i]))
			return 0;
	return 1;
}

/* The table entry for a verb of len octets, any case; NULL if unknown. */
static const struct pop3_cmdent *
pop3_lookup(const char *verb, size_t len)
{
	size_t	 i, j;

	for (i = 0; i < NCMDS; i++) {
		if (strlen(pop3_cmds[i].pc_name) != len)
			continue;
		for (j = 0; j < len; j++)
			if (pop3_upper((unsigned char)verb[j]) !=
			    pop3_cmds[i].pc_name[j])
				break;
		if (j == len)
			return &pop3_cmds[i];
	}
	return NULL;
}

/* Length of the first line with its LF; 0 if incomplete; -1 if too long. */
ssize_t
pop3_line_end(const char *buf, size_t len)
{
	return pop3_line_end_max(buf, len, POP3_LINE_MAX);
}

/* The same for lines of at most max octets. */
ssize_t
pop3_line_end_max(const char *buf, size_t len, size_t max)
{
	const char	*lf;
	size_t		 scan;

	scan = len < max ? len : max;
	if (scan > 0 && (lf = memchr(buf, '\n', scan)) != NULL)
		return lf - buf + 1;
	if (len >= max)
		return -1;
	return 0;
}

/*
 * Split the arguments for command ce; rest[0..restlen) follows the verb,
 * its line end already stripped.
 */
static enum pop3_status
pop3_args(const struct pop3_cmdent *ce, const char *rest, size_t restlen,
    struct pop3_line *pl)
{
	const char	*arg, *sp;
	size_t		 arglen, namelen, i;
	int		 sep;

	/* RFC 1939: keyword and arguments are separated by one SPACE. */
	sep = restlen > 0 && rest[0] == ' ';
	arg = sep ? rest + 1 : rest;
	arglen = sep ? restlen - 1 : restlen;

	switch (ce->pc_args) {
	case POP3_ARG_NONE:
		if (pop3_trim(rest, restlen) != 0)
			return POP3_EARGS;
		return POP3_OK;
	case POP3_ARG_REST:
		/* "AUTH\tPLAIN": no argument may follow without its space. */
		if (!sep) {
			if (pop3_trim(rest, restlen) != 0)
				return POP3_EARGS;
			arg = rest + restlen;
			arglen = 0;
		}
		pl->pl_arg1 = arg;
		pl->pl_arg1len = arglen;
		return POP3_OK;
	case POP3_ARG_SECRET:
		if (!sep || arglen == 0)
			return POP3_EARGS;
		pl->pl_arg1 = arg;
		pl->pl_arg1len = arglen;
		return POP3_OK;
	case POP3_ARG_NAME:
		if (!sep)
			return POP3_EARGS;
		arglen = pop3_trim(arg, arglen);
		if (!pop3_isname(arg, arglen))
			return POP3_EARGS;
		pl->pl_arg1 = arg;
		pl->pl_arg1len = arglen;
		return POP3_OK;
	case POP3_ARG_APOP:
		if (!sep)
			return POP3_EARGS;
		arglen = pop3_trim(arg, arglen);
		if ((sp = memchr(arg, ' ', arglen)) == NULL)
			return POP3_EARGS;
		namelen = sp - arg;
		if (!pop3_isname(arg, namelen))
			return POP3_EARGS;
		if (arglen - namelen - 1 != POP3_DIGEST_LEN)
			return POP3_EARGS;
		for (i = 0; i < POP3_DIGEST_LEN; i++)
			if (!pop3_ishex((unsigned char)sp[1 + i]))
				return POP3_EARGS;
		pl->pl_arg1 = arg;
		pl->pl_arg1len = namelen;
		pl->pl_arg2 = sp + 1;
		pl->pl_arg2len = POP3_DIGEST_LEN;
		return POP3_OK;
	}
	return POP3_EARGS;
}

/*
 * Parse one line. On POP3_EARGS pl_cmd already names the command, so the
 * caller can say which one was malformed; on POP3_EUNKNOWN pl_verb holds
 * the first four octets of the word typed, upper-cased, with anything but
 * printable ASCII replaced by '?' so it is safe to log as it is.
 */
enum pop3_status
pop3_parse(const char *line, size_t len, struct pop3_line *pl)
{
	const struct pop3_cmdent *ce;
	size_t		 verblen, i;
	int		 c;

	memset(pl, 0, sizeof(*pl));
	pl->pl_cmd = POP3_CMD_UNKNOWN;
	if (line == NULL || len == 0)
		return POP3_EEMPTY;
	if (memchr(line, '\0', len) != NULL)
		return POP3_ENUL;

	/* Strip LF, then one CR before it. */
	if (line[len - 1] == '\n') {
		len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
	}
	if (len == 0)
		return POP3_EEMPTY;

	for (verblen = 0; verblen < len; verblen++)
		if (pop3_isblank((unsigned char)line[verblen]))
			break;
	for (i = 0; i < verblen && i < sizeof(pl->pl_verb) - 1; i++) {
		c = pop3_upper((unsigned char)line[i]);
		pl->pl_verb[i] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
	}
	pl->pl_verb[i] = '\0';

	if ((ce = pop3_lookup(line, verblen)) == NULL)
		return POP3_EUNKNOWN;
	pl->pl_cmd = ce->pc_cmd;
	return pop3_args(ce, line + verblen, len - verblen, pl);
}

/* The canonical name of a command, "?" for none. */
const char *
pop3_cmd_name(enum pop3_cmd cmd)
{
	size_t	 i;

	for (i = 0; i < NCMDS; i++)
		if (pop3_cmds[i].pc_cmd == cmd)
			return pop3_cmds[i].pc_name;
	return "?";
}
