/*
 * wsctl's pieces shared by the one-shot client (wsctl.c) and the shell
 * (shell.c): the options, the connection to wsd, running one command.
 */
#ifndef WSD_CTL_H
#define WSD_CTL_H

#include <signal.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "ctlpath.h"
#include "output.h"

/* Exit codes. */
#define EXIT_OK 0
#define EXIT_FAILED 1 /* the server refused, or the operation failed */
#define EXIT_USAGE 2
#define EXIT_CONNECT 3 /* cannot connect */
#define EXIT_TIMEOUT 4

struct ctl_opts {
	const char *socket; /* -s */
	int json;
	double wait_s; /* -t; <= 0: from the command */
};

/* The connection and what has been read from it but not yet used. */
struct conn {
	int fd; /* -1: not connected */
	char path[CTLPATH_MAX + 1];
	char *buf;
	size_t len, cap;
	long long next_id;
};

/* Set by the shell's SIGINT handler: stops following events. */
extern volatile sig_atomic_t ctl_interrupted;

/* Connect to the first candidate path that answers: EXIT_OK or an exit code (said on stderr). */
int conn_open(struct conn *c, const struct ctl_opts *o);
void conn_close(struct conn *c);
/* Drop a connection the server has closed meanwhile (wsd restarted). */
void conn_check(struct conn *c);
/* Free the buffer too. */
void conn_free(struct conn *c);

struct rpc_reply;

/*
 * Send method(params) (consumed) and wait up to wait_s for its reply
 * (pushed notifications skipped): EXIT_OK with rep to free, or an exit
 * code (said on stderr; the connection is then closed).
 */
int conn_request(
    struct conn *c, const char *method, cJSON *params, double wait_s, struct rpc_reply *rep);

/*
 * One command as words (argv[0] is the command or a prefix of it): local
 * help, or parse, send, wait, print. Connects first if c is not connected.
 * Returns the exit code; a broken connection is closed (c->fd == -1).
 */
int ctl_run_words(struct conn *c, const struct ctl_opts *o, int argc, char **argv);

#endif
