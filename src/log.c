/*
 * Logging: syslog with facility local0, and stderr when debugging.
 *
 * Any thread formats its line (RFC 3164, as glibc's syslog(3) frames it)
 * and appends it to a bounded queue under a lock that is never held
 * across I/O; one logging thread, with every signal blocked, writes the
 * lines to stderr (-d) and to its own datagram socket on /dev/log. So a
 * log daemon that stops reading, or a stderr nobody reads, stalls that
 * thread only. A full queue drops lines and counts them, and says how
 * many once it has room again. syslog(3) itself is not used: its lock,
 * held by a thread blocked in send(), would stay locked in a child
 * forked for the SIGTERM drain.
 */

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <paths.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_MSG_MAX	1024		/* a message, NUL included */
#define LOG_FRAME_MAX	1280		/* header, prefix and message */
#define LOG_NAME_MAX	32		/* ident and log_as() prefix */
#define LOG_RETRY_SEC	1		/* between failed connects */
#define LOG_EXIT_MS	1000		/* exit() waits this long at most */
#define LOG_NAP_MS	10		/* the writer naps this long ... */
#define LOG_NAPS	100		/* ... this often, then sleeps */
#define LOG_REC_HDR	4		/* uint16 length, uint16 offset */
#define LOG_REC_WRAP	0xffff		/* length of the wrap marker */
#define LOG_REC_SIZE(n)	(LOG_REC_HDR + (((n) + 3) & ~(size_t)3))

static int	 log_debug_stderr;
static int	 log_verbose;
static char	 log_ident[LOG_NAME_MAX + 1] = "popserv";
static const char *log_path = _PATH_LOG;
static void	(*log_hook)(int, const char *);

/* Shared with the logging thread, under log_mtx. */
static pthread_once_t	 log_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t	 log_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 log_more;	/* a line for the thread */
static pthread_cond_t	 log_idle;	/* all written, for log_flush() */
static struct log_queue	 log_q;
static char		 log_qbuf[LOG_QUEUE_BYTES] __attribute__((aligned(4)));
static int		 log_running;	/* the thread exists */
static enum { LOG_AWAKE, LOG_NAPPING, LOG_ASLEEP } log_sleep;
static int		 log_busy;	/* it holds a line not yet written */
static long		 log_pid;

/* The logging thread's own (and log_init()'s, before it exists). */
static int		 log_fd = -1;
static int		 log_fdtype;
static time_t		 log_retry_at;

/* Each thread's last timestamp: localtime_r() once a second. */
static _Thread_local time_t	 log_stamp_sec = -1;
static _Thread_local char	 log_stamp_buf[16];

static void	 vlog_errno(const char *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));
static void	 vlog(int, const char *, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));
static void	 log_setup(void);
static void	 log_atexit(void);
static void	 log_fork_prepare(void);
static void	 log_fork_parent(void);
static void	 log_fork_child(void);
static int	 log_start(void);
static void	*log_thread(void *);
static void	 log_notice(uint64_t);
static const char *log_now(void);
static time_t	 log_mono(void);
static void	 log_abstime(struct timespec *, int);
static int	 log_connect(int);
static int	 log_sendall(const char *, size_t);
static void	 log_send(char *, size_t);
static void	 log_write(int, const char *, size_t);

/* Once per process: condition variables on the monotonic clock, hooks. */
static void
log_setup(void)
{
	pthread_condattr_t	 ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&log_more, &ca);
	pthread_cond_init(&log_idle, &ca);
	pthread_condattr_destroy(&ca);
	log_queue_init(&log_q, log_qbuf, sizeof(log_qbuf));
	log_pid = (long)getpid();
	pthread_atfork(log_fork_prepare, log_fork_parent, log_fork_child);
	atexit(log_atexit);
}

/* exit(): give the thread a moment to write what is queued. */
static void
log_atexit(void)
{
	log_flush(LOG_EXIT_MS);
}

/* fork(): hold the lock so the child's copy of the queue is whole. */
static void
log_fork_prepare(void)
{
	pthread_mutex_lock(&log_mtx);
}

/* fork(), in the parent: the queue goes on as it was. */
static void
log_fork_parent(void)
{
	pthread_mutex_unlock(&log_mtx);
}

/*
 * The child has no logging thread and shares the parent's socket: start
 * afresh, with an empty queue (the parent writes the lines it holds), a
 * socket of its own, and a thread at the next line.
 */
static void
log_fork_child(void)
{
	pthread_condattr_t	 ca;

	pthread_mutex_init(&log_mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&log_more, &ca);
	pthread_cond_init(&log_idle, &ca);
	pthread_condattr_destroy(&ca);
	log_q.lq_head = log_q.lq_tail = log_q.lq_used = log_q.lq_lines = 0;
	log_q.lq_dropping = 0;
	log_q.lq_unsaid = 0;
	log_running = log_busy = 0;
	log_sleep = LOG_AWAKE;
	if (log_fd != -1)
		close(log_fd);
	log_fd = -1;
	log_retry_at = 0;
	log_pid = (long)getpid();
}

/* Name the lines ident; with debug, also write every line to stderr. */
void
log_init(const char *ident, int debug)
{
	pthread_once(&log_once, log_setup);
	pthread_mutex_lock(&log_mtx);
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_debug_stderr = debug;
	log_verbose = debug;
	tzset();
	/* Connect now, as openlog(LOG_NDELAY) did, if no thread owns it. */
	if (!log_running && log_fd == -1)
		(void)log_connect(1);
	pthread_mutex_unlock(&log_mtx);
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

/* Use path rather than /dev/log (tests; before log_init). */
void
log_setpath(const char *path)
{
	log_path = path;
}

/* Hand every line to fn on the caller's thread (fuzzers), or not. */
void
log_sethook(void (*fn)(int, const char *))
{
	log_hook = fn;
}

/* Seconds on the monotonic clock. */
static time_t
log_mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The monotonic time ms from now, for a timed wait. */
static void
log_abstime(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* This second's timestamp, formatted once per second and thread. */
static const char *
log_now(void)
{
	struct tm	 tm;
	time_t		 now = time(NULL);

	if (now != log_stamp_sec) {
		localtime_r(&now, &tm);
		log_stamp(log_stamp_buf, &tm);
		log_stamp_sec = now;
	}
	return log_stamp_buf;
}

/* Start the logging thread with every signal blocked; under log_mtx. */
static int
log_start(void)
{
	pthread_t	 t;
	sigset_t	 all, old;
	int		 rc;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&t, NULL, log_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -1;
	pthread_detach(t);
	log_running = 1;
	return 0;
}

/* Format one line and queue it for syslog, and stderr when debugging. */
static void
vlog(int pri, const char *prefix, const char *fmt, va_list ap)
{
	char	 line[LOG_FRAME_MAX];
	size_t	 off, len;
	int	 n, wake, saved_errno = errno;

	if (log_hook != NULL) {
		if (prefix != NULL)
			len = (size_t)snprintf(line, LOG_FRAME_MAX -
			    LOG_MSG_MAX, "%.*s: ", LOG_NAME_MAX, prefix);
		else
			len = 0;
		vsnprintf(line + len, LOG_MSG_MAX, fmt, ap);
		log_hook(pri, line);
		errno = saved_errno;
		return;
	}
	pthread_once(&log_once, log_setup);
	off = log_header(line, sizeof(line), LOG_LOCAL0 | pri, log_now(),
	    log_ident, log_pid);
	len = off;
	if (prefix != NULL)
		len += (size_t)snprintf(line + len, sizeof(line) - len,
		    "%.*s: ", LOG_NAME_MAX, prefix);
	/* The message alone is held to LOG_MSG_MAX, as it always was. */
	n = vsnprintf(line + len, LOG_MSG_MAX, fmt, ap);
	if (n > 0)
		len += (size_t)n < LOG_MSG_MAX ? (size_t)n : LOG_MSG_MAX - 1;

	pthread_mutex_lock(&log_mtx);
	if (!log_running)
		(void)log_start();	/* else queued; tried at the next */
	(void)log_queue_put(&log_q, line, len, off);
	/*
	 * A napping writer comes back by itself; wake it only if the queue
	 * fills meanwhile, or with -d, where a line should be on stderr at
	 * once. One wake-up is enough; after unlocking, so that the writer
	 * does not wake into a held lock.
	 */
	wake = log_sleep == LOG_ASLEEP || (log_sleep == LOG_NAPPING &&
	    (log_debug_stderr || log_q.lq_used >= log_q.lq_size / 8));
	if (wake)
		log_sleep = LOG_AWAKE;
	pthread_mutex_unlock(&log_mtx);
	if (wake)
		pthread_cond_signal(&log_more);
	errno = saved_errno;
}

/*
 * The logging thread: take the oldest line, write it, again. With the
 * queue empty it naps LOG_NAP_MS at a time, so that a caller seldom pays
 * for waking it (a futex call, and often the writer's whole turn on the
 * caller's CPU); after LOG_NAPS empty naps it sleeps till the next line.
 */
static void *
log_thread(void *arg)
{
	struct timespec	 ts;
	char		 line[LOG_FRAME_MAX + 1];	/* + '\n' or NUL */
	size_t		 len, off;
	uint64_t	 unsaid;
	int		 debug, naps = 0;

	(void)arg;
	pthread_mutex_lock(&log_mtx);
	for (;;) {
		while ((len = log_queue_get(&log_q, line, sizeof(line) - 1,
		    &off)) == 0) {
			log_busy = 0;
			pthread_cond_broadcast(&log_idle);
			if (naps++ < LOG_NAPS) {
				log_sleep = LOG_NAPPING;
				log_abstime(&ts, LOG_NAP_MS);
				(void)pthread_cond_timedwait(&log_more,
				    &log_mtx, &ts);
				log_sleep = LOG_AWAKE;
				continue;
			}
			log_sleep = LOG_ASLEEP;
			while (log_sleep == LOG_ASLEEP)
				pthread_cond_wait(&log_more, &log_mtx);
		}
		naps = 0;
		log_busy = 1;
		if ((unsaid = log_queue_resume(&log_q)) > 0)
			log_notice(unsaid);
		debug = log_debug_stderr;
		pthread_mutex_unlock(&log_mtx);

		if (debug) {
			line[len] = '\n';
			log_write(STDERR_FILENO, line + off, len - off + 1);
		}
		log_send(line, len);
		pthread_mutex_lock(&log_mtx);
	}
	/* NOTREACHED */
	return NULL;
}

/* Queue "N lines dropped" where they are missing; under log_mtx. */
static void
log_notice(uint64_t unsaid)
{
	char	 line[LOG_FRAME_MAX];
	size_t	 off;
	int	 n;

	off = log_header(line, sizeof(line), LOG_LOCAL0 | LOG_WARNING,
	    log_now(), log_ident, log_pid);
	n = snprintf(line + off, sizeof(line) - off, "log: %llu lines "
	    "dropped, the log daemon did not keep up (queue of %u bytes "
	    "full); %llu since start", (unsigned long long)unsaid,
	    (unsigned int)LOG_QUEUE_BYTES,
	    (unsigned long long)log_q.lq_dropped);
	if (n > 0)
		(void)log_queue_put(&log_q, line, off + (size_t)n, off);
}

/* Write all of buf to fd (stderr), or give up on an error. */
static void
log_write(int fd, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

/*
 * Connect to the log socket, a datagram socket or (as glibc falls back)
 * a stream one. Unless forced, not again within LOG_RETRY_SEC of a
 * failure: with no log daemon at all this costs one clock read a line.
 */
static int
log_connect(int force)
{
	struct sockaddr_un	 sun;
	time_t			 now = log_mono();
	int			 fd, type, saved;

	if (!force && now < log_retry_at)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(log_path) >= sizeof(sun.sun_path))
		return -1;
	strcpy(sun.sun_path, log_path);
	for (type = SOCK_DGRAM;; type = SOCK_STREAM) {
		if ((fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0)) == -1)
			break;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			log_fd = fd;
			log_fdtype = type;
			return 0;
		}
		saved = errno;
		close(fd);
		if (saved != EPROTOTYPE || type == SOCK_STREAM)
			break;
	}
	log_retry_at = now + LOG_RETRY_SEC;
	return -1;
}

/* Send one frame whole; -1 with errno on failure. */
static int
log_sendall(const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		n = send(log_fd, buf, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (log_fdtype == SOCK_DGRAM)
			return 0;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Send a frame to the log daemon, blocking (this thread may wait). When
 * the daemon went away (restarted), connect again at once and resend;
 * when there is none, the line is lost to syslog, as with syslog(3).
 * frame has room for one more byte: a stream socket's NUL.
 */
static void
log_send(char *frame, size_t len)
{
	int	 tries;

	for (tries = 0; tries < 2; tries++) {
		if (log_fd == -1 && log_connect(tries > 0) == -1)
			return;
		if (log_fdtype == SOCK_STREAM)
			frame[len] = '\0';
		if (log_sendall(frame, len + (log_fdtype == SOCK_STREAM)) == 0)
			return;
		switch (errno) {
		case ECONNREFUSED:
		case ECONNRESET:
		case ENOTCONN:
		case EPIPE:
		case ENOENT:
		case EDESTADDRREQ:
			close(log_fd);
			log_fd = -1;
			break;
		default:
			return;		/* EMSGSIZE, ENOBUFS: this line only */
		}
	}
}

/* Wait at most timeout_ms until every queued line has been written. */
void
log_flush(int timeout_ms)
{
	struct timespec	 ts;

	if (timeout_ms < 0)
		timeout_ms = 0;
	pthread_once(&log_once, log_setup);
	log_abstime(&ts, timeout_ms);
	pthread_mutex_lock(&log_mtx);
	if (!log_running && log_q.lq_used > 0)
		(void)log_start();
	if (log_sleep != LOG_AWAKE && log_q.lq_used > 0) {
		log_sleep = LOG_AWAKE;		/* no nap: we wait for it */
		pthread_cond_signal(&log_more);
	}
	while (log_running && (log_q.lq_used > 0 || log_busy))
		if (pthread_cond_timedwait(&log_idle, &log_mtx, &ts) ==
		    ETIMEDOUT)
			break;
	pthread_mutex_unlock(&log_mtx);
}

/* Lines the full queue dropped since start (the SIGUSR1 counters). */
uint64_t
log_dropped(void)
{
	uint64_t	 n;

	pthread_once(&log_once, log_setup);
	pthread_mutex_lock(&log_mtx);
	n = log_q.lq_dropped;
	pthread_mutex_unlock(&log_mtx);
	return n;
}

/* An empty queue over buf (size rounded down to a multiple of 4). */
void
log_queue_init(struct log_queue *q, void *buf, size_t size)
{
	memset(q, 0, sizeof(*q));
	q->lq_buf = buf;
	q->lq_size = size & ~(size_t)3;
}

/*
 * Append a line as one record: a 4-byte header (length, message offset)
 * and the text, padded to 4 bytes. A record never wraps: when it does
 * not fit before the end, a wrap marker fills the rest and it goes to
 * the start. A line that does not fit is dropped, and so is every line
 * after it until the queue is half empty (log_queue_resume()).
 */
int
log_queue_put(struct log_queue *q, const char *line, size_t len, size_t off)
{
	size_t		 need = LOG_REC_SIZE(len), at;
	uint16_t	 hdr[2];

	if (q->lq_dropping || len == 0 || len >= LOG_REC_WRAP || off > len)
		goto drop;
	if (q->lq_used == 0)
		q->lq_head = q->lq_tail = 0;
	if (q->lq_used == q->lq_size)
		goto full;
	if (q->lq_tail >= q->lq_head) {
		/* Free: from the tail to the end, and before the head. */
		if (q->lq_size - q->lq_tail >= need)
			at = q->lq_tail;
		else if (q->lq_head >= need) {
			hdr[0] = LOG_REC_WRAP;
			hdr[1] = 0;
			memcpy(q->lq_buf + q->lq_tail, hdr, sizeof(hdr));
			q->lq_used += q->lq_size - q->lq_tail;
			at = 0;
		} else
			goto full;
	} else if (q->lq_head - q->lq_tail >= need)
		at = q->lq_tail;
	else
		goto full;
	hdr[0] = (uint16_t)len;
	hdr[1] = (uint16_t)off;
	memcpy(q->lq_buf + at, hdr, sizeof(hdr));
	memcpy(q->lq_buf + at + LOG_REC_HDR, line, len);
	q->lq_tail = at + need;
	if (q->lq_tail == q->lq_size)
		q->lq_tail = 0;
	q->lq_used += need;
	q->lq_lines++;
	return 0;
full:
	q->lq_dropping = 1;
drop:
	q->lq_dropped++;
	q->lq_unsaid++;
	return -1;
}

/* Take the oldest line: its length (0 if none) and message offset. */
size_t
log_queue_get(struct log_queue *q, char *dst, size_t dstsz, size_t *off)
{
	uint16_t	 hdr[2];
	size_t		 len;

	if (q->lq_used == 0)
		return 0;
	memcpy(hdr, q->lq_buf + q->lq_head, sizeof(hdr));
	if (hdr[0] == LOG_REC_WRAP) {
		q->lq_used -= q->lq_size - q->lq_head;
		q->lq_head = 0;
		memcpy(hdr, q->lq_buf, sizeof(hdr));
	}
	len = hdr[0];
	*off = hdr[1];
	if (len > dstsz)		/* never: lines are at most dstsz */
		len = dstsz;
	memcpy(dst, q->lq_buf + q->lq_head + LOG_REC_HDR, len);
	q->lq_head += LOG_REC_SIZE(hdr[0]);
	if (q->lq_head == q->lq_size)
		q->lq_head = 0;
	q->lq_used -= LOG_REC_SIZE(hdr[0]);
	q->lq_lines--;
	if (q->lq_used == 0)
		q->lq_head = q->lq_tail = 0;
	return len;
}

/* Dropping and now half empty: take lines again; how many were lost. */
uint64_t
log_queue_resume(struct log_queue *q)
{
	uint64_t	 n;

	if (!q->lq_dropping || q->lq_used > q->lq_size / 2)
		return 0;
	q->lq_dropping = 0;
	n = q->lq_unsaid;
	q->lq_unsaid = 0;
	return n;
}

/* "Mmm dd hh:mm:ss": glibc's "%h %e %T" in the C locale. */
void
log_stamp(char *dst, const struct tm *tm)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int	 mon = tm->tm_mon >= 0 && tm->tm_mon < 12 ? tm->tm_mon : 0;
	int	 mday = tm->tm_mday % 100;

	memcpy(dst, months + 3 * mon, 3);
	dst[3] = ' ';
	dst[4] = mday >= 10 ? (char)('0' + mday / 10) : ' ';
	dst[5] = (char)('0' + mday % 10);
	dst[6] = ' ';
	dst[7] = (char)('0' + tm->tm_hour / 10 % 10);
	dst[8] = (char)('0' + tm->tm_hour % 10);
	dst[9] = ':';
	dst[10] = (char)('0' + tm->tm_min / 10 % 10);
	dst[11] = (char)('0' + tm->tm_min % 10);
	dst[12] = ':';
	dst[13] = (char)('0' + tm->tm_sec / 10 % 10);
	dst[14] = (char)('0' + tm->tm_sec % 10);
	dst[15] = '\0';
}

/* The RFC 3164 header syslog(3) with LOG_PID writes: "<pri>stamp id[pid]: ". */
size_t
log_header(char *dst, size_t dstsz, int pri, const char *stamp,
    const char *ident, long pid)
{
	int	 n;

	n = snprintf(dst, dstsz, "<%d>%s %s[%ld]: ", pri, stamp, ident, pid);
	if (n < 0)
		return 0;
	return (size_t)n < dstsz ? (size_t)n : dstsz - 1;
}

/* A warning: prefix, the message, then strerror() of the errno it met. */
static void
vlog_errno(const char *prefix, const char *emsg, va_list ap)
{
	char	 buf[1024];
	int	 saved_errno = errno;

	vsnprintf(buf, sizeof(buf), emsg, ap);
	log_warnx("%s%s: %s", prefix, buf, strerror(saved_errno));
	errno = saved_errno;
}

/* Log a warning with strerror(errno) appended. */
void
log_warn(const char *emsg, ...)
{
	va_list	 ap;

	va_start(ap, emsg);
	vlog_errno("", emsg, ap);
	va_end(ap);
}

/*
 * Log at priority pri (LOG_DEBUG lines only when verbose): log_warnx(),
 * log_info() and log_debug() are this.
 */
void
log_msg(int pri, const char *emsg, ...)
{
	va_list	 ap;

	if (pri == LOG_DEBUG && !log_verbose)
		return;
	va_start(ap, emsg);
	vlog(pri, NULL, emsg, ap);
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

/* Log with strerror(errno) appended, and exit 1. */
void
fatal(const char *emsg, ...)
{
	va_list	 ap;

	va_start(ap, emsg);
	vlog_errno("fatal: ", emsg, ap);
	va_end(ap);
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
