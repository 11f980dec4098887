/* Unit tests for the POP3 line parser: line ends, verbs and arguments. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pop3.h"

/* Parse a string literal, embedded NULs included. */
#define PARSE(s, pl)	pop3_parse((s), sizeof(s) - 1, (pl))
#define LINE_END(s)	pop3_line_end((s), sizeof(s) - 1)

static void	 assert_arg(const char *, size_t, const char *);
static void	 test_line_end_short(void **);
static void	 test_line_end_limit(void **);
static void	 test_empty(void **);
static void	 test_nul(void **);
static void	 test_unknown(void **);
static void	 test_case(void **);
static void	 test_noarg(void **);
static void	 test_user(void **);
static void	 test_pass(void **);
static void	 test_apop(void **);
static void	 test_auth(void **);
static void	 test_transaction(void **);
static void	 test_longest_line(void **);
static void	 test_reset(void **);
static void	 test_cmd_name(void **);

/* An argument is exactly want, octet for octet. */
static void
assert_arg(const char *arg, size_t arglen, const char *want)
{
	assert_non_null(arg);
	assert_int_equal(arglen, strlen(want));
	assert_memory_equal(arg, want, arglen);
}

/* Lines shorter than the limit: complete, incomplete, several in a row. */
static void
test_line_end_short(void **state)
{
	(void)state;
	assert_int_equal(pop3_line_end("", 0), 0);
	assert_int_equal(LINE_END("USER joe"), 0);
	assert_int_equal(LINE_END("USER joe\r"), 0);
	assert_int_equal(LINE_END("USER joe\r\n"), 10);
	assert_int_equal(LINE_END("USER joe\n"), 9);
	assert_int_equal(LINE_END("\n"), 1);
	assert_int_equal(LINE_END("\r\n"), 2);
	assert_int_equal(LINE_END("QUIT\r\nNOOP\r\n"), 6);
	assert_int_equal(LINE_END("QUIT\nNOOP"), 5);
	/* A NUL is the parser's business, not the framer's. */
	assert_int_equal(LINE_END("US\0ER\r\n"), 7);
}

/* 255 octets with CRLF fit; 256 do not; 255 without LF already fail. */
static void
test_line_end_limit(void **state)
{
	char	 buf[600];

	(void)state;
	assert_int_equal(POP3_LINE_MAX, 255);

	memset(buf, 'x', sizeof(buf));
	memcpy(buf + 253, "\r\n", 2);
	assert_int_equal(pop3_line_end(buf, 255), 255);
	assert_int_equal(pop3_line_end(buf, sizeof(buf)), 255);

	memset(buf, 'x', sizeof(buf));
	buf[254] = '\n';
	assert_int_equal(pop3_line_end(buf, 255), 255);

	memset(buf, 'x', sizeof(buf));
	memcpy(buf + 254, "\r\n", 2);
	assert_int_equal(pop3_line_end(buf, 254), 0);
	assert_int_equal(pop3_line_end(buf, 255), -1);
	assert_int_equal(pop3_line_end(buf, 256), -1);

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(pop3_line_end(buf, 253), 0);
	assert_int_equal(pop3_line_end(buf, 254), 0);
	assert_int_equal(pop3_line_end(buf, 255), -1);
	buf[400] = '\n';
	assert_int_equal(pop3_line_end(buf, sizeof(buf)), -1);
}

/* Nothing before the line end. */
static void
test_empty(void **state)
{
	struct pop3_line	 pl;

	(void)state;
	assert_int_equal(pop3_parse("", 0, &pl), POP3_EEMPTY);
	assert_int_equal(PARSE("\r\n", &pl), POP3_EEMPTY);
	assert_int_equal(PARSE("\n", &pl), POP3_EEMPTY);
	assert_int_equal(pl.pl_cmd, POP3_CMD_UNKNOWN);
	assert_string_equal(pl.pl_verb, "");
	/* A lone CR left after stripping one is not empty. */
	assert_int_equal(PARSE("\r\r\n", &pl), POP3_EUNKNOWN);
	assert_int_equal(PARSE("   \r\n", &pl), POP3_EUNKNOWN);
}

/* A NUL anywhere is a syntax error, even where an argument is verbatim. */
static void
test_nul(void **state)
{
	struct pop3_line	 pl;

	(void)state;
	assert_int_equal(PARSE("\0\r\n", &pl), POP3_ENUL);
	assert_int_equal(PARSE("US\0ER joe\r\n", &pl), POP3_ENUL);
	assert_int_equal(PARSE("USER jo\0e\r\n", &pl), POP3_ENUL);
	assert_int_equal(PARSE("PASS sec\0ret\r\n", &pl), POP3_ENUL);
	assert_int_equal(PARSE("QUIT\r\n\0", &pl), POP3_ENUL);
	assert_null(pl.pl_arg1);
}

/* Unknown verbs: an error, with a short printable verb for the log. */
static void
test_unknown(void **state)
{
	struct pop3_line	 pl;

	(void)state;
	assert_int_equal(PARSE("XTND XMIT\r\n", &pl), POP3_EUNKNOWN);
	assert_int_equal(pl.pl_cmd, POP3_CMD_UNKNOWN);
	assert_string_equal(pl.pl_verb, "XTND");
	assert_null(pl.pl_arg1);

	assert_int_equal(PARSE("helloworld\r\n", &pl), POP3_EUNKNOWN);
	assert_string_equal(pl.pl_verb, "HELL");
	assert_int_equal(PARSE("ab\n", &pl), POP3_EUNKNOWN);
	assert_string_equal(pl.pl_verb, "AB");
	assert_int_equal(PARSE("USERX joe\r\n", &pl), POP3_EUNKNOWN);
	assert_string_equal(pl.pl_verb, "USER");
	assert_int_equal(PARSE("USE joe\r\n", &pl), POP3_EUNKNOWN);
	assert_string_equal(pl.pl_verb, "USE");
	assert_int_equal(PARSE(" USER joe\r\n", &pl), POP3_EUNKNOWN);
	assert_string_equal(pl.pl_verb, "");
	assert_int_equal(PARSE("\x1b[1m\r\n", &pl), POP3_EUNKNOWN);
	assert_string_equal(pl.pl_verb, "?[1M");
	assert_int_equal(PARSE("\xc3\xa9t\xc3\xa9\r\n", &pl), POP3_EUNKNOWN);
	assert_string_equal(pl.pl_verb, "??T?");
	/* A PROXY header from an untrusted peer is a bad command (§9). */
	assert_int_equal(PARSE("PROXY TCP4 192.0.2.1 192.0.2.2 1 110\r\n",
	    &pl), POP3_EUNKNOWN);
	assert_string_equal(pl.pl_verb, "PROX");
}

/* Verbs in any case; pl_verb is always the canonical name. */
static void
test_case(void **state)
{
	static const char *const lines[] = {
		"user joe\r\n", "User joe\r\n", "uSeR joe\r\n", "USER joe\r\n",
	};
	struct pop3_line	 pl;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		assert_int_equal(pop3_parse(lines[i], strlen(lines[i]), &pl),
		    POP3_OK);
		assert_int_equal(pl.pl_cmd, POP3_CMD_USER);
		assert_string_equal(pl.pl_verb, "USER");
		assert_arg(pl.pl_arg1, pl.pl_arg1len, "joe");
	}
	assert_int_equal(PARSE("capa\r\n", &pl), POP3_OK);
	assert_int_equal(pl.pl_cmd, POP3_CMD_CAPA);
	assert_int_equal(PARSE("tOp 1 2\n", &pl), POP3_OK);
	assert_int_equal(pl.pl_cmd, POP3_CMD_TOP);
	assert_string_equal(pl.pl_verb, "TOP");
}

/* Commands without arguments refuse one but tolerate trailing blanks. */
static void
test_noarg(void **state)
{
	static const struct {
		const char	*name;
		enum pop3_cmd	 cmd;
	} cmds[] = {
		{ "CAPA", POP3_CMD_CAPA }, { "QUIT", POP3_CMD_QUIT },
		{ "NOOP", POP3_CMD_NOOP }, { "STLS", POP3_CMD_STLS },
		{ "RSET", POP3_CMD_RSET }, { "STAT", POP3_CMD_STAT },
		{ "LAST", POP3_CMD_LAST },
	};
	struct pop3_line	 pl;
	char			 line[64];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		snprintf(line, sizeof(line), "%s\r\n", cmds[i].name);
		assert_int_equal(pop3_parse(line, strlen(line), &pl), POP3_OK);
		assert_int_equal(pl.pl_cmd, cmds[i].cmd);
		assert_string_equal(pl.pl_verb, cmds[i].name);
		assert_null(pl.pl_arg1);
		assert_null(pl.pl_arg2);

		snprintf(line, sizeof(line), "%s\n", cmds[i].name);
		assert_int_equal(pop3_parse(line, strlen(line), &pl), POP3_OK);
		assert_int_equal(pl.pl_cmd, cmds[i].cmd);

		snprintf(line, sizeof(line), "%s \t \r\n", cmds[i].name);
		assert_int_equal(pop3_parse(line, strlen(line), &pl), POP3_OK);
		assert_int_equal(pl.pl_cmd, cmds[i].cmd);

		snprintf(line, sizeof(line), "%s x\r\n", cmds[i].name);
		assert_int_equal(pop3_parse(line, strlen(line), &pl),
		    POP3_EARGS);
		assert_int_equal(pl.pl_cmd, cmds[i].cmd);

		snprintf(line, sizeof(line), "%s\tx\r\n", cmds[i].name);
		assert_int_equal(pop3_parse(line, strlen(line), &pl),
		    POP3_EARGS);

		/* Only one CR is a line end; another is an argument. */
		snprintf(line, sizeof(line), "%s\r\r\n", cmds[i].name);
		assert_int_equal(pop3_parse(line, strlen(line), &pl),
		    POP3_EUNKNOWN);
	}
}

/* USER takes one name; the pointer is into the caller's line. */
static void
test_user(void **state)
{
	static const char	 line[] = "USER joe\r\n";
	struct pop3_line	 pl;

	(void)state;
	assert_int_equal(PARSE(line, &pl), POP3_OK);
	assert_int_equal(pl.pl_cmd, POP3_CMD_USER);
	assert_ptr_equal(pl.pl_arg1, line + 5);
	assert_int_equal(pl.pl_arg1len, 3);
	assert_null(pl.pl_arg2);
	assert_int_equal(pl.pl_arg2len, 0);

	assert_int_equal(PARSE("USER joe\n", &pl), POP3_OK);
	assert_arg(pl.pl_arg1, pl.pl_arg1len, "joe");
	assert_int_equal(PARSE("USER joe+work/lite@example.org  \t\r\n", &pl),
	    POP3_OK);
	assert_arg(pl.pl_arg1, pl.pl_arg1len, "joe+work/lite@example.org");
	assert_int_equal(PARSE("USER j\xc3\xb6rg\r\n", &pl), POP3_OK);
	assert_arg(pl.pl_arg1, pl.pl_arg1len, "j\xc3\xb6rg");

	assert_int_equal(PARSE("USER\r\n", &pl), POP3_EARGS);
	assert_int_equal(pl.pl_cmd, POP3_CMD_USER);
	assert_null(pl.pl_arg1);
	assert_int_equal(PARSE("USER \r\n", &pl), POP3_EARGS);
	assert_int_equal(PARSE("USER  \t \r\n", &pl), POP3_EARGS);
	assert_int_equal(PARSE("USER joe smith\r\n", &pl), POP3_EARGS);
	assert_int_equal(PARSE("USER  joe\r\n", &pl), POP3_EARGS);
	assert_int_equal(PARSE("USER\tjoe\r\n", &pl), POP3_EARGS);
	assert_int_equal(PARSE("USER jo\te\r\n", &pl), POP3_EARGS);
	assert_int_equal(PARSE("USER jo\x01" "e\r\n", &pl), POP3_EARGS);
	assert_int_equal(PARSE("USER joe\x7f\r\n", &pl), POP3_EARGS);
	assert_int_equal(PARSE("USER joe\r\r\n", &pl), POP3_EARGS);
}

/* PASS keeps the rest of the line verbatim, spaces and all. */
static void
test_pass(void **state)
{
	static const char	 line[] = "PASS secret\r\n";
	struct pop3_line	 pl;

	(void)state;
	assert_int_equal(PARSE(line, &pl), POP3_OK);
	assert_int_equal(pl.pl_cmd, POP3_CMD_PASS);
	assert_ptr_equal(pl.pl_arg1, line + 5);
	assert_int_equal(pl.pl_arg1len, 6);
	assert_null(pl.pl_arg2);

	assert_int_equal(PARSE("pass  two  spaces \r\n", &pl), POP3_OK);
	assert_arg(pl.pl_arg1, pl.pl_arg1len, " two  spaces ");
	assert_int_equal(PARSE("PASS   \r\n", &pl), POP3_OK);
	assert_arg(pl.pl_arg1, pl.pl_arg1len, "  ");
	assert_int_equal(PARSE("PASS  \n", &pl), POP3_OK);
	assert_arg(pl.pl_arg1, pl.pl_arg1len, " ");
	assert_int_equal(PARSE("PASS tab\there\t\r\n", &pl), POP3_OK);
	assert_arg(pl.pl_arg1, pl.pl_arg1len, "tab\there\t");
	assert_int_equal(PARSE("PASS a\r\r\n", &pl), POP3_OK);
	assert_arg(pl.pl_arg1, pl.pl_arg1len, "a\r");
	assert_int_equal(PARSE("PASS a\rb\n", &pl), POP3_OK);
	assert_arg(pl.pl_arg1, pl.pl_arg1len, "a\rb");
	assert_int_equal(PARSE("PASS p\xc3\xa4ss\n", &pl), POP3_OK);
	assert_arg(pl.pl_arg1, pl.pl_arg1len, "p\xc3\xa4ss");

	assert_int_equal(PARSE("PASS\r\n", &pl), POP3_EARGS);
	assert_int_equal(pl.pl_cmd, POP3_CMD_PASS);
	assert_null(pl.pl_arg1);
	assert_int_equal(PARSE("PASS \r\n", &pl), POP3_EARGS);
	assert_int_equal(PARSE("PASS\tsecret\r\n", &pl), POP3_EARGS);
}

/* APOP: a name and exactly 32 hex digits, either case. */
static void
test_apop(void **state)
{
	static const char	 line[] =
	    "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n";
	struct pop3_line	 pl;

	(void)state;
	assert_int_equal(PARSE(line, &pl), POP3_OK);
	assert_int_equal(pl.pl_cmd, POP3_CMD_APOP);
	assert_ptr_equal(pl.pl_arg1, line + 5);
	assert_int_equal(pl.pl_arg1len, 5);
	assert_ptr_equal(pl.pl_arg2, line + 11);
	assert_int_equal(pl.pl_arg2len, 32);

	assert_int_equal(PARSE("apop mrose C4C9334BAC560ECC979E58001B3E22FB"
	    " \t\n", &pl), POP3_OK);
	assert_arg(pl.pl_arg1, pl.pl_arg1len, "mrose");
	assert_arg(pl.pl_arg2, pl.pl_arg2len,
	    "C4C9334BAC560ECC979E58001B3E22FB");

	assert_int_equal(PARSE("APOP\r\n", &pl), POP3_EARGS);
	assert_int_equal(pl.pl_cmd, POP3_CMD_APOP);
	assert_null(pl.pl_arg1);
	assert_null(pl.pl_arg2);
	assert_int_equal(PARSE("APOP mrose\r\n", &pl), POP3_EARGS);
	assert_int_equal(PARSE("APOP mrose \r\n", &pl), POP3_EARGS);
	assert_int_equal(PARSE("APOP c4c9334bac560ecc979e58001b3e22fb\r\n",
	    &pl), POP3_EARGS);
	assert_int_equal(PARSE("APOP  c4c9334bac560ecc979e58001b3e22fb\r\n",
	    &pl), POP3_EARGS);
	assert_int_equal(PARSE("APOP mrose c4c9334bac560ecc979e58001b3e22f\r\n",
	    &pl), POP3_EARGS);
	assert_int_equal(PARSE("APOP mrose c4c9334bac560ecc979e58001b3e22fbb"
	    "\r\n", &pl), POP3_EARGS);
	assert_int_equal(PARSE("APOP mrose g4c9334bac560ecc979e58001b3e22fb"
	    "\r\n", &pl), POP3_EARGS);
	assert_int_equal(PARSE("APOP mrose  c4c9334bac560ecc979e58001b3e22fb"
	    "\r\n", &pl), POP3_EARGS);
	assert_int_equal(PARSE("APOP mrose\tc4c9334bac560ecc979e58001b3e22fb"
	    "\r\n", &pl), POP3_EARGS);
	assert_int_equal(PARSE("APOP mrose c4c9334bac560ecc979e58001b3e22fb x"
	    "\r\n", &pl), POP3_EARGS);
	assert_int_equal(PARSE("APOP m\x01rose c4c9334bac560ecc979e58001b3e22fb"
	    "\r\n", &pl), POP3_EARGS);
	assert_int_equal(PARSE("APOP\tmrose c4c9334bac560ecc979e58001b3e22fb"
	    "\r\n", &pl), POP3_EARGS);
}

/* AUTH hands the rest of the line to the SASL code, possibly empty. */
static void
test_auth(void **state)
{
	static const char	 line[] = "AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n";
	struct pop3_line	 pl;

	(void)state;
	assert_int_equal(PARSE(line, &pl), POP3_OK);
	assert_int_equal(pl.pl_cmd, POP3_CMD_AUTH);
	assert_ptr_equal(pl.pl_arg1, line + 5);
	assert_arg(pl.pl_arg1, pl.pl_arg1len, "PLAIN dGVzdAB0ZXN0AHRlc3Q=");

	assert_int_equal(PARSE("AUTH\r\n", &pl), POP3_OK);
	assert_non_null(pl.pl_arg1);
	assert_int_equal(pl.pl_arg1len, 0);
	assert_int_equal(PARSE("AUTH \r\n", &pl), POP3_OK);
	assert_int_equal(pl.pl_arg1len, 0);
	assert_int_equal(PARSE("auth plain\n", &pl), POP3_OK);
	assert_arg(pl.pl_arg1, pl.pl_arg1len, "plain");
	assert_int_equal(PARSE("AUTH\t\r\n", &pl), POP3_OK);
	assert_int_equal(pl.pl_arg1len, 0);
	assert_int_equal(PARSE("AUTH\tPLAIN\r\n", &pl), POP3_EARGS);
	assert_int_equal(pl.pl_cmd, POP3_CMD_AUTH);
}

/* TRANSACTION commands are recognised, their arguments passed through. */
static void
test_transaction(void **state)
{
	struct pop3_line	 pl;

	(void)state;
	assert_int_equal(PARSE("LIST\r\n", &pl), POP3_OK);
	assert_int_equal(pl.pl_cmd, POP3_CMD_LIST);
	assert_int_equal(pl.pl_arg1len, 0);
	assert_int_equal(PARSE("LIST 1\r\n", &pl), POP3_OK);
	assert_arg(pl.pl_arg1, pl.pl_arg1len, "1");
	assert_int_equal(PARSE("RETR 7\r\n", &pl), POP3_OK);
	assert_int_equal(pl.pl_cmd, POP3_CMD_RETR);
	assert_arg(pl.pl_arg1, pl.pl_arg1len, "7");
	assert_int_equal(PARSE("DELE 2\n", &pl), POP3_OK);
	assert_int_equal(pl.pl_cmd, POP3_CMD_DELE);
	assert_int_equal(PARSE("TOP 1 10\r\n", &pl), POP3_OK);
	assert_int_equal(pl.pl_cmd, POP3_CMD_TOP);
	assert_arg(pl.pl_arg1, pl.pl_arg1len, "1 10");
	assert_int_equal(PARSE("UIDL\r\n", &pl), POP3_OK);
	assert_int_equal(pl.pl_cmd, POP3_CMD_UIDL);
}

/* The longest legal line parses whole. */
static void
test_longest_line(void **state)
{
	char			 line[POP3_LINE_MAX];
	struct pop3_line	 pl;
	ssize_t			 n;

	(void)state;
	memcpy(line, "PASS ", 5);
	memset(line + 5, 'p', sizeof(line) - 5);
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	n = pop3_line_end(line, sizeof(line));
	assert_int_equal(n, POP3_LINE_MAX);
	assert_int_equal(pop3_parse(line, (size_t)n, &pl), POP3_OK);
	assert_int_equal(pl.pl_arg1len, POP3_LINE_MAX - 7);
	assert_ptr_equal(pl.pl_arg1, line + 5);
}

/* Every call starts from a clean struct. */
static void
test_reset(void **state)
{
	struct pop3_line	 pl;

	(void)state;
	assert_int_equal(PARSE("APOP mrose c4c9334bac560ecc979e58001b3e22fb\n",
	    &pl), POP3_OK);
	assert_non_null(pl.pl_arg2);
	assert_int_equal(PARSE("QUIT\r\n", &pl), POP3_OK);
	assert_int_equal(pl.pl_cmd, POP3_CMD_QUIT);
	assert_null(pl.pl_arg1);
	assert_int_equal(pl.pl_arg1len, 0);
	assert_null(pl.pl_arg2);
	assert_int_equal(pl.pl_arg2len, 0);
	assert_int_equal(PARSE("BOGUS\r\n", &pl), POP3_EUNKNOWN);
	assert_int_equal(pl.pl_cmd, POP3_CMD_UNKNOWN);
}

/* Names for logs, and each name parses back to its command. */
static void
test_cmd_name(void **state)
{
	static const struct {
		enum pop3_cmd	 cmd;
		const char	*name;
	} names[] = {
		{ POP3_CMD_USER, "USER" }, { POP3_CMD_PASS, "PASS" },
		{ POP3_CMD_APOP, "APOP" }, { POP3_CMD_AUTH, "AUTH" },
		{ POP3_CMD_CAPA, "CAPA" }, { POP3_CMD_QUIT, "QUIT" },
		{ POP3_CMD_NOOP, "NOOP" }, { POP3_CMD_STLS, "STLS" },
		{ POP3_CMD_STAT, "STAT" }, { POP3_CMD_LIST, "LIST" },
		{ POP3_CMD_RETR, "RETR" }, { POP3_CMD_DELE, "DELE" },
		{ POP3_CMD_RSET, "RSET" }, { POP3_CMD_TOP, "TOP" },
		{ POP3_CMD_UIDL, "UIDL" }, { POP3_CMD_LAST, "LAST" },
	};
	struct pop3_line	 pl;
	size_t			 i, len;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_string_equal(pop3_cmd_name(names[i].cmd),
		    names[i].name);
		len = strlen(names[i].name);
		(void)pop3_parse(names[i].name, len, &pl);
		assert_int_equal(pl.pl_cmd, names[i].cmd);
		assert_string_equal(pl.pl_verb, names[i].name);
	}
	assert_string_equal(pop3_cmd_name(POP3_CMD_UNKNOWN), "?");
	assert_string_equal(pop3_cmd_name((enum pop3_cmd)999), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_end_short),
		cmocka_unit_test(test_line_end_limit),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_case),
		cmocka_unit_test(test_noarg),
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_pass),
		cmocka_unit_test(test_apop),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_transaction),
		cmocka_unit_test(test_longest_line),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_cmd_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
