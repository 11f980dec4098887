/* APOP (RFC 1939 §7): challenge timestamps and constant-time digest checks. */

#include <sys/random.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <md5.h>

#include "apop.h"

static int	 apop_hostname_ok(const char *);
static unsigned char apop_lower(unsigned char);

/*
 * Whether hostname can go inside "<...@hostname>": not empty, and no
 * blank, control, '<' or '>' that would end the challenge early or
 * make the greeting ambiguous.
 */
static int
apop_hostname_ok(const char *hostname)
{
	const unsigned char	*p;

	if (hostname == NULL || *hostname == '\0')
		return 0;
	for (p = (const unsigned char *)hostname; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>')
			return 0;
	return 1;
}

/*
 * Write the challenge; -1 if it does not fit in bufsz (buf then holds an
 * empty string if bufsz > 0) or if hostname is empty or holds a blank,
 * a control character, '<' or '>'.
 */
int
apop_timestamp(char *buf, size_t bufsz, long pid, unsigned long counter,
    long long now, uint64_t nonce, const char *hostname)
{
	int	 n;

	if (bufsz > 0)
		buf[0] = '\0';
	if (buf == NULL || bufsz == 0 || !apop_hostname_ok(hostname))
		return -1;
	n = snprintf(buf, bufsz, "<%ld.%lu.%lld.%016llx@%s>", pid, counter,
	    now, (unsigned long long)nonce, hostname);
	if (n < 0 || (size_t)n >= bufsz) {
		buf[0] = '\0';
		return -1;
	}
	return n;
}

/*
 * 64 random bits from the kernel's generator for a challenge, taken from
 * a small cache refilled with getrandom(2). GRND_NONBLOCK: before the
 * kernel's pool is seeded (early boot) this fails rather than waits.
 * For one thread only (the loop's).
 */
int
apop_nonce(uint64_t *out)
{
	static uint64_t	 cache[64];
	static size_t	 left;
	ssize_t		 n;

	if (left == 0) {
		do
			n = getrandom(cache, sizeof(cache), GRND_NONBLOCK);
		while (n == -1 && errno == EINTR);
		if (n != (ssize_t)sizeof(cache))
			return -1;
		left = sizeof(cache) / sizeof(cache[0]);
	}
	*out = cache[--left];
	cache[left] = 0;
	return 0;
}

/* Lower-case hex MD5 of timestamp followed by secret[0..secretlen). */
void
apop_digest(const char *timestamp, const char *secret, size_t secretlen,
    char out[APOP_DIGEST_LEN + 1])
{
	static const char	 hex[] = "0123456789abcdef";
	MD5_CTX			 ctx;
	uint8_t			 md[MD5_DIGEST_LENGTH];
	size_t			 i;

	MD5Init(&ctx);
	MD5Update(&ctx, (const uint8_t *)timestamp, strlen(timestamp));
	if (secretlen > 0)
		MD5Update(&ctx, (const uint8_t *)secret, secretlen);
	MD5Final(md, &ctx);
	for (i = 0; i < MD5_DIGEST_LENGTH; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0x0f];
	}
	out[APOP_DIGEST_LEN] = '\0';
	explicit_bzero(&ctx, sizeof(ctx));
	explicit_bzero(md, sizeof(md));
}

/* ASCII lower case without a branch on the byte's value. */
static unsigned char
apop_lower(unsigned char c)
{
	int		 ci = c;
	unsigned int	 isupper;

	/* Both differences are negative only when c is in 'A'..'Z'. */
	isupper = ((unsigned int)(('A' - 1 - ci) & (ci - 'Z' - 1)) >> 31) & 1;
	return c | (unsigned char)(isupper << 5);
}

/*
 * Compare the client's digest (any case) with md5(timestamp secret).
 * Time depends on digestlen only, never on the digits or the secret's
 * content; a digest of the wrong length is rejected.
 */
int
apop_verify(const char *timestamp, const char *secret, size_t secretlen,
    const char *digest, size_t digestlen)
{
	char	 want[APOP_DIGEST_LEN + 1];
	char	 got[APOP_DIGEST_LEN];
	size_t	 i;
	int	 ok;

	apop_digest(timestamp, secret, secretlen, want);
	if (digest == NULL || digestlen != APOP_DIGEST_LEN) {
		explicit_bzero(want, sizeof(want));
		return 0;
	}
	for (i = 0; i < APOP_DIGEST_LEN; i++)
		got[i] = (char)apop_lower((unsigned char)digest[i]);
	ok = timingsafe_eq(want, APOP_DIGEST_LEN, got, APOP_DIGEST_LEN);
	explicit_bzero(want, sizeof(want));
	explicit_bzero(got, sizeof(got));
	return ok;
}

/*
 * Constant-time equality: every octet of the longer string is looked at
 * whatever the content, so the time depends on the two lengths only.
 * The lengths themselves may leak through timing; callers compare
 * strings whose length is public (a digest, a fixed-size token).
 */
int
timingsafe_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	const volatile unsigned char	*pa = a, *pb = b;
	size_t				 i, n;
	unsigned char			 diff, x, y;

	diff = alen != blen;
	n = alen > blen ? alen : blen;
	for (i = 0; i < n; i++) {
		x = i < alen ? pa[i] : 0;
		y = i < blen ? pb[i] : 0;
		diff |= x ^ y;
	}
	return diff == 0;
}
