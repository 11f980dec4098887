/*
 * popit: serve the POP3 TRANSACTION and UPDATE states (RFC 1939) on the
 * Maildir in the current directory, to the client on fd 0 and fd 1.
 * popserv execs it after a successful login (docs/popit.md).
 */

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "outbuf.h"
#include "popit.h"
#include "popit_proto.h"

static void	 usage(void) __attribute__((noreturn));
static void	 popit_exit(struct popit *, int) __attribute__((noreturn));
static void	 popit_fill(struct popit *);
static void	 popit_loop(struct popit *);
static int	 popit_wait(struct popit *, int, short);
static void	 popit_client_error(const char *);
static void	 popit_send(void *, const char *, size_t);

static struct popit	 popit_session;
static const char	*popit_user;

/* Explain the command line on stderr (popserv's log), tell the client. */
static void
usage(void)
{
	popit_log("usage: popit [-t seconds] [-- useropt]");
	popit_client_error("-ERR [SYS/TEMP] popit is misconfigured\r\n");
	exit(EX_USAGE);
}

/* Write one answer to the client before the session exists; no buffer. */
static void
popit_client_error(const char *msg)
{
	ssize_t	 r;

	do
		r = write(STDOUT_FILENO, msg, strlen(msg));
	while (r == -1 && errno == EINTR);
}

/* Refuse root, read the options, scan the Maildir, answer the login. */
int
main(int argc, char *argv[])
{
	struct popit	*pi = &popit_session;
	unsigned long	 secs;
	char		*end;
	int		 ch;

	signal(SIGPIPE, SIG_DFL);
	popit_user = getenv("USER");

	if (getuid() == 0 || geteuid() == 0) {
		popit_log("refusing to run as root");
		popit_client_error("-ERR [SYS/PERM] popit refuses to run "
		    "as root\r\n");
		exit(EX_NOPERM);
	}

	pi->pi_timeout = POPIT_TIMEOUT * 1000;
	opterr = 0;
	while ((ch = getopt(argc, argv, "+t:")) != -1) {
		switch (ch) {
		case 't':
			errno = 0;
			secs = strtoul(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' ||
			    *end != '\0' || errno != 0 ||
			    secs > INT_MAX / 1000)
				usage();
			pi->pi_timeout = secs == 0 ? -1 : (int)secs * 1000;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		usage();
	pi->pi_useropt = argc == 1 ? argv[0] : NULL;	/* accepted, unused */

	pi->pi_in = STDIN_FILENO;
	pi->pi_out = STDOUT_FILENO;
	pi->pi_outsock = 1;
	pi->pi_log = popit_log;
	outbuf_init(&pi->pi_ob, popit_send, pi);
	maildir_init(&pi->pi_md, AT_FDCWD);
	if (maildir_scan(&pi->pi_md, popit_log) == -1) {
		popit_client_error("-ERR [SYS/TEMP] cannot open the "
		    "maildrop\r\n");
		exit(EX_TEMPFAIL);
	}
	popit_greet(pi);
	popit_loop(pi);
	/* NOTREACHED */
	return 0;
}

/*
 * The command loop: take each complete line from the input buffer in
 * order (pipelined commands may arrive together), and read more only
 * when none is left, flushing the answers first.
 */
static void
popit_loop(struct popit *pi)
{
	const char	*line, *lf;
	size_t		 len, avail;

	for (;;) {
		line = pi->pi_ibuf + pi->pi_ioff;
		avail = pi->pi_ilen - pi->pi_ioff;
		lf = memchr(line, '\n', avail > POPIT_LINE_MAX ?
		    POPIT_LINE_MAX : avail);
		if (lf == NULL) {
			if (avail >= POPIT_LINE_MAX) {
				outbuf_printf(&pi->pi_ob,
				    "-ERR line too long\r\n");
				popit_log("line too long, closing");
				popit_exit(pi, EX_OK);
			}
			popit_fill(pi);
			continue;
		}
		len = (size_t)(lf - line);
		pi->pi_ioff += len + 1;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		switch (popit_dispatch(pi, line, len)) {
		case POPIT_CONTINUE:
			break;
		case POPIT_QUIT:
			popit_exit(pi, pi->pi_status);
		case POPIT_ABORT:
			popit_exit(pi, EX_IOERR);
		}
	}
}

/*
 * Flush the answers, then wait for more input (the idle timer) and
 * append it to the input buffer. EOF or a timeout ends the session
 * without UPDATE (RFC 1939 §3, §6).
 */
static void
popit_fill(struct popit *pi)
{
	ssize_t	 r;

	outbuf_flush(&pi->pi_ob);
	if (pi->pi_ioff > 0) {
		memmove(pi->pi_ibuf, pi->pi_ibuf + pi->pi_ioff,
		    pi->pi_ilen - pi->pi_ioff);
		pi->pi_ilen -= pi->pi_ioff;
		pi->pi_ioff = 0;
	}
	for (;;) {
		if (popit_wait(pi, pi->pi_in, POLLIN) == 0) {
			popit_log("timeout after %d seconds idle, closing",
			    pi->pi_timeout / 1000);
			exit(EX_OK);
		}
		r = read(pi->pi_in, pi->pi_ibuf + pi->pi_ilen,
		    sizeof(pi->pi_ibuf) - pi->pi_ilen);
		if (r > 0) {
			pi->pi_ilen += (size_t)r;
			return;
		}
		if (r == 0 || errno == ECONNRESET)
			exit(EX_OK);	/* the client left: no UPDATE */
		if (errno == EINTR || errno == EAGAIN)
			continue;
		popit_log("read: %s", strerror(errno));
		exit(EX_IOERR);
	}
}

/*
 * Wait until fd is ready for events or the idle timeout passes.
 * Returns 1 when ready (or in error: the next call says which), 0 on
 * timeout.
 */
static int
popit_wait(struct popit *pi, int fd, short events)
{
	struct pollfd	 pfd;
	int		 r;

	pfd.fd = fd;
	pfd.events = events;
	do
		r = poll(&pfd, 1, pi->pi_timeout);
	while (r == -1 && errno == EINTR);
	if (r == -1) {
		popit_log("poll: %s", strerror(errno));
		exit(EX_OSERR);
	}
	return r;
}

/* Flush the answers and end the session with status. */
static void
popit_exit(struct popit *pi, int status)
{
	outbuf_flush(&pi->pi_ob);
	exit(status);
}

/*
 * Write len bytes of the output buffer to the client (the outbuf's
 * writer, arg is the session). On a socket, send(2) with MSG_DONTWAIT
 * and poll(2) bound the time a client that stopped reading can hold us;
 * a client that went away ends the session (no UPDATE).
 */
static void
popit_send(void *arg, const char *buf, size_t len)
{
	struct popit	*pi = arg;
	size_t		 off = 0;
	ssize_t		 n;

	while (off < len) {
		if (pi->pi_outsock) {
			n = send(pi->pi_out, buf + off, len - off,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n == -1 && errno == ENOTSOCK) {
				pi->pi_outsock = 0;
				continue;
			}
		} else
			n = write(pi->pi_out, buf + off, len - off);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (popit_wait(pi, pi->pi_out, POLLOUT) == 0) {
				popit_log("timeout writing to the client, "
				    "closing");
				exit(EX_OK);
			}
			continue;
		}
		if (errno == EPIPE || errno == ECONNRESET)
			exit(EX_OK);
		popit_log("write: %s", strerror(errno));
		exit(EX_IOERR);
	}
}

/*
 * One line on stderr, which popserv logs to syslog; control characters
 * (from file names) become '?', so a line stays one line.
 */
void
popit_log(const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;
	size_t	 i, n = 0;
	int	 r;

	if (popit_user != NULL)
		n = (size_t)snprintf(buf, sizeof(buf) - 1, "%.64s: ",
		    popit_user);
	va_start(ap, fmt);
	r = vsnprintf(buf + n, sizeof(buf) - 1 - n, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	n += (size_t)r;
	if (n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	for (i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, n) == -1)
		return;	/* nowhere left to complain */
}
