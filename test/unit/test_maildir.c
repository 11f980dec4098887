/* Unit tests for popit's Maildir module: order, sizes, UIDs, update. */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "maildir.h"
#include "fixture.h"

static char	 test_logbuf[4096];

static void	 test_log(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

/* md_logfn that keeps the messages for the test to look at. */
static void
test_log(const char *fmt, ...)
{
	size_t	 n = strlen(test_logbuf);
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(test_logbuf + n, sizeof(test_logbuf) - n, fmt, ap);
	va_end(ap);
	n = strlen(test_logbuf);
	if (n + 1 < sizeof(test_logbuf))
		strcat(test_logbuf, "\n");
}

/* A temporary Maildir, and its descriptor. */
struct tmd {
	char	 path[64];
	int	 fd;
};

static void
tmd_create(struct tmd *t)
{
	strcpy(t->path, "/tmp/test_maildir.XXXXXX");
	assert_non_null(mkdtemp(t->path));
	t->fd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(t->fd >= 0);
	assert_int_equal(mkdirat(t->fd, "new", 0700), 0);
	assert_int_equal(mkdirat(t->fd, "cur", 0700), 0);
	assert_int_equal(mkdirat(t->fd, "tmp", 0700), 0);
	test_logbuf[0] = '\0';
}

static void
tmd_destroy(struct tmd *t)
{
	close(t->fd);
	assert_int_equal(fixture_rmtree(t->path), 0);
}

/* Write a file rel (e.g. "new/1.M1.h") with len bytes of data. */
static void
tmd_put(struct tmd *t, const char *rel, const char *data, size_t len)
{
	int	 fd;

	fd = openat(t->fd, rel, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void
tmd_puts(struct tmd *t, const char *rel, const char *data)
{
	tmd_put(t, rel, data, strlen(data));
}

static int
tmd_exists(struct tmd *t, const char *rel)
{
	return faccessat(t->fd, rel, F_OK, 0) == 0;
}

/* Read message idx through the encoder, fed in pieces of chunk bytes. */
static size_t
encode_all(const char *in, size_t len, int top, uint64_t lines,
    size_t chunk, char *out)
{
	struct md_enc	 e;
	size_t		 i, n, o = 0;

	md_enc_init(&e, top, lines);
	for (i = 0; i < len && !e.me_done; i += n) {
		n = len - i < chunk ? len - i : chunk;
		o += md_enc_run(&e, in + i, n, out + o);
	}
	o += md_enc_finish(&e, out + o);
	out[o] = '\0';
	return o;
}

static void
test_parse_name(void **state)
{
	size_t		 ulen;
	uint64_t	 sec;
	int64_t		 usec;

	(void)state;
	md_parse_name("1700000000.M123456P42.host:2,S", &ulen, &sec, &usec);
	assert_int_equal(ulen, strlen("1700000000.M123456P42.host"));
	assert_true(sec == 1700000000);
	assert_true(usec == 123456);

	/* Postfix: V<dev>I<ino>M<usec>; hex never holds an upper-case M. */
	md_parse_name("1700000001.V801Ic0ffeeM99.mx", &ulen, &sec, &usec);
	assert_true(sec == 1700000001);
	assert_true(usec == 99);

	/* qmail: time.pid.host, no microseconds. */
	md_parse_name("1700000002.4242.host", &ulen, &sec, &usec);
	assert_true(sec == 1700000002);
	assert_true(usec == -1);
	assert_int_equal(ulen, strlen("1700000002.4242.host"));

	/* The M must be in the second field, not in the host name. */
	md_parse_name("1700000003.P1.M5host", &ulen, &sec, &usec);
	assert_true(usec == -1);

	/* No leading digits: sorts after everything. */
	md_parse_name("hand-made-file", &ulen, &sec, &usec);
	assert_true(sec == UINT64_MAX);
	assert_true(usec == -1);

	/* Absurd numbers saturate instead of wrapping. */
	md_parse_name("99999999999999999999999.M99999999999999999999P1.h",
	    &ulen, &sec, &usec);
	assert_true(sec == UINT64_MAX);
	assert_true(usec == INT64_MAX);
}

static void
test_name_size(void **state)
{
	const char	*n;

	(void)state;
	n = "1.M1P1.h,S=100,W=104:2,S";
	assert_true(md_name_size(n, strcspn(n, ":")) == 104);
	n = "1.M1P1.h,W=7";
	assert_true(md_name_size(n, strcspn(n, ":")) == 7);
	/* S= is the file size with bare LFs: not a POP3 size. */
	n = "1.M1P1.h,S=100:2,";
	assert_true(md_name_size(n, strcspn(n, ":")) == MD_SIZE_UNKNOWN);
	/* A hint must be all digits up to ',' or the end of the unique part. */
	n = "1.M1P1.h,W=12x";
	assert_true(md_name_size(n, strcspn(n, ":")) == MD_SIZE_UNKNOWN);
	n = "1.M1P1.h,W=:2,";
	assert_true(md_name_size(n, strcspn(n, ":")) == MD_SIZE_UNKNOWN);
	/* W= in the info part does not count. */
	n = "1.M1P1.h:2,W=5";
	assert_true(md_name_size(n, strcspn(n, ":")) == MD_SIZE_UNKNOWN);
	n = "1.h,W=99999999999999999999999";
	assert_true(md_name_size(n, strcspn(n, ":")) == MD_SIZE_UNKNOWN);
}

static void
test_scan_order(void **state)
{
	struct tmd	 t;
	struct maildir	 md;
	const char	*want[] = {
		"cur/1600000000.12.host:2,S",
		"new/1700000000.M9P1.a",
		"cur/1700000000.M10P1.b:2,",
		"new/1700000000.M10P1.c",
		"new/1700000001.P1.z",
		"cur/1800000000.M0P1.h:2,RS",
		"new/99999999999.M0P1.h",
		"new/hand-made",
	};
	size_t		 i;

	(void)state;
	tmd_create(&t);
	tmd_puts(&t, "new/1700000001.P1.z", "x\n");
	tmd_puts(&t, "new/hand-made", "x\n");
	tmd_puts(&t, "cur/1800000000.M0P1.h:2,RS", "x\n");
	tmd_puts(&t, "new/1700000000.M10P1.c", "x\n");
	tmd_puts(&t, "cur/1700000000.M10P1.b:2,", "x\n");
	tmd_puts(&t, "new/99999999999.M0P1.h", "x\n");
	tmd_puts(&t, "new/1700000000.M9P1.a", "x\n");
	tmd_puts(&t, "cur/1600000000.12.host:2,S", "x\n");
	/* Never listed: tmp/, dotfiles, directories, symbolic links. */
	tmd_puts(&t, "tmp/1500000000.M1P1.h", "x\n");
	tmd_puts(&t, "new/.1500000000.M1P1.h", "x\n");
	tmd_puts(&t, "cur/.hidden", "x\n");
	assert_int_equal(mkdirat(t.fd, "cur/1500000000.M2P1.dir", 0700), 0);
	assert_int_equal(symlinkat("/etc/passwd", t.fd,
	    "new/1500000000.M3P1.link"), 0);

	maildir_init(&md, t.fd);
	assert_int_equal(maildir_scan(&md, test_log), 0);
	assert_int_equal(md.md_count, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < md.md_count; i++)
		assert_string_equal(md.md_msgs[i].mm_path, want[i]);
	maildir_free(&md);
	tmd_destroy(&t);
}

static void
test_scan_many(void **state)
{
	struct tmd	 t;
	struct maildir	 md;
	char		 name[64];
	size_t		 i;

	(void)state;
	tmd_create(&t);
	/* More than the initial capacity, delivered in reverse order. */
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "%s/%zu.M%zuP1.h",
		    i % 2 ? "new" : "cur", 1700000000 + (300 - i), i);
		tmd_puts(&t, name, "x\n");
	}
	maildir_init(&md, t.fd);
	assert_int_equal(maildir_scan(&md, test_log), 0);
	assert_int_equal(md.md_count, 300);
	for (i = 1; i < md.md_count; i++) {
		assert_true(md.md_msgs[i - 1].mm_sec < md.md_msgs[i].mm_sec);
		assert_true(md_msg_cmp(&md.md_msgs[i - 1],
		    &md.md_msgs[i]) < 0);
	}
	maildir_free(&md);
	tmd_destroy(&t);
}

static void
test_scan_duplicate(void **state)
{
	struct tmd	 t;
	struct maildir	 md;

	(void)state;
	/* Seen in both directories while another session moved it. */
	tmd_create(&t);
	tmd_puts(&t, "new/1700000000.M1P1.h", "x\n");
	tmd_puts(&t, "cur/1700000000.M1P1.h:2,S", "x\n");
	tmd_puts(&t, "new/1700000000.M1P1.hh", "x\n");
	maildir_init(&md, t.fd);
	assert_int_equal(maildir_scan(&md, test_log), 0);
	assert_int_equal(md.md_count, 2);
	assert_string_equal(md.md_msgs[0].mm_path,
	    "cur/1700000000.M1P1.h:2,S");
	assert_string_equal(md.md_msgs[1].mm_path, "new/1700000000.M1P1.hh");
	maildir_free(&md);
	tmd_destroy(&t);
}

static void
test_scan_not_maildir(void **state)
{
	struct maildir	 md;
	char		 path[] = "/tmp/test_maildir.XXXXXX";
	int		 fd;

	(void)state;
	assert_non_null(mkdtemp(path));
	fd = open(path, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	test_logbuf[0] = '\0';
	maildir_init(&md, fd);
	assert_int_equal(maildir_scan(&md, test_log), -1);
	assert_non_null(strstr(test_logbuf, "new: "));
	maildir_free(&md);
	close(fd);
	rmdir(path);
}

static void
test_count_crlf(void **state)
{
	uint64_t	 n;
	int		 cr;

	(void)state;
	n = 0, cr = 0;
	md_count_crlf("a\nb\n", 4, &cr, &n);
	assert_true(n == 6);
	n = 0, cr = 0;
	md_count_crlf("a\r\nb\r\n", 6, &cr, &n);
	assert_true(n == 6);
	n = 0, cr = 0;
	md_count_crlf("\n\n", 2, &cr, &n);
	assert_true(n == 4);
	/* A CRLF split between two reads stays one CRLF. */
	n = 0, cr = 0;
	md_count_crlf("a\r", 2, &cr, &n);
	md_count_crlf("\nb", 2, &cr, &n);
	assert_true(n == 4);
	/* A lone CR is sent as it is. */
	n = 0, cr = 0;
	md_count_crlf("a\rb", 3, &cr, &n);
	assert_true(n == 3);
	n = 0, cr = 0;
	md_count_crlf("a\r", 2, &cr, &n);
	md_count_crlf("", 0, &cr, &n);
	md_count_crlf("\n", 1, &cr, &n);
	assert_true(n == 3);
}

static void
test_sizes(void **state)
{
	struct tmd	 t;
	struct maildir	 md;
	uint64_t	 size;
	char		*big;
	size_t		 i;

	(void)state;
	tmd_create(&t);
	tmd_puts(&t, "new/1.M1P1.lf", "Subject: x\n\nbody\n");
	tmd_puts(&t, "new/2.M1P1.crlf", "Subject: x\r\n\r\nbody\r\n");
	tmd_puts(&t, "new/3.M1P1.nonl", "Subject: x\n\nbody");
	tmd_puts(&t, "new/4.M1P1.hint,S=17,W=999", "Subject: x\n\nbody\n");
	tmd_puts(&t, "new/5.M1P1.sonly,S=17", "Subject: x\n\nbody\n");
	tmd_puts(&t, "new/6.M1P1.dots", ".\n..\n");
	tmd_put(&t, "new/7.M1P1.empty", "", 0);
	/* Larger than one read, with CRLF across the read boundary. */
	big = malloc(200000);
	assert_non_null(big);
	for (i = 0; i < 200000; i++)
		big[i] = i % 2 ? '\n' : '\r';
	big[65535] = '\r';
	big[65536] = '\n';
	for (i = 65537; i < 200000; i++)
		big[i] = 'x';
	tmd_put(&t, "new/8.M1P1.big", big, 200000);
	free(big);

	maildir_init(&md, t.fd);
	assert_int_equal(maildir_scan(&md, test_log), 0);
	assert_int_equal(md.md_count, 8);
	/* Nothing was read yet, except the W= hint. */
	assert_true(md.md_msgs[0].mm_size == MD_SIZE_UNKNOWN);
	assert_true(md.md_msgs[3].mm_size == 999);
	assert_int_equal(maildir_size(&md, 0, &size), 0);
	assert_true(size == 20);
	assert_int_equal(maildir_size(&md, 1, &size), 0);
	assert_true(size == 20);
	/* No final newline: the CRLF popit adds is part of the end. */
	assert_int_equal(maildir_size(&md, 2, &size), 0);
	assert_true(size == 18);
	assert_int_equal(maildir_size(&md, 3, &size), 0);
	assert_true(size == 999);
	assert_int_equal(maildir_size(&md, 4, &size), 0);
	assert_true(size == 20);
	/* Byte-stuffing is not counted (RFC 1939: the message size). */
	assert_int_equal(maildir_size(&md, 5, &size), 0);
	assert_true(size == 7);
	assert_int_equal(maildir_size(&md, 6, &size), 0);
	assert_true(size == 0);
	assert_int_equal(maildir_size(&md, 7, &size), 0);
	assert_true(size == 200000);
	/* Kept: computed once. */
	assert_true(md.md_msgs[0].mm_size == 20);
	maildir_free(&md);
	tmd_destroy(&t);
}

static void
test_encode(void **state)
{
	char	 out[256];
	size_t	 n, chunk;

	(void)state;
	for (chunk = 1; chunk <= 64; chunk *= 2) {
		n = encode_all("a\nb\n", 4, 0, 0, chunk, out);
		assert_string_equal(out, "a\r\nb\r\n.\r\n");
		assert_int_equal(n, 9);
		encode_all("a\r\nb\r\n", 6, 0, 0, chunk, out);
		assert_string_equal(out, "a\r\nb\r\n.\r\n");
		/* Byte-stuffing: every line that starts with a dot. */
		encode_all(".\n..x\n.\r\nx.\n.", 13, 0, 0, chunk, out);
		assert_string_equal(out,
		    "..\r\n...x\r\n..\r\nx.\r\n..\r\n.\r\n");
		/* No final newline. */
		encode_all("Subject: x\n\nbody", 16, 0, 0, chunk, out);
		assert_string_equal(out, "Subject: x\r\n\r\nbody\r\n.\r\n");
		/* Empty message. */
		encode_all("", 0, 0, 0, chunk, out);
		assert_string_equal(out, ".\r\n");
		/* A lone CR stays; a CR at the very end still ends a line. */
		encode_all("a\rb\n", 4, 0, 0, chunk, out);
		assert_string_equal(out, "a\rb\r\n.\r\n");
		encode_all("a\r", 2, 0, 0, chunk, out);
		assert_string_equal(out, "a\r\r\n.\r\n");
	}
}

static void
test_encode_binary(void **state)
{
	char	 in[256], out[1024], want[1024];
	size_t	 i, n, w = 0;

	(void)state;
	for (i = 0; i < 256; i++)
		in[i] = (char)(255 - i);	/* NUL, 8-bit, CR, LF, '.' */
	for (i = 0; i < 256; i++) {
		if (in[i] == '\n' && in[i - 1] != '\r')
			want[w++] = '\r';
		if (in[i] == '.' && (i == 0 || in[i - 1] == '\n'))
			want[w++] = '.';
		want[w++] = in[i];
	}
	memcpy(want + w, "\r\n.\r\n", 5);
	w += 5;
	n = encode_all(in, 256, 0, 0, 7, out);
	assert_int_equal(n, w);
	assert_memory_equal(out, want, w);
}

static void
test_encode_top(void **state)
{
	const char	*msg = "A: 1\nB: 2\n\nl1\n.l2\nl3\n";
	char		 out[256];
	size_t		 chunk;

	(void)state;
	for (chunk = 1; chunk <= 64; chunk *= 2) {
		encode_all(msg, strlen(msg), 1, 0, chunk, out);
		assert_string_equal(out, "A: 1\r\nB: 2\r\n\r\n.\r\n");
		encode_all(msg, strlen(msg), 1, 1, chunk, out);
		assert_string_equal(out, "A: 1\r\nB: 2\r\n\r\nl1\r\n.\r\n");
		encode_all(msg, strlen(msg), 1, 2, chunk, out);
		assert_string_equal(out,
		    "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n.\r\n");
		encode_all(msg, strlen(msg), 1, 1000, chunk, out);
		assert_string_equal(out,
		    "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
		/* CRLF blank line. */
		encode_all("A: 1\r\n\r\nx\r\ny\r\n", 15, 1, 1, chunk, out);
		assert_string_equal(out, "A: 1\r\n\r\nx\r\n.\r\n");
		/* Headers only, no blank line, no final newline. */
		encode_all("A: 1\nB: 2", 9, 1, 0, chunk, out);
		assert_string_equal(out, "A: 1\r\nB: 2\r\n.\r\n");
		/* Last body line without newline. */
		encode_all("A: 1\n\nx", 7, 1, 5, chunk, out);
		assert_string_equal(out, "A: 1\r\n\r\nx\r\n.\r\n");
		/* A line of one space is not the separator. */
		encode_all("A: 1\n \nB\n\nx\n", 12, 1, 0, chunk, out);
		assert_string_equal(out, "A: 1\r\n \r\nB\r\n\r\n.\r\n");
	}
}

static void
test_uid(void **state)
{
	char		 a[MD_UID_MAX + 1], b[MD_UID_MAX + 1];
	char		 longname[200];
	const char	*n;
	size_t		 i;

	(void)state;
	n = "1700000000.M1P1.host,S=12:2,S";
	assert_int_equal(md_uid_make(n, strcspn(n, ":"), a), 0);
	assert_string_equal(a, "1700000000.M1P1.host,S=12");

	/* Too long: hashed, deterministic, different for different names. */
	memset(longname, 'x', sizeof(longname));
	longname[199] = '\0';
	assert_int_equal(md_uid_make(longname, 199, a), 1);
	assert_int_equal(md_uid_make(longname, 199, b), 1);
	assert_string_equal(a, b);
	assert_true(strlen(a) <= MD_UID_MAX);
	longname[100] = 'y';
	md_uid_make(longname, 199, b);
	assert_string_not_equal(a, b);
	/* 70 octets are fine, 71 are not. */
	assert_int_equal(md_uid_make(longname, 70, a), 0);
	assert_int_equal(strlen(a), 70);
	assert_int_equal(md_uid_make(longname, 71, a), 1);

	/* Space, control and 8-bit characters are hashed. */
	n = "1700000000.M1P1.h\xc3\xa9te";
	assert_int_equal(md_uid_make(n, strlen(n), a), 1);
	for (i = 0; a[i] != '\0'; i++)
		assert_true(a[i] >= 0x21 && a[i] <= 0x7e);
	assert_int_equal(md_uid_make("a b", 3, a), 1);
	assert_int_equal(md_uid_make("a\x7f", 2, a), 1);
	assert_int_equal(md_uid_make("", 0, a), 1);
	assert_true(strlen(a) > 0);
}

static void
test_uid_stable(void **state)
{
	struct tmd	 t;
	struct maildir	 md;
	char		 uid[MD_UID_MAX + 1];

	(void)state;
	tmd_create(&t);
	tmd_puts(&t, "new/1700000000.M1P1.h,S=2", "x\n");
	maildir_init(&md, t.fd);
	assert_int_equal(maildir_scan(&md, test_log), 0);
	assert_string_equal(maildir_uid(&md, 0, uid),
	    "1700000000.M1P1.h,S=2");
	maildir_free(&md);
	/* The same after the move to cur/ and a flag. */
	assert_int_equal(renameat(t.fd, "new/1700000000.M1P1.h,S=2", t.fd,
	    "cur/1700000000.M1P1.h,S=2:2,RS"), 0);
	assert_int_equal(maildir_scan(&md, test_log), 0);
	assert_string_equal(maildir_uid(&md, 0, uid),
	    "1700000000.M1P1.h,S=2");
	maildir_free(&md);
	tmd_destroy(&t);
}

static void
test_target_name(void **state)
{
	char	 out[300];

	(void)state;
	assert_int_equal(md_target_name("1.M1.h", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "1.M1.h:2,");
	assert_int_equal(md_target_name("1.M1.h", 1, out, sizeof(out)), 0);
	assert_string_equal(out, "1.M1.h:2,S");
	assert_int_equal(md_target_name("1.M1.h:2,", 1, out, sizeof(out)), 0);
	assert_string_equal(out, "1.M1.h:2,S");
	assert_int_equal(md_target_name("1.M1.h:2,FR", 1, out, sizeof(out)),
	    0);
	assert_string_equal(out, "1.M1.h:2,FRS");
	assert_int_equal(md_target_name("1.M1.h:2,DFRT", 1, out, sizeof(out)),
	    0);
	assert_string_equal(out, "1.M1.h:2,DFRST");
	assert_int_equal(md_target_name("1.M1.h:2,RS", 1, out, sizeof(out)),
	    0);
	assert_string_equal(out, "1.M1.h:2,RS");
	/* Dovecot keywords (lower case) sort after the flags. */
	assert_int_equal(md_target_name("1.M1.h:2,Fab", 1, out, sizeof(out)),
	    0);
	assert_string_equal(out, "1.M1.h:2,FSab");
	/* Unsorted flags come out sorted, each once. */
	assert_int_equal(md_target_name("1.M1.h:2,TFF", 1, out, sizeof(out)),
	    0);
	assert_string_equal(out, "1.M1.h:2,FST");
	/* Not seen: flags untouched. */
	assert_int_equal(md_target_name("1.M1.h:2,TF", 0, out, sizeof(out)),
	    0);
	assert_string_equal(out, "1.M1.h:2,TF");
	/* Experimental info semantics are left alone. */
	assert_int_equal(md_target_name("1.M1.h:1,xyz", 1, out, sizeof(out)),
	    0);
	assert_string_equal(out, "1.M1.h:1,xyz");
	/* Too small. */
	assert_int_equal(md_target_name("1.M1.h:2,F", 1, out, 10), -1);
	assert_int_equal(md_target_name("1.M1.h", 1, out, 10), -1);
}

static void
test_update(void **state)
{
	struct tmd		 t;
	struct maildir		 md;
	struct md_update	 mu;

	(void)state;
	tmd_create(&t);
	tmd_puts(&t, "new/1.M1P1.h", "1\n");	/* deleted */
	tmd_puts(&t, "new/2.M1P1.h", "2\n");	/* retrieved */
	tmd_puts(&t, "new/3.M1P1.h", "3\n");	/* untouched */
	tmd_puts(&t, "cur/4.M1P1.h:2,FR", "4\n");	/* retrieved */
	tmd_puts(&t, "cur/5.M1P1.h:2,S", "5\n");	/* retrieved again */
	tmd_puts(&t, "cur/6.M1P1.h:2,T", "6\n");	/* deleted */
	tmd_puts(&t, "cur/7.M1P1.h", "7\n");	/* untouched, no info */
	tmd_puts(&t, "cur/8.M1P1.h", "8\n");	/* retrieved, no info */
	maildir_init(&md, t.fd);
	assert_int_equal(maildir_scan(&md, test_log), 0);
	assert_int_equal(md.md_count, 8);
	md.md_msgs[0].mm_flags |= MD_DELETED;
	md.md_msgs[1].mm_flags |= MD_RETRIEVED;
	md.md_msgs[3].mm_flags |= MD_RETRIEVED;
	md.md_msgs[4].mm_flags |= MD_RETRIEVED;
	md.md_msgs[5].mm_flags |= MD_DELETED | MD_RETRIEVED;
	md.md_msgs[7].mm_flags |= MD_RETRIEVED;
	assert_int_equal(maildir_update(&md, &mu, test_log), 0);
	assert_int_equal(mu.mu_deleted, 2);
	assert_int_equal(mu.mu_moved, 4);
	assert_int_equal(mu.mu_delfail + mu.mu_movefail, 0);
	assert_string_equal(test_logbuf, "");

	assert_false(tmd_exists(&t, "new/1.M1P1.h"));
	assert_false(tmd_exists(&t, "cur/1.M1P1.h:2,"));
	assert_true(tmd_exists(&t, "cur/2.M1P1.h:2,S"));
	assert_true(tmd_exists(&t, "cur/3.M1P1.h:2,"));
	assert_true(tmd_exists(&t, "cur/4.M1P1.h:2,FRS"));
	assert_true(tmd_exists(&t, "cur/5.M1P1.h:2,S"));
	assert_false(tmd_exists(&t, "cur/6.M1P1.h:2,T"));
	assert_true(tmd_exists(&t, "cur/7.M1P1.h"));
	assert_true(tmd_exists(&t, "cur/8.M1P1.h:2,S"));
	maildir_free(&md);

	/* Nothing left in new/, and the result scans the same. */
	assert_int_equal(maildir_scan(&md, test_log), 0);
	assert_int_equal(md.md_count, 6);
	assert_string_equal(md.md_msgs[0].mm_path, "cur/2.M1P1.h:2,S");
	maildir_free(&md);
	tmd_destroy(&t);
}

static void
test_vanished(void **state)
{
	struct tmd		 t;
	struct maildir		 md;
	struct md_update	 mu;
	uint64_t		 size;
	int			 fd;

	(void)state;
	tmd_create(&t);
	tmd_puts(&t, "new/1.M1P1.h", "one\n");
	tmd_puts(&t, "new/2.M1P1.h", "two\n");
	tmd_puts(&t, "new/3.M1P1.h", "three\n");
	tmd_puts(&t, "new/4.M1P1.h", "four\n");
	maildir_init(&md, t.fd);
	assert_int_equal(maildir_scan(&md, test_log), 0);
	assert_int_equal(md.md_count, 4);

	/* Another session deletes 1 and moves 2 and 4 to cur/. */
	assert_int_equal(unlinkat(t.fd, "new/1.M1P1.h", 0), 0);
	assert_int_equal(renameat(t.fd, "new/2.M1P1.h", t.fd,
	    "cur/2.M1P1.h:2,S"), 0);
	assert_int_equal(renameat(t.fd, "new/4.M1P1.h", t.fd,
	    "cur/4.M1P1.h:2,"), 0);

	errno = 0;
	assert_int_equal(maildir_open(&md, 0), -1);
	assert_int_equal(errno, ENOENT);
	assert_true(md.md_msgs[0].mm_flags & MD_GONE);
	assert_int_equal(maildir_size(&md, 0, &size), 0);
	assert_true(size == 0);

	fd = maildir_open(&md, 1);
	assert_true(fd >= 0);
	close(fd);
	assert_string_equal(md.md_msgs[1].mm_path, "cur/2.M1P1.h:2,S");
	assert_int_equal(maildir_size(&md, 1, &size), 0);
	assert_true(size == 5);

	/* UPDATE still completes: deletes 1 (gone) and 4 (moved). */
	md.md_msgs[0].mm_flags |= MD_DELETED;
	md.md_msgs[1].mm_flags |= MD_RETRIEVED;
	md.md_msgs[3].mm_flags |= MD_DELETED;
	assert_int_equal(maildir_update(&md, &mu, test_log), 0);
	assert_int_equal(mu.mu_deleted, 2);
	assert_int_equal(mu.mu_delfail, 0);
	assert_string_equal(test_logbuf, "");
	assert_true(tmd_exists(&t, "cur/2.M1P1.h:2,S"));
	assert_true(tmd_exists(&t, "cur/3.M1P1.h:2,"));
	assert_false(tmd_exists(&t, "cur/4.M1P1.h:2,"));
	maildir_free(&md);
	tmd_destroy(&t);
}

static void
test_update_vanished_retrieved(void **state)
{
	struct tmd		 t;
	struct maildir		 md;
	struct md_update	 mu;

	(void)state;
	tmd_create(&t);
	tmd_puts(&t, "new/1.M1P1.h", "one\n");
	tmd_puts(&t, "new/2.M1P1.h", "two\n");
	maildir_init(&md, t.fd);
	assert_int_equal(maildir_scan(&md, test_log), 0);
	/* Retrieved here, then deleted or moved by someone else. */
	md.md_msgs[0].mm_flags |= MD_RETRIEVED;
	md.md_msgs[1].mm_flags |= MD_RETRIEVED;
	assert_int_equal(unlinkat(t.fd, "new/1.M1P1.h", 0), 0);
	assert_int_equal(renameat(t.fd, "new/2.M1P1.h", t.fd,
	    "cur/2.M1P1.h:2,F"), 0);
	assert_int_equal(maildir_update(&md, &mu, test_log), 0);
	assert_int_equal(mu.mu_movefail, 0);
	assert_true(tmd_exists(&t, "cur/2.M1P1.h:2,FS"));
	assert_false(tmd_exists(&t, "cur/1.M1P1.h:2,S"));
	assert_string_equal(test_logbuf, "");
	maildir_free(&md);
	tmd_destroy(&t);
}

static void
test_update_failure(void **state)
{
	struct tmd		 t;
	struct maildir		 md;
	struct md_update	 mu;

	(void)state;
	tmd_create(&t);
	tmd_puts(&t, "cur/1.M1P1.h:2,", "one\n");
	tmd_puts(&t, "cur/2.M1P1.h:2,", "two\n");
	maildir_init(&md, t.fd);
	assert_int_equal(maildir_scan(&md, test_log), 0);
	/* Replace message 1 by a directory: unlink(2) fails with EISDIR. */
	assert_int_equal(unlinkat(t.fd, "cur/1.M1P1.h:2,", 0), 0);
	assert_int_equal(mkdirat(t.fd, "cur/1.M1P1.h:2,", 0700), 0);
	md.md_msgs[0].mm_flags |= MD_DELETED;
	md.md_msgs[1].mm_flags |= MD_DELETED;
	assert_int_equal(maildir_update(&md, &mu, test_log), -1);
	assert_int_equal(mu.mu_delfail, 1);
	assert_int_equal(mu.mu_deleted, 1);
	assert_non_null(strstr(test_logbuf, "cur/1.M1P1.h:2,: unlink: "));
	assert_false(tmd_exists(&t, "cur/2.M1P1.h:2,"));
	maildir_free(&md);
	tmd_destroy(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_name),
		cmocka_unit_test(test_name_size),
		cmocka_unit_test(test_scan_order),
		cmocka_unit_test(test_scan_many),
		cmocka_unit_test(test_scan_duplicate),
		cmocka_unit_test(test_scan_not_maildir),
		cmocka_unit_test(test_count_crlf),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_encode_binary),
		cmocka_unit_test(test_encode_top),
		cmocka_unit_test(test_uid),
		cmocka_unit_test(test_uid_stable),
		cmocka_unit_test(test_target_name),
		cmocka_unit_test(test_update),
		cmocka_unit_test(test_vanished),
		cmocka_unit_test(test_update_vanished_retrieved),
		cmocka_unit_test(test_update_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
