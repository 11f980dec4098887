/*
 * TLS (docs/tls.md): the server context from tls.cert/tls.key, replaced on
 * SIGHUP only when the new one loads; non-blocking handshakes; the TLS
 * transport of a session; and whether a login can leave with kernel TLS.
 */
#ifndef TLS_H
#define TLS_H

#include <sys/types.h>

#include <stddef.h>

struct config;
struct config_msgs;
struct session_io;
struct tls_conn;
struct tls_ctx;		/* an SSL_CTX */

/* The TLS transport of a session (session.h); its arg is a tls_conn. */
extern const struct session_io tls_session_io;

/* The library, or NULL when popserv was built without TLS. */
const char	*tls_library(void);
/*
 * Can this kernel take TLS keys on a socket (TCP_ULP "tls")? Returns 1 or
 * 0, with the reason in why.
 */
int		 tls_kernel_tls(char *why, size_t whysz);

/*
 * Load cf's certificate chain and key into a new context (*ctx NULL when
 * cf has no tls.cert). On failure every error is logged and -1 returned.
 */
int		 tls_load(const struct config *, struct tls_ctx **ctx);
/* Put ctx in force (NULL: TLS off); connections keep the one they had. */
void		 tls_install(struct tls_ctx *);
/* Drop a context that was loaded but not installed. */
void		 tls_discard(struct tls_ctx *);
/* tls_load() and tls_install(): start-up. */
int		 tls_configure(const struct config *);
/* popserv -t: load cf's certificate and key; errors go to msgs. */
int		 tls_check(const struct config *, struct config_msgs *);
/* Is a context in force (STLS and bindtls usable)? */
int		 tls_enabled(void);
/* Free the context in force (exit). */
void		 tls_shutdown(void);

/* A server-side TLS connection on fd (non-blocking); NULL on error. */
struct tls_conn	*tls_conn_new(int fd);
/* Send close_notify if the handshake was done (best effort), free. */
void		 tls_conn_free(struct tls_conn *);
/* Free without a word: the socket goes on with kernel TLS (popit's). */
void		 tls_conn_release(struct tls_conn *);
/*
 * Take the handshake one step further: 0 when it is done, EV_READ or
 * EV_WRITE when it waits for the socket, -1 when it failed (why says
 * how, for the log).
 */
int		 tls_conn_handshake(struct tls_conn *, char *why,
		    size_t whysz);
/* "TLSv1.3/TLS_AES_256_GCM_SHA384", for the log. */
const char	*tls_conn_describe(const struct tls_conn *, char *, size_t);
/*
 * After a login: can the socket go to popit as it is, the kernel doing
 * TLS in both directions, with no decrypted byte left in user space?
 */
int		 tls_conn_ktls(const struct tls_conn *);
/*
 * The relay's side of a connection after the login (relay.c): decrypt
 * into buf, or encrypt and send buf. A count, 0 at the end of the
 * client's input (close_notify or its close), or -1 with errno: EAGAIN
 * when it must wait, for what tls_conn_wants() then says (EV_READ or
 * EV_WRITE). A write retried after EAGAIN repeats the same bytes.
 */
ssize_t		 tls_conn_read(struct tls_conn *, void *buf, size_t len);
ssize_t		 tls_conn_write(struct tls_conn *, const void *buf,
		    size_t len);
short		 tls_conn_wants(const struct tls_conn *);
/* Keep the record buffers: the connection moves much (the relay). */
void		 tls_conn_keep_buffers(struct tls_conn *);
/* Send close_notify now, best effort; the connection stays. */
void		 tls_conn_close_notify(struct tls_conn *);

#endif
