/* Logging: syslog with facility local0, and stderr when debugging. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static int	 log_debug_stderr;
static int	 log_verbose;
static const char *log_ident = "popserv";

static void	 vlog(int, const char *, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));

/* Open syslog under ident; with debug, also write every line to stderr. */
void
log_init(const char *ident, int debug)
{
	log_ident = ident;
	log_debug_stderr = debug;
	log_verbose = debug;
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_LOCAL0);
	tzset();
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

int
log_getverbose(void)
{
	return log_verbose;
}

/* Format one line and send it to syslog, and to stderr when debugging. */
static void
vlog(int pri, const char *ident, const char *fmt, va_list ap)
{
	char	 buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_debug_stderr) {
		if (ident != NULL)
			fprintf(stderr, "%s: %s\n", ident, buf);
		else
			fprintf(stderr, "%s\n", buf);
		fflush(stderr);
	}
	if (ident != NULL)
		syslog(pri, "%s: %s", ident, buf);
	else
		syslog(pri, "%s", buf);
}

/* Log a warning with strerror(errno) appended. */
void
log_warn(const char *emsg, ...)
{
	char	 buf[1024];
	int	 saved_errno = errno;
	va_list	 ap;

	va_start(ap, emsg);
	vsnprintf(buf, sizeof(buf), emsg, ap);
	va_end(ap);
	log_warnx("%s: %s", buf, strerror(saved_errno));
	errno = saved_errno;
}

void
log_warnx(const char *emsg, ...)
{
	va_list	 ap;

	va_start(ap, emsg);
	vlog(LOG_WARNING, NULL, emsg, ap);
	va_end(ap);
}

void
log_info(const char *emsg, ...)
{
	va_list	 ap;

	va_start(ap, emsg);
	vlog(LOG_INFO, NULL, emsg, ap);
	va_end(ap);
}

void
log_debug(const char *emsg, ...)
{
	va_list	 ap;

	if (!log_verbose)
		return;
	va_start(ap, emsg);
	vlog(LOG_DEBUG, NULL, emsg, ap);
	va_end(ap);
}

/* A line from another program: prefixed with its name in syslog and stderr. */
void
log_as(const char *ident, const char *emsg, ...)
{
	va_list	 ap;

	va_start(ap, emsg);
	vlog(LOG_INFO, ident, emsg, ap);
	va_end(ap);
}

void
fatal(const char *emsg, ...)
{
	char	 buf[1024];
	int	 saved_errno = errno;
	va_list	 ap;

	va_start(ap, emsg);
	vsnprintf(buf, sizeof(buf), emsg, ap);
	va_end(ap);
	log_warnx("fatal: %s: %s", buf, strerror(saved_errno));
	exit(1);
}

void
fatalx(const char *emsg, ...)
{
	char	 buf[1024];
	va_list	 ap;

	va_start(ap, emsg);
	vsnprintf(buf, sizeof(buf), emsg, ap);
	va_end(ap);
	log_warnx("fatal: %s", buf);
	exit(1);
}

/* Format a reason into the caller's optional error buffer. */
void
log_seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

char *
log_escape(char *dst, size_t dstsz, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	size_t		 i, o = 0;
	unsigned char	 c;
	char		 e[4];
	size_t		 elen, bound[4], nb = 0, n;

	if (dstsz == 0)
		return dst;
	for (i = 0; i < srclen; i++) {
		c = (unsigned char)src[i];
		elen = 0;
		switch (c) {
		case '\n': e[0] = '\\'; e[1] = 'n'; elen = 2; break;
		case '\r': e[0] = '\\'; e[1] = 'r'; elen = 2; break;
		case '\t': e[0] = '\\'; e[1] = 't'; elen = 2; break;
		case '\\': e[0] = '\\'; e[1] = '\\'; elen = 2; break;
		case '"': e[0] = '\\'; e[1] = '"'; elen = 2; break;
		default:
			if (c >= 0x20 && c < 0x7f) {
				e[0] = (char)c;
				elen = 1;
			} else {
				e[0] = '\\';
				e[1] = 'x';
				e[2] = hex[c >> 4];
				e[3] = hex[c & 0xf];
				elen = 4;
			}
		}
		if (o + elen + 1 > dstsz) {
			/* Truncated: back up to an escape boundary for "...". */
			if (dstsz >= 4) {
				for (n = 1; o + 4 > dstsz && n <= nb && n <= 4; n++)
					o = bound[(nb - n) % 4];
				if (o + 4 <= dstsz) {
					memcpy(dst + o, "...", 3);
					o += 3;
				}
			}
			break;
		}
		bound[nb++ % 4] = o;
		memcpy(dst + o, e, elen);
		o += elen;
	}
	dst[o] = '\0';
	return dst;
}
