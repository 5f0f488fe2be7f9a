/* Unit tests for server/config.c: defaults, every key, every error. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/stat.h>

#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char tmpdir[256];        /* fresh per test, removed afterwards */
static char startdir[PATH_MAX]; /* restored in case a test chdir()s */
static char inipath[PATH_MAX];
static char err[CONFIG_ERRLIST];

static void setup(void)
{
	const char *base = getenv("TMPDIR");

	if (base == NULL || *base == '\0' || strlen(base) > 200)
		base = "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/wsdcfg.XXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ck_assert_ptr_nonnull(getcwd(startdir, sizeof(startdir)));
	inipath[0] = '\0';
	err[0] = '\0';
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static void teardown(void)
{
	(void)!chdir(startdir);
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write text to a new temp file (mkstemp) and remember its name. */
static const char *write_ini(const char *text)
{
	int fd;
	size_t len = strlen(text);

	snprintf(inipath, sizeof(inipath), "%s/wsd.XXXXXX", tmpdir);
	fd = mkstemp(inipath);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return inipath;
}

static int load(struct wsd_config *cfg, const char *text)
{
	config_defaults(cfg);
	err[0] = '\0';
	return config_load(cfg, write_ini(text), err, sizeof(err));
}

/* The only message must carry "FILE:LINE: " and the given fragment. */
static void assert_load_error(const char *text, int line, const char *fragment)
{
	struct wsd_config cfg;
	char where[PATH_MAX + 32];

	ck_assert_int_eq(load(&cfg, text), 1);
	ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1, "not one line: '%s'", err);
	snprintf(where, sizeof(where), "%s:%d: ", inipath, line);
	ck_assert_msg(
	    strncmp(err, where, strlen(where)) == 0, "'%s' does not start with '%s'", err, where);
	ck_assert_msg(strstr(err, fragment) != NULL, "'%s' does not contain '%s'", err, fragment);
}

/* err must be exactly the lines given, each "%s" replaced by the ini path. */
static void assert_errors(const char *fmt)
{
	char expect[CONFIG_ERRLIST];
	const char *p;
	size_t n = 0, plen = strlen(inipath);

	for (p = fmt; *p != '\0'; p++) {
		ck_assert_uint_lt(n + plen + 1, sizeof(expect));
		if (p[0] == '%' && p[1] == 's') {
			memcpy(expect + n, inipath, plen);
			n += plen;
			p++;
		} else {
			expect[n++] = *p;
		}
	}
	expect[n] = '\0';
	ck_assert_str_eq(err, expect);
}

/*
 * text loads, then config_finish finds nerr errors: exactly the lines given
 * (as assert_errors), or none when nerr is 0.
 */
static void assert_finish(const char *text, int nerr, const char *fmt)
{
	struct wsd_config cfg;

	ck_assert_int_eq(load(&cfg, text), 0);
	ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), nerr);
	if (nerr > 0)
		assert_errors(fmt);
}

static void assert_set_error(
    const char *section, const char *key, const char *value, const char *expect)
{
	struct wsd_config cfg;

	config_defaults(&cfg);
	err[0] = '\0';
	ck_assert_int_eq(config_set(&cfg, section, key, value, err, sizeof(err)), -1);
	ck_assert_str_eq(err, expect);
}

START_TEST(test_defaults)
{
	struct wsd_config cfg;
	char cwd[PATH_MAX];

	config_defaults(&cfg);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_str_eq(cfg.listen_host, "127.0.0.1");
	ck_assert_uint_eq(cfg.listen_port, 8080);
	ck_assert_str_eq(cfg.root, cwd);
	ck_assert_str_eq(cfg.user, "");
	ck_assert_int_eq(cfg.backlog, 511);
	ck_assert_uint_eq(cfg.shutdown_timeout_ms, 10000);
	ck_assert_uint_eq(cfg.pool_min, 2);
	ck_assert_uint_eq(cfg.pool_max, 16);
	ck_assert_uint_eq(cfg.pool_limit, 256);
	ck_assert_uint_eq(cfg.max_workload, 512);
	ck_assert_uint_eq(cfg.pool_idle_timeout_ms, 10000);
	ck_assert_uint_eq(cfg.pool_scale_up_ppm, 750000);
	ck_assert_uint_eq(cfg.pool_scale_down_ppm, 250000);
	ck_assert_uint_eq(cfg.pool_spawn_rate_max, 8);
	ck_assert_uint_eq(cfg.pool_max_requests, 0);
	ck_assert_uint_eq(cfg.keepalive_timeout_ms, 15000);
	ck_assert_uint_eq(cfg.header_timeout_ms, 10000);
	ck_assert_uint_eq(cfg.park_after_ms, 1000);
	ck_assert_uint_eq(cfg.park_max, 0);
	ck_assert_uint_eq(cfg.heartbeat_interval_ms, 200);
	ck_assert_uint_eq(cfg.heartbeat_misses, 3);
	ck_assert_int_eq(cfg.log_level, LOG_LVL_INFO);
	ck_assert_str_eq(cfg.log_file, "");
	ck_assert_str_eq(cfg.access_log, "");
	ck_assert_str_eq(cfg.control_socket, "");
	ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.root, cwd);
}
END_TEST

START_TEST(test_every_key)
{
	struct wsd_config cfg;
	char text[4096];

	snprintf(text, sizeof(text),
	    "; every key, with a comment of each kind\n"
	    "[server]\n"
	    "listen = [::1]:9090\n"
	    "root = %s\n"
	    "user = www-data\n"
	    "backlog = 1024   ; inline comment\n"
	    "shutdown_timeout = 2m\n"
	    "# a comment\n"
	    "[pool]\n"
	    "min = 4\n"
	    "max = 32\n"
	    "limit = 64\n"
	    "max_workload = 1000\n"
	    "idle_timeout = 2m\n"
	    "[http]\n"
	    "keepalive_timeout = 0s\n"
	    "header_timeout = 500ms\n"
	    "[heartbeat]\n"
	    "interval = 1s\n"
	    "misses = 5\n"
	    "[log]\n"
	    "level = debug\n"
	    "file = /var/log/wsd.log\n"
	    "access_log = /var/log/wsd.access\n"
	    "[control]\n"
	    "socket = /run/wsd.sock\n",
	    tmpdir);
	ck_assert_int_eq(load(&cfg, text), 0);
	ck_assert_str_eq(cfg.listen_host, "::1");
	ck_assert_uint_eq(cfg.listen_port, 9090);
	ck_assert_str_eq(cfg.root, tmpdir);
	ck_assert_str_eq(cfg.user, "www-data");
	ck_assert_int_eq(cfg.backlog, 1024);
	ck_assert_uint_eq(cfg.shutdown_timeout_ms, 120000);
	ck_assert_uint_eq(cfg.pool_min, 4);
	ck_assert_uint_eq(cfg.pool_max, 32);
	ck_assert_uint_eq(cfg.pool_limit, 64);
	ck_assert_uint_eq(cfg.max_workload, 1000);
	ck_assert_uint_eq(cfg.pool_idle_timeout_ms, 120000);
	ck_assert_uint_eq(cfg.keepalive_timeout_ms, 0);
	ck_assert_uint_eq(cfg.header_timeout_ms, 500);
	ck_assert_uint_eq(cfg.heartbeat_interval_ms, 1000);
	ck_assert_uint_eq(cfg.heartbeat_misses, 5);
	ck_assert_int_eq(cfg.log_level, LOG_LVL_DEBUG);
	ck_assert_str_eq(cfg.log_file, "/var/log/wsd.log");
	ck_assert_str_eq(cfg.access_log, "/var/log/wsd.access");
	ck_assert_str_eq(cfg.control_socket, "/run/wsd.sock");
	ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_special_values)
{
	struct wsd_config cfg;

	ck_assert_int_eq(load(&cfg,
	                     "[log]\nfile = x.log\nfile = stderr\n"
	                     "access_log = a.log\naccess_log = off\n[server]\nuser = bob\n"
	                     "user =\n"),
	    0);
	ck_assert_str_eq(cfg.log_file, "");
	ck_assert_str_eq(cfg.access_log, "");
	ck_assert_int_eq(cfg.access_log_on, 0);
	ck_assert_str_eq(cfg.user, "");
	/* access_log = stderr is the stream, as file = stderr is. */
	ck_assert_int_eq(load(&cfg, "[log]\naccess_log = stderr\n"), 0);
	ck_assert_str_eq(cfg.access_log, "");
	ck_assert_int_eq(cfg.access_log_on, 1);
	ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.access_log, "");
	ck_assert_int_eq(load(&cfg, "[log]\naccess_log = a.log\n"), 0);
	ck_assert_int_eq(cfg.access_log_on, 1);
	/* Indented keys are fine where they cannot continue a value. */
	ck_assert_int_eq(load(&cfg,
	                     "[server]\n  listen = 81\n[pool]\n"
	                     "\tmin = 3\n"),
	    0);
	ck_assert_uint_eq(cfg.listen_port, 81);
	ck_assert_uint_eq(cfg.pool_min, 3);
	/* A BOM and CRLF line ends, as Windows editors write them. */
	ck_assert_int_eq(load(&cfg, "\xef\xbb\xbf[server]\r\nbacklog = 9\r\n"), 0);
	ck_assert_int_eq(cfg.backlog, 9);
	/* An empty file changes nothing. */
	ck_assert_int_eq(load(&cfg, ""), 0);
	ck_assert_uint_eq(cfg.listen_port, 8080);
}
END_TEST

START_TEST(test_listen)
{
	static const struct {
		const char *value, *host;
		unsigned port;
	} ok[] = {
	    {"0.0.0.0:80", "0.0.0.0", 80}, {"localhost:9000", "localhost", 9000},
	    {"[::]:0", "::", 0}, {"[fe80::1]:65535", "fe80::1", 65535},
	    {"8081", "127.0.0.1", 8081}, /* bare port keeps the host */
	};
	struct wsd_config cfg;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		config_defaults(&cfg);
		ck_assert_int_eq(
		    config_set(&cfg, "server", "listen", ok[i].value, err, sizeof(err)), 0);
		ck_assert_str_eq(cfg.listen_host, ok[i].host);
		ck_assert_uint_eq(cfg.listen_port, ok[i].port);
	}
	config_defaults(&cfg);
	config_set(&cfg, "server", "listen", "10.0.0.1:1", err, sizeof(err));
	ck_assert_int_eq(config_set(&cfg, "server", "listen", "2", err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.listen_host, "10.0.0.1");
	ck_assert_uint_eq(cfg.listen_port, 2);
}
END_TEST

START_TEST(test_listen_errors)
{
	assert_set_error(
	    "server", "listen", "70000", "server.listen: port 70000 is out of range (0..65535)");
	assert_set_error("server", "listen", "1.2.3.4:", "server.listen: port '' is not a number");
	assert_set_error(
	    "server", "listen", "1.2.3.4:-1", "server.listen: port '-1' is not a number");
	assert_set_error("server", "listen", "::1:80",
	    "server.listen: '::1:80': an IPv6 address needs brackets, "
	    "as in [::1]:8080");
	assert_set_error(
	    "server", "listen", "[::1]80", "server.listen: '[::1]80': expected [IPV6]:PORT");
	assert_set_error("server", "listen", "[zz]:80",
	    "server.listen: 'zz' is not a numeric IPv4 address, "
	    "[IPv6] address or localhost");
	assert_set_error("server", "listen", "example.org:80",
	    "server.listen: 'example.org' is not a numeric IPv4 address, "
	    "[IPv6] address or localhost");
	assert_set_error("server", "listen", ":80",
	    "server.listen: '' is not a numeric IPv4 address, "
	    "[IPv6] address or localhost");
	assert_set_error("server", "listen", "[1.2.3.4]:80",
	    "server.listen: '1.2.3.4' is not a numeric IPv4 address, "
	    "[IPv6] address or localhost");
	assert_set_error("server", "listen", "web",
	    "server.listen: 'web': expected HOST:PORT, [IPV6]:PORT or PORT");
	assert_set_error(
	    "server", "listen", "", "server.listen: '': expected HOST:PORT, [IPV6]:PORT or PORT");
}
END_TEST

START_TEST(test_metrics_listen)
{
	struct wsd_config cfg;
	char v[300];

	config_defaults(&cfg);
	ck_assert_int_eq(cfg.metrics_on, 0);
	ck_assert_int_eq(cfg.drain_delay_ms, 0);
	ck_assert_int_eq(config_value(&cfg, "metrics", "listen", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "off");
	ck_assert_int_eq(
	    config_set(&cfg, "metrics", "listen", "127.0.0.1:9145", err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.metrics_on, 1);
	ck_assert_str_eq(cfg.metrics_host, "127.0.0.1");
	ck_assert_uint_eq(cfg.metrics_port, 9145);
	ck_assert_int_eq(config_set(&cfg, "metrics", "listen", "[::1]:0", err, sizeof(err)), 0);
	config_value(&cfg, "metrics", "listen", v, sizeof(v));
	ck_assert_str_eq(v, "[::1]:0");
	/* The server's own address is not touched. */
	ck_assert_str_eq(cfg.listen_host, "127.0.0.1");
	ck_assert_uint_eq(cfg.listen_port, 8080);
	ck_assert_int_eq(config_set(&cfg, "metrics", "listen", "off", err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.metrics_on, 0);
	assert_set_error("metrics", "listen", "9145",
	    "metrics.listen: '9145': expected HOST:PORT, [IPV6]:PORT or off");
	assert_set_error("metrics", "listen", "1.2.3.4:70000",
	    "metrics.listen: port 70000 is out of range (0..65535)");
	assert_set_error("metrics", "listen", "example.org:80",
	    "metrics.listen: 'example.org' is not a numeric IPv4 address, "
	    "[IPv6] address or localhost");
	/* Not the server's own address. */
	ck_assert_int_eq(
	    config_set(&cfg, "metrics", "listen", "127.0.0.1:8080", err, sizeof(err)), 0);
	ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 1);
	ck_assert_str_eq(err, "metrics.listen: 127.0.0.1:8080 is server.listen's address too\n");
	ck_assert_int_eq(
	    config_set(&cfg, "metrics", "listen", "127.0.0.1:8081", err, sizeof(err)), 0);
	ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(config_set(&cfg, "server", "drain_delay", "5s", err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.drain_delay_ms, 5000);
	assert_set_error(
	    "server", "drain_delay", "2h", "server.drain_delay: 2h is out of range (0s..1h)");
}
END_TEST

START_TEST(test_set_errors)
{
	assert_set_error("pool", "max", "5000", "pool.max: 5000 is out of range (1..4096)");
	assert_set_error("pool", "min", "0", "pool.min: 0 is out of range (1..4096)");
	assert_set_error("pool", "limit", "99999999999999999999999",
	    "pool.limit: 99999999999999999999999 is out of range (1..4096)");
	assert_set_error(
	    "pool", "idle_timeout", "50ms", "pool.idle_timeout: 50ms is out of range (100ms..1h)");
	assert_set_error(
	    "pool", "max_workload", "65537", "pool.max_workload: 65537 is out of range (1..65536)");
	assert_set_error("server", "backlog", "-1", "server.backlog: '-1' is not a number");
	assert_set_error("server", "backlog", "+5", "server.backlog: '+5' is not a number");
	assert_set_error("server", "backlog", "12abc", "server.backlog: '12abc' is not a number");
	assert_set_error("server", "backlog", "0x10", "server.backlog: '0x10' is not a number");
	assert_set_error(
	    "server", "backlog", "65536", "server.backlog: 65536 is out of range (1..65535)");
	assert_set_error(
	    "heartbeat", "misses", "101", "heartbeat.misses: 101 is out of range (1..100)");
	assert_set_error(
	    "heartbeat", "interval", "5ms", "heartbeat.interval: 5ms is out of range (10ms..10s)");
	assert_set_error("http", "header_timeout", "11m",
	    "http.header_timeout: 11m is out of range (100ms..10m)");
	assert_set_error("http", "keepalive_timeout", "2h",
	    "http.keepalive_timeout: 2h is out of range (0s..1h)");
	assert_set_error(
	    "http", "park_after", "2h", "http.park_after: 2h is out of range (0s..1h)");
	assert_set_error("http", "park_max", "-1", "http.park_max: '-1' is not a number");
	assert_set_error("server", "shutdown_timeout", "15",
	    "server.shutdown_timeout: '15' needs a unit (ms, s, m, h)");
	assert_set_error("server", "shutdown_timeout", "0",
	    "server.shutdown_timeout: '0' needs a unit (ms, s, m, h)");
	assert_set_error("server", "shutdown_timeout", "15x",
	    "server.shutdown_timeout: '15x' has an unknown unit "
	    "(use ms, s, m or h)");
	assert_set_error("server", "shutdown_timeout", "5000000h",
	    "server.shutdown_timeout: '5000000h' is too large");
	assert_set_error("log", "level", "fatal",
	    "log.level: 'fatal' is not a level (error, warn, info, debug)");
	assert_set_error(
	    "log", "level", "INFO", "log.level: 'INFO' is not a level (error, warn, info, debug)");
	assert_set_error("server", "root", "", "server.root: path is empty");
	assert_set_error("log", "file", "", "log.file: path is empty");
	assert_set_error(
	    "server", "user", "bad user", "server.user: 'bad user' is not a valid user name");
	assert_set_error("server", "user", "-x", "server.user: '-x' is not a valid user name");
	assert_set_error("server", "user",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "server.user: name is too long (max 63 bytes)");
	assert_set_error("control", "socket",
	    "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "control.socket: path is too long (max 107 bytes)");
	assert_set_error("pool", "size", "1", "unknown key 'size' in [pool]");
	assert_set_error("cache", "size", "1", "unknown section [cache]");
	assert_set_error("", "listen", "80", "key 'listen' is not in any section");
}
END_TEST

START_TEST(test_load_errors)
{
	assert_load_error("[cache]\nsize = 1\n", 1, "unknown section [cache]");
	assert_load_error("[server]\nbacklog = 5\n[empty]\n", 3, "unknown section [empty]");
	assert_load_error("[server]\n\nport = 80\n", 3, "unknown key 'port' in [server]");
	assert_load_error("[pool]\nmin = 1\nmax = many\n", 3, "pool.max: 'many' is not a number");
	assert_load_error("[pool]\nmax = 5000\n", 2, "pool.max: 5000 is out of range (1..4096)");
	assert_load_error(
	    "[http]\nheader_timeout = 10\n", 2, "http.header_timeout: '10' needs a unit");
	assert_load_error(
	    "[http]\nheader_timeout = 10d\n", 2, "http.header_timeout: '10d' has an unknown unit");
	assert_load_error("[http]\nheader_timeout = 99999999999999999999ms\n", 2,
	    "http.header_timeout: '99999999999999999999ms' is too large");
	assert_load_error("[server]\nlisten = nowhere\n", 2, "server.listen: ");
	assert_load_error("[log]\nlevel = loud\n", 2, "log.level: 'loud' is not a level");
	assert_load_error("listen = 80\n", 1, "key 'listen' is not in any section");
	assert_load_error("[server]\nbacklog = 5\nthis is junk\n", 3, "syntax error");
	assert_load_error("[server\n", 1, "syntax error");
	assert_load_error("[server\n", 1, "syntax error: a section header needs a closing ']'");
	assert_load_error(
	    "[server]\nbacklog = 5\nthis is junk\n", 3, "syntax error: expected key = value");
	assert_load_error("[server ;x]\n", 1, "syntax error");
}
END_TEST

/* inih takes an indented line after a key as more of that key's value. */
START_TEST(test_load_indented)
{
	const char *why = "this line is indented, so it would continue the value of server.root "
	                  "(line 2): multi-line values are not supported, remove the indentation";

	assert_load_error("[server]\nroot = /tmp\n  /etc\n", 3, why);
	/* Even after blank lines and comments, and when it looks like a key. */
	assert_load_error("[server]\nroot = /tmp\n\n; c\n  backlog = 4\n", 5, why);
	assert_load_error(
	    "[server]\nlisten = 80\n  [pool]\n", 3, "continue the value of server.listen");
	/* inih remembers the key even when its value was refused. */
	ck_assert_int_eq(load(&(struct wsd_config){0}, "[pool]\nmax = x\n\tmin = 3\n"), 2);
	ck_assert_ptr_nonnull(strstr(
	    err, ":3: this line is indented, so it would continue the value of pool.max (line 2)"));
}
END_TEST

/* Every error in the file, in order, and the config untouched. */
START_TEST(test_load_collects_all)
{
	struct wsd_config cfg;

	ck_assert_int_eq(load(&cfg,
	                     "[server]\njunk\n[pool]\nmax = 0\n[cache]\nsize = 1\n"
	                     "[http]\nheader_timeout = 1.5s\n\tx\nkeepalive_timeout = "
	                     "15 s\nport = 1\n"),
	    7);
	assert_errors("%s:2: syntax error: expected key = value\n"
	              "%s:4: pool.max: 0 is out of range (1..4096)\n"
	              "%s:5: unknown section [cache]\n"
	              "%s:8: http.header_timeout: '1.5s' has a fraction: fractions are not "
	              "supported, use 1500ms\n"
	              "%s:9: this line is indented, so it would continue the value of "
	              "http.header_timeout (line 8): multi-line values are not supported, remove "
	              "the indentation\n"
	              "%s:10: http.keepalive_timeout: '15 s' has a space: no space between number "
	              "and unit, write 15s\n"
	              "%s:11: unknown key 'port' in [http]\n");
	ck_assert_uint_eq(cfg.pool_max, 16);
}
END_TEST

/* More errors than the buffer holds: counted, and said so. */
START_TEST(test_load_many_errors)
{
	struct wsd_config cfg;
	char text[8192] = "[pool]\n", small[300];
	int i;

	for (i = 0; i < 200; i++)
		strcat(text, "max = 0\n");
	config_defaults(&cfg);
	ck_assert_int_eq(config_load(&cfg, write_ini(text), small, sizeof(small)), 200);
	ck_assert_ptr_nonnull(strstr(small, ":2: pool.max: 0 is out of range"));
	ck_assert_ptr_nonnull(strstr(small, " more errors not shown)\n"));
	ck_assert_uint_le(strlen(small), sizeof(small) - 1);
	ck_assert_int_eq(small[strlen(small) - 1], '\n');
}
END_TEST

START_TEST(test_duration_messages)
{
	assert_set_error("http", "header_timeout", "1.5s",
	    "http.header_timeout: '1.5s' has a fraction: fractions are not supported, use 1500ms");
	assert_set_error("http", "header_timeout", "1.5m",
	    "http.header_timeout: '1.5m' has a fraction: fractions are not supported, use 90s");
	assert_set_error("http", "header_timeout", "0.25s",
	    "http.header_timeout: '0.25s' has a fraction: fractions are not supported, use 250ms");
	assert_set_error("http", "header_timeout", "1.5ms",
	    "http.header_timeout: '1.5ms' has a fraction: fractions are not supported (use ms, s, "
	    "m or h)");
	assert_set_error("http", "header_timeout", "1.s",
	    "http.header_timeout: '1.s' has a fraction: fractions are not supported (use ms, s, m "
	    "or h)");
	assert_set_error("http", "header_timeout", "15 s",
	    "http.header_timeout: '15 s' has a space: no space between number and unit, write 15s");
	assert_set_error("http", "header_timeout", "200\tms",
	    "http.header_timeout: '200\tms' has a space: no space between number and unit, write "
	    "200ms");
	assert_set_error("http", "header_timeout", "15S",
	    "http.header_timeout: '15S' has an upper-case unit: write 15s");
	assert_set_error("http", "header_timeout", "15 x",
	    "http.header_timeout: '15 x' has an unknown unit (use ms, s, m or h)");
}
END_TEST

START_TEST(test_load_long_line)
{
	char text[600];

	memset(text, 0, sizeof(text));
	strcpy(text, "[server]\nroot = /");
	memset(text + strlen(text), 'a', 400);
	strcat(text, "\nbacklog = 4\n");
	assert_load_error(text, 2, "line is longer than");
	/* The rest of the long line is skipped, and reading goes on. */
	text[strlen(text) - 2] = 'x';
	ck_assert_int_eq(load(&(struct wsd_config){0}, text), 2);
	ck_assert_ptr_nonnull(strstr(err, ":3: server.backlog: 'x' is not a number\n"));
}
END_TEST

START_TEST(test_load_failure_keeps_config)
{
	struct wsd_config cfg;

	config_defaults(&cfg);
	ck_assert_int_eq(config_load(&cfg,
	                     write_ini("[pool]\nmin = 7\n"
	                               "max = 9\nlimit = 0\n"),
	                     err, sizeof(err)),
	    1);
	ck_assert_uint_eq(cfg.pool_min, 2);
	ck_assert_uint_eq(cfg.pool_max, 16);
}
END_TEST

START_TEST(test_missing_file)
{
	struct wsd_config cfg;
	char path[PATH_MAX + 16], expect[PATH_MAX + 64];

	config_defaults(&cfg);
	snprintf(path, sizeof(path), "%s/nope.ini", tmpdir);
	ck_assert_int_eq(config_load(&cfg, path, err, sizeof(err)), 1);
	snprintf(expect, sizeof(expect), "%s: cannot open: %s\n", path, strerror(ENOENT));
	ck_assert_str_eq(err, expect);

	/* A directory opens but cannot be read. */
	ck_assert_int_eq(config_load(&cfg, tmpdir, err, sizeof(err)), 1);
	snprintf(expect, sizeof(expect), "%s: cannot read: %s\n", tmpdir, strerror(EISDIR));
	ck_assert_str_eq(err, expect);
}
END_TEST

START_TEST(test_finish_pool)
{
	assert_finish("[pool]\nmin = 20\nmax = 10\n", 1,
	    "%s:2: pool.min: 20 is greater than pool.max (10, from %s:3)\n");

	/* Named where it was set: here only max was, so the line is max's. */
	assert_finish("[pool]\nmax = 300\n", 1,
	    "%s:2: pool.max: 300 is greater than pool.limit (256, the default)\n");
	assert_finish(
	    "[pool]\nmax = 1\n", 1, "%s:2: pool.max: 1 is less than pool.min (2, the default)\n");

	/* Order in the file does not matter: limit may come after max. */
	assert_finish("[pool]\nmax = 300\nlimit = 300\n", 0, NULL);
}
END_TEST

START_TEST(test_finish_heartbeat)
{
	assert_finish("[heartbeat]\ninterval = 10s\nmisses = 7\n", 1,
	    "%s:2: heartbeat.interval: 10s x heartbeat.misses (7, from %s:3) is more "
	    "than 60s\n");
	assert_finish("[heartbeat]\ninterval = 10s\nmisses = 6\n", 0, NULL);
}
END_TEST

START_TEST(test_finish_root)
{
	struct wsd_config cfg;
	char path[PATH_MAX + 16], expect[PATH_MAX + 64];
	FILE *fp;

	config_defaults(&cfg);
	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	ck_assert_int_eq(config_set(&cfg, "server", "root", path, err, sizeof(err)), 0);
	ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 1);
	snprintf(expect, sizeof(expect), "server.root: %s: %s\n", path, strerror(ENOENT));
	ck_assert_str_eq(err, expect);

	snprintf(path, sizeof(path), "%s/file", tmpdir);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fclose(fp);
	config_defaults(&cfg);
	config_set(&cfg, "server", "root", path, err, sizeof(err));
	ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 1);
	snprintf(expect, sizeof(expect), "server.root: %s: %s\n", path, strerror(ENOTDIR));
	ck_assert_str_eq(err, expect);
}
END_TEST

/* Checks after parsing name the file and line the key was set at, or its flag. */
/* config_read: defaults, file, flags, finish; again the same from the same source (reload). */
START_TEST(test_read_source)
{
	struct wsd_config cfg, again;
	struct config_source src = {.file = write_ini("[pool]\nmin = 3\nmax = 9\n")};

	src.value[2] = "2:5"; /* -w beats the file */
	src.value[1] = tmpdir;
	ck_assert_int_eq(config_read(&cfg, &src, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.pool_min, 2);
	ck_assert_uint_eq(cfg.pool_max, 5);
	ck_assert_int_eq(config_read(&again, &src, err, sizeof(err)), 0);
	ck_assert_int_eq(config_diff(&cfg, &again, NULL, 0), 0);
	/* Errors: every one of the file's, one line each; cfg untouched. */
	src.file = write_ini("[pool]\nmin = x\nmax = y\n");
	ck_assert_int_eq(config_read(&cfg, &src, err, sizeof(err)), 2);
	ck_assert_ptr_nonnull(strstr(err, ":2: pool.min"));
	ck_assert_ptr_nonnull(strstr(err, ":3: pool.max"));
	ck_assert_uint_eq(cfg.pool_min, 2);
	/* A bad flag: one line, ending in a newline like the others. */
	src.file = NULL;
	src.value[2] = "9:x";
	ck_assert_int_eq(config_read(&cfg, &src, err, sizeof(err)), 1);
	ck_assert_int_eq(err[strlen(err) - 1], '\n');
	/* A line's error does not hide the checks across keys: all in one go. */
	src.value[1] = src.value[2] = NULL;
	src.file = write_ini("[server]\nroot = /nonexistent/wsd\n[pool]\nmin = 9\nmax = 3\n"
	                     "idle_timeout = 1.5s\n");
	ck_assert_int_eq(config_read(&cfg, &src, err, sizeof(err)), 3);
	ck_assert_ptr_nonnull(strstr(err, ":6: pool.idle_timeout: '1.5s' has a fraction"));
	ck_assert_ptr_nonnull(strstr(err, ":4: pool.min: 9 is greater than pool.max"));
	ck_assert_ptr_nonnull(strstr(err, ":2: server.root: /nonexistent/wsd"));
	ck_assert_uint_eq(cfg.pool_min, 2);
}
END_TEST

START_TEST(test_finish_names_origin)
{
	struct wsd_config cfg, before;
	char text[512], expect[PATH_MAX * 2];

	snprintf(text, sizeof(text), "[server]\nbacklog = 5\nroot = %s/gone\n", tmpdir);
	ck_assert_int_eq(load(&cfg, text), 0);
	ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 1);
	snprintf(expect, sizeof(expect), "%s:3: server.root: %s/gone: %s\n", inipath, tmpdir,
	    strerror(ENOENT));
	ck_assert_str_eq(err, expect);

	/* A flag overrides the file and is named instead. */
	snprintf(text, sizeof(text), "%s/gone2", tmpdir);
	ck_assert_int_eq(config_flag(&cfg, 'r', text, err, sizeof(err)), 0);
	ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 1);
	snprintf(expect, sizeof(expect), "-r: server.root: %s: %s\n", text, strerror(ENOENT));
	ck_assert_str_eq(err, expect);

	/* Every check runs, and a failure leaves cfg as it was. */
	ck_assert_int_eq(
	    load(&cfg, "[pool]\nmin = 9\n[heartbeat]\ninterval = 1s\nmisses = 100\n"), 0);
	ck_assert_int_eq(config_flag(&cfg, 'w', "9:3", err, sizeof(err)), 0);
	ck_assert_int_eq(config_set(&cfg, "log", "file", "rel.log", err, sizeof(err)), 0);
	before = cfg;
	ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 2);
	assert_errors("-w: pool.min: 9 is greater than pool.max (3, from -w)\n"
	              "%s:4: heartbeat.interval: 1s x heartbeat.misses (100, from %s:5) is more "
	              "than 60s\n");
	ck_assert_mem_eq(&cfg, &before, sizeof(cfg));
}
END_TEST

START_TEST(test_finish_user)
{
	if (geteuid() != 0) {
		fprintf(stderr, "test_finish_user: SKIP: users are looked up only as root\n");
		return;
	}
	assert_finish("[server]\n\nuser = nosuchuser-wsd\n", 1,
	    "%s:3: server.user: no such user 'nosuchuser-wsd'\n");
	assert_finish("[server]\nuser = root\n", 0, NULL);
}
END_TEST

START_TEST(test_where)
{
	struct wsd_config cfg;
	char buf[PATH_MAX + 64], expect[PATH_MAX + 64];

	ck_assert_int_eq(load(&cfg, "[pool]\nmin = 3\n[server]\nlisten = 81\n"), 0);
	ck_assert_int_eq(config_where(&cfg, "pool", "min", buf, sizeof(buf)), 1);
	snprintf(expect, sizeof(expect), "%s:2: pool.min", inipath);
	ck_assert_str_eq(buf, expect);
	ck_assert_int_eq(config_where(&cfg, "pool", "max", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "pool.max");
	ck_assert_int_eq(config_flag(&cfg, 'p', "82", err, sizeof(err)), 0);
	ck_assert_int_eq(config_where(&cfg, "server", "listen", buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, "-p: server.listen");
	ck_assert_int_eq(config_where(&cfg, "pool", "size", buf, sizeof(buf)), -1);
	/* A failed load records nothing. */
	ck_assert_int_eq(
	    config_load(&cfg, write_ini("[pool]\nmax = 4\nmin = x\n"), err, sizeof(err)), 1);
	ck_assert_int_eq(config_where(&cfg, "pool", "max", buf, sizeof(buf)), 0);
}
END_TEST

START_TEST(test_flags)
{
	struct wsd_config cfg;

	config_defaults(&cfg);
	ck_assert_int_eq(config_flag(&cfg, 'p', "70000", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "-p 70000: server.listen: port 70000 is out of range (0..65535)");
	ck_assert_int_eq(config_flag(&cfg, 'w', "banana", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "-w banana: expected MIN:MAX, each 1..4096");
	ck_assert_int_eq(config_flag(&cfg, 'r', "", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "-r : server.root: path is empty");
	ck_assert_int_eq(config_flag(&cfg, 'w', "3:5", err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.pool_min, 3);
	ck_assert_uint_eq(cfg.pool_max, 5);
	ck_assert_int_eq(config_flag(&cfg, 'x', "1", err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_finish_relative)
{
	struct wsd_config cfg;
	char cwd[PATH_MAX], expect[PATH_MAX + 32];

	ck_assert_int_eq(chdir(tmpdir), 0);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(mkdir("www", 0700), 0);
	config_defaults(&cfg);
	config_set(&cfg, "server", "root", "./www/", err, sizeof(err));
	config_set(&cfg, "log", "file", "wsd.log", err, sizeof(err));
	config_set(&cfg, "control", "socket", "/run/wsd.sock", err, sizeof(err));
	ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 0);
	snprintf(expect, sizeof(expect), "%s/www", cwd);
	ck_assert_str_eq(cfg.root, expect);
	snprintf(expect, sizeof(expect), "%s/wsd.log", cwd);
	ck_assert_str_eq(cfg.log_file, expect);
	ck_assert_str_eq(cfg.access_log, "");
	ck_assert_str_eq(cfg.control_socket, "/run/wsd.sock");
}
END_TEST

START_TEST(test_durations)
{
	static const struct {
		const char *s;
		int rc;
		uint32_t ms;
	} t[] = {
	    {"0ms", 0, 0},
	    {"0s", 0, 0},
	    {"200ms", 0, 200},
	    {"15s", 0, 15000},
	    {"2m", 0, 120000},
	    {"1h", 0, 3600000},
	    {"010s", 0, 10000},
	    {"4294967295ms", 0, 4294967295u},
	    {"1193h", 0, 4294800000u},
	    {"1194h", -1, 0},
	    {"4294968s", -1, 0},
	    {"99999999999999999999999s", -1, 0},
	    {"15", -1, 0},
	    {"0", -1, 0},
	    {"", -1, 0},
	    {"s", -1, 0},
	    {"15x", -1, 0},
	    {"15S", -1, 0},
	    {"15 s", -1, 0},
	    {" 15s", -1, 0},
	    {"-1s", -1, 0},
	    {"+1s", -1, 0},
	    {"1.5s", -1, 0},
	    {"1sec", -1, 0},
	    {"1mss", -1, 0},
	};
	size_t i;
	uint32_t ms;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ms = 12345;
		ck_assert_msg(config_parse_duration(t[i].s, &ms) == t[i].rc,
		    "'%s' should return %d", t[i].s, t[i].rc);
		if (t[i].rc == 0)
			ck_assert_uint_eq(ms, t[i].ms);
		else
			ck_assert_uint_eq(ms, 12345);
	}
}
END_TEST

START_TEST(test_pool)
{
	static const struct {
		const char *s;
		int rc;
		uint32_t min, max;
	} t[] = {
	    {"2:16", 0, 2, 16},
	    {"1:1", 0, 1, 1},
	    {"4096:4096", 0, 4096, 4096},
	    {"16:2", 0, 16, 2}, /* order is config_finish()'s business */
	    {"0:4", -1, 0, 0},
	    {"2:0", -1, 0, 0},
	    {"4097:4097", -1, 0, 0},
	    {"2", -1, 0, 0},
	    {"2:", -1, 0, 0},
	    {":2", -1, 0, 0},
	    {"a:b", -1, 0, 0},
	    {"2:16:3", -1, 0, 0},
	    {"-2:16", -1, 0, 0},
	    {"2: 16", -1, 0, 0},
	    {"", -1, 0, 0},
	    {"00000000000000000000000000000000002:3", -1, 0, 0},
	};
	size_t i;
	uint32_t min, max;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		min = max = 999;
		ck_assert_msg(config_parse_pool(t[i].s, &min, &max) == t[i].rc,
		    "'%s' should return %d", t[i].s, t[i].rc);
		ck_assert_uint_eq(min, t[i].rc == 0 ? t[i].min : 999);
		ck_assert_uint_eq(max, t[i].rc == 0 ? t[i].max : 999);
	}
}
END_TEST

START_TEST(test_diff_lists_changed_keys)
{
	struct wsd_config a, b;
	struct config_change ch[4];

	config_defaults(&a);
	b = a;
	ck_assert_int_eq(config_diff(&a, &b, ch, 4), 0);
	ck_assert_int_eq(config_set(&b, "pool", "max", "32", err, sizeof(err)), 0);
	ck_assert_int_eq(config_set(&b, "http", "keepalive_timeout", "2m", err, sizeof(err)), 0);
	ck_assert_int_eq(config_set(&b, "server", "listen", "[::1]:9000", err, sizeof(err)), 0);
	ck_assert_int_eq(config_set(&b, "log", "access_log", "stderr", err, sizeof(err)), 0);
	ck_assert_int_eq(config_diff(&a, &b, ch, 4), 4);
	/* In key table order, each with how a reload applies it. */
	ck_assert_str_eq(ch[0].key, "server.listen");
	ck_assert_str_eq(ch[0].from, "127.0.0.1:8080");
	ck_assert_str_eq(ch[0].to, "[::1]:9000");
	ck_assert_int_eq(ch[0].apply, CONFIG_RESTART);
	ck_assert_str_eq(ch[1].key, "pool.max");
	ck_assert_str_eq(ch[1].to, "32");
	ck_assert_int_eq(ch[1].apply, CONFIG_LIVE);
	ck_assert_str_eq(ch[2].key, "http.keepalive_timeout");
	ck_assert_str_eq(ch[2].to, "2m");
	ck_assert_str_eq(ch[3].key, "log.access_log");
	ck_assert_str_eq(ch[3].from, "off");
	ck_assert_str_eq(ch[3].to, "stderr");
	/* More changes than room: all counted, max filled. */
	ck_assert_int_eq(config_diff(&a, &b, ch, 1), 4);
}
END_TEST

START_TEST(test_proxy_from)
{
	struct wsd_config a, b;
	struct config_change ch[2];
	char v[CONFIG_VALUELEN];

	config_defaults(&a);
	ck_assert_str_eq(a.proxy_from, "");
	ck_assert_int_eq(config_value(&a, "server", "proxy_from", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "off");
	b = a;
	ck_assert_int_eq(
	    config_set(&b, "server", "proxy_from", "127.0.0.1, ::1 10.0.0.0/8", err, sizeof(err)),
	    0);
	ck_assert_int_eq(config_value(&b, "server", "proxy_from", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "127.0.0.1, ::1 10.0.0.0/8");
	/* Changed by a reload, live: the workers check it at each new connection. */
	ck_assert_int_eq(config_diff(&a, &b, ch, 2), 1);
	ck_assert_str_eq(ch[0].key, "server.proxy_from");
	ck_assert_str_eq(ch[0].from, "off");
	ck_assert_int_eq(ch[0].apply, CONFIG_LIVE);
	ck_assert_int_eq(config_set(&b, "server", "proxy_from", "off", err, sizeof(err)), 0);
	ck_assert_str_eq(b.proxy_from, "");
	assert_set_error("server", "proxy_from", "10.0.0.0/40",
	    "server.proxy_from: '10.0.0.0/40': the prefix length must be 0..32");
	assert_set_error("server", "proxy_from", "haproxy.local",
	    "server.proxy_from: 'haproxy.local' is not an IPv4 or IPv6 address");
}
END_TEST

START_TEST(test_diff_sees_past_the_shown_length)
{
	struct wsd_config a, b;
	struct config_change ch[1];
	char p[400];

	config_defaults(&a);
	memset(p, 'x', sizeof(p));
	p[0] = '/';
	p[sizeof(p) - 1] = '\0';
	ck_assert_int_eq(config_set(&a, "log", "file", p, err, sizeof(err)), 0);
	b = a;
	p[sizeof(p) - 2] = 'y';
	ck_assert_int_eq(config_set(&b, "log", "file", p, err, sizeof(err)), 0);
	ck_assert_int_eq(config_diff(&a, &b, ch, 1), 1);
	ck_assert_str_eq(ch[0].key, "log.file");
}
END_TEST

START_TEST(test_pool_policy_keys)
{
	struct wsd_config cfg;
	char v[CONFIG_VALUELEN];

	ck_assert_int_eq(load(&cfg,
	                     "[pool]\nscale_up_at = 0.9\nscale_down_at = .1\n"
	                     "spawn_rate_max = 4\nmax_requests = 10000\n"),
	    0);
	ck_assert_uint_eq(cfg.pool_scale_up_ppm, 900000);
	ck_assert_uint_eq(cfg.pool_scale_down_ppm, 100000);
	ck_assert_uint_eq(cfg.pool_spawn_rate_max, 4);
	ck_assert_uint_eq(cfg.pool_max_requests, 10000);
	ck_assert_int_eq(config_value(&cfg, "pool", "scale_down_at", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "0.1");
	ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 0);

	ck_assert_int_eq(load(&cfg, "[pool]\nscale_up_at = 75%\n"), 1);
	ck_assert_ptr_nonnull(strstr(err, "not a fraction from 0 to 1"));
	ck_assert_int_eq(load(&cfg, "[pool]\nspawn_rate_max = 0\n"), 1);

	/* No gap between the thresholds: refused, it would flap. */
	ck_assert_int_eq(load(&cfg, "[pool]\nscale_down_at = 0.8\n"), 0);
	ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 1);
	ck_assert_ptr_nonnull(strstr(err, "pool.scale_down_at: 0.8 is not below pool.scale_up_at"));
}
END_TEST

START_TEST(test_value_spelling)
{
	struct wsd_config c;
	char v[CONFIG_VALUELEN];

	config_defaults(&c);
	ck_assert_int_eq(config_value(&c, "heartbeat", "interval", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "200ms");
	ck_assert_int_eq(config_value(&c, "log", "file", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "stderr");
	ck_assert_int_eq(config_value(&c, "log", "level", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "info");
	ck_assert_int_eq(config_value(&c, "no", "such", v, sizeof(v)), -1);
}
END_TEST

START_TEST(test_control_keys)
{
	struct wsd_config cfg;
	char v[CONFIG_VALUELEN];

	config_defaults(&cfg);
	ck_assert_uint_eq(cfg.control_mode, 0660);
	ck_assert_int_eq(cfg.control_off, 0);
	ck_assert_int_eq(config_set(&cfg, "control", "socket", "off", err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.control_off, 1);
	ck_assert_int_eq(config_value(&cfg, "control", "socket", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "off");
	ck_assert_int_eq(config_set(&cfg, "control", "socket", "/run/x.sock", err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.control_off, 0);
	ck_assert_int_eq(config_set(&cfg, "control", "mode", "0600", err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.control_mode, 0600);
	ck_assert_int_eq(config_value(&cfg, "control", "mode", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "0600");
	ck_assert_int_eq(config_set(&cfg, "control", "mode", "666", err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.control_mode, 0666);
	assert_set_error(
	    "control", "mode", "0999", "control.mode: '0999' is not an octal mode (0000..0777)");
	assert_set_error(
	    "control", "mode", "1777", "control.mode: '1777' is not an octal mode (0000..0777)");
	assert_set_error(
	    "control", "mode", "-1", "control.mode: '-1' is not an octal mode (0000..0777)");
	ck_assert_int_eq(config_set(&cfg, "control", "group", "root", err, sizeof(err)), 0);
	ck_assert_int_eq(
	    config_set(&cfg, "control", "readonly_group", "no-such-group-wsd", err, sizeof(err)),
	    0);
	ck_assert_int_ne(config_finish(&cfg, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(
	    strstr(err, "control.readonly_group: no such group 'no-such-group-wsd'"));
	ck_assert_int_eq(
	    config_set(&cfg, "control", "readonly_group", "root", err, sizeof(err)), 0);
	ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.control_gid, 0);
	ck_assert_uint_eq(cfg.control_ro_gid, 0);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_special_values);
	tcase_add_test(tc, test_listen);
	tcase_add_test(tc, test_listen_errors);
	tcase_add_test(tc, test_metrics_listen);
	tcase_add_test(tc, test_set_errors);
	tcase_add_test(tc, test_load_errors);
	tcase_add_test(tc, test_load_indented);
	tcase_add_test(tc, test_load_collects_all);
	tcase_add_test(tc, test_load_many_errors);
	tcase_add_test(tc, test_duration_messages);
	tcase_add_test(tc, test_load_long_line);
	tcase_add_test(tc, test_load_failure_keeps_config);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_finish_pool);
	tcase_add_test(tc, test_finish_heartbeat);
	tcase_add_test(tc, test_finish_root);
	tcase_add_test(tc, test_finish_names_origin);
	tcase_add_test(tc, test_read_source);
	tcase_add_test(tc, test_finish_user);
	tcase_add_test(tc, test_where);
	tcase_add_test(tc, test_diff_lists_changed_keys);
	tcase_add_test(tc, test_diff_sees_past_the_shown_length);
	tcase_add_test(tc, test_value_spelling);
	tcase_add_test(tc, test_pool_policy_keys);
	tcase_add_test(tc, test_control_keys);
	tcase_add_test(tc, test_flags);
	tcase_add_test(tc, test_finish_relative);
	tcase_add_test(tc, test_durations);
	tcase_add_test(tc, test_pool);
	tcase_add_test(tc, test_proxy_from);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());

	return check_run(sr, CK_NORMAL);
}
