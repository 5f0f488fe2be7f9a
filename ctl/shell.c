/*
 * The shell. Commands are the same words as on wsctl's command line, run
 * by the same code (ctl_run_words) on one kept connection. Completion is
 * derived from the command table, plus worker pids from a live status.
 */
#include "shell.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "jsonrpc.h"

#define MAXWORDS 64
#define HISTORY_MAX 1000
#define MAXCANDS 256
#define STATUS_WAIT_S 2

static struct conn sh_conn = {.fd = -1};
static const struct ctl_opts *sh_opts;
static char *cands[MAXCANDS];
static size_t ncands;

static void on_sigint(int sig) { ctl_interrupted = 1; }

static int blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* One word starting at *p: unquoted in place; the end, or NULL on an unbalanced quote. */
static char *split_one(char *p, char **word)
{
	char *out = p, quote = 0;

	*word = out;
	for (; *p != '\0' && (quote || !blank(*p)); p++) {
		if (quote ? *p == quote : (*p == '\'' || *p == '"'))
			quote = quote ? 0 : *p;
		else
			*out++ = *p;
	}
	if (quote)
		return NULL;
	if (*p != '\0')
		p++;
	*out = '\0';
	return p;
}

int shell_split(char *line, char **words, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (blank(*p))
			p++;
		if (*p == '\0')
			return n;
		if (n == max || (p = split_one(p, &words[n])) == NULL)
			return -1;
		n++;
	}
}

/* One line: the command's exit code, 0 for nothing, -1 to quit. */
static int shell_line(char *line)
{
	char *words[MAXWORDS];
	int n = shell_split(line, words, MAXWORDS);

	if (n < 0) {
		fprintf(stderr, "wsctl: unbalanced quote or too many words\n");
		return EXIT_USAGE;
	}
	if (n == 0)
		return 0;
	if (strcmp(words[0], "quit") == 0 || strcmp(words[0], "exit") == 0)
		return -1;
	ctl_interrupted = 0;
	return ctl_run_words(&sh_conn, sh_opts, n, words);
}

/* Not a terminal: every line a command; 1 if any failed. */
static int shell_batch(void)
{
	char *line = NULL;
	size_t cap = 0;
	int failed = 0, rc;

	while (getline(&line, &cap, stdin) > 0) {
		if ((rc = shell_line(line)) < 0)
			break;
		failed |= rc != 0;
		fflush(stdout);
	}
	free(line);
	return failed ? EXIT_FAILED : EXIT_OK;
}

static void cand_add(const char *s)
{
	if (ncands < MAXCANDS)
		cands[ncands++] = (char *)s;
}

/* Worker pids from a live status, as strings kept until the next completion. */
static void cand_pids(void)
{
	static char pids[MAXCANDS][16];
	struct rpc_reply rep;
	const cJSON *w, *p;
	size_t n = 0;

	conn_check(&sh_conn);
	if (sh_conn.fd < 0 || conn_request(&sh_conn, "status", NULL, STATUS_WAIT_S, &rep) != 0)
		return;
	w = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(rep.result, "roles"), "worker");
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(w, "pids"))
	{
		if (n < MAXCANDS && cJSON_IsNumber(p)) {
			snprintf(pids[n], sizeof(pids[n]), "%.0f", p->valuedouble);
			cand_add(pids[n++]);
		}
	}
	rpc_reply_free(&rep);
}

static void cand_commands(void)
{
	size_t n;
	const struct cmd *t = cmd_table(&n);

	for (size_t i = 0; i < n; i++)
		cand_add(t[i].name);
	cand_add("quit");
}

/* The param the next bare word would fill, given the words typed after the command. */
static const struct cmd_param *next_positional(const struct cmd *c, char **words, int n)
{
	int given = 0;

	for (int i = 1; i < n; i++) {
		const struct cmd_param *p = words[i][0] == '-' && words[i][1] == '-' ?
		    cmd_param(c, words[i] + 2) :
		    NULL;

		if (p != NULL && p->type != CMD_T_BOOL && strchr(words[i], '=') == NULL)
			i++; /* its value */
		else if (words[i][0] != '-')
			given++;
	}
	for (size_t k = 0; k < CMD_MAXPARAMS && c->params[k].name != NULL; k++) {
		if (c->params[k].positional && given-- == 0)
			return &c->params[k];
	}
	return NULL;
}

/* For command c: the next positional's values, or (for "-" or none) its options. */
static void cand_args(const struct cmd *c, char **words, int n, const char *text)
{
	static char opts[CMD_MAXPARAMS][32];
	const struct cmd_param *p = next_positional(c, words, n);

	if (strcmp(c->name, "help") == 0) {
		cand_commands();
		return;
	}
	if (text[0] != '-' && p != NULL) {
		for (size_t k = 0; k < cmd_choices(p); k++)
			cand_add(p->choices[k]);
		if (p->type == CMD_T_PID)
			cand_pids();
		return;
	}
	for (size_t k = 0; k < CMD_MAXPARAMS && c->params[k].name != NULL; k++) {
		snprintf(opts[k], sizeof(opts[k]), "--%s", c->params[k].name);
		cand_add(opts[k]);
	}
}

static char *cand_next(const char *text, int state)
{
	static size_t i;

	if (state == 0)
		i = 0;
	while (i < ncands) {
		const char *s = cands[i++];

		if (strncmp(s, text, strlen(text)) == 0)
			return strdup(s);
	}
	return NULL;
}

static char **complete(const char *text, int start, int end)
{
	char *copy = strndup(rl_line_buffer, (size_t)start), *words[MAXWORDS];
	char err[CMD_ERRLEN];
	int n = copy ? shell_split(copy, words, MAXWORDS) : -1;
	const struct cmd *c;
	char **m = NULL;

	rl_attempted_completion_over = 1; /* never file names */
	ncands = 0;
	if (n == 0)
		cand_commands();
	else if (n > 0 && (c = cmd_lookup(words[0], err, sizeof(err))) != NULL)
		cand_args(c, words, n, text);
	if (ncands > 0)
		m = rl_completion_matches(text, cand_next);
	free(copy);
	return m;
}

static void history_path(char *buf, size_t len)
{
	const char *home = getenv("HOME");
	int n = home && home[0] ? snprintf(buf, len, "%s/.wsctl_history", home) : -1;

	if (n < 0 || (size_t)n >= len)
		buf[0] = '\0';
}

/* The prompt names the server's socket, and says when it is not connected. */
static void prompt(char *buf, size_t len)
{
	const char *path = sh_conn.path[0] ? sh_conn.path : sh_opts->socket;

	snprintf(
	    buf, len, "wsd %s%s> ", path ? path : "", sh_conn.fd < 0 ? " (not connected)" : "");
}

static int shell_interactive(void)
{
	char hist[4096], p[CTLPATH_MAX + 40], *line;

	history_path(hist, sizeof(hist));
	using_history();
	stifle_history(HISTORY_MAX);
	if (hist[0])
		read_history(hist);
	rl_readline_name = "wsctl";
	rl_attempted_completion_function = complete;
	conn_open(&sh_conn, sh_opts); /* not there yet: said, and tried again at each command */
	for (;;) {
		prompt(p, sizeof(p));
		if ((line = readline(p)) == NULL) { /* Ctrl-D */
			putchar('\n');
			break;
		}
		if (line[0] != '\0')
			add_history(line);
		if (shell_line(line) < 0) {
			free(line);
			break;
		}
		free(line);
	}
	if (hist[0] && write_history(hist) != 0)
		fprintf(stderr, "wsctl: %s: %s\n", hist, strerror(errno));
	return EXIT_OK;
}

int shell_main(const struct ctl_opts *o)
{
	struct sigaction sa = {.sa_handler = on_sigint};
	int rc;

	sh_opts = o;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: Ctrl-C ends a follow */
	if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
		rc = shell_interactive();
	else
		rc = shell_batch();
	conn_free(&sh_conn);
	return rc;
}
