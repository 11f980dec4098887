/* popit's POP3 commands (RFC 1939, 2449): a table, check and run steps. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "popit_proto.h"

#define POPIT_MAXARGS	2

/* A command line split into arguments, and what the check step found. */
struct popit_args {
	size_t		 pa_argc;
	const char	*pa_argv[POPIT_MAXARGS];
	size_t		 pa_arglen[POPIT_MAXARGS];
	size_t		 pa_msg;	/* checked message number, from 1 */
	uint64_t	 pa_lines;	/* TOP: body lines */
};

/*
 * One POP3 command: its arguments, a check step and a run step, or
 * instead of a run step a fixed answer.
 */
struct popit_cmd {
	const char	*pc_name;
	int		 pc_minargs;
	int		 pc_maxargs;	/* -1: anything, not even parsed */
	int		(*pc_check)(struct popit *, struct popit_args *);
	enum popit_next	(*pc_run)(struct popit *, struct popit_args *);
	const char	*pc_answer;	/* when pc_run is NULL */
};

static int		 popit_check_none(struct popit *, struct popit_args *);
static int		 popit_check_msg(struct popit *, struct popit_args *);
static int		 popit_check_optmsg(struct popit *, struct popit_args *);
static int		 popit_check_top(struct popit *, struct popit_args *);
static int		 popit_msgarg(struct popit *, struct popit_args *);

static enum popit_next	 popit_run_stat(struct popit *, struct popit_args *);
static enum popit_next	 popit_run_list(struct popit *, struct popit_args *);
static enum popit_next	 popit_run_retr(struct popit *, struct popit_args *);
static enum popit_next	 popit_run_dele(struct popit *, struct popit_args *);
static enum popit_next	 popit_run_rset(struct popit *, struct popit_args *);
static enum popit_next	 popit_run_quit(struct popit *, struct popit_args *);
static enum popit_next	 popit_run_top(struct popit *, struct popit_args *);
static enum popit_next	 popit_run_uidl(struct popit *, struct popit_args *);
static enum popit_next	 popit_run_last(struct popit *, struct popit_args *);

static enum popit_next	 popit_send(struct popit *, size_t, int, uint64_t);
static int		 popit_size(struct popit *, size_t, uint64_t *);
static int		 popit_total(struct popit *, size_t *, uint64_t *);
static void		 popit_accessed(struct popit *, size_t);

/*
 * What popserv announces before login (RFC 2449), less what only makes
 * sense there: no STLS, no SASL in the TRANSACTION state.
 */
static const char popit_capa[] =
	"+OK Capability list follows\r\n"
	"USER\r\n"
	"TOP\r\n"
	"UIDL\r\n"
	"RESP-CODES\r\n"
	"AUTH-RESP-CODE\r\n"
	"PIPELINING\r\n"
	"SASL PLAIN\r\n"
	"IMPLEMENTATION popserv\r\n"
	".\r\n";

/* USER, PASS, APOP, AUTH, STLS after login. */
static const char popit_authed[] = "-ERR not in the TRANSACTION state\r\n";

static const struct popit_cmd popit_cmds[] = {
	{ "STAT", 0, 0, popit_check_none, popit_run_stat, NULL },
	{ "LIST", 0, 1, popit_check_optmsg, popit_run_list, NULL },
	{ "RETR", 1, 1, popit_check_msg, popit_run_retr, NULL },
	{ "DELE", 1, 1, popit_check_msg, popit_run_dele, NULL },
	{ "NOOP", 0, 0, popit_check_none, NULL, "+OK\r\n" },
	{ "RSET", 0, 0, popit_check_none, popit_run_rset, NULL },
	{ "QUIT", 0, 0, popit_check_none, popit_run_quit, NULL },
	{ "TOP", 2, 2, popit_check_top, popit_run_top, NULL },
	{ "UIDL", 0, 1, popit_check_optmsg, popit_run_uidl, NULL },
	{ "LAST", 0, 0, popit_check_none, popit_run_last, NULL },
	{ "CAPA", 0, 0, popit_check_none, NULL, popit_capa },
	/* The AUTHORIZATION state is over. */
	{ "USER", 0, -1, popit_check_none, NULL, popit_authed },
	{ "PASS", 0, -1, popit_check_none, NULL, popit_authed },
	{ "APOP", 0, -1, popit_check_none, NULL, popit_authed },
	{ "AUTH", 0, -1, popit_check_none, NULL, popit_authed },
	{ "STLS", 0, -1, popit_check_none, NULL, popit_authed },
};

/*
 * The +OK that answers the client's PASS/APOP. It gives the count only:
 * the total size would mean reading every message without a ,W= hint
 * at each login; STAT computes it when asked.
 */
void
popit_greet(struct popit *pi)
{
	size_t	 n = pi->pi_md.md_count;

	outbuf_printf(&pi->pi_ob, "+OK maildrop has %zu message%s\r\n", n,
	    n == 1 ? "" : "s");
}

/*
 * Parse a non-negative decimal number of len octets: digits only, no
 * sign, no space, no overflow. Returns 0 or -1.
 */
int
popit_parse_num(const char *s, size_t len, uint64_t *v)
{
	size_t		 i;
	uint64_t	 n = 0;
	unsigned int	 d;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned int)(s[i] - '0');
		if (n > UINT64_MAX / 10 ||
		    (n == UINT64_MAX / 10 && d > UINT64_MAX % 10))
			return -1;
		n = n * 10 + d;
	}
	*v = n;
	return 0;
}

/*
 * Run one command line (without its line end): split it at spaces,
 * find the command, check its arguments, run it.
 */
enum popit_next
popit_dispatch(struct popit *pi, const char *line, size_t len)
{
	const struct popit_cmd	*pc = NULL;
	struct popit_args	 pa;
	size_t			 i, vlen, j;

	if (memchr(line, '\0', len) != NULL) {
		outbuf_printf(&pi->pi_ob, "-ERR syntax error\r\n");
		return POPIT_CONTINUE;
	}
	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
		;
	if (vlen == 0) {
		outbuf_printf(&pi->pi_ob, "-ERR %s\r\n",
		    len == 0 ? "empty command" : "syntax error");
		return POPIT_CONTINUE;
	}
	for (i = 0; i < sizeof(popit_cmds) / sizeof(popit_cmds[0]); i++) {
		if (strlen(popit_cmds[i].pc_name) == vlen &&
		    strncasecmp(popit_cmds[i].pc_name, line, vlen) == 0) {
			pc = &popit_cmds[i];
			break;
		}
	}
	if (pc == NULL) {
		outbuf_printf(&pi->pi_ob, "-ERR unknown command\r\n");
		return POPIT_CONTINUE;
	}

	memset(&pa, 0, sizeof(pa));
	if (pc->pc_maxargs >= 0) {
		/* Arguments are separated by spaces; extra spaces are lenient. */
		for (i = vlen; i < len; i = j) {
			while (i < len && line[i] == ' ')
				i++;
			if (i == len)
				break;
			for (j = i; j < len && line[j] != ' '; j++)
				;
			if (pa.pa_argc < POPIT_MAXARGS) {
				pa.pa_argv[pa.pa_argc] = line + i;
				pa.pa_arglen[pa.pa_argc] = j - i;
			}
			pa.pa_argc++;
		}
		if (pa.pa_argc < (size_t)pc->pc_minargs) {
			outbuf_printf(&pi->pi_ob, "-ERR missing argument\r\n");
			return POPIT_CONTINUE;
		}
		if (pa.pa_argc > (size_t)pc->pc_maxargs) {
			outbuf_printf(&pi->pi_ob,
			    "-ERR too many arguments\r\n");
			return POPIT_CONTINUE;
		}
	}
	if (pc->pc_check(pi, &pa) == -1)
		return POPIT_CONTINUE;
	if (pc->pc_run == NULL) {
		outbuf_write(&pi->pi_ob, pc->pc_answer, strlen(pc->pc_answer));
		return POPIT_CONTINUE;
	}
	return pc->pc_run(pi, &pa);
}

/* Commands without arguments need no further check. */
static int
popit_check_none(struct popit *pi, struct popit_args *pa)
{
	(void)pi;
	(void)pa;
	return 0;
}

/*
 * The first argument must name a message that exists and is not marked
 * deleted; answers -ERR and returns -1 otherwise.
 */
static int
popit_msgarg(struct popit *pi, struct popit_args *pa)
{
	uint64_t	 n;

	if (popit_parse_num(pa->pa_argv[0], pa->pa_arglen[0], &n) == -1) {
		outbuf_printf(&pi->pi_ob, "-ERR invalid message number\r\n");
		return -1;
	}
	if (n == 0 || n > pi->pi_md.md_count) {
		outbuf_printf(&pi->pi_ob, "-ERR no such message\r\n");
		return -1;
	}
	if (pi->pi_md.md_msgs[n - 1].mm_flags & MD_DELETED) {
		outbuf_printf(&pi->pi_ob, "-ERR message %" PRIu64
		    " already deleted\r\n", n);
		return -1;
	}
	pa->pa_msg = (size_t)n;
	return 0;
}

/* RETR, DELE: exactly one message number. */
static int
popit_check_msg(struct popit *pi, struct popit_args *pa)
{
	return popit_msgarg(pi, pa);
}

/* LIST, UIDL: an optional message number. */
static int
popit_check_optmsg(struct popit *pi, struct popit_args *pa)
{
	if (pa->pa_argc == 0)
		return 0;
	return popit_msgarg(pi, pa);
}

/* TOP: a message number and a count of body lines. */
static int
popit_check_top(struct popit *pi, struct popit_args *pa)
{
	if (popit_msgarg(pi, pa) == -1)
		return -1;
	if (popit_parse_num(pa->pa_argv[1], pa->pa_arglen[1],
	    &pa->pa_lines) == -1) {
		outbuf_printf(&pi->pi_ob, "-ERR invalid line count\r\n");
		return -1;
	}
	return 0;
}

/* The size of message idx for STAT and LIST; answers -ERR on failure. */
static int
popit_size(struct popit *pi, size_t idx, uint64_t *size)
{
	if (maildir_size(&pi->pi_md, idx, size) == 0)
		return 0;
	pi->pi_log("%s: %s", pi->pi_md.md_msgs[idx].mm_path, strerror(errno));
	outbuf_printf(&pi->pi_ob, "-ERR [SYS/TEMP] cannot read message "
	    "%zu\r\n", idx + 1);
	return -1;
}

/* Remember the highest message number accessed, for LAST. */
static void
popit_accessed(struct popit *pi, size_t n)
{
	if (n > pi->pi_last)
		pi->pi_last = n;
}

/*
 * Count and octets of the messages not marked deleted. Returns 0, or -1
 * when a size could not be had (popit_size() has answered the client).
 */
static int
popit_total(struct popit *pi, size_t *np, uint64_t *totalp)
{
	uint64_t	 size;
	size_t		 i;

	*np = 0;
	*totalp = 0;
	for (i = 0; i < pi->pi_md.md_count; i++) {
		if (pi->pi_md.md_msgs[i].mm_flags & MD_DELETED)
			continue;
		if (popit_size(pi, i, &size) == -1)
			return -1;
		*totalp += size;
		(*np)++;
	}
	return 0;
}

/* STAT: count and octets of the messages not marked deleted. */
static enum popit_next
popit_run_stat(struct popit *pi, struct popit_args *pa)
{
	uint64_t	 total;
	size_t		 n;

	(void)pa;
	if (popit_total(pi, &n, &total) == -1)
		return POPIT_CONTINUE;
	outbuf_printf(&pi->pi_ob, "+OK %zu %" PRIu64 "\r\n", n, total);
	return POPIT_CONTINUE;
}

/* LIST [n]: the scan listing of one message or of all. */
static enum popit_next
popit_run_list(struct popit *pi, struct popit_args *pa)
{
	uint64_t	 total, size;
	size_t		 i, n;

	if (pa->pa_msg != 0) {
		if (popit_size(pi, pa->pa_msg - 1, &size) == 0)
			outbuf_printf(&pi->pi_ob, "+OK %zu %" PRIu64 "\r\n",
			    pa->pa_msg, size);
		return POPIT_CONTINUE;
	}
	/* Sizes first: an error must come before the +OK. */
	if (popit_total(pi, &n, &total) == -1)
		return POPIT_CONTINUE;
	outbuf_printf(&pi->pi_ob, "+OK %zu messages (%" PRIu64
	    " octets)\r\n", n, total);
	for (i = 0; i < pi->pi_md.md_count; i++) {
		if (pi->pi_md.md_msgs[i].mm_flags & MD_DELETED)
			continue;
		size = pi->pi_md.md_msgs[i].mm_size;
		if (size == MD_SIZE_UNKNOWN)	/* vanished meanwhile */
			size = 0;
		outbuf_printf(&pi->pi_ob, "%zu %" PRIu64 "\r\n", i + 1, size);
	}
	outbuf_write(&pi->pi_ob, ".\r\n", 3);
	return POPIT_CONTINUE;
}

/*
 * Send message idx from fd: the +OK, the message line by line in CRLF
 * and byte-stuffed, then the "." line; with top, only the headers and
 * lines body lines. The first read happens before the +OK, so a file
 * that cannot be read is an -ERR; a read error later can only end the
 * session (the client must not take a truncated message for whole).
 */
static enum popit_next
popit_send(struct popit *pi, size_t idx, int top, uint64_t lines)
{
	const struct md_msg	*mm = &pi->pi_md.md_msgs[idx];
	struct md_enc		 enc;
	char			 buf[POPIT_CHUNK];
	ssize_t			 r;
	int			 fd;

	if ((fd = maildir_open(&pi->pi_md, idx)) == -1) {
		if (errno == ENOENT) {
			outbuf_printf(&pi->pi_ob, "-ERR message %zu was "
			    "removed by another session\r\n", idx + 1);
			return POPIT_CONTINUE;
		}
		pi->pi_log("%s: open: %s", mm->mm_path, strerror(errno));
		outbuf_printf(&pi->pi_ob, "-ERR [SYS/TEMP] cannot open "
		    "message %zu\r\n", idx + 1);
		return POPIT_CONTINUE;
	}
	while ((r = read(fd, buf, sizeof(buf))) == -1 && errno == EINTR)
		;
	if (r == -1) {
		pi->pi_log("%s: read: %s", mm->mm_path, strerror(errno));
		outbuf_printf(&pi->pi_ob, "-ERR [SYS/TEMP] cannot read "
		    "message %zu\r\n", idx + 1);
		close(fd);
		return POPIT_CONTINUE;
	}
	if (!top && mm->mm_size != MD_SIZE_UNKNOWN)
		outbuf_printf(&pi->pi_ob, "+OK %" PRIu64 " octets\r\n",
		    mm->mm_size);
	else
		outbuf_printf(&pi->pi_ob, "+OK message follows\r\n");

	md_enc_init(&enc, top, lines);
	while (r > 0) {
		outbuf_commit(&pi->pi_ob, md_enc_run(&enc, buf, (size_t)r,
		    outbuf_reserve(&pi->pi_ob, MD_ENC_OUTMAX((size_t)r))));
		if (enc.me_done)
			break;
		while ((r = read(fd, buf, sizeof(buf))) == -1 &&
		    errno == EINTR)
			;
	}
	if (r == -1) {
		pi->pi_log("%s: read: %s", mm->mm_path, strerror(errno));
		close(fd);
		return POPIT_ABORT;
	}
	close(fd);
	outbuf_commit(&pi->pi_ob, md_enc_finish(&enc, outbuf_reserve(&pi->pi_ob,
	    MD_ENC_FINMAX)));
	return POPIT_CONTINUE;
}

/* RETR n: send the whole message; QUIT will mark it seen. */
static enum popit_next
popit_run_retr(struct popit *pi, struct popit_args *pa)
{
	size_t		 idx = pa->pa_msg - 1;
	enum popit_next	 next;

	next = popit_send(pi, idx, 0, 0);
	if (!(pi->pi_md.md_msgs[idx].mm_flags & MD_GONE)) {
		pi->pi_md.md_msgs[idx].mm_flags |= MD_RETRIEVED;
		popit_accessed(pi, pa->pa_msg);
	}
	return next;
}

/* TOP n m: headers, blank line, m body lines; does not mark it seen. */
static enum popit_next
popit_run_top(struct popit *pi, struct popit_args *pa)
{
	enum popit_next	 next;

	next = popit_send(pi, pa->pa_msg - 1, 1, pa->pa_lines);
	if (!(pi->pi_md.md_msgs[pa->pa_msg - 1].mm_flags & MD_GONE))
		popit_accessed(pi, pa->pa_msg);
	return next;
}

/* DELE n: mark for deletion at QUIT. */
static enum popit_next
popit_run_dele(struct popit *pi, struct popit_args *pa)
{
	pi->pi_md.md_msgs[pa->pa_msg - 1].mm_flags |= MD_DELETED;
	popit_accessed(pi, pa->pa_msg);
	outbuf_printf(&pi->pi_ob, "+OK message %zu deleted\r\n", pa->pa_msg);
	return POPIT_CONTINUE;
}


/* RSET: unmark every deletion and reset LAST. */
static enum popit_next
popit_run_rset(struct popit *pi, struct popit_args *pa)
{
	size_t	 i;

	(void)pa;
	for (i = 0; i < pi->pi_md.md_count; i++)
		pi->pi_md.md_msgs[i].mm_flags &= ~(unsigned int)MD_DELETED;
	pi->pi_last = 0;
	popit_greet(pi);
	return POPIT_CONTINUE;
}

/* QUIT: the UPDATE state, then the last answer. */
static enum popit_next
popit_run_quit(struct popit *pi, struct popit_args *pa)
{
	struct md_update	 mu;

	(void)pa;
	if (maildir_update(&pi->pi_md, &mu, pi->pi_log) == -1) {
		outbuf_printf(&pi->pi_ob, "-ERR [SYS/TEMP] %zu message%s "
		    "could not be deleted\r\n", mu.mu_delfail,
		    mu.mu_delfail == 1 ? "" : "s");
		pi->pi_status = 75;	/* EX_TEMPFAIL */
	} else {
		outbuf_printf(&pi->pi_ob, "+OK bye (%zu deleted)\r\n",
		    mu.mu_deleted);
		pi->pi_status = 0;
	}
	return POPIT_QUIT;
}

/* UIDL [n]: unique-id listing of one message or of all. */
static enum popit_next
popit_run_uidl(struct popit *pi, struct popit_args *pa)
{
	char	 uid[MD_UID_MAX + 1];
	size_t	 i;

	if (pa->pa_msg != 0) {
		outbuf_printf(&pi->pi_ob, "+OK %zu %s\r\n", pa->pa_msg,
		    maildir_uid(&pi->pi_md, pa->pa_msg - 1, uid));
		return POPIT_CONTINUE;
	}
	outbuf_printf(&pi->pi_ob, "+OK unique-id listing follows\r\n");
	for (i = 0; i < pi->pi_md.md_count; i++) {
		if (pi->pi_md.md_msgs[i].mm_flags & MD_DELETED)
			continue;
		outbuf_printf(&pi->pi_ob, "%zu %s\r\n", i + 1,
		    maildir_uid(&pi->pi_md, i, uid));
	}
	outbuf_write(&pi->pi_ob, ".\r\n", 3);
	return POPIT_CONTINUE;
}

/* LAST (RFC 1460): the highest message number accessed this session. */
static enum popit_next
popit_run_last(struct popit *pi, struct popit_args *pa)
{
	(void)pa;
	outbuf_printf(&pi->pi_ob, "+OK %zu\r\n", pi->pi_last);
	return POPIT_CONTINUE;
}
