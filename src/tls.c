/*
 * TLS with OpenSSL 3 (docs/tls.md): one server context from tls.cert and
 * tls.key, replaced on SIGHUP only when the new files load (the old one
 * stays otherwise, and connections keep the context they started with);
 * handshakes driven from the loop, never blocking; the session transport
 * over SSL_peek/SSL_read/SSL_write; and the kernel TLS check made before
 * a login leaves with its socket.
 */

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "log.h"
#include "sio.h"
#include "tls.h"

#ifndef TCP_ULP
#define TCP_ULP		31
#endif

struct tls_conn {
	SSL		*tc_ssl;
	short		 tc_want;	/* EV_READ or EV_WRITE, after EAGAIN */
	unsigned char	 tc_done;	/* the handshake is over */
};

/* Where the errors of a load go: the log, or popserv -t's messages. */
struct tls_errsink {
	const struct config	*te_cf;
	struct config_msgs	*te_msgs;	/* NULL: log */
	int			 te_count;
};

static SSL_CTX	*tls_ctx;

static SSL_CTX	*tls_ctx_load(const struct config *,
		    struct tls_errsink *);
static void	 tls_error(struct tls_errsink *, const char *, const char *);
static void	 tls_why(SSL *, int, char *, size_t);
static ssize_t	 tls_io_result(struct tls_conn *, int);
static ssize_t	 tls_io_peek(void *, int, void *, size_t);
static ssize_t	 tls_io_read(void *, int, void *, size_t);
static ssize_t	 tls_io_write(void *, int, const void *, size_t);
static short	 tls_io_wants(void *);
static void	 tls_io_free(void *);
static int	 tls_io_handshake(void *, char *, size_t);

const struct session_io tls_session_io = {
	"tls", tls_io_peek, tls_io_read, tls_io_write, tls_io_wants,
	tls_io_free, tls_io_handshake
};

/* The library's name and version. */
const char *
tls_library(void)
{
	return OpenSSL_version(OPENSSL_VERSION);
}

/*
 * One error of a load, with what OpenSSL queued for it: each line to the
 * log, or to popserv -t's messages.
 */
static void
tls_error(struct tls_errsink *es, const char *what, const char *text)
{
	char		 buf[256];
	unsigned long	 e;
	int		 n = 0;

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		if (es->te_msgs != NULL)
			config_msg_add(es->te_msgs, 1, es->te_cf->cf_path, 0,
			    what, "%s: %s", text, buf);
		else
			log_warnx("tls: %s %s: %s", what, text, buf);
		n++;
	}
	if (n == 0) {
		if (es->te_msgs != NULL)
			config_msg_add(es->te_msgs, 1, es->te_cf->cf_path, 0,
			    what, "%s", text);
		else
			log_warnx("tls: %s %s", what, text);
	}
	es->te_count++;
}

/*
 * A server context for cf: TLS 1.2 and later, no renegotiation, no
 * tickets or session cache (each login is a fresh process anyway),
 * partial writes, buffers released while idle (thousands of sessions
 * wait in AUTHORIZATION), and kernel TLS where the kernel has it.
 */
static SSL_CTX *
tls_ctx_load(const struct config *cf, struct tls_errsink *es)
{
	SSL_CTX	*ctx;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_error(es, "tls.cert", "cannot create a context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF
#ifdef SSL_OP_ENABLE_KTLS
	    | SSL_OP_ENABLE_KTLS
#endif
	    );
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	if (SSL_CTX_use_certificate_chain_file(ctx, cf->cf_tls_cert) != 1) {
		tls_error(es, "tls.cert", cf->cf_tls_cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cf->cf_tls_key,
	    SSL_FILETYPE_PEM) != 1) {
		tls_error(es, "tls.key", cf->cf_tls_key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_error(es, "tls.key", "does not match tls.cert");
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* Load cf's certificate and key into a new context: see tls.h. */
int
tls_load(const struct config *cf, struct tls_ctx **ctxp)
{
	struct tls_errsink	 es = { cf, NULL, 0 };
	SSL_CTX			*ctx = NULL;

	*ctxp = NULL;
	if (cf->cf_tls_cert != NULL &&
	    (ctx = tls_ctx_load(cf, &es)) == NULL)
		return -1;
	*ctxp = (struct tls_ctx *)ctx;
	return 0;
}

/*
 * Put a context in force. Connections hold a reference to the context
 * they started with, so the old one goes when its last connection does.
 */
void
tls_install(struct tls_ctx *ctx)
{
	SSL_CTX_free(tls_ctx);
	tls_ctx = (SSL_CTX *)ctx;
}

/* Drop a context that was never put in force. */
void
tls_discard(struct tls_ctx *ctx)
{
	SSL_CTX_free((SSL_CTX *)ctx);
}

/* Load and put in force: start-up. */
int
tls_configure(const struct config *cf)
{
	struct tls_ctx	*ctx;

	if (tls_load(cf, &ctx) == -1)
		return -1;
	tls_install(ctx);
	return 0;
}

/* popserv -t: does the certificate load? */
int
tls_check(const struct config *cf, struct config_msgs *msgs)
{
	struct tls_errsink	 es = { cf, msgs, 0 };
	SSL_CTX			*ctx;

	if (cf->cf_tls_cert == NULL)
		return 0;
	if ((ctx = tls_ctx_load(cf, &es)) == NULL)
		return -1;
	SSL_CTX_free(ctx);
	return 0;
}

/* Is there a context in force? */
int
tls_enabled(void)
{
	return tls_ctx != NULL;
}

/* Free the context in force. */
void
tls_shutdown(void)
{
	SSL_CTX_free(tls_ctx);
	tls_ctx = NULL;
}

/* A server-side connection on fd. */
struct tls_conn *
tls_conn_new(int fd)
{
	struct tls_conn	*tc;

	if (tls_ctx == NULL || (tc = calloc(1, sizeof(*tc))) == NULL)
		return NULL;
	ERR_clear_error();
	if ((tc->tc_ssl = SSL_new(tls_ctx)) == NULL ||
	    SSL_set_fd(tc->tc_ssl, fd) != 1) {
		SSL_free(tc->tc_ssl);
		free(tc);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_accept_state(tc->tc_ssl);
	return tc;
}

/* Say goodbye (close_notify) if the handshake was done, then free. */
void
tls_conn_free(struct tls_conn *tc)
{
	if (tc == NULL)
		return;
	if (tc->tc_done) {
		ERR_clear_error();
		(void)SSL_shutdown(tc->tc_ssl);
	}
	SSL_free(tc->tc_ssl);
	ERR_clear_error();
	free(tc);
}

/* Free without close_notify: kernel TLS carries the session on. */
void
tls_conn_release(struct tls_conn *tc)
{
	if (tc == NULL)
		return;
	SSL_free(tc->tc_ssl);
	ERR_clear_error();
	free(tc);
}

/* Why an SSL call failed with error e, for the log. */
static void
tls_why(SSL *ssl, int e, char *why, size_t whysz)
{
	unsigned long	 err;

	(void)ssl;
	if ((err = ERR_peek_last_error()) != 0) {
		ERR_error_string_n(err, why, whysz);
		ERR_clear_error();
		return;
	}
	if (e == SSL_ERROR_SYSCALL && errno != 0)
		snprintf(why, whysz, "%s", strerror(errno));
	else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN)
		snprintf(why, whysz, "connection closed");
	else
		snprintf(why, whysz, "TLS error %d", e);
}

/* One step of the handshake: see tls.h. */
int
tls_conn_handshake(struct tls_conn *tc, char *why, size_t whysz)
{
	int	 r, e;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_do_handshake(tc->tc_ssl)) == 1) {
		tc->tc_done = 1;
		return 0;
	}
	switch ((e = SSL_get_error(tc->tc_ssl, r))) {
	case SSL_ERROR_WANT_READ:
		return EV_READ;
	case SSL_ERROR_WANT_WRITE:
		return EV_WRITE;
	}
	tls_why(tc->tc_ssl, e, why, whysz);
	return -1;
}

/* Protocol and cipher, for the log. */
const char *
tls_conn_describe(const struct tls_conn *tc, char *buf, size_t bufsz)
{
	snprintf(buf, bufsz, "%s/%s", SSL_get_version(tc->tc_ssl),
	    SSL_get_cipher_name(tc->tc_ssl));
	return buf;
}

/* Can the socket go to popit with the kernel doing TLS both ways? */
int
tls_conn_ktls(const struct tls_conn *tc)
{
#ifndef OPENSSL_NO_KTLS
	SSL	*ssl = tc->tc_ssl;

	return BIO_get_ktls_send(SSL_get_wbio(ssl)) &&
	    BIO_get_ktls_recv(SSL_get_rbio(ssl)) &&
	    SSL_pending(ssl) == 0 && !SSL_has_pending(ssl);
#else
	(void)tc;
	return 0;
#endif
}

/* A connection that moves much keeps its record buffers (the relay). */
void
tls_conn_keep_buffers(struct tls_conn *tc)
{
	SSL_clear_mode(tc->tc_ssl, SSL_MODE_RELEASE_BUFFERS);
}

/* Decrypt: see tls.h. */
ssize_t
tls_conn_read(struct tls_conn *tc, void *buf, size_t len)
{
	return tls_io_read(tc, -1, buf, len);
}

/* Encrypt and send: see tls.h. */
ssize_t
tls_conn_write(struct tls_conn *tc, const void *buf, size_t len)
{
	return tls_io_write(tc, -1, buf, len);
}

/* What the last EAGAIN waits for. */
short
tls_conn_wants(const struct tls_conn *tc)
{
	return tc->tc_want;
}

/* Our close_notify, best effort; the connection stays for theirs. */
void
tls_conn_close_notify(struct tls_conn *tc)
{
	ERR_clear_error();
	(void)SSL_shutdown(tc->tc_ssl);
	ERR_clear_error();
}

/*
 * An SSL I/O result as a session_io one: a count, 0 at the end (a
 * close_notify, or the peer's close), or -1 with errno (EAGAIN, and
 * tc_want says which readiness).
 */
static ssize_t
tls_io_result(struct tls_conn *tc, int r)
{
	int	 e;

	if (r > 0)
		return r;
	switch ((e = SSL_get_error(tc->tc_ssl, r))) {
	case SSL_ERROR_WANT_READ:
		tc->tc_want = EV_READ;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		tc->tc_want = EV_WRITE;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == 0)
			return 0;
		break;
	default:
		errno = EIO;
		break;
	}
	ERR_clear_error();
	return -1;
}

/* Show decrypted input without consuming it (one record at most). */
static ssize_t
tls_io_peek(void *arg, int fd, void *buf, size_t len)
{
	struct tls_conn	*tc = arg;

	(void)fd;
	ERR_clear_error();
	errno = 0;
	return tls_io_result(tc, SSL_peek(tc->tc_ssl, buf, (int)len));
}

/* Consume len decrypted octets that tls_io_peek showed. */
static ssize_t
tls_io_read(void *arg, int fd, void *buf, size_t len)
{
	struct tls_conn	*tc = arg;

	(void)fd;
	ERR_clear_error();
	errno = 0;
	return tls_io_result(tc, SSL_read(tc->tc_ssl, buf, (int)len));
}

/* Encrypt and send; a retry after EAGAIN repeats the same bytes. */
static ssize_t
tls_io_write(void *arg, int fd, const void *buf, size_t len)
{
	struct tls_conn	*tc = arg;

	(void)fd;
	if (len == 0)
		return 0;
	ERR_clear_error();
	errno = 0;
	return tls_io_result(tc, SSL_write(tc->tc_ssl, buf, (int)len));
}

/* What the last EAGAIN waits for. */
static short
tls_io_wants(void *arg)
{
	struct tls_conn	*tc = arg;

	return tc->tc_want;
}

/* The session is over: close_notify, free. */
static void
tls_io_free(void *arg)
{
	tls_conn_free(arg);
}

/* The transport's handshake step. */
static int
tls_io_handshake(void *arg, char *why, size_t whysz)
{
	return tls_conn_handshake(arg, why, whysz);
}


/*
 * Does the kernel take TLS keys on a TCP socket? Setting the "tls" upper
 * layer protocol on a socket that is not connected yet fails with
 * ENOTCONN when the kernel has it, ENOENT when it does not.
 */
int
tls_kernel_tls(char *why, size_t whysz)
{
	int	 fd, r, saved;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(why, whysz, "socket: %s", strerror(errno));
		return 0;
	}
	r = setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls"));
	saved = errno;
	close(fd);
	if (r == 0 || saved == ENOTCONN) {
		snprintf(why, whysz, "the kernel has TLS (TCP_ULP \"tls\")");
		return 1;
	}
	snprintf(why, whysz, "TCP_ULP \"tls\": %s", strerror(saved));
	return 0;
}
