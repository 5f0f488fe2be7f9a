/*
 * wsctl's connection to wsd and the running of one command on it: shared
 * by the one-shot client and the shell.
 */
#include "ctl.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "jsonrpc.h"

#define REPLY_MAX (64u * 1024 * 1024) /* a status of thousands of workers fits */
#define WAIT_MARGIN_S 5

volatile sig_atomic_t ctl_interrupted;

/* conn_reply: the shell's Ctrl-C ended the wait; no reply was read. */
#define CONN_INTERRUPTED (-1)

static int connect_path(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), saved;

	if (fd < 0)
		return -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Why no candidate answered; a permission problem is not "is wsd running?". */
static void conn_said_why(char paths[][CTLPATH_MAX + 1], const int *errs, int n)
{
	int denied = 0;

	for (int i = 0; i < n; i++) {
		fprintf(stderr, "wsctl: cannot connect to %s: %s\n", paths[i], strerror(errs[i]));
		denied |= errs[i] == EACCES || errs[i] == EPERM;
	}
	if (denied)
		fprintf(stderr,
		    "wsctl: this user may not reach the socket (wsd's control.mode and "
		    "control.group say who may)\n");
	else
		fprintf(stderr, "wsctl: is wsd running? (-s or %s names another socket)\n",
		    CTLPATH_ENV);
}

/* Connect to the first candidate that answers; exit code on failure. */
int conn_open(struct conn *c, const struct ctl_opts *o)
{
	char paths[2][CTLPATH_MAX + 1], err[256];
	int n = ctlpath_candidates(geteuid(), o->socket, getenv(CTLPATH_ENV),
	    getenv("XDG_RUNTIME_DIR"), paths, err, sizeof(err));
	int errs[2] = {0, 0};

	if (n == 0) {
		fprintf(stderr, "wsctl: %s\n", err);
		return EXIT_USAGE;
	}
	for (int i = 0; i < n; i++) {
		if ((c->fd = connect_path(paths[i])) >= 0) {
			memcpy(c->path, paths[i], sizeof(c->path));
			return EXIT_OK;
		}
		errs[i] = errno;
	}
	conn_said_why(paths, errs, n);
	return EXIT_CONNECT;
}

static int conn_send(struct conn *c, const char *line, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, line, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "wsctl: %s: send: %s\n", c->path, strerror(errno));
			conn_close(c);
			return -1;
		}
		line += n, len -= (size_t)n;
	}
	return 0;
}

/* Read more into the buffer: 1 read, 0 EOF, -1 error, -2 timed out, -3 interrupted. */
static int conn_fill(struct conn *c, uint64_t deadline)
{
	struct pollfd p = {c->fd, POLLIN, 0};
	uint64_t now = clock_now_ms();
	int wait = deadline == 0 ? -1 : now >= deadline ? 0 : (int)(deadline - now);
	ssize_t n;

	if (c->cap - c->len < 4096) {
		char *b = c->cap >= REPLY_MAX ? NULL : realloc(c->buf, c->cap ? c->cap * 2 : 65536);

		if (b == NULL)
			return -1;
		c->buf = b, c->cap = c->cap ? c->cap * 2 : 65536;
	}
	while ((n = poll(&p, 1, wait)) < 0 && errno == EINTR && !ctl_interrupted)
		;
	if (n < 0)
		return errno == EINTR ? -3 : -1;
	if (n == 0)
		return -2;
	n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
	if (n < 0)
		return errno == EINTR ? 1 : -1;
	c->len += (size_t)n;
	return n > 0;
}

/*
 * No reply: say why, and drop the connection (a late reply must not be
 * taken for the next command's). Interrupted (the shell's Ctrl-C) has its
 * own code: never EXIT_OK, which would say a reply was read.
 */
static int conn_broken(struct conn *c, int r, double wait_s)
{
	if (r == -2)
		fprintf(stderr,
		    "wsctl: no reply within %g s (the operation may still be running)\n", wait_s);
	else if (r != -3)
		fprintf(stderr, "wsctl: %s: %s\n", c->path,
		    r == 0 ? "wsd closed the connection" : strerror(errno));
	conn_close(c);
	return r == -2 ? EXIT_TIMEOUT : r == -3 ? CONN_INTERRUPTED : EXIT_FAILED;
}

/* The next line (NUL-terminated in place) into rep: 0, CONN_INTERRUPTED or an exit code. */
static int conn_reply(struct conn *c, uint64_t deadline, struct rpc_reply *rep, double wait_s)
{
	char *nl, err[RPC_ERRLEN];
	size_t used;
	int r;

	while ((nl = c->len ? memchr(c->buf, '\n', c->len) : NULL) == NULL) {
		if ((r = conn_fill(c, deadline)) == 1)
			continue;
		return conn_broken(c, r, wait_s);
	}
	*nl = '\0';
	used = (size_t)(nl - c->buf) + 1;
	r = rpc_parse_reply(c->buf, (size_t)(nl - c->buf), rep, err, sizeof(err));
	memmove(c->buf, nl + 1, c->len - used);
	c->len -= used;
	if (r < 0)
		fprintf(stderr, "wsctl: %s\n", err);
	return r < 0 ? EXIT_FAILED : EXIT_OK;
}

/* How long to wait: -t, else the operation's own timeout plus 5 s, else the command's. */
static double wait_for(const struct ctl_opts *o, const struct cmd *c, const cJSON *params)
{
	if (o->wait_s > 0)
		return o->wait_s;
	if (cJSON_GetObjectItemCaseSensitive(params, "timeout") != NULL)
		return cmd_get_num(params, "timeout", 0) + WAIT_MARGIN_S;
	return c->wait_s;
}

/* events -f: print what the server pushes until it closes, or Ctrl-C in the shell. */
static int follow(struct conn *c, struct out *out)
{
	struct rpc_reply rep;
	int rc;

	for (;;) {
		if ((rc = conn_reply(c, 0, &rep, 0)) != EXIT_OK)
			return rc == CONN_INTERRUPTED ? EXIT_OK : rc;
		if (rep.method != NULL && strcmp(rep.method, "event") == 0)
			out_event(out, rep.params);
		rpc_reply_free(&rep);
	}
}

/* Print the reply to our request; the exit code. */
static int handle_reply(const struct cmd *cmd, const struct rpc_reply *rep, struct out *out)
{
	if (rep->code == 0) {
		out_result(out, cmd, rep->result);
		return EXIT_OK;
	}
	if (out->json)
		out_error_json(out, rep->root);
	out_error(stderr, cmd, rep->code, rep->message, rep->data);
	return rep->code == RPC_TIMEOUT ? EXIT_TIMEOUT : EXIT_FAILED;
}

int conn_request(
    struct conn *c, const char *method, cJSON *params, double wait_s, struct rpc_reply *rep)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)(wait_s * 1000);
	size_t len = 0;
	char *line = rpc_request_line(++c->next_id, method, params, &len); /* params consumed */
	int rc;

	if (line == NULL || conn_send(c, line, len) < 0) {
		free(line);
		return EXIT_FAILED;
	}
	free(line);
	do {
		if ((rc = conn_reply(c, deadline, rep, wait_s)) == CONN_INTERRUPTED) {
			fprintf(
			    stderr, "wsctl: interrupted (the operation may still be running)\n");
			return EXIT_FAILED;
		}
		if (rc != EXIT_OK)
			return rc;
		if (rep->method != NULL)
			rpc_reply_free(rep); /* a pushed event from an earlier follow */
	} while (rep->root == NULL);
	return EXIT_OK;
}

/* Send the request, wait for its reply, print it; then follow if asked. */
static int call(
    struct conn *c, const struct cmd *cmd, cJSON *params, double wait_s, struct out *out)
{
	int rc, following = cmd_get_bool(params, "follow", 0);
	struct rpc_reply rep;

	if ((rc = conn_request(c, cmd->name, params, wait_s, &rep)) != EXIT_OK)
		return rc;
	rc = handle_reply(cmd, &rep, out);
	rpc_reply_free(&rep);
	fflush(out->f);
	return (rc == EXIT_OK && following) ? follow(c, out) : rc;
}

void conn_check(struct conn *c)
{
	struct pollfd p = {c->fd, POLLIN, 0};
	char b;

	if (c->fd >= 0 && poll(&p, 1, 0) == 1 &&
	    ((p.revents & (POLLHUP | POLLERR)) || recv(c->fd, &b, 1, MSG_PEEK) <= 0))
		conn_close(c);
}

/* help [COMMAND], from our own table: no server needed. */
static int local_help(const cJSON *params, const struct ctl_opts *o)
{
	const char *name = cmd_get_str(params, "command", NULL);
	const struct cmd *c = NULL;
	char err[CMD_ERRLEN];
	cJSON *j;
	char *s;

	if (name != NULL && (c = cmd_lookup(name, err, sizeof(err))) == NULL) {
		fprintf(stderr, "wsctl: help: %s\n", err);
		return EXIT_USAGE;
	}
	if (!o->json) {
		out_help(stdout, c);
		return EXIT_OK;
	}
	j = cmd_help_json(c);
	s = j ? cJSON_Print(j) : NULL;
	printf("%s\n", s ? s : "null");
	free(s);
	cJSON_Delete(j);
	return EXIT_OK;
}

int ctl_run_words(struct conn *c, const struct ctl_opts *o, int argc, char **argv)
{
	char err[CMD_ERRLEN];
	const struct cmd *cmd = cmd_lookup(argv[0], err, sizeof(err));
	struct out out;
	cJSON *params;
	int rc;

	if (cmd == NULL) {
		fprintf(stderr, "wsctl: %s (help lists them)\n", err);
		return EXIT_USAGE;
	}
	if ((params = cmd_parse_args(cmd, argc - 1, argv + 1, err, sizeof(err))) == NULL) {
		fprintf(stderr, "wsctl: %s: %s\nusage: wsctl %s %s\n", cmd->name, err, cmd->name,
		    cmd->usage);
		return EXIT_USAGE;
	}
	if (strcmp(cmd->name, "help") == 0) {
		rc = local_help(params, o);
		cJSON_Delete(params);
		return rc;
	}
	conn_check(c);
	if (c->fd < 0 && (rc = conn_open(c, o)) != EXIT_OK) {
		cJSON_Delete(params);
		return rc;
	}
	out_init(&out, stdout, o->json);
	return call(c, cmd, params, wait_for(o, cmd, params), &out);
}

void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

void conn_free(struct conn *c)
{
	conn_close(c);
	free(c->buf);
	c->buf = NULL;
	c->cap = 0;
}
