/*
 * JSON views of the daemon's state for the control plane: the status
 * result and one event. Built from plain snapshots the daemon fills from
 * its own tables, so this module knows nothing of processes or channels
 * and the daemon never touches JSON (docs/control-protocol.md has the
 * shapes).
 */
#ifndef WSD_STATUS_H
#define WSD_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "eventlog.h"
#include "msg.h"

/* One process, as status lists it under its role. */
struct status_proc {
	const char *role; /* "listener", "manager", "worker" */
	int pid;          /* 0: stopped, waiting to be restarted */
	const char *state;
	uint64_t uptime_ms, hb_age_ms;
	uint32_t missed, restarts, backoff_ms;
	const char *last_exit; /* NULL or "": none yet */
	int is_worker;         /* then the three figures below are shown */
	uint64_t connections, requests, bytes;
	uint32_t busy_ppm, lag_us; /* the pool policy's view of a worker */
};

struct status_view {
	const char *version;
	int pid;
	uint64_t uptime_ms;
	const char *listen, *root, *config_file; /* config_file NULL or "": none */
	uint32_t config_generation;
	/* The last reload; reload_result NULL before the first. */
	int64_t reload_time_ms;
	const char *reload_result, *reload_message;
	/* Totals since start: they never go backwards. */
	uint64_t accepted, active, requests, bytes, resp_us;
	uint64_t hist[MSG_HIST_BUCKETS];
	/* The pool. */
	uint32_t cfg_min, cfg_max, eff_min, eff_max, limit, current, max_workload;
	uint64_t workload, queue;
	const struct status_proc *procs;
	size_t nprocs;
	const struct elog *events; /* for the pool policy's last decisions; NULL: none */
};

#define STATUS_DECISIONS 5 /* the pool policy's decisions status shows */

/* Is this event one of the pool policy's decisions ("scale up", "scale down", "recycle")? */
int status_is_decision(const struct elog_rec *r);

/* The status result. NULL only when out of memory. */
cJSON *status_json(const struct status_view *v);

/* One event as "events" lists it and "events -f" pushes it. */
cJSON *status_event_json(const struct elog_rec *r);

/* "2026-11-27T09:00:00.000Z" for ms since the epoch (at least 25 bytes). */
void status_time(int64_t ms, char *buf, size_t len);

#endif
