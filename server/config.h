/* Configuration: defaults, the INI file (inih), command-line overrides. */
#ifndef WSD_CONFIG_H
#define WSD_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"

#define CONFIG_ERRLEN 512          /* one error message */
#define CONFIG_ERRLIST 4096        /* a buffer for a whole list of them */
#define CONFIG_POOL_LIMIT_MAX 4096 /* upper bound of pool.limit */
#define CONFIG_MAXKEYS 40          /* room for the key table's rows */

/* Where a key's value came from; both 0 = the default. */
struct config_origin {
	int line;  /* > 0: this line of wsd_config.file */
	char flag; /* or this command-line flag ('p', 'r', 'w') */
};

struct wsd_config {
	/* [server] */
	char listen_host[256]; /* numeric IPv4/IPv6 address or "localhost" */
	uint16_t listen_port;  /* 0 = ephemeral (tests) */
	char root[PATH_MAX];   /* document root, absolute after config_finish() */
	char user[64];         /* empty = unchanged (or "nobody" when root) */
	int backlog;
	uint32_t shutdown_timeout_ms;
	uint32_t drain_delay_ms; /* a stop first keeps serving this long, /readyz 503 */
	char proxy_from[512];    /* addresses/networks that send a PROXY v2 header; "" = off */
	/* [pool] */
	uint32_t pool_min, pool_max, pool_limit, max_workload;
	uint32_t pool_idle_timeout_ms; /* quiet this long before the pool shrinks */
	uint32_t pool_scale_up_ppm, pool_scale_down_ppm; /* busy shares, parts per million */
	uint32_t pool_spawn_rate_max;                    /* workers started in one tick at most */
	uint32_t pool_max_requests; /* recycle a worker after about this many; 0 = never */
	/* [http] */
	uint32_t keepalive_timeout_ms, header_timeout_ms;
	uint32_t park_after_ms; /* idle this long: hand to the listener; 0 = never */
	uint32_t park_max;      /* parked connections the listener holds; 0 = fd limit - 256 */
	/* a cached file is checked again after valid_ms; max: entries per worker; 0 = off */
	uint32_t open_file_cache_valid_ms, open_file_cache_max;
	/* [heartbeat] */
	uint32_t heartbeat_interval_ms, heartbeat_misses;
	uint32_t startup_timeout_ms; /* fork to first heartbeat */
	/* [log] */
	enum log_level log_level;
	char log_file[PATH_MAX];   /* empty = stderr */
	char access_log[PATH_MAX]; /* empty = stderr, when access_log_on */
	int access_log_on;
	/* [metrics] */
	int metrics_on;         /* listen = off (the default): no endpoint */
	char metrics_host[256]; /* numeric address or "localhost" */
	uint16_t metrics_port;  /* 0 = ephemeral (tests: the daemon logs the port) */
	/* [control] */
	char control_socket[108];          /* sun_path size; empty = the default rule */
	int control_off;                   /* control.socket = off */
	uint32_t control_mode;             /* of the socket, 0660 by default */
	char control_group[64];            /* full access (and the socket's group); empty = none */
	char control_readonly_group[64];   /* read-only methods; empty = none */
	gid_t control_gid, control_ro_gid; /* resolved by config_finish(); (gid_t)-1 = none */
	/* Where each key was set, by row of the key table (for messages). */
	char file[PATH_MAX]; /* the file loaded last, empty = none */
	struct config_origin origin[CONFIG_MAXKEYS];
};

/* How a changed key takes effect on reload. */
enum config_apply {
	CONFIG_LIVE,    /* the running processes take it */
	CONFIG_ROLES,   /* the roles that use it are replaced, gracefully */
	CONFIG_RESTART, /* only a restart of wsd changes it: reload leaves it */
};

#define CONFIG_VALUELEN 160

struct config_change {
	char key[40]; /* "pool.max" */
	char from[CONFIG_VALUELEN], to[CONFIG_VALUELEN];
	enum config_apply apply;
};

/*
 * The keys whose values differ from a to b, in key table order: at most
 * max of them into out. Returns how many differ (which may exceed max).
 */
int config_diff(
    const struct wsd_config *a, const struct wsd_config *b, struct config_change *out, int max);

/* A key's value as the file would spell it ("15s", "off", "[::1]:8080"); -1 unknown key. */
int config_value(
    const struct wsd_config *cfg, const char *section, const char *key, char *buf, size_t len);

/* Fill every key with its documented default. */
void config_defaults(struct wsd_config *cfg);

/*
 * Read an INI file over the current values (load one file onto the
 * defaults: the lines recorded refer to it). Reads the whole file and
 * returns 0, or the number of errors, each written into err as one line
 * "FILE:LINE: section.key: reason" (or "FILE: reason") ending in '\n';
 * lines that do not fit are counted in a last "(N more errors not shown)".
 * On any error cfg is left untouched.
 */
int config_load(struct wsd_config *cfg, const char *path, char *err, size_t errlen);

/* One key by section/name/value, as the file would set it; one message in err. */
int config_set(struct wsd_config *cfg, const char *section, const char *key, const char *value,
    char *err, size_t errlen);

/*
 * A command-line flag (-p PORT, -r ROOT, -w MIN:MAX), checked as the same
 * key in the file and remembered as set by it. 0, or -1 with one message
 * "-p 70000: server.listen: ..." in err.
 */
int config_flag(struct wsd_config *cfg, char flag, const char *value, char *err, size_t errlen);

/*
 * Cross-key checks (min <= max <= limit, heartbeat bounds), the root
 * (exists, made absolute), the user (exists, when started as root), paths
 * made absolute. Returns 0, or the number of errors written into err as
 * config_load() does, each naming where its key was set; cfg is left
 * untouched on any error.
 */
int config_finish(struct wsd_config *cfg, char *err, size_t errlen);

/*
 * "FILE:LINE: section.key", "-p: section.key" or, for a default,
 * "section.key" into buf. Returns 1 when the key was set (by the file or
 * a flag), 0 when it has its default, -1 for an unknown key.
 */
int config_where(
    const struct wsd_config *cfg, const char *section, const char *key, char *buf, size_t len);

/* Where a configuration comes from: the file and the command-line flags. */
struct config_source {
	const char *file;     /* NULL: the defaults only */
	const char *value[3]; /* -p, -r, -w, in this order; NULL: not given */
};

/*
 * The whole configuration from src: the defaults, the file, the flags
 * (each checked as the same key in the file), then config_finish(). The
 * daemon calls it again on reload with the same src. 0, or the number of
 * errors, each a line of err; cfg is only written on success.
 */
int config_read(struct wsd_config *cfg, const struct config_source *src, char *err, size_t errlen);

/* "200ms", "15s", "2m", "1h" -> milliseconds. A bare number is an error. */
int config_parse_duration(const char *s, uint32_t *ms);

/* "MIN:MAX" (the -w flag). */
int config_parse_pool(const char *s, uint32_t *min, uint32_t *max);

#endif
