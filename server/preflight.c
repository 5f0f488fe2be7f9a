/*
 * wsd -t: try what the daemon would do at start-up, without starting.
 * An operator runs it beside the running server before a restart, so
 * "the port is in use" is only a warning; everything else a start would
 * trip over is an error naming the key and where it was set.
 */
#include "preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctlpath.h"

static void report(int warning, const struct wsd_config *cfg, const char *section, const char *key,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* "wsd: [warning: ]WHERE: MESSAGE" on stderr. */
static void report(int warning, const struct wsd_config *cfg, const char *section, const char *key,
    const char *fmt, ...)
{
	char at[PATH_MAX + 64], msg[PATH_MAX + 256];
	va_list ap;

	config_where(cfg, section, key, at, sizeof(at));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "wsd: %s%s: %s\n", warning ? "warning: " : "", at, msg);
}

/* What a bind error means for the operator. */
static const char *bind_hint(int err, unsigned port)
{
	if (err == EACCES && port < 1024)
		return " (a port below 1024 needs root or CAP_NET_BIND_SERVICE)";
	if (err == EADDRNOTAVAIL)
		return " (the address is not on this machine)";
	return "";
}

/* Bind host:port (section.key) as the daemon would, then let the port go. 1 = error. */
static int check_bind(const struct wsd_config *cfg, const char *section, const char *key,
    const char *host, unsigned portnum)
{
	struct addrinfo hints = {
	    .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res;
	int v6 = strchr(host, ':') != NULL;
	char port[8], addr[300];
	int fd, one = 1, rc, err = 0;

	snprintf(port, sizeof(port), "%u", portnum);
	snprintf(addr, sizeof(addr), "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", portnum);
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		report(0, cfg, section, key, "%s: %s", addr, gai_strerror(rc));
		return 1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) == -1)
		err = errno;
	freeaddrinfo(res);
	if (fd != -1)
		close(fd);
	if (err == EADDRINUSE)
		report(1, cfg, section, key,
		    "%s is in use (by the running wsd?): a start now would fail", addr);
	else if (err != 0)
		report(0, cfg, section, key, "cannot bind %s: %s%s", addr, strerror(err),
		    bind_hint(err, portnum));
	return err != 0 && err != EADDRINUSE;
}

/* The daemon opens (creates) the log files before anything else. 1 = error. */
static int check_log(const struct wsd_config *cfg, const char *key, const char *path)
{
	int fd;

	if (path[0] == '\0')
		return 0;
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) == -1) {
		report(0, cfg, "log", key, "cannot open %s: %s", path, strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}

/* 0 when the root can be searched from rootfd, else errno. */
static int search_root(int rootfd)
{
	int fd = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1)
		return errno;
	close(fd);
	return 0;
}

/* As the children will be: server.user, having been handed the root's O_PATH fd. */
static int search_root_as(const struct passwd *pw, int rootfd)
{
	int status;
	pid_t pid;

	if ((pid = fork()) == -1)
		return errno;
	if (pid == 0) {
		if (setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
		    setuid(pw->pw_uid) == -1)
			_exit(255);
		_exit(search_root(rootfd));
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : EIO;
}

/* Can the user the workers run as search the root? 1 = error. */
static int check_root(const struct wsd_config *cfg)
{
	const char *name = cfg->user[0] ? cfg->user : "nobody";
	struct passwd *pw = NULL;
	int rootfd, err;

	if ((rootfd = open(cfg->root, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		report(0, cfg, "server", "root", "%s: %s", cfg->root, strerror(errno));
		return 1;
	}
	if (geteuid() == 0 && (pw = getpwnam(name)) == NULL) {
		close(rootfd);
		return 0; /* config_finish() reported it */
	}
	err = pw != NULL ? search_root_as(pw, rootfd) : search_root(rootfd);
	close(rootfd);
	if (err == 255)
		report(0, cfg, "server", "user", "cannot switch to user '%s'", name);
	else if (err != 0)
		report(0, cfg, "server", "root", "%s%s%s cannot search %s: %s",
		    pw ? "user '" : "wsd", pw ? name : "", pw ? "'" : "", cfg->root, strerror(err));
	return err != 0;
}

/*
 * The control socket a start would create: its path must fit; a server
 * answering there is a warning (-t beside the running server, before a
 * reload or a restart): a second wsd would refuse to start.
 */
static int check_control(const struct wsd_config *cfg)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, live;

	if (cfg->control_off)
		return 0;
	if (cfg->control_socket[0])
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", cfg->control_socket);
	else if (ctlpath_default(geteuid(), getenv("XDG_RUNTIME_DIR"), sun.sun_path,
	             sizeof(sun.sun_path)) == -1) {
		report(0, cfg, "control", "socket",
		    "the default path is too long (over %d bytes): set control.socket",
		    CTLPATH_MAX);
		return 1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	live = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	if (live)
		report(1, cfg, "control", "socket",
		    "a wsd already answers on %s: a second one would not start", sun.sun_path);
	return 0;
}

static void check_warnings(const struct wsd_config *cfg)
{
	if (cfg->user[0] && geteuid() != 0)
		report(1, cfg, "server", "user",
		    "'%s' is not used: wsd is not started as root, so its processes stay as uid %d",
		    cfg->user, (int)geteuid());
}

int preflight_run(const struct wsd_config *cfg)
{
	int errors = 0;

	errors += check_bind(cfg, "server", "listen", cfg->listen_host, cfg->listen_port);
	if (cfg->metrics_on)
		errors += check_bind(
		    cfg, "metrics", "listen", cfg->metrics_host, cfg->metrics_port);
	errors += check_log(cfg, "file", cfg->log_file);
	errors += check_log(cfg, "access_log", cfg->access_log);
	errors += check_root(cfg);
	errors += check_control(cfg);
	check_warnings(cfg);
	return errors;
}
