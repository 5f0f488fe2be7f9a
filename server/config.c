/*
 * Configuration. Every key lives in one table (section, name, setter,
 * field, range); the INI file, the command-line flags and the tests all go
 * through config_set(), so a key is validated in exactly one place.
 * Errors are written into the caller's buffer; this module never logs or
 * exits, the daemon decides what to do with a bad configuration.
 */
#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MS_SEC 1000u
#define MS_MIN (60u * MS_SEC)
#define MS_HOUR (60u * MS_MIN)

/* A hung worker must be noticed and replaced within this. */
#define HEARTBEAT_DEADLINE_MS (60u * MS_SEC)

struct key;
typedef int (*setter)(struct wsd_config *, const struct key *, const char *, char *, size_t);

struct key {
	const char *section;
	const char *name;
	setter set;
	size_t off;        /* field in struct wsd_config */
	size_t size;       /* field size (string buffers) */
	uint32_t min, max; /* numbers and durations */
};

static int set_listen(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_path(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_logfile(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_accesslog(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_user(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_level(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_u32(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_int(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_duration(struct wsd_config *, const struct key *, const char *, char *, size_t);

#define FIELD(f) offsetof(struct wsd_config, f), sizeof(((struct wsd_config *)0)->f)

static const struct key keys[] = {
    {"server", "listen", set_listen, 0, 0, 0, 0},
    {"server", "root", set_path, FIELD(root), 0, 0},
    {"server", "user", set_user, FIELD(user), 0, 0},
    {"server", "backlog", set_int, FIELD(backlog), 1, 65535},
    {"server", "shutdown_timeout", set_duration, FIELD(shutdown_timeout_ms), 0, MS_HOUR},
    {"pool", "min", set_u32, FIELD(pool_min), 1, CONFIG_POOL_LIMIT_MAX},
    {"pool", "max", set_u32, FIELD(pool_max), 1, CONFIG_POOL_LIMIT_MAX},
    {"pool", "limit", set_u32, FIELD(pool_limit), 1, CONFIG_POOL_LIMIT_MAX},
    {"pool", "max_workload", set_u32, FIELD(max_workload), 1, 65536},
    {"pool", "idle_timeout", set_duration, FIELD(pool_idle_timeout_ms), 100, MS_HOUR},
    {"http", "keepalive_timeout", set_duration, FIELD(keepalive_timeout_ms), 0, MS_HOUR},
    {"http", "header_timeout", set_duration, FIELD(header_timeout_ms), 100, 10 * MS_MIN},
    {"heartbeat", "interval", set_duration, FIELD(heartbeat_interval_ms), 10, 10 * MS_SEC},
    {"heartbeat", "misses", set_u32, FIELD(heartbeat_misses), 1, 100},
    {"heartbeat", "startup_timeout", set_duration, FIELD(startup_timeout_ms), MS_SEC, 5 * MS_MIN},
    {"log", "level", set_level, FIELD(log_level), 0, 0},
    {"log", "file", set_logfile, FIELD(log_file), 0, 0},
    {"log", "access_log", set_accesslog, FIELD(access_log), 0, 0},
    {"control", "socket", set_path, FIELD(control_socket), 0, 0},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const struct unit {
	const char *name;
	uint32_t ms;
} units[] = {
    {"h", MS_HOUR},
    {"m", MS_MIN},
    {"s", MS_SEC},
    {"ms", 1},
};
#define NUNITS (sizeof(units) / sizeof(units[0]))

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Always -1, so that setters can "return fail(...)". */
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static void *field(struct wsd_config *cfg, const struct key *k) { return (char *)cfg + k->off; }

/*
 * Strict unsigned decimal: digits only (no sign, no blanks, no 0x) and
 * fully consumed. Returns -1 for "not a number", -2 for overflow.
 */
static int parse_u32(const char *s, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return -1;
	if (errno == ERANGE || v > UINT32_MAX)
		return -2;
	*out = (uint32_t)v;
	return 0;
}

/* Returns NULL on success, else why the duration is bad. */
static const char *parse_duration(const char *s, uint32_t *ms)
{
	unsigned long long n;
	char *end;
	size_t i;

	if (!isdigit((unsigned char)s[0]))
		return "is not a duration (use a number and a unit: ms, s, m, h)";
	errno = 0;
	n = strtoull(s, &end, 10);
	if (*end == '\0')
		return "needs a unit (ms, s, m, h)";
	for (i = 0; i < NUNITS; i++) {
		if (strcmp(end, units[i].name) != 0)
			continue;
		if (errno == ERANGE || n > UINT32_MAX / units[i].ms)
			return "is too large";
		*ms = (uint32_t)n * units[i].ms;
		return NULL;
	}
	return "has an unknown unit (use ms, s, m or h)";
}

/* The largest unit that divides ms evenly, for range messages. */
static const char *fmt_duration(uint32_t ms, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < NUNITS - 1; i++)
		if (ms != 0 && ms % units[i].ms == 0)
			break;
	if (ms == 0)
		i = 2; /* "0s" reads better than "0h" */
	snprintf(buf, len, "%u%s", ms / units[i].ms, units[i].name);
	return buf;
}

static int check_number(const struct key *k, const char *v, uint32_t *n, char *err, size_t errlen)
{
	int r;

	r = parse_u32(v, n);
	if (r == -1)
		return fail(err, errlen, "%s.%s: '%s' is not a number", k->section, k->name, v);
	if (r == -2 || *n < k->min || *n > k->max)
		return fail(err, errlen, "%s.%s: %s is out of range (%u..%u)", k->section, k->name,
		    v, k->min, k->max);
	return 0;
}

static int set_u32(
    struct wsd_config *cfg, const struct key *k, const char *v, char *err, size_t errlen)
{
	uint32_t n = 0;

	if (check_number(k, v, &n, err, errlen) == -1)
		return -1;
	*(uint32_t *)field(cfg, k) = n;
	return 0;
}

static int set_int(
    struct wsd_config *cfg, const struct key *k, const char *v, char *err, size_t errlen)
{
	uint32_t n = 0;

	if (check_number(k, v, &n, err, errlen) == -1)
		return -1;
	*(int *)field(cfg, k) = (int)n; /* max is well below INT_MAX */
	return 0;
}

static int set_duration(
    struct wsd_config *cfg, const struct key *k, const char *v, char *err, size_t errlen)
{
	char lo[16], hi[16];
	const char *why;
	uint32_t ms;

	if ((why = parse_duration(v, &ms)) != NULL)
		return fail(err, errlen, "%s.%s: '%s' %s", k->section, k->name, v, why);
	if (ms < k->min || ms > k->max)
		return fail(err, errlen, "%s.%s: %s is out of range (%s..%s)", k->section, k->name,
		    v, fmt_duration(k->min, lo, sizeof(lo)), fmt_duration(k->max, hi, sizeof(hi)));
	*(uint32_t *)field(cfg, k) = ms;
	return 0;
}

static int set_path(
    struct wsd_config *cfg, const struct key *k, const char *v, char *err, size_t errlen)
{
	if (*v == '\0')
		return fail(err, errlen, "%s.%s: path is empty", k->section, k->name);
	if (strlen(v) >= k->size)
		return fail(err, errlen, "%s.%s: path is too long (max %zu bytes)", k->section,
		    k->name, k->size - 1);
	memcpy(field(cfg, k), v, strlen(v) + 1);
	return 0;
}

/* "stderr" is the default and is spelled out so it can be restored. */
static int set_logfile(
    struct wsd_config *cfg, const struct key *k, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "stderr") == 0) {
		*(char *)field(cfg, k) = '\0';
		return 0;
	}
	return set_path(cfg, k, v, err, errlen);
}

static int set_accesslog(
    struct wsd_config *cfg, const struct key *k, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "off") == 0) {
		*(char *)field(cfg, k) = '\0';
		return 0;
	}
	return set_path(cfg, k, v, err, errlen);
}

/* Portable user names only; empty restores the default behaviour. */
static int set_user(
    struct wsd_config *cfg, const struct key *k, const char *v, char *err, size_t errlen)
{
	size_t len;

	len = strspn(v,
	    "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
	if (v[len] != '\0' || v[0] == '-')
		return fail(
		    err, errlen, "%s.%s: '%s' is not a valid user name", k->section, k->name, v);
	if (len >= k->size)
		return fail(err, errlen, "%s.%s: name is too long (max %zu bytes)", k->section,
		    k->name, k->size - 1);
	memcpy(field(cfg, k), v, len + 1);
	return 0;
}

static int set_level(
    struct wsd_config *cfg, const struct key *k, const char *v, char *err, size_t errlen)
{
	if (log_level_parse(v, &cfg->log_level) == -1)
		return fail(err, errlen, "%s.%s: '%s' is not a level (error, warn, info, debug)",
		    k->section, k->name, v);
	return 0;
}

static int listen_port(const char *v, uint16_t *port, char *err, size_t errlen)
{
	uint32_t n = 0;
	int r;

	r = parse_u32(v, &n);
	if (r == -1)
		return fail(err, errlen, "server.listen: port '%s' is not a number", v);
	if (r == -2 || n > 65535)
		return fail(err, errlen, "server.listen: port %s is out of range (0..65535)", v);
	*port = (uint16_t)n;
	return 0;
}

/* Split "[v6]:PORT" or "HOST:PORT"; host is checked by the caller. */
static int listen_split(
    const char *v, char *host, size_t hostlen, const char **port, char *err, size_t errlen)
{
	const char *h = v, *e;

	if (*v == '[') {
		h = v + 1;
		if ((e = strchr(h, ']')) == NULL || e[1] != ':')
			return fail(err, errlen,
			    "server.listen: '%s': "
			    "expected [IPV6]:PORT",
			    v);
		*port = e + 2;
	} else {
		if ((e = strrchr(v, ':')) == NULL)
			return fail(err, errlen,
			    "server.listen: '%s': "
			    "expected HOST:PORT, [IPV6]:PORT or PORT",
			    v);
		if (memchr(v, ':', (size_t)(e - v)) != NULL)
			return fail(err, errlen,
			    "server.listen: '%s': "
			    "an IPv6 address needs brackets, as in [::1]:8080",
			    v);
		*port = e + 1;
	}
	if ((size_t)(e - h) >= hostlen)
		return fail(err, errlen, "server.listen: address is too long");
	memcpy(host, h, (size_t)(e - h));
	host[e - h] = '\0';
	return 0;
}

/*
 * Names other than "localhost" are refused: resolving them would make the
 * listening address depend on DNS at start-up.
 */
static int listen_host_ok(const char *host, int v6)
{
	unsigned char buf[sizeof(struct in6_addr)];

	if (v6)
		return inet_pton(AF_INET6, host, buf) == 1;
	return strcmp(host, "localhost") == 0 || inet_pton(AF_INET, host, buf) == 1;
}

/* A bare PORT keeps the current host, so "-p" can override just the port. */
static int set_listen(
    struct wsd_config *cfg, const struct key *k, const char *v, char *err, size_t errlen)
{
	char host[sizeof(cfg->listen_host)];
	const char *port = NULL;
	uint16_t n = 0;

	if (isdigit((unsigned char)v[0]) && strchr(v, ':') == NULL &&
	    strspn(v, "0123456789") == strlen(v))
		return listen_port(v, &cfg->listen_port, err, errlen);
	if (listen_split(v, host, sizeof(host), &port, err, errlen) == -1)
		return -1;
	if (!listen_host_ok(host, v[0] == '['))
		return fail(err, errlen,
		    "server.listen: '%s' is not a numeric "
		    "IPv4 address, [IPv6] address or localhost",
		    host);
	if (listen_port(port, &n, err, errlen) == -1)
		return -1;
	memcpy(cfg->listen_host, host, strlen(host) + 1);
	cfg->listen_port = n;
	return 0;
}

static int section_known(const char *section)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0)
			return 1;
	return 0;
}

int config_set(struct wsd_config *cfg, const char *section, const char *key, const char *value,
    char *err, size_t errlen)
{
	size_t i;

	if (*section == '\0')
		return fail(err, errlen, "key '%s' is not in any section", key);
	if (!section_known(section))
		return fail(err, errlen, "unknown section [%s]", section);
	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, key) == 0)
			return keys[i].set(cfg, &keys[i], value, err, errlen);
	return fail(err, errlen, "unknown key '%s' in [%s]", key, section);
}

void config_defaults(struct wsd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->listen_host, "127.0.0.1");
	cfg->listen_port = 8080;
	/* If the cwd is gone, "." makes config_finish() report it. */
	if (getcwd(cfg->root, sizeof(cfg->root)) == NULL)
		strcpy(cfg->root, ".");
	cfg->backlog = 511;
	cfg->shutdown_timeout_ms = 10 * MS_SEC;
	cfg->pool_min = 2;
	cfg->pool_max = 16;
	cfg->pool_limit = 256;
	cfg->max_workload = 512;
	cfg->pool_idle_timeout_ms = 30 * MS_SEC;
	cfg->keepalive_timeout_ms = 15 * MS_SEC;
	cfg->header_timeout_ms = 10 * MS_SEC;
	cfg->heartbeat_interval_ms = 200;
	cfg->heartbeat_misses = 3;
	cfg->startup_timeout_ms = 10 * MS_SEC;
	cfg->log_level = LOG_LVL_INFO;
}

/*
 * State shared by the line reader and the key handler during a load.
 * indented and haskey mirror inih's rule for multi-line values (an indented
 * line after a key continues that key), which we refuse: "root = /a" then
 * "  /b" would otherwise quietly set the root to "/b".
 */
struct load {
	struct wsd_config *cfg;
	FILE *fp;
	int line;     /* line last handed to inih */
	int errline;  /* our first error, 0 = none */
	int readerr;  /* errno of a failed read */
	int indented; /* current line starts blank */
	int haskey;   /* a key since the last [section] */
	char msg[CONFIG_ERRLEN];
};

/*
 * fgets() for inih, which counts one line per call. Refusing over-long
 * lines keeps that count true (inih would split them) and stops a
 * truncated path from being taken silently. Stops at our first error.
 */
/* inih reports a section only with its first key: check even an empty one here. */
static int load_section(struct load *ld, const char *line)
{
	char name[64];
	size_t n = strcspn(line + 1, "]");

	ld->haskey = 0;
	if (line[1 + n] != ']' || n >= sizeof(name))
		return 0; /* inih reports the syntax error */
	memcpy(name, line + 1, n);
	name[n] = '\0';
	if (section_known(name))
		return 0;
	ld->errline = ld->line;
	snprintf(ld->msg, sizeof(ld->msg), "unknown section [%s]", name);
	return -1;
}

static char *load_read(char *buf, int size, void *arg)
{
	struct load *ld = arg;
	size_t len;

	if (ld->errline != 0)
		return NULL;
	if (fgets(buf, size, ld->fp) == NULL) {
		if (ferror(ld->fp))
			ld->readerr = errno != 0 ? errno : EIO;
		return NULL;
	}
	ld->line++;
	ld->indented = isspace((unsigned char)buf[0]);
	if (!ld->indented && buf[0] == '[' && load_section(ld, buf) == -1)
		return NULL;
	len = strlen(buf);
	if ((len == 0 || buf[len - 1] != '\n') && !feof(ld->fp)) {
		ld->errline = ld->line;
		snprintf(ld->msg, sizeof(ld->msg), "line is longer than %d characters", size - 3);
		return NULL;
	}
	return buf;
}

static int load_key(void *arg, const char *section, const char *name, const char *value)
{
	struct load *ld = arg;

	/* Only when inih reports section headers on their own. */
	if (name == NULL) {
		ld->haskey = 0;
		if (section_known(section))
			return 1;
		snprintf(ld->msg, sizeof(ld->msg), "unknown section [%s]", section);
	} else if (ld->indented && ld->haskey) {
		snprintf(ld->msg, sizeof(ld->msg),
		    "%s.%s: continuation lines "
		    "are not supported (is this line indented?)",
		    section, name);
	} else if (config_set(ld->cfg, section, name, value, ld->msg, sizeof(ld->msg)) == 0) {
		ld->haskey = 1;
		return 1;
	}
	ld->errline = ld->line;
	return 0;
}

/* Turn what inih and our callbacks saw into one message. */
static int load_result(const struct load *ld, const char *path, int rc, char *err, size_t errlen)
{
	if (ld->readerr != 0)
		return fail(err, errlen, "%s: cannot read: %s", path, strerror(ld->readerr));
	/* inih returns the first error line: a syntax error before ours wins. */
	if (rc > 0 && (ld->errline == 0 || rc < ld->errline))
		return fail(err, errlen, "%s:%d: syntax error", path, rc);
	if (ld->errline != 0)
		return fail(err, errlen, "%s:%d: %s", path, ld->errline, ld->msg);
	if (rc < 0)
		return fail(err, errlen, "%s: cannot parse (out of memory)", path);
	return 0;
}

/* Parsed into a copy: a bad file leaves the caller's config untouched. */
int config_load(struct wsd_config *cfg, const char *path, char *err, size_t errlen)
{
	struct wsd_config tmp = *cfg;
	struct load ld;
	int rc;

	memset(&ld, 0, sizeof(ld));
	ld.cfg = &tmp;
	if ((ld.fp = fopen(path, "r")) == NULL)
		return fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
	errno = 0;
	rc = ini_parse_stream(load_read, &ld, load_key, &ld);
	fclose(ld.fp);
	if (load_result(&ld, path, rc, err, errlen) == -1)
		return -1;
	*cfg = tmp;
	return 0;
}

static int finish_root(struct wsd_config *cfg, char *err, size_t errlen)
{
	char abs[PATH_MAX];
	struct stat st;

	if (realpath(cfg->root, abs) == NULL)
		return fail(err, errlen, "server.root: %s: %s", cfg->root, strerror(errno));
	if (stat(abs, &st) == -1)
		return fail(err, errlen, "server.root: %s: %s", abs, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fail(err, errlen, "server.root: %s: %s", abs, strerror(ENOTDIR));
	memcpy(cfg->root, abs, strlen(abs) + 1);
	return 0;
}

/*
 * Relative paths mean "relative to where wsd was started"; fix that now,
 * before the daemon changes directory. The file need not exist yet.
 */
static int finish_path(char *path, size_t size, const char *name, char *err, size_t errlen)
{
	char cwd[PATH_MAX], abs[PATH_MAX];
	int n;

	if (path[0] == '\0' || path[0] == '/')
		return 0;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return fail(
		    err, errlen, "%s: %s: cannot make absolute: %s", name, path, strerror(errno));
	n = snprintf(abs, sizeof(abs), "%s/%s", cwd, path);
	if (n < 0 || (size_t)n >= size)
		return fail(err, errlen,
		    "%s: %s/%s: path is too long "
		    "(max %zu bytes)",
		    name, cwd, path, size - 1);
	memcpy(path, abs, (size_t)n + 1);
	return 0;
}

static int finish_pool(const struct wsd_config *cfg, char *err, size_t errlen)
{
	if (cfg->pool_min > cfg->pool_max)
		return fail(err, errlen,
		    "pool.min (%u) is greater than "
		    "pool.max (%u)",
		    cfg->pool_min, cfg->pool_max);
	if (cfg->pool_max > cfg->pool_limit)
		return fail(err, errlen,
		    "pool.max (%u) is greater than "
		    "pool.limit (%u)",
		    cfg->pool_max, cfg->pool_limit);
	return 0;
}

static int finish_heartbeat(const struct wsd_config *cfg, char *err, size_t errlen)
{
	uint64_t deadline;
	char buf[16];

	deadline = (uint64_t)cfg->heartbeat_interval_ms * cfg->heartbeat_misses;
	if (deadline > HEARTBEAT_DEADLINE_MS)
		return fail(err, errlen,
		    "heartbeat.interval (%s) x "
		    "heartbeat.misses (%u) is more than 60s",
		    fmt_duration(cfg->heartbeat_interval_ms, buf, sizeof(buf)),
		    cfg->heartbeat_misses);
	return 0;
}

int config_finish(struct wsd_config *cfg, char *err, size_t errlen)
{
	if (finish_pool(cfg, err, errlen) == -1 || finish_heartbeat(cfg, err, errlen) == -1 ||
	    finish_root(cfg, err, errlen) == -1)
		return -1;
	if (finish_path(cfg->log_file, sizeof(cfg->log_file), "log.file", err, errlen) == -1 ||
	    finish_path(cfg->access_log, sizeof(cfg->access_log), "log.access_log", err, errlen) ==
	        -1 ||
	    finish_path(cfg->control_socket, sizeof(cfg->control_socket), "control.socket", err,
	        errlen) == -1)
		return -1;
	return 0;
}

int config_parse_duration(const char *s, uint32_t *ms)
{
	return parse_duration(s, ms) == NULL ? 0 : -1;
}

/* "MIN:MAX", each 1..CONFIG_POOL_LIMIT_MAX; the order is config_finish()'s job. */
int config_parse_pool(const char *s, uint32_t *min, uint32_t *max)
{
	char buf[32];
	const char *colon;
	uint32_t lo, hi;

	if ((colon = strchr(s, ':')) == NULL || (size_t)(colon - s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, (size_t)(colon - s));
	buf[colon - s] = '\0';
	if (parse_u32(buf, &lo) != 0 || parse_u32(colon + 1, &hi) != 0)
		return -1;
	if (lo < 1 || lo > CONFIG_POOL_LIMIT_MAX || hi < 1 || hi > CONFIG_POOL_LIMIT_MAX)
		return -1;
	*min = lo;
	*max = hi;
	return 0;
}
