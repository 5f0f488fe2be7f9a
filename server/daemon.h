/*
 * The daemon role: supervise the listener and the manager. daemon_run() is
 * what main() calls; the rest is the narrow API the control plane
 * (server/ctlops.c) drives the daemon through - plain C in and out, no JSON.
 */
#ifndef WSD_DAEMON_H
#define WSD_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "msg.h"
#include "poolreq.h"

struct daemon;
struct elog;
struct status_view;
struct status_proc;

/*
 * Run until stopped; returns the process exit code (0, or 3: cannot
 * start). src (the file and the flags cfg was read from) is kept for reload.
 */
int daemon_run(const struct wsd_config *cfg, const struct config_source *src);

/* Rows daemon_status() may fill: the daemon's children and the workers. */
size_t daemon_status_rows(const struct daemon *d);
/*
 * The status from the daemon's own tables (never by asking a worker):
 * fills v, pointing v->procs at rows (max of them). Strings point into
 * the daemon and are valid until it next runs its loop.
 */
void daemon_status(
    const struct daemon *d, struct status_view *v, struct status_proc *rows, size_t max);

/*
 * The Prometheus exposition of the daemon's tables (GET /metrics and
 * wsctl metrics), malloc'd; NULL when out of memory.
 */
char *daemon_metrics(struct daemon *d, size_t *len);

/* 1 when serving (/readyz 200); else 0 and why ("starting", "stopping", ...). */
int daemon_ready(const struct daemon *d, char *why, size_t len);

/* The event log (wsctl events). */
struct elog *daemon_events(struct daemon *d);

/* 1 once a stop has begun: no new operation is taken. */
int daemon_stopping(const struct daemon *d);

/* Reopen the log files, as SIGUSR1 does; the paths reopened into reopened (NULL-ended). */
void daemon_log_reopen(struct daemon *d, const char *reopened[3]);

/* What a stop did, for its reply. */
struct daemon_stop_report {
	uint64_t ms;
	unsigned n;
	struct {
		const char *role;
		int pid;
		int killed; /* by SIGTERM or SIGKILL after the timeout, or it failed */
	} procs[16];
	uint64_t cut; /* connections closed at a drain deadline */
};
typedef void (*daemon_stop_fn)(void *arg, const struct daemon_stop_report *rep);

/*
 * Stop the whole server gracefully (as SIGTERM), escalating after
 * timeout_ms (0: server.shutdown_timeout); done(arg, report) is called
 * once every child has gone, just before the daemon exits. Joins a stop
 * already under way. -1 when too many wait already.
 */
int daemon_stop_by(
    struct daemon *d, const char *why, uint32_t timeout_ms, daemon_stop_fn done, void *arg);

/* What a restart of a role did, for its reply. */
struct daemon_restart_report {
	const char *role;
	int old_pid, new_pid;
	uint64_t ms;
	int killed;      /* the old one did not finish draining in time */
	int failed;      /* the replacement never got ready: the old one serves on */
	char cause[192]; /* why it failed */
};
typedef void (*daemon_restart_fn)(void *arg, const struct daemon_restart_report *rep);

/*
 * Replace the listener or the manager gracefully: the replacement starts
 * first and takes over at READY; the old one then drains and exits (or is
 * killed at timeout_ms). done is called once, when the old one has gone
 * or the replacement failed. 0, or -1 with the reason in err (no such
 * role running, a restart already in progress).
 */
int daemon_restart_role(struct daemon *d, const char *role, uint32_t timeout_ms,
    daemon_restart_fn done, void *arg, char *err, size_t errlen);

/* ---- the worker pool (daemon_pool.c): requests the manager answers ---- */

/* Called once with the manager's answer, or an error when it exits first. */
typedef void (*daemon_pool_fn)(void *arg, const struct poolreq_result *r);

struct daemon_bounds {
	uint32_t min, max;
};

/*
 * Set the pool bounds in effect (0: keep that one's value), checked
 * against 1 <= min <= max <= pool.limit. The daemon holds them (a manager
 * started later is configured with them) and sends them to the manager
 * now; old and now say what they were and are. 0: done is called when the
 * manager has applied them; 1: applied already (no manager running to
 * tell: its replacement starts with them; done is not called); -1: refused,
 * nothing changed, the reason in err.
 */
int daemon_scale(struct daemon *d, uint32_t min, uint32_t max, struct daemon_bounds *old,
    struct daemon_bounds *now, daemon_pool_fn done, void *arg, char *err, size_t errlen);

/*
 * Ask the manager to restart a worker (pid), every worker in turn, or to
 * drain one (pid), each waiting at most timeout_ms (0:
 * server.shutdown_timeout) before the old process is killed. 0: done is
 * called once; -1: not sent, the reason in err.
 */
int daemon_pool_op(struct daemon *d, enum msg_op op, uint32_t pid, uint32_t timeout_ms,
    daemon_pool_fn done, void *arg, char *err, size_t errlen);
/* One changed key, and how a reload applied it (or why not). */
struct daemon_reload_change {
	struct config_change c;
	char applied[192];
};

/* What a reload did, for its reply and its log lines. */
struct daemon_reload_report {
	const char *result; /* "applied", "partial", "unchanged" or "refused" */
	uint32_t generation;
	int nerrors;                 /* refused: every error, one a line */
	char errors[CONFIG_ERRLIST]; /* "FILE:LINE: section.key: reason\n"... */
	int n;                       /* changes */
	struct daemon_reload_change changes[CONFIG_MAXKEYS];
};
typedef void (*daemon_reload_fn)(void *arg, const struct daemon_reload_report *rep);

/*
 * Re-read the configuration file (with the command-line flags given at
 * start) into a copy; on any error nothing changes. Otherwise apply what
 * changed: live, by replacing the manager gracefully, or not at all (keys
 * only a restart of wsd changes). done(arg, report) is called once, maybe
 * before this returns, maybe when a replacement is ready or failed; done
 * may be NULL (SIGHUP: the outcome is logged either way). -1 (and no
 * call) when a restart of a role is already in progress.
 */
int daemon_reload(struct daemon *d, const char *why, daemon_reload_fn done, void *arg);

#endif
