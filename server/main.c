/*
 * wsd: one binary for every role. Started by a user it is the daemon;
 * re-executed by the daemon or the manager with argv[0] "wsd: ROLE" it
 * becomes that role.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "preflight.h"
#include "proc.h"
#include "roles.h"

#define EXIT_CONFIG 1
#define EXIT_USAGE 2

/* The defaults come from config_defaults(), so the help cannot drift from them. */
static void usage(FILE *f, int full)
{
	struct wsd_config d;

	fprintf(f, "usage: wsd [-thv] [-c FILE] [-p PORT] [-r ROOT] [-w MIN:MAX]\n");
	if (!full)
		return;
	config_defaults(&d);
	fprintf(f,
	    "  -c FILE        configuration file (INI); none: the defaults\n"
	    "  -t             check the configuration and what a start needs, then exit\n"
	    "  -p PORT        listen on PORT (default %s:%u; 0 = any free port)\n"
	    "  -r ROOT        document root (default: the current directory)\n"
	    "  -w MIN:MAX     worker pool size (default %u:%u)\n"
	    "  -v, --version  print the version\n"
	    "  -h, --help     this help\n"
	    "\n"
	    "Signals to the daemon: TERM or INT stop gracefully, HUP reloads the\n"
	    "configuration file (with these flags), USR1 reopens the log files, USR2\n"
	    "logs the supervision table; TERM to one role restarts it.\n"
	    "Exit codes: 0 ok, 1 configuration error, 2 usage error, 3 cannot bind or start.\n"
	    "Documentation: docs/configuration.md (keys, flags), docs/operations.md\n"
	    "(signals, logs, restarts), docs/architecture.md, in the source tree.\n",
	    d.listen_host, d.listen_port, d.pool_min, d.pool_max);
}

static int role_main(const char *role)
{
	proc_init_self(1);
	if (strcmp(role, "listener") == 0)
		return listener_main();
	if (strcmp(role, "manager") == 0)
		return manager_main();
	if (strcmp(role, "worker") == 0)
		return worker_main();
	fprintf(stderr, "wsd: unknown role '%s'\n", role);
	return EXIT_USAGE;
}

struct flags {
	struct config_source src; /* the file and -p, -r, -w: kept by the daemon for reload */
	int test;
};

static const char setting_flags[] = "prw";

static const struct option long_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'v'},
    {NULL, 0, NULL, 0},
};

/* What getopt refused, named as the user wrote it. */
static int usage_error(char **argv)
{
	if (optopt == 0 || strncmp(argv[optind - 1], "--", 2) == 0) /* a long one */
		fprintf(stderr, "wsd: unknown option %s\n", argv[optind - 1]);
	else
		fprintf(stderr, "wsd: unknown option -%c\n", optopt);
	usage(stderr, 0);
	fprintf(stderr, "wsd --help for more\n");
	return -1;
}

static int parse_flags(int argc, char **argv, struct flags *f)
{
	int ch;

	opterr = 0; /* our own messages, named "wsd:" like the others */
	while ((ch = getopt_long(argc, argv, ":c:tp:r:w:vh", long_options, NULL)) != -1) {
		if (ch == 'c')
			f->src.file = optarg;
		else if (ch == 't')
			f->test = 1;
		else if (ch == 'p' || ch == 'r' || ch == 'w')
			f->src.value[strchr(setting_flags, ch) - setting_flags] = optarg;
		else if (ch == 'v')
			exit(printf("wsd %s\n", WSD_VERSION) < 0);
		else if (ch == 'h')
			exit((usage(stdout, 1), 0));
		else if (ch == ':')
			return fprintf(stderr, "wsd: option -%c needs a value\n", optopt),
			       usage(stderr, 0), -1;
		else
			return usage_error(argv);
	}
	if (optind != argc) {
		fprintf(stderr, "wsd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr, 0);
		return -1;
	}
	return 0;
}

/* Every line of a list of errors, each as "wsd: LINE". */
static void print_errors(const char *list)
{
	const char *nl;

	for (; *list != '\0'; list = nl + 1) {
		if ((nl = strchr(list, '\n')) == NULL)
			nl = list + strlen(list) - 1;
		fprintf(stderr, "wsd: %.*s\n", (int)(nl - list), list);
	}
}

/* File, then flags (each checked exactly as the same key in the file), then cross-checks. */
static int configure(struct wsd_config *cfg, const struct flags *f)
{
	char err[CONFIG_ERRLIST];

	if (config_read(cfg, &f->src, err, sizeof(err)) != 0)
		return print_errors(err), -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct wsd_config cfg;
	struct flags f = {0};

	if (strncmp(argv[0], "wsd: ", 5) == 0)
		return role_main(argv[0] + 5);
	if (parse_flags(argc, argv, &f) == -1)
		return EXIT_USAGE;
	if (configure(&cfg, &f) == -1)
		return EXIT_CONFIG;
	if (f.test) {
		if (preflight_run(&cfg) != 0)
			return EXIT_CONFIG;
		printf("wsd: configuration %s%s is ok\n", f.src.file ? f.src.file : "(defaults)",
		    f.src.value[0] || f.src.value[1] || f.src.value[2] ? " with the flags given" :
		                                                         "");
		return 0;
	}
	return daemon_run(&cfg, &f.src);
}
