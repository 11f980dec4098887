/*
 * A stand-in for popit in the handoff tests: it records what popserv gave
 * it (argv, environment, directory, credentials, descriptors, signals and
 * every byte it receives) and speaks just enough POP3 to finish.
 *
 * usage: stub_popit RECORDDIR [args...]
 * It writes RECORDDIR/<pid>.rec, one "key value" line per item, and
 * "exit" as the last line once the session is over. A line "CRASH" from
 * the client makes it abort(); "HANG" makes it sleep for ever.
 */

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

/* Append the contents of a /proc line starting with key. */
static void
proc_status(FILE *rec, const char *key)
{
	char	 line[512];
	FILE	*fp;

	if ((fp = fopen("/proc/self/status", "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, key, strlen(key)) == 0)
			fprintf(rec, "%s", line);
	fclose(fp);
}

/* Record one received line with CR and LF made visible. */
static void
record_line(FILE *rec, const char *line, size_t len)
{
	size_t	 i;

	fprintf(rec, "line ");
	for (i = 0; i < len; i++) {
		if (line[i] == '\r')
			fprintf(rec, "\\r");
		else if (line[i] == '\n')
			fprintf(rec, "\\n");
		else
			fputc(line[i], rec);
	}
	fputc('\n', rec);
}

int
main(int argc, char *argv[])
{
	char		 path[PATH_MAX], cwd[PATH_MAX], buf[4096];
	gid_t		 groups[64];
	struct dirent	*de;
	DIR		*d;
	FILE		*rec;
	ssize_t		 n;
	int		 i, ng, fl;
	size_t		 linelen = 0;
	char		 line[1024];

	if (argc < 2)
		return 2;
	snprintf(path, sizeof(path), "%s/%ld.rec", argv[1], (long)getpid());
	/* Inspect descriptors before opening anything. */
	fl = fcntl(0, F_GETFL);
	if ((d = opendir("/proc/self/fd")) == NULL)
		return 3;
	if ((rec = fopen(path, "w")) == NULL)
		return 4;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d) &&
		    atoi(de->d_name) != fileno(rec))
			fprintf(rec, "fd %s\n", de->d_name);
	closedir(d);
	fprintf(rec, "nonblock %d\n", (fl & O_NONBLOCK) != 0);
	for (i = 0; i < argc; i++)
		fprintf(rec, "argv %s\n", argv[i]);
	for (i = 0; environ[i] != NULL; i++)
		fprintf(rec, "env %s\n", environ[i]);
	fprintf(rec, "cwd %s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
	fprintf(rec, "uid %ld %ld\n", (long)getuid(), (long)geteuid());
	fprintf(rec, "gid %ld %ld\n", (long)getgid(), (long)getegid());
	ng = getgroups(64, groups);
	fprintf(rec, "groups");
	for (i = 0; i < ng; i++)
		fprintf(rec, " %ld", (long)groups[i]);
	fprintf(rec, "\n");
	proc_status(rec, "SigBlk");
	proc_status(rec, "SigIgn");
	fflush(rec);

	dprintf(1, "+OK stub popit\r\n");
	while ((n = read(0, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++) {
			if (linelen < sizeof(line) - 1)
				line[linelen++] = buf[i];
			if (buf[i] != '\n')
				continue;
			line[linelen] = '\0';
			record_line(rec, line, linelen);
			fflush(rec);
			if (strncmp(line, "CRASH", 5) == 0)
				abort();
			if (strncmp(line, "HANG", 4) == 0)
				for (;;)
					pause();
			if (strncasecmp(line, "QUIT", 4) == 0) {
				dprintf(1, "+OK bye\r\n");
				fprintf(rec, "exit\n");
				fclose(rec);
				return 0;
			}
			dprintf(1, "+OK %.*s\r\n", (int)strcspn(line, "\r\n"),
			    line);
			linelen = 0;
		}
	}
	fprintf(rec, "eof\nexit\n");
	fclose(rec);
	return 0;
}
