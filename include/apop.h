/* APOP (RFC 1939 §7): challenge timestamps and digest checks. */
#ifndef APOP_H
#define APOP_H

#include <stddef.h>
#include <stdint.h>

#define APOP_DIGEST_LEN		32	/* hex MD5 */
#define APOP_TIMESTAMP_MAX	160

/*
 * Write a unique challenge "<pid.counter.time.nonce@hostname>" into buf,
 * nonce as 16 hex digits. Returns its length, or -1 if it does not fit.
 */
int	apop_timestamp(char *buf, size_t bufsz, long pid, unsigned long counter,
	    long long now, uint64_t nonce, const char *hostname);
/*
 * 64 bits from the kernel's random generator (cached, one thread only),
 * so that challenges cannot be predicted even where pid, counter, time
 * and host name repeat (containers whose pid is 1, nodes of one name).
 * Returns 0, or -1 if the kernel has none yet.
 */
int	apop_nonce(uint64_t *);

/* hex MD5 of timestamp followed by secret, into out[APOP_DIGEST_LEN + 1]. */
void	apop_digest(const char *timestamp, const char *secret, size_t secretlen,
	    char out[APOP_DIGEST_LEN + 1]);

/*
 * Compare the client's digest (any case) with the expected one in
 * constant time. Returns 1 if they match.
 */
int	apop_verify(const char *timestamp, const char *secret, size_t secretlen,
	    const char *digest, size_t digestlen);

/* Constant-time comparison of two byte strings; 1 if equal. */
int	timingsafe_eq(const void *a, size_t alen, const void *b, size_t blen);

#endif
