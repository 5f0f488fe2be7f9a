/*
 * wsd: one binary for every role. Started by a user it is the daemon;
 * re-executed by the daemon or the manager with argv[0] "wsd: ROLE" it
 * becomes that role.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "proc.h"
#include "roles.h"

#define EXIT_CONFIG 1
#define EXIT_USAGE 2

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: wsd [-thv] [-c FILE] [-p PORT] [-r ROOT] [-w MIN:MAX]\n"
	    "  -c FILE     configuration file (INI)\n"
	    "  -t          check the configuration and exit\n"
	    "  -p PORT     listen on PORT (0 = any free port)\n"
	    "  -r ROOT     document root\n"
	    "  -w MIN:MAX  worker pool size\n"
	    "  -v          print the version\n"
	    "  -h          this help\n");
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
	const char *file, *port, *root, *pool;
	int test;
};

static int parse_flags(int argc, char **argv, struct flags *f)
{
	int ch;

	opterr = 0; /* our own messages, named "wsd:" like the others */
	while ((ch = getopt(argc, argv, ":c:tp:r:w:vh")) != -1) {
		switch (ch) {
		case 'c':
			f->file = optarg;
			break;
		case 't':
			f->test = 1;
			break;
		case 'p':
			f->port = optarg;
			break;
		case 'r':
			f->root = optarg;
			break;
		case 'w':
			f->pool = optarg;
			break;
		case 'v':
			printf("wsd %s\n", WSD_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			fprintf(stderr, "wsd: option -%c needs a value\n", optopt);
			usage(stderr);
			return -1;
		default:
			fprintf(stderr, "wsd: unknown option -%c\n", optopt);
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "wsd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

/* Flags override the file; each is checked exactly as the same key in the file. */
static int apply_flags(struct wsd_config *cfg, const struct flags *f, char *err, size_t len)
{
	char pe[CONFIG_ERRLEN];

	if (f->port && config_set(cfg, "server", "listen", f->port, pe, sizeof(pe)) == -1)
		return snprintf(err, len, "-p %s: %s", f->port, pe), -1;
	if (f->root && config_set(cfg, "server", "root", f->root, pe, sizeof(pe)) == -1)
		return snprintf(err, len, "-r %s: %s", f->root, pe), -1;
	if (f->pool && config_parse_pool(f->pool, &cfg->pool_min, &cfg->pool_max) == -1)
		return snprintf(err, len, "-w %s: expected MIN:MAX, each 1..%d", f->pool,
		           CONFIG_POOL_LIMIT_MAX),
		       -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct wsd_config cfg;
	struct flags f = {0};
	char err[CONFIG_ERRLEN * 2];

	if (strncmp(argv[0], "wsd: ", 5) == 0)
		return role_main(argv[0] + 5);
	if (parse_flags(argc, argv, &f) == -1)
		return EXIT_USAGE;
	config_defaults(&cfg);
	if ((f.file && config_load(&cfg, f.file, err, sizeof(err)) == -1) ||
	    apply_flags(&cfg, &f, err, sizeof(err)) == -1 ||
	    config_finish(&cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "wsd: %s\n", err);
		return EXIT_CONFIG;
	}
	if (f.test) {
		if (daemon_check(&cfg) != 0)
			return EXIT_CONFIG;
		printf("wsd: configuration %s%s is ok\n", f.file ? f.file : "(defaults)",
		    f.port || f.root || f.pool ? " with the flags given" : "");
		return 0;
	}
	return daemon_run(&cfg);
}
