/* popit: the POP3 TRANSACTION and UPDATE states on one Maildir. */
#ifndef POPIT_H
#define POPIT_H

/* popit.c: the command loop on the client's descriptors; the log. */
void		 popit_log(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

#endif
