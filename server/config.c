/*
 * Configuration. Every key lives in one table (section, name, setter,
 * field, range); the INI file, the command-line flags and the tests all go
 * through config_set(), so a key is validated in exactly one place.
 * Errors are written into the caller's buffer; this module never logs or
 * exits, the daemon decides what to do with a bad configuration.
 */
#include "config.h"
#include "pool.h"
#include "proxyproto.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
	size_t off;              /* field in struct wsd_config */
	size_t size;             /* field size (string buffers) */
	uint32_t min, max;       /* numbers and durations */
	enum config_apply apply; /* how a reload applies a change */
};

static int set_listen(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_metrics(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_path(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_logfile(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_accesslog(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_user(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_level(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_u32(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_int(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_duration(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_ctlsocket(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_mode(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_share(struct wsd_config *, const struct key *, const char *, char *, size_t);
static int set_proxy_from(struct wsd_config *, const struct key *, const char *, char *, size_t);
static void fmt_share(uint32_t ppm, char *buf, size_t len);
static void value_of(const struct wsd_config *cfg, const struct key *k, char *buf, size_t len);

#define FIELD(f) offsetof(struct wsd_config, f), sizeof(((struct wsd_config *)0)->f)

static const struct key keys[] = {
    {"server", "listen", set_listen, 0, 0, 0, 0, CONFIG_RESTART},
    {"server", "root", set_path, FIELD(root), 0, 0, CONFIG_LIVE},
    {"server", "user", set_user, FIELD(user), 0, 0, CONFIG_RESTART},
    {"server", "backlog", set_int, FIELD(backlog), 1, 65535, CONFIG_LIVE},
    {"server", "shutdown_timeout", set_duration, FIELD(shutdown_timeout_ms), 0, MS_HOUR,
        CONFIG_LIVE},
    {"server", "drain_delay", set_duration, FIELD(drain_delay_ms), 0, MS_HOUR, CONFIG_LIVE},
    {"server", "proxy_from", set_proxy_from, FIELD(proxy_from), 0, 0, CONFIG_LIVE},
    {"pool", "min", set_u32, FIELD(pool_min), 1, CONFIG_POOL_LIMIT_MAX, CONFIG_LIVE},
    {"pool", "max", set_u32, FIELD(pool_max), 1, CONFIG_POOL_LIMIT_MAX, CONFIG_LIVE},
    {"pool", "limit", set_u32, FIELD(pool_limit), 1, CONFIG_POOL_LIMIT_MAX, CONFIG_ROLES},
    {"pool", "max_workload", set_u32, FIELD(max_workload), 1, 65536, CONFIG_LIVE},
    {"pool", "idle_timeout", set_duration, FIELD(pool_idle_timeout_ms), 100, MS_HOUR, CONFIG_LIVE},
    {"pool", "scale_up_at", set_share, FIELD(pool_scale_up_ppm), 0, 0, CONFIG_LIVE},
    {"pool", "scale_down_at", set_share, FIELD(pool_scale_down_ppm), 0, 0, CONFIG_LIVE},
    {"pool", "spawn_rate_max", set_u32, FIELD(pool_spawn_rate_max), 1, 64, CONFIG_LIVE},
    {"pool", "max_requests", set_u32, FIELD(pool_max_requests), 0, UINT32_MAX / 2, CONFIG_LIVE},
    {"http", "keepalive_timeout", set_duration, FIELD(keepalive_timeout_ms), 0, MS_HOUR,
        CONFIG_LIVE},
    {"http", "header_timeout", set_duration, FIELD(header_timeout_ms), 100, 10 * MS_MIN,
        CONFIG_LIVE},
    {"http", "park_after", set_duration, FIELD(park_after_ms), 0, MS_HOUR, CONFIG_LIVE},
    {"http", "park_max", set_u32, FIELD(park_max), 0, 10000000, CONFIG_LIVE},
    {"http", "open_file_cache_valid", set_duration, FIELD(open_file_cache_valid_ms), 0, MS_HOUR,
        CONFIG_LIVE},
    {"http", "open_file_cache_max", set_u32, FIELD(open_file_cache_max), 0, 1000000, CONFIG_LIVE},
    {"heartbeat", "interval", set_duration, FIELD(heartbeat_interval_ms), 10, 10 * MS_SEC,
        CONFIG_LIVE},
    {"heartbeat", "misses", set_u32, FIELD(heartbeat_misses), 1, 100, CONFIG_LIVE},
    {"heartbeat", "startup_timeout", set_duration, FIELD(startup_timeout_ms), MS_SEC, 5 * MS_MIN,
        CONFIG_LIVE},
    {"log", "level", set_level, FIELD(log_level), 0, 0, CONFIG_LIVE},
    {"log", "file", set_logfile, FIELD(log_file), 0, 0, CONFIG_LIVE},
    {"log", "access_log", set_accesslog, FIELD(access_log), 0, 0, CONFIG_LIVE},
    {"control", "socket", set_ctlsocket, FIELD(control_socket), 0, 0, CONFIG_RESTART},
    {"control", "mode", set_mode, FIELD(control_mode), 0, 0777, CONFIG_RESTART},
    {"control", "group", set_user, FIELD(control_group), 0, 0, CONFIG_RESTART},
    {"control", "readonly_group", set_user, FIELD(control_readonly_group), 0, 0, CONFIG_RESTART},
    {"metrics", "listen", set_metrics, 0, 0, 0, 0, CONFIG_RESTART},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= CONFIG_MAXKEYS, "raise CONFIG_MAXKEYS for the new key");

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

/* The unit spelled s (exactly, or ignoring case when nocase), or NULL. */
static const struct unit *find_unit(const char *s, int nocase)
{
	for (size_t i = 0; i < NUNITS; i++)
		if ((nocase ? strcasecmp(s, units[i].name) : strcmp(s, units[i].name)) == 0)
			return &units[i];
	return NULL;
}

/* "1.5s": say what to write instead when it is a whole number of ms. */
static void why_fraction(unsigned long long n, const char *frac, char *why, size_t len)
{
	unsigned long long f = 0, scale = 1;
	const struct unit *u;
	char *end, buf[16];
	size_t digits = strspn(frac, "0123456789");

	u = find_unit(frac + digits, 0);
	if (digits > 0 && digits <= 6 && u != NULL && n <= UINT32_MAX) {
		f = strtoull(frac, &end, 10);
		while (digits-- > 0)
			scale *= 10;
		if (f * u->ms % scale == 0 && n * u->ms + f * u->ms / scale <= UINT32_MAX) {
			fmt_duration((uint32_t)(n * u->ms + f * u->ms / scale), buf, sizeof(buf));
			snprintf(
			    why, len, "has a fraction: fractions are not supported, use %s", buf);
			return;
		}
	}
	snprintf(why, len, "has a fraction: fractions are not supported (use ms, s, m or h)");
}

/* Why the unit after the number is wrong, with the right spelling if we can tell. */
static void why_unit(unsigned long long n, const char *end, char *why, size_t len)
{
	const char *u = end + strspn(end, " \t");
	const struct unit *k;

	if (*end == '.')
		why_fraction(n, end + 1, why, len);
	else if (u != end && (k = find_unit(u, 0)) != NULL)
		snprintf(why, len, "has a space: no space between number and unit, write %llu%s", n,
		    k->name);
	else if ((k = find_unit(u, 1)) != NULL)
		snprintf(why, len, "has an upper-case unit: write %llu%s", n, k->name);
	else
		snprintf(why, len, "has an unknown unit (use ms, s, m or h)");
}

/* 0, or -1 with why the duration is bad in why. */
static int parse_duration(const char *s, uint32_t *ms, char *why, size_t len)
{
	unsigned long long n;
	const struct unit *u;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return snprintf(
		           why, len, "is not a duration (use a number and a unit: ms, s, m, h)"),
		       -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (*end == '\0')
		return snprintf(why, len, "needs a unit (ms, s, m, h)"), -1;
	if ((u = find_unit(end, 0)) == NULL)
		return why_unit(n, end, why, len), -1;
	if (errno == ERANGE || n > UINT32_MAX / u->ms)
		return snprintf(why, len, "is too large"), -1;
	*ms = (uint32_t)n * u->ms;
	return 0;
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

/* A fraction written 0..1 with at most six decimals ("0.75"), kept as parts per million. */
static int set_share(
    struct wsd_config *cfg, const struct key *k, const char *v, char *err, size_t errlen)
{
	uint32_t ppm;

	if (pool_parse_share(v, &ppm) == -1)
		return fail(err, errlen, "%s.%s: '%s' is not a fraction from 0 to 1 (like 0.75)",
		    k->section, k->name, v);
	*(uint32_t *)field(cfg, k) = ppm;
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
	char lo[16], hi[16], why[96];
	uint32_t ms;

	if (parse_duration(v, &ms, why, sizeof(why)) == -1)
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

/* "off", "stderr" (the stream, as for log.file) or a path. */
static int set_accesslog(
    struct wsd_config *cfg, const struct key *k, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "off") == 0 || strcmp(v, "stderr") == 0) {
		*(char *)field(cfg, k) = '\0';
		cfg->access_log_on = strcmp(v, "stderr") == 0;
		return 0;
	}
	if (set_path(cfg, k, v, err, errlen) == -1)
		return -1;
	cfg->access_log_on = 1;
	return 0;
}

/* "off", or a path that fits sun_path. */
static int set_ctlsocket(
    struct wsd_config *cfg, const struct key *k, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "off") == 0) {
		*(char *)field(cfg, k) = '\0';
		cfg->control_off = 1;
		return 0;
	}
	if (set_path(cfg, k, v, err, errlen) == -1)
		return -1;
	cfg->control_off = 0;
	return 0;
}

/* An octal file mode: "0660", "660". */
static int set_mode(
    struct wsd_config *cfg, const struct key *k, const char *v, char *err, size_t errlen)
{
	unsigned long m;
	char *end;

	errno = 0;
	m = strtoul(v, &end, 8);
	if (*v < '0' || *v > '7' || *end != '\0' || errno != 0 || m > k->max)
		return fail(err, errlen, "%s.%s: '%s' is not an octal mode (0000..0777)",
		    k->section, k->name, v);
	*(uint32_t *)field(cfg, k) = (uint32_t)m;
	return 0;
}

/* Addresses and networks (proxyproto.h); kept as written, "" for off. */
static int set_proxy_from(
    struct wsd_config *cfg, const struct key *k, const char *v, char *err, size_t errlen)
{
	struct msg_cidr nets[MSG_PROXY_FROM_MAX];
	char why[160];

	if (proxy_from_parse(v, nets, MSG_PROXY_FROM_MAX, why, sizeof(why)) == -1)
		return fail(err, errlen, "%s.%s: %s", k->section, k->name, why);
	if (strlen(v) >= k->size)
		return fail(err, errlen, "%s.%s: value is too long (max %zu bytes)", k->section,
		    k->name, k->size - 1);
	snprintf(field(cfg, k), k->size, "%s", strcmp(v, "off") == 0 ? "" : v);
	return 0;
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

static int listen_port(const struct key *k, const char *v, uint16_t *port, char *err, size_t errlen)
{
	uint32_t n = 0;
	int r;

	r = parse_u32(v, &n);
	if (r == -1)
		return fail(
		    err, errlen, "%s.%s: port '%s' is not a number", k->section, k->name, v);
	if (r == -2 || n > 65535)
		return fail(err, errlen, "%s.%s: port %s is out of range (0..65535)", k->section,
		    k->name, v);
	*port = (uint16_t)n;
	return 0;
}

/* Split "[v6]:PORT" or "HOST:PORT"; host is checked by the caller. */
static int listen_split(const struct key *k, const char *v, char *host, size_t hostlen,
    const char **port, char *err, size_t errlen)
{
	const char *h = v, *e;

	if (*v == '[') {
		h = v + 1;
		if ((e = strchr(h, ']')) == NULL || e[1] != ':')
			return fail(err, errlen, "%s.%s: '%s': expected [IPV6]:PORT", k->section,
			    k->name, v);
		*port = e + 2;
	} else {
		if ((e = strrchr(v, ':')) == NULL)
			return fail(err, errlen, "%s.%s: '%s': expected HOST:PORT, [IPV6]:PORT%s",
			    k->section, k->name, v, k->set == set_listen ? " or PORT" : " or off");
		if (memchr(v, ':', (size_t)(e - v)) != NULL)
			return fail(err, errlen,
			    "%s.%s: '%s': an IPv6 address needs brackets, as in [::1]:8080",
			    k->section, k->name, v);
		*port = e + 1;
	}
	if ((size_t)(e - h) >= hostlen)
		return fail(err, errlen, "%s.%s: address is too long", k->section, k->name);
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

/* HOST:PORT or [V6]:PORT into host (256 bytes) and *port. */
static int parse_addr(
    const struct key *k, const char *v, char *host, uint16_t *port, char *err, size_t errlen)
{
	char h[256];
	const char *p = NULL;

	if (listen_split(k, v, h, sizeof(h), &p, err, errlen) == -1)
		return -1;
	if (!listen_host_ok(h, v[0] == '['))
		return fail(err, errlen,
		    "%s.%s: '%s' is not a numeric IPv4 address, [IPv6] address or localhost",
		    k->section, k->name, h);
	if (listen_port(k, p, port, err, errlen) == -1)
		return -1;
	memcpy(host, h, strlen(h) + 1);
	return 0;
}

/* A bare PORT keeps the current host, so "-p" can override just the port. */
static int set_listen(
    struct wsd_config *cfg, const struct key *k, const char *v, char *err, size_t errlen)
{
	if (isdigit((unsigned char)v[0]) && strchr(v, ':') == NULL &&
	    strspn(v, "0123456789") == strlen(v))
		return listen_port(k, v, &cfg->listen_port, err, errlen);
	return parse_addr(k, v, cfg->listen_host, &cfg->listen_port, err, errlen);
}

/* "off" (the default), or HOST:PORT: where the daemon serves /metrics, /healthz, /readyz. */
static int set_metrics(
    struct wsd_config *cfg, const struct key *k, const char *v, char *err, size_t errlen)
{
	_Static_assert(sizeof(cfg->metrics_host) == 256, "parse_addr writes 256 bytes at most");

	if (strcmp(v, "off") == 0) {
		cfg->metrics_on = 0;
		cfg->metrics_host[0] = '\0';
		cfg->metrics_port = 0;
		return 0;
	}
	if (parse_addr(k, v, cfg->metrics_host, &cfg->metrics_port, err, errlen) == -1)
		return -1;
	cfg->metrics_on = 1;
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

/* The row of section.key, or -1 with why in err. */
static int find_key(const char *section, const char *key, char *err, size_t errlen)
{
	size_t i;

	if (*section == '\0')
		return fail(err, errlen, "key '%s' is not in any section", key);
	if (!section_known(section))
		return fail(err, errlen, "unknown section [%s]", section);
	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, key) == 0)
			return (int)i;
	return fail(err, errlen, "unknown key '%s' in [%s]", key, section);
}

/* Set a key; its row, or -1. */
static int set_key(struct wsd_config *cfg, const char *section, const char *key, const char *value,
    char *err, size_t errlen)
{
	int i = find_key(section, key, err, errlen);

	if (i == -1 || keys[i].set(cfg, &keys[i], value, err, errlen) == -1)
		return -1;
	return i;
}

int config_set(struct wsd_config *cfg, const char *section, const char *key, const char *value,
    char *err, size_t errlen)
{
	return set_key(cfg, section, key, value, err, errlen) == -1 ? -1 : 0;
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
	cfg->pool_idle_timeout_ms = 10 * MS_SEC;
	cfg->pool_scale_up_ppm = 750000;
	cfg->pool_scale_down_ppm = 250000;
	cfg->pool_spawn_rate_max = 8;
	cfg->pool_max_requests = 0;
	cfg->keepalive_timeout_ms = 15 * MS_SEC;
	cfg->header_timeout_ms = 10 * MS_SEC;
	cfg->park_after_ms = MS_SEC;
	cfg->park_max = 0; /* the listener's soft fd limit - 256 */
	cfg->open_file_cache_valid_ms = MS_SEC;
	cfg->open_file_cache_max = 1024;
	cfg->heartbeat_interval_ms = 200;
	cfg->control_mode = 0660;
	cfg->control_gid = cfg->control_ro_gid = (gid_t)-1;
	cfg->heartbeat_misses = 3;
	cfg->startup_timeout_ms = 10 * MS_SEC;
	cfg->log_level = LOG_LVL_INFO;
}

/* ---- where a key was set ---- */

/* "FILE:LINE" or "-w" into buf; 1 when the key was set, 0 for its default. */
static int origin_of(const struct wsd_config *cfg, int i, char *buf, size_t len)
{
	const struct config_origin *o = &cfg->origin[i];

	buf[0] = '\0';
	if (o->line > 0)
		snprintf(buf, len, "%s:%d", cfg->file, o->line);
	else if (o->flag != '\0')
		snprintf(buf, len, "-%c", o->flag);
	return buf[0] != '\0';
}

/* "FILE:LINE: section.key", "-w: section.key" or "section.key". */
static const char *where(const struct wsd_config *cfg, int i, char *buf, size_t len)
{
	char at[PATH_MAX + 16];

	if (origin_of(cfg, i, at, sizeof(at)))
		snprintf(buf, len, "%s: %s.%s", at, keys[i].section, keys[i].name);
	else
		snprintf(buf, len, "%s.%s", keys[i].section, keys[i].name);
	return buf;
}

static int row(const char *section, const char *key) { return find_key(section, key, NULL, 0); }

int config_where(
    const struct wsd_config *cfg, const char *section, const char *key, char *buf, size_t len)
{
	char at[PATH_MAX + 16];
	int i = row(section, key);

	if (i == -1)
		return -1;
	where(cfg, i, buf, len);
	return origin_of(cfg, i, at, sizeof(at));
}

/* ---- a list of errors, one line each, in the caller's buffer ---- */

#define ERRS_TAIL 48 /* kept free for "(N more errors not shown)" */

struct errs {
	char *buf;
	size_t size, used;
	int count, dropped;
};

static struct errs errs_init(char *buf, size_t size)
{
	if (buf != NULL && size > 0)
		buf[0] = '\0';
	return (struct errs){buf, buf != NULL ? size : 0, 0, 0, 0};
}

static void errs_add(struct errs *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void errs_add(struct errs *e, const char *fmt, ...)
{
	char line[CONFIG_ERRLEN + PATH_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	e->count++;
	if (n < 0 || (size_t)n >= sizeof(line))
		n = n < 0 ? 0 : (int)sizeof(line) - 1;
	if (e->used + (size_t)n + 1 + ERRS_TAIL > e->size) {
		e->dropped++;
		return;
	}
	memcpy(e->buf + e->used, line, (size_t)n);
	e->used += (size_t)n;
	e->buf[e->used++] = '\n';
	e->buf[e->used] = '\0';
}

/* The count, after noting the lines that did not fit. */
static int errs_end(struct errs *e)
{
	if (e->dropped > 0 && e->size >= e->used + ERRS_TAIL)
		snprintf(e->buf + e->used, e->size - e->used, "(%d more errors not shown)\n",
		    e->dropped);
	return e->count;
}

/* ---- loading a file ---- */

/*
 * State shared by the line reader and the key handler during a load.
 * The reader looks at each line before inih does, to report what inih
 * would get wrong or only count: an indented line after a key (inih takes
 * it as a continuation of that key's value, even after blank lines), a
 * broken section header or a line that is not "key = value" (inih only
 * returns the first such line). Lines it reports reach inih blanked.
 */
struct load {
	struct wsd_config *cfg;
	FILE *fp;
	const char *path;
	struct errs *errs;
	int line;         /* line last handed to inih */
	int readerr;      /* errno of a failed read */
	int skip;         /* in an unknown or broken [section]: its keys are not reported */
	char section[64]; /* the current section, as we read it */
	char prev[64];    /* inih's "previous key": an indented line would continue it */
	int prevline;
};

static void load_error(struct load *ld, const char *msg)
{
	errs_add(ld->errs, "%s:%d: %s", ld->path, ld->line, msg);
}

/*
 * The first of chars in s, as inih finds it: a ';' after a blank starts a
 * comment, which ends the search. Points at the character found, or at the
 * comment or the end when there is none.
 */
static const char *delim(const char *s, const char *chars)
{
	const char *p;

	for (p = s; *p != '\0' && strchr(chars, *p) == NULL; p++)
		if (*p == ';' && p > s && isspace((unsigned char)p[-1]))
			break;
	return p;
}

/* A "[section]" line; -1 when inih must not see it. */
static int load_section(struct load *ld, const char *s)
{
	size_t n = (size_t)(delim(s + 1, "]") - (s + 1));
	char msg[160];

	ld->prev[0] = '\0';
	ld->skip = 1;
	if (s[1 + n] != ']')
		return load_error(ld, "syntax error: a section header needs a closing ']'"), -1;
	snprintf(ld->section, sizeof(ld->section), "%.*s", (int)n, s + 1);
	if (n < sizeof(ld->section) && section_known(ld->section)) {
		ld->skip = 0;
		return 0;
	}
	snprintf(msg, sizeof(msg), "unknown section [%.*s]", n > 64 ? 64 : (int)n, s + 1);
	load_error(ld, msg);
	return 0;
}

static int load_indented(struct load *ld)
{
	char msg[256];

	snprintf(msg, sizeof(msg),
	    "this line is indented, so it would continue the value of %s%s%s "
	    "(line %d): multi-line values are not supported, remove the indentation",
	    ld->section, ld->section[0] ? "." : "", ld->prev, ld->prevline);
	load_error(ld, msg);
	return -1;
}

/* Look at one line before inih does; -1 when it was reported and inih must not see it. */
static int load_line(struct load *ld, const char *buf)
{
	const char *p = buf, *s, *e;
	size_t n;

	if (ld->line == 1 && strncmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	s = p + strspn(p, " \t\r\n\v\f");
	if (*s == '\0' || *s == ';' || *s == '#')
		return 0;
	if (s > p && ld->prev[0] != '\0')
		return load_indented(ld);
	if (*s == '[')
		return load_section(ld, s);
	if (*(e = delim(s, "=:")) != '=' && *e != ':')
		return load_error(ld, "syntax error: expected key = value"), -1;
	for (n = (size_t)(e - s); n > 0 && isspace((unsigned char)s[n - 1]); n--)
		;
	snprintf(ld->prev, sizeof(ld->prev), "%.*s", (int)n, s);
	ld->prevline = ld->line;
	return 0;
}

/* Read on past the end of an over-long line. */
static void load_skip_rest(struct load *ld, char *buf, int size)
{
	size_t len;

	do {
		if (fgets(buf, size, ld->fp) == NULL)
			return;
		len = strlen(buf);
	} while (len > 0 && buf[len - 1] != '\n');
}

/*
 * fgets() for inih, which counts one line per call. Refusing over-long
 * lines keeps that count true (inih would split them) and stops a
 * truncated path from being taken silently.
 */
static char *load_read(char *buf, int size, void *arg)
{
	struct load *ld = arg;
	char msg[64];
	size_t len;

	if (fgets(buf, size, ld->fp) == NULL) {
		if (ferror(ld->fp))
			ld->readerr = errno != 0 ? errno : EIO;
		return NULL;
	}
	ld->line++;
	len = strlen(buf);
	if ((len == 0 || buf[len - 1] != '\n') && !feof(ld->fp)) {
		snprintf(msg, sizeof(msg), "line is longer than %d characters", size - 3);
		load_error(ld, msg);
		load_skip_rest(ld, buf, size);
		strcpy(buf, "\n");
	} else if (load_line(ld, buf) == -1) {
		strcpy(buf, "\n");
	}
	return buf;
}

/* Always 1: errors are collected, never a reason for inih to note a line. */
static int load_key(void *arg, const char *section, const char *name, const char *value)
{
	struct load *ld = arg;
	char msg[CONFIG_ERRLEN];
	int i;

	if (name == NULL || ld->skip)
		return 1; /* a section header, or a key of one reported already */
	if ((i = set_key(ld->cfg, section, name, value, msg, sizeof(msg))) == -1)
		load_error(ld, msg);
	else
		ld->cfg->origin[i] = (struct config_origin){ld->line, 0};
	return 1;
}

/* Parsed into a copy: a bad file leaves the caller's config untouched. */
/* The file's keys into cfg, bad lines skipped, every error into e; -1 when it cannot be read. */
static int load_into(struct wsd_config *cfg, const char *path, struct errs *e)
{
	struct load ld = {.cfg = cfg, .path = path, .errs = e};
	int rc;

	if ((ld.fp = fopen(path, "r")) == NULL)
		return errs_add(e, "%s: cannot open: %s", path, strerror(errno)), -1;
	if (strlen(path) >= sizeof(cfg->file))
		errs_add(e, "%s: the file name is too long", path);
	else
		memcpy(cfg->file, path, strlen(path) + 1);
	errno = 0;
	rc = ini_parse_stream(load_read, &ld, load_key, &ld);
	fclose(ld.fp);
	if (ld.readerr != 0)
		errs_add(e, "%s: cannot read: %s", path, strerror(ld.readerr));
	else if (rc > 0) /* a syntax error that load_line() did not foresee */
		errs_add(e, "%s:%d: syntax error", path, rc);
	else if (rc < 0)
		errs_add(e, "%s: cannot parse (out of memory)", path);
	return ld.readerr != 0 || rc < 0 ? -1 : 0;
}

int config_load(struct wsd_config *cfg, const char *path, char *err, size_t errlen)
{
	struct wsd_config tmp = *cfg;
	struct errs e = errs_init(err, errlen);

	load_into(&tmp, path, &e);
	if (e.count > 0)
		return errs_end(&e);
	*cfg = tmp;
	return 0;
}

/* ---- command-line flags ---- */

static int flag_pool(struct wsd_config *cfg, const char *v, char *err, size_t errlen)
{
	if (config_parse_pool(v, &cfg->pool_min, &cfg->pool_max) == -1)
		return fail(
		    err, errlen, "-w %s: expected MIN:MAX, each 1..%d", v, CONFIG_POOL_LIMIT_MAX);
	cfg->origin[row("pool", "min")] = (struct config_origin){0, 'w'};
	cfg->origin[row("pool", "max")] = (struct config_origin){0, 'w'};
	return 0;
}

int config_flag(struct wsd_config *cfg, char flag, const char *value, char *err, size_t errlen)
{
	char msg[CONFIG_ERRLEN];
	const char *key;
	int i;

	if (flag == 'w')
		return flag_pool(cfg, value, err, errlen);
	if (flag != 'p' && flag != 'r')
		return fail(err, errlen, "-%c: not a configuration flag", flag);
	key = flag == 'p' ? "listen" : "root";
	if ((i = set_key(cfg, "server", key, value, msg, sizeof(msg))) == -1)
		return fail(err, errlen, "-%c %s: %s", flag, value, msg);
	cfg->origin[i] = (struct config_origin){0, flag};
	return 0;
}

/* ---- checks after parsing ---- */

/*
 * "LOC: A: va REL B (vb, from LOC2)": the line starts where the key was set
 * (a, unless only b was: then the other way round, with the inverse
 * relation), and the other key says where it is from.
 */
static void pair_error(struct errs *e, const struct wsd_config *cfg, int a, const char *va, int b,
    const char *vb, const char *const rel[2], const char *tail)
{
	char la[PATH_MAX + 16], lb[PATH_MAX + 16];
	int sa = origin_of(cfg, a, la, sizeof(la)), sb = origin_of(cfg, b, lb, sizeof(lb));

	if (!sa && sb) {
		errs_add(e, "%s: %s.%s: %s %s %s.%s (%s, the default)%s", lb, keys[b].section,
		    keys[b].name, vb, rel[1], keys[a].section, keys[a].name, va, tail);
		return;
	}
	errs_add(e, "%s%s%s.%s: %s %s %s.%s (%s%s%s)%s", la, sa ? ": " : "", keys[a].section,
	    keys[a].name, va, rel[0], keys[b].section, keys[b].name, vb,
	    sb ? ", from " : ", the default", lb, tail);
}

/* The gap between the thresholds is what keeps the pool from flapping. */
static void finish_shares(const struct wsd_config *cfg, struct errs *e)
{
	static const char *const notbelow[2] = {"is not below", "is not above"};
	char a[16], b[16];

	if (cfg->pool_scale_down_ppm < cfg->pool_scale_up_ppm)
		return;
	fmt_share(cfg->pool_scale_down_ppm, a, sizeof(a));
	fmt_share(cfg->pool_scale_up_ppm, b, sizeof(b));
	pair_error(
	    e, cfg, row("pool", "scale_down_at"), a, row("pool", "scale_up_at"), b, notbelow, "");
}

static void finish_pool(const struct wsd_config *cfg, struct errs *e)
{
	static const char *const greater[2] = {"is greater than", "is less than"};
	char a[16], b[16];

	snprintf(a, sizeof(a), "%u", cfg->pool_min);
	snprintf(b, sizeof(b), "%u", cfg->pool_max);
	if (cfg->pool_min > cfg->pool_max)
		pair_error(e, cfg, row("pool", "min"), a, row("pool", "max"), b, greater, "");
	snprintf(a, sizeof(a), "%u", cfg->pool_limit);
	if (cfg->pool_max > cfg->pool_limit)
		pair_error(e, cfg, row("pool", "max"), b, row("pool", "limit"), a, greater, "");
	finish_shares(cfg, e);
}

static void finish_heartbeat(const struct wsd_config *cfg, struct errs *e)
{
	static const char *const times[2] = {"x", "x"};
	uint64_t deadline;
	char a[16], b[16];

	deadline = (uint64_t)cfg->heartbeat_interval_ms * cfg->heartbeat_misses;
	if (deadline <= HEARTBEAT_DEADLINE_MS)
		return;
	fmt_duration(cfg->heartbeat_interval_ms, a, sizeof(a));
	snprintf(b, sizeof(b), "%u", cfg->heartbeat_misses);
	pair_error(e, cfg, row("heartbeat", "interval"), a, row("heartbeat", "misses"), b, times,
	    " is more than 60s");
}

/* The metrics endpoint cannot share the server's address (port 0 picks two free ones). */
static void finish_metrics(const struct wsd_config *cfg, struct errs *e)
{
	char at[PATH_MAX + 32], v[300];

	if (!cfg->metrics_on || cfg->metrics_port == 0 || cfg->metrics_port != cfg->listen_port ||
	    strcmp(cfg->metrics_host, cfg->listen_host) != 0)
		return;
	where(cfg, row("metrics", "listen"), at, sizeof(at));
	value_of(cfg, &keys[row("metrics", "listen")], v, sizeof(v));
	errs_add(e, "%s: %s is server.listen's address too", at, v);
}

/* Started as root the children switch to this user: it must exist. */
static void finish_user(const struct wsd_config *cfg, struct errs *e)
{
	char at[PATH_MAX + 32];

	if (geteuid() != 0 || getpwnam(cfg->user[0] ? cfg->user : "nobody") != NULL)
		return;
	where(cfg, row("server", "user"), at, sizeof(at));
	if (cfg->user[0])
		errs_add(e, "%s: no such user '%s'", at, cfg->user);
	else
		errs_add(e, "%s: no such user 'nobody' (the default when started as root)", at);
}

/* A group named by the file, resolved now: never an NSS lookup on the daemon's loop. */
static void finish_group(
    struct wsd_config *cfg, const char *key, const char *name, gid_t *gid, struct errs *e)
{
	char at[PATH_MAX + 32];
	struct group *gr;

	*gid = (gid_t)-1;
	if (name[0] == '\0')
		return;
	if ((gr = getgrnam(name)) != NULL) {
		*gid = gr->gr_gid;
		return;
	}
	where(cfg, row("control", key), at, sizeof(at));
	errs_add(e, "%s: no such group '%s'", at, name);
}

static void finish_root(struct wsd_config *cfg, struct errs *e)
{
	char abs[PATH_MAX], at[PATH_MAX + 32];
	struct stat st;

	where(cfg, row("server", "root"), at, sizeof(at));
	if (realpath(cfg->root, abs) == NULL)
		errs_add(e, "%s: %s: %s", at, cfg->root, strerror(errno));
	else if (stat(abs, &st) == -1)
		errs_add(e, "%s: %s: %s", at, abs, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		errs_add(e, "%s: %s: %s", at, abs, strerror(ENOTDIR));
	else
		memcpy(cfg->root, abs, strlen(abs) + 1);
}

/*
 * Relative paths mean "relative to where wsd was started"; fix that now,
 * before the daemon changes directory. The file need not exist yet.
 */
static void finish_path(struct wsd_config *cfg, const char *section, const char *key, char *path,
    size_t size, struct errs *e)
{
	char cwd[PATH_MAX], abs[PATH_MAX], at[PATH_MAX + 32];
	int n;

	if (path[0] == '\0' || path[0] == '/')
		return;
	where(cfg, row(section, key), at, sizeof(at));
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		errs_add(e, "%s: %s: cannot make absolute: %s", at, path, strerror(errno));
		return;
	}
	n = snprintf(abs, sizeof(abs), "%s/%s", cwd, path);
	if (n < 0 || (size_t)n >= size) {
		errs_add(e, "%s: %s/%s: path is too long (max %zu bytes)", at, cwd, path, size - 1);
		return;
	}
	memcpy(path, abs, (size_t)n + 1);
}

static void finish_into(struct wsd_config *tmp, struct errs *e)
{
	finish_pool(tmp, e);
	finish_heartbeat(tmp, e);
	finish_metrics(tmp, e);
	finish_user(tmp, e);
	finish_root(tmp, e);
	finish_path(tmp, "log", "file", tmp->log_file, sizeof(tmp->log_file), e);
	finish_path(tmp, "log", "access_log", tmp->access_log, sizeof(tmp->access_log), e);
	finish_path(tmp, "control", "socket", tmp->control_socket, sizeof(tmp->control_socket), e);
	finish_group(tmp, "group", tmp->control_group, &tmp->control_gid, e);
	finish_group(tmp, "readonly_group", tmp->control_readonly_group, &tmp->control_ro_gid, e);
}

int config_finish(struct wsd_config *cfg, char *err, size_t errlen)
{
	struct wsd_config tmp = *cfg;
	struct errs e = errs_init(err, errlen);

	finish_into(&tmp, &e);
	if (e.count > 0)
		return errs_end(&e);
	*cfg = tmp;
	return 0;
}

int config_read(struct wsd_config *cfg, const struct config_source *src, char *err, size_t errlen)
{
	static const char flags[] = "prw";
	struct errs e = errs_init(err, errlen);
	char one[CONFIG_ERRLEN];
	struct wsd_config tmp;

	/*
	 * Every error at once: the file's lines (bad ones skipped), the
	 * flags, then the checks across keys on what is left, so that one
	 * try shows all there is to mend.
	 */
	config_defaults(&tmp);
	if (src->file && load_into(&tmp, src->file, &e) == -1)
		return errs_end(&e); /* nothing read: the checks would only mislead */
	for (int i = 0; i < 3; i++)
		if (src->value[i] &&
		    config_flag(&tmp, flags[i], src->value[i], one, sizeof(one)) == -1)
			errs_add(&e, "%s", one);
	finish_into(&tmp, &e);
	if (e.count > 0)
		return errs_end(&e);
	*cfg = tmp;
	return 0;
}

int config_parse_duration(const char *s, uint32_t *ms)
{
	char why[96];

	return parse_duration(s, ms, why, sizeof(why));
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

/* ---- reload: what changed ---- */

static const void *cfield(const struct wsd_config *cfg, const struct key *k)
{
	return (const char *)cfg + k->off;
}

/* Parts per million as the shortest decimal fraction: 750000 -> "0.75". */
static void fmt_share(uint32_t ppm, char *buf, size_t len)
{
	char d[8];
	int n = snprintf(d, sizeof(d), "%06u", ppm % 1000000);

	while (n > 1 && d[n - 1] == '0')
		d[--n] = '\0';
	if (ppm >= 1000000)
		snprintf(buf, len, "1");
	else if (ppm == 0)
		snprintf(buf, len, "0");
	else
		snprintf(buf, len, "0.%s", d);
}

static void value_of(const struct wsd_config *cfg, const struct key *k, char *buf, size_t len)
{
	const char *s = cfield(cfg, k);

	if (k->set == set_listen)
		snprintf(buf, len, strchr(cfg->listen_host, ':') ? "[%s]:%u" : "%s:%u",
		    cfg->listen_host, cfg->listen_port);
	else if (k->set == set_metrics)
		snprintf(buf, len,
		    !cfg->metrics_on                   ? "off" :
		        strchr(cfg->metrics_host, ':') ? "[%s]:%u" :
		                                         "%s:%u",
		    cfg->metrics_host, cfg->metrics_port);
	else if (k->set == set_duration)
		fmt_duration(*(const uint32_t *)s, buf, len);
	else if (k->set == set_u32)
		snprintf(buf, len, "%u", *(const uint32_t *)s);
	else if (k->set == set_share)
		fmt_share(*(const uint32_t *)s, buf, len);
	else if (k->set == set_int)
		snprintf(buf, len, "%d", *(const int *)s);
	else if (k->set == set_level)
		snprintf(buf, len, "%s", log_level_name(cfg->log_level));
	else if (k->set == set_accesslog)
		snprintf(buf, len, "%s", !cfg->access_log_on ? "off" : *s ? s : "stderr");
	else if (k->set == set_ctlsocket)
		snprintf(buf, len, "%s", cfg->control_off ? "off" : *s ? s : "(default)");
	else if (k->set == set_mode)
		snprintf(buf, len, "%04o", *(const uint32_t *)s);
	else if (k->set == set_logfile)
		snprintf(buf, len, "%s", *s ? s : "stderr");
	else if (k->set == set_proxy_from)
		snprintf(buf, len, "%s", *s ? s : "off");
	else
		snprintf(buf, len, "%s", *s ? s : "(default)");
}

int config_value(
    const struct wsd_config *cfg, const char *section, const char *key, char *buf, size_t len)
{
	int i = row(section, key);

	if (i == -1)
		return -1;
	value_of(cfg, &keys[i], buf, len);
	return 0;
}

int config_diff(
    const struct wsd_config *a, const struct wsd_config *b, struct config_change *out, int max)
{
	/* Compared whole: a path may be longer than what a change shows of it. */
	char va[PATH_MAX + 300], vb[PATH_MAX + 300];
	int n = 0;

	for (size_t i = 0; i < NKEYS; i++) {
		value_of(a, &keys[i], va, sizeof(va));
		value_of(b, &keys[i], vb, sizeof(vb));
		if (strcmp(va, vb) == 0)
			continue;
		if (n < max) {
			snprintf(
			    out[n].key, sizeof(out[n].key), "%s.%s", keys[i].section, keys[i].name);
			/* Shown cut to what a change holds. */
			snprintf(out[n].from, sizeof(out[n].from), "%.*s", CONFIG_VALUELEN - 1, va);
			snprintf(out[n].to, sizeof(out[n].to), "%.*s", CONFIG_VALUELEN - 1, vb);
			out[n].apply = keys[i].apply;
		}
		n++;
	}
	return n;
}
