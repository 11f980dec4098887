/*
 * A build without TLS (cmake -DPOPSERV_TLS=OFF) links this file instead
 * of tls.c and relay.c: no context is ever loaded, no connection made,
 * and STLS and bindtls are refused as not supported.
 */

#include <errno.h>
#include <stdio.h>

#include "addrtab.h"
#include "config.h"
#include "log.h"
#include "relay.h"
#include "sio.h"
#include "tls.h"


/* Built without TLS: nothing is ever configured or connected. */

static ssize_t	 tls_io_none(void *, int, void *, size_t);
static ssize_t	 tls_io_none_write(void *, int, const void *, size_t);

const struct session_io tls_session_io = {
	"tls", tls_io_none, tls_io_none, tls_io_none_write, NULL, NULL, NULL
};

/* No transport without TLS. */
static ssize_t
tls_io_none(void *arg, int fd, void *buf, size_t len)
{
	return tls_io_none_write(arg, fd, buf, len);
}

/* No transport without TLS. */
static ssize_t
tls_io_none_write(void *arg, int fd, const void *buf, size_t len)
{
	(void)arg;
	(void)fd;
	(void)buf;
	(void)len;
	errno = EIO;
	return -1;
}

/* No library. */
const char *
tls_library(void)
{
	return NULL;
}

/* A certificate cannot be used by this build. */
int
tls_load(const struct config *cf, struct tls_ctx **ctxp)
{
	*ctxp = NULL;
	if (cf->cf_tls_cert == NULL)
		return 0;
	log_warnx("tls.cert: popserv was built without TLS");
	return -1;
}

/* Nothing to install. */
void
tls_install(struct tls_ctx *ctx)
{
	(void)ctx;
}

/* Nothing to drop. */
void
tls_discard(struct tls_ctx *ctx)
{
	(void)ctx;
}

/* A certificate cannot be used by this build. */
int
tls_configure(const struct config *cf)
{
	struct tls_ctx	*ctx;

	return tls_load(cf, &ctx);
}

/* popserv -t: a certificate cannot be used by this build. */
int
tls_check(const struct config *cf, struct config_msgs *msgs)
{
	if (cf->cf_tls_cert == NULL)
		return 0;
	config_msg_add(msgs, 1, cf->cf_path, 0, "tls.cert",
	    "popserv was built without TLS");
	return -1;
}

/* Never. */
int
tls_enabled(void)
{
	return 0;
}

/* Nothing to free. */
void
tls_shutdown(void)
{
}

/* Never. */
struct tls_conn *
tls_conn_new(int fd)
{
	(void)fd;
	return NULL;
}

/* Nothing to free. */
void
tls_conn_free(struct tls_conn *tc)
{
	(void)tc;
}

/* Nothing to free. */
void
tls_conn_release(struct tls_conn *tc)
{
	(void)tc;
}

/* Never called. */
int
tls_conn_handshake(struct tls_conn *tc, char *why, size_t whysz)
{
	(void)tc;
	snprintf(why, whysz, "built without TLS");
	return -1;
}

/* Never called. */
const char *
tls_conn_describe(const struct tls_conn *tc, char *buf, size_t bufsz)
{
	(void)tc;
	snprintf(buf, bufsz, "none");
	return buf;
}

/* Never. */
int
tls_conn_ktls(const struct tls_conn *tc)
{
	(void)tc;
	return 0;
}


/* Kernel TLS needs TLS first. */
int
tls_kernel_tls(char *why, size_t whysz)
{
	snprintf(why, whysz, "popserv was built without TLS");
	return 0;
}

/* Built without TLS: there is never a TLS login to relay. */
int
relay_start(struct tls_conn *tc, int fd, int pairfd, unsigned long long id,
    const struct addrkey *peer)
{
	(void)tc;
	(void)fd;
	(void)pairfd;
	(void)id;
	(void)peer;
	return -1;
}

/* Nothing to close. */
void
relay_close_all(void)
{
}
