/* Password checks: crypt(3) hashes and plaintext, in constant time. */
#ifndef PASSWD_H
#define PASSWD_H

#include <stddef.h>

/*
 * Is a stored password a locked or disabled account's: empty, or
 * beginning with '!' or '*' (usermod -L, useradd's "!", "*", "*LK*")?
 * Such a value never matches, whatever the mechanism or crypt setting.
 */
int		 passwd_locked(const char *stored);

/*
 * Check secret against the stored password: crypt(3) hash with
 * crypt_rn() when hashed, constant-time comparison when plaintext.
 * Returns 1 on a match.
 */
int		 passwd_verify(const char *stored, const char *secret,
		    size_t secretlen, int hashed);

/*
 * Burn the time passwd_verify() would take, for an unknown user: against
 * setting (method, cost and salt of the hashes in use; NULL or "": the
 * system's preferred method) when hashed, against a dummy plaintext
 * otherwise. The result is thrown away.
 */
void		 passwd_dummy(const char *setting, const char *secret,
		    size_t secretlen, int hashed);

/*
 * Is a stored value a whole crypt(3) hash, rather than a plaintext one
 * that crypt would take for a DES salt (or a locked value)?
 */
int		 passwd_looks_hashed(const char *);

/*
 * Copy the setting part of a hash (method, cost and salt, without the
 * hash itself), e.g. "$y$j9T$salt$" of "$y$j9T$salt$hash", into buf.
 * -1 if it is not a hash.
 */
int		 passwd_setting_of(const char *hash, char *buf, size_t bufsz);

#endif
