/*
 * Password checks: a stored crypt(3) hash or plaintext against a secret,
 * in time that tells neither which part differs nor (with passwd_dummy())
 * whether the user exists. Pure: no database, no I/O.
 */

#include <crypt.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "passwd.h"

static int	 passwd_phrase(char *, size_t, const char *, size_t);
static int	 passwd_usable(const char *);
static const char *passwd_default_setting(void);
static void	 passwd_default_init(void);
static int	 passwd_crypt(const char *, const char *, const char *);
static int	 passwd_plain(const char *, const char *, size_t);
static int	 passwd_ct_eq(const char *, size_t, const char *, size_t);

/* Compared against for an unknown user with plaintext passwords. */
static const char passwd_dummy_plain[] = "popserv-dummy-password";

static pthread_once_t	 passwd_default_once = PTHREAD_ONCE_INIT;
static char		 passwd_default[CRYPT_GENSALT_OUTPUT_SIZE];

/*
 * Copy secret into phrase as a C string for crypt_rn(). -1 when it cannot
 * be one (a NUL inside, or too long): such a secret matches nothing.
 */
static int
passwd_phrase(char *phrase, size_t phrasesz, const char *secret,
    size_t secretlen)
{
	if (secretlen >= phrasesz || memchr(secret, '\0', secretlen) != NULL)
		return -1;
	memcpy(phrase, secret, secretlen);
	phrase[secretlen] = '\0';
	return 0;
}

/* Can a stored value be a crypt(3) hash? Locked ("!...", "*") cannot. */
static int
passwd_usable(const char *stored)
{
	if (passwd_locked(stored))
		return 0;
	return crypt_checksalt(stored) != CRYPT_SALT_INVALID;
}

/*
 * Is a stored value a whole crypt(3) hash, rather than a plaintext one
 * that crypt would take for a DES salt? DES hashes are 13 characters,
 * BSDi ones 20, of the crypt alphabet; the others begin with '$'.
 */
int
passwd_looks_hashed(const char *s)
{
	static const char	 alphabet[] = "./0123456789"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz";
	size_t			 len = strlen(s);

	if (!passwd_usable(s))
		return 0;
	if (s[0] == '$')
		return 1;
	if (s[0] == '_')
		return len == 20 && strspn(s + 1, alphabet) == len - 1;
	return len == 13 && strspn(s, alphabet) == len;
}

/*
 * The setting part of a hash (method, cost and salt, without the hash
 * itself), e.g. "$y$j9T$salt$" of "$y$j9T$salt$hash". -1 if not a hash.
 */
int
passwd_setting_of(const char *hash, char *buf, size_t bufsz)
{
	const char	*p;
	size_t		 len;

	if (!passwd_looks_hashed(hash))
		return -1;
	len = strlen(hash);
	if (strncmp(hash, "$2", 2) == 0) {
		/* bcrypt: "$2b$NN$" and 22 characters of salt. */
		if (len < 29)
			return -1;
		len = 29;
	} else if (hash[0] == '$') {
		p = strrchr(hash, '$');
		len = (size_t)(p - hash) + 1;
	} else if (hash[0] == '_')
		len = len < 9 ? len : 9;	/* BSDi extended DES */
	else
		len = len < 2 ? len : 2;	/* traditional DES */
	if (len >= bufsz)
		return -1;
	memcpy(buf, hash, len);
	buf[len] = '\0';
	if (crypt_checksalt(buf) == CRYPT_SALT_INVALID) {
		buf[0] = '\0';
		return -1;
	}
	return 0;
}

/* Make the default setting (the preferred method, a random salt) once. */
static void
passwd_default_init(void)
{
	if (crypt_gensalt_rn(NULL, 0, NULL, 0, passwd_default,
	    sizeof(passwd_default)) == NULL || passwd_default[0] == '*') {
		/* No entropy? Any fixed salt costs the same. */
		snprintf(passwd_default, sizeof(passwd_default), "%s",
		    "$6$popservdummy00$");
	}
}

/* The setting of the system's preferred method, made once per process. */
static const char *
passwd_default_setting(void)
{
	pthread_once(&passwd_default_once, passwd_default_init);
	return passwd_default;
}

/*
 * crypt_rn(phrase, setting) and compare with expect in constant time;
 * expect NULL: only spend the time. The crypt_data is on the stack (each
 * worker has its own) and wiped afterwards.
 */
static int
passwd_crypt(const char *phrase, const char *setting, const char *expect)
{
	struct crypt_data	 cd;
	const char		*out;
	int			 match = 0;

	memset(&cd, 0, sizeof(cd));
	out = crypt_rn(phrase, setting, &cd, sizeof(cd));
	if (out != NULL && out[0] != '*' && expect != NULL)
		match = passwd_ct_eq(expect, strlen(expect), out, strlen(out));
	explicit_bzero(&cd, sizeof(cd));
	return out != NULL && out[0] != '*' ? match : -1;
}

/*
 * Equality of a (alen) and b (blen) in time that depends on blen only:
 * no early exit at the first differing byte. Kept here rather than
 * shared with apop.c so that this file stands alone.
 */
static int
passwd_ct_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t		 diff = alen ^ blen, i;
	unsigned char	 x;

	for (i = 0; i < blen; i++) {
		x = i < alen ? (unsigned char)a[i] : 0;
		diff |= x ^ (unsigned char)b[i];
	}
	return diff == 0;
}

/* A locked or disabled account: see passwd.h. */
int
passwd_locked(const char *stored)
{
	return stored[0] == '\0' || stored[0] == '!' || stored[0] == '*';
}

/*
 * Plaintext: compare in constant time. A locked value ("!...", "*...",
 * empty) is compared all the same, so that it costs what a wrong
 * password costs, and never matches.
 */
static int
passwd_plain(const char *stored, const char *secret, size_t secretlen)
{
	int	 eq;

	eq = passwd_ct_eq(stored, strlen(stored), secret, secretlen);
	return eq && !passwd_locked(stored);
}

/* Does secret match the stored password (hash, or plaintext)? */
int
passwd_verify(const char *stored, const char *secret, size_t secretlen,
    int hashed)
{
	char	 phrase[CRYPT_MAX_PASSPHRASE_SIZE];
	int	 match = 0;

	if (stored == NULL || secret == NULL)
		return 0;
	if (!hashed)
		return passwd_plain(stored, secret, secretlen);
	if (passwd_phrase(phrase, sizeof(phrase), secret, secretlen) == -1)
		return 0;
	if (passwd_usable(stored))
		match = passwd_crypt(phrase, stored, stored) == 1;
	else if (stored[0] == '!' && passwd_usable(stored + 1))
		/* Locked (usermod -L): cost what the real hash would. */
		(void)passwd_crypt(phrase, stored + 1, NULL);
	else
		(void)passwd_crypt(phrase, passwd_default_setting(), NULL);
	explicit_bzero(phrase, sizeof(phrase));
	return match;
}

/*
 * For an unknown user: do what passwd_verify() would, against setting
 * (the kind of hash the database uses; NULL or "", or a setting crypt
 * refuses: the system's preferred method), and throw the result away.
 */
void
passwd_dummy(const char *setting, const char *secret, size_t secretlen,
    int hashed)
{
	char	 phrase[CRYPT_MAX_PASSPHRASE_SIZE];

	if (secret == NULL)
		return;
	if (!hashed) {
		(void)passwd_plain(passwd_dummy_plain, secret, secretlen);
		return;
	}
	if (passwd_phrase(phrase, sizeof(phrase), secret, secretlen) == -1)
		return;
	if (setting == NULL || setting[0] == '\0' ||
	    passwd_crypt(phrase, setting, NULL) == -1)
		(void)passwd_crypt(phrase, passwd_default_setting(), NULL);
	explicit_bzero(phrase, sizeof(phrase));
}
