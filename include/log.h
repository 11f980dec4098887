/*
 * Logging in the OpenBSD manner: syslog (local0), and stderr with -d.
 * Every line goes through a bounded queue to one logging thread, so a
 * log daemon that stops reading never stops the caller (docs/internals.md).
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>
#include <time.h>

/* What the queue holds at most, in bytes (docs/deployment.md). */
#define LOG_QUEUE_BYTES	(1024 * 1024)

void	log_init(const char *ident, int debug);
void	log_setverbose(int verbose);
int	log_getverbose(void);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
/* A line at a syslog priority; LOG_DEBUG ones only when verbose. */
void	log_msg(int pri, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
#define log_warnx(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)
/* Log a line as if it came from another program (popit's stderr). */
void	log_as(const char *ident, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2)))
	    __attribute__((noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2)))
	    __attribute__((noreturn));

/*
 * Wait at most timeout_ms for the logging thread to write every queued
 * line (exit() does this by itself, for 1 s; call it before _exit()).
 */
void	log_flush(int timeout_ms);
/* Lines dropped because the queue was full, since start. */
uint64_t log_dropped(void);

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

/*
 * For tests and fuzzers. log_setpath: the syslog socket instead of
 * /dev/log (before log_init). log_sethook: every line (pri, message) goes
 * to fn on the caller's thread instead of the queue; NULL undoes it.
 */
void	log_setpath(const char *path);
void	log_sethook(void (*fn)(int, const char *));

/*
 * The pure pieces, exposed for the unit tests. The queue is a ring of
 * bytes holding whole lines; when a line does not fit, it and every line
 * after it are dropped and counted until the queue is half empty again,
 * and then log_queue_resume() says how many went unsaid.
 */
struct log_queue {
	char		*lq_buf;
	size_t		 lq_size;	/* a multiple of 4 */
	size_t		 lq_head;	/* the oldest line */
	size_t		 lq_tail;	/* where the next one goes */
	size_t		 lq_used;	/* bytes held, wrap padding included */
	size_t		 lq_lines;
	uint64_t	 lq_dropped;	/* lines dropped in all */
	uint64_t	 lq_unsaid;	/* dropped since the last notice */
	int		 lq_dropping;	/* dropping until half empty */
};

void	log_queue_init(struct log_queue *, void *buf, size_t size);
/* Append a line (off: where its message starts); -1 if it was dropped. */
int	log_queue_put(struct log_queue *, const char *line, size_t len,
	    size_t off);
/* Take the oldest line into dst (dstsz >= its length); 0 if none. */
size_t	log_queue_get(struct log_queue *, char *dst, size_t dstsz,
	    size_t *off);
/* After a drop spell, once half empty: the lines dropped, else 0. */
uint64_t log_queue_resume(struct log_queue *);

/* "Mmm dd hh:mm:ss" as syslog(3) writes it (dst holds 16 bytes). */
void	log_stamp(char *dst, const struct tm *tm);
/* "<pri>stamp ident[pid]: " (RFC 3164); returns its length. */
size_t	log_header(char *dst, size_t dstsz, int pri, const char *stamp,
	    const char *ident, long pid);

#endif
