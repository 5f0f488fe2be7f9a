/* Configuration: defaults, the INI file (inih), command-line overrides. */
#ifndef WSD_CONFIG_H
#define WSD_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define CONFIG_ERRLEN 512
#define CONFIG_POOL_LIMIT_MAX 4096 /* upper bound of pool.limit */

struct wsd_config {
	/* [server] */
	char listen_host[256]; /* numeric IPv4/IPv6 address or "localhost" */
	uint16_t listen_port;  /* 0 = ephemeral (tests) */
	char root[PATH_MAX];   /* document root, absolute after config_finish() */
	char user[64];         /* empty = unchanged (or "nobody" when root) */
	int backlog;
	uint32_t shutdown_timeout_ms;
	/* [pool] */
	uint32_t pool_min, pool_max, pool_limit, max_workload;
	uint32_t pool_idle_timeout_ms; /* a worker above min idle this long retires */
	/* [http] */
	uint32_t keepalive_timeout_ms, header_timeout_ms;
	/* [heartbeat] */
	uint32_t heartbeat_interval_ms, heartbeat_misses;
	uint32_t startup_timeout_ms; /* fork to first heartbeat */
	/* [log] */
	enum log_level log_level;
	char log_file[PATH_MAX];   /* empty = stderr */
	char access_log[PATH_MAX]; /* empty = off */
	/* [control] */
	char control_socket[108]; /* sun_path size */
};

/* Fill every key with its documented default. */
void config_defaults(struct wsd_config *cfg);

/*
 * Read an INI file over the current values. On error returns -1, leaves cfg
 * untouched and writes "FILE:LINE: section.key: reason" (or "FILE: reason")
 * into err.
 */
int config_load(struct wsd_config *cfg, const char *path, char *err, size_t errlen);

/* One key by section/name/value, as the file would set it (used by flags too). */
int config_set(struct wsd_config *cfg, const char *section, const char *key, const char *value,
    char *err, size_t errlen);

/* Cross-key checks (min <= max <= limit, ...) and root made absolute. */
int config_finish(struct wsd_config *cfg, char *err, size_t errlen);

/* "200ms", "15s", "2m", "1h" -> milliseconds. A bare number is an error. */
int config_parse_duration(const char *s, uint32_t *ms);

/* "MIN:MAX" (the -w flag). */
int config_parse_pool(const char *s, uint32_t *min, uint32_t *max);

#endif
