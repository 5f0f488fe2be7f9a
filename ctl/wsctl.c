/*
 * wsctl: one command to a running wsd over its control socket, the reply
 * printed for humans or as JSON; without a command, the shell. Exit codes: 0 ok, 1 the server
 * refused or the operation failed, 2 usage, 3 cannot connect, 4 timed out.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "output.h"
#include "shell.h"
#include "top.h"

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: wsctl [-s SOCKET] [-j|--json] [-t SECONDS] COMMAND [ARGS]\n"
	    "       wsctl [-s SOCKET] [-j] [shell]      an interactive shell (commands from\n"
	    "                                         standard input when it is not a terminal)\n"
	    "       wsctl [-s SOCKET] top                 a live view, refreshed every second\n"
	    "       wsctl help [COMMAND] | --help | --version\n\n");
	out_help(f, NULL);
	fprintf(f,
	    "\nThe socket: -s, else $%s, else the default (/run/wsd/wsd.sock for root,\n"
	    "$XDG_RUNTIME_DIR/wsd/wsd.sock or /tmp/wsd-$UID/wsd.sock otherwise).\n",
	    CTLPATH_ENV);
}

static int parse_wait(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return (errno == 0 && end != s && *end == '\0' && *out > 0 && *out <= 86400) ? 0 : -1;
}

/* The global options; returns the index of the command, or -1 (exit code in *rc). */
static int parse_opts(int argc, char **argv, struct ctl_opts *o, int *rc)
{
	static const struct option longs[] = {{"json", no_argument, NULL, 'j'},
	    {"socket", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'}, {0}};
	int ch;

	*o = (struct ctl_opts){.wait_s = -1};
	while ((ch = getopt_long(argc, argv, "+js:t:hV", longs, NULL)) != -1) {
		if (ch == 'j')
			o->json = 1;
		else if (ch == 's')
			o->socket = optarg;
		else if (ch == 't' && parse_wait(optarg, &o->wait_s) == 0)
			continue;
		else if (ch == 'h' || ch == 'V') {
			if (ch == 'h')
				usage(stdout);
			else
				printf("wsctl %s\n", WSD_VERSION);
			*rc = EXIT_OK;
			return -1;
		} else {
			if (ch == 't')
				fprintf(stderr, "wsctl: -t: not a number of seconds: %s\n", optarg);
			usage(stderr);
			*rc = EXIT_USAGE;
			return -1;
		}
	}
	return optind;
}

int main(int argc, char **argv)
{
	struct ctl_opts o;
	struct conn c = {.fd = -1};
	int rc = EXIT_OK, first = parse_opts(argc, argv, &o, &rc);

	if (first < 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	if (first >= argc || (strcmp(argv[first], "shell") == 0 && first + 1 == argc))
		return shell_main(&o);
	if (strcmp(argv[first], "top") == 0) { /* wsctl's own: no daemon method */
		if (first + 1 == argc)
			return top_main(&o);
		fprintf(stderr, "wsctl: top takes no arguments\n");
		return EXIT_USAGE;
	}
	rc = ctl_run_words(&c, &o, argc - first, argv + first);
	conn_free(&c);
	return rc;
}
