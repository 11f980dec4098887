/* Logging in the OpenBSD manner: syslog (local0), and stderr with -d. */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stddef.h>

void	log_init(const char *ident, int debug);
void	log_setverbose(int verbose);
int	log_getverbose(void);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Log a line as if it came from another program (popit's stderr). */
void	log_as(const char *ident, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2)))
	    __attribute__((noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2)))
	    __attribute__((noreturn));

/* Format a reason into the caller's optional error buffer (err may be NULL). */
void	log_seterr(char *err, size_t errsz, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/*
 * Escape client-supplied text for a log line: printable ASCII except '\\'
 * and '"' is kept, everything else becomes \n, \r, \t, \\, \" or \xNN.
 * The result is always NUL-terminated and truncated (with "...") to fit.
 * Returns dst.
 */
char	*log_escape(char *dst, size_t dstsz, const char *src, size_t srclen);

#endif
