/*
 * The Prometheus text exposition (format 0.0.4): one "# HELP" and one
 * "# TYPE" line per family, counters end in _total, base units (seconds,
 * bytes), labels from fixed sets only (role, state, cause, result): no
 * per-pid series. docs/operations.md lists every family.
 */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const role_names[MR_NROLES] = {"listener", "manager", "worker"};
static const char *const cause_names[MC_NCAUSES] = {
    "exit", "crash", "killed", "hung", "replaced", "recycled"};
static const char *const state_names[] = {"starting", "running", "draining", "stopped"};
#define NSTATES (sizeof(state_names) / sizeof(state_names[0]))
static const char *const reload_results[] = {"applied", "partial", "unchanged", "refused"};
#define NRESULTS (sizeof(reload_results) / sizeof(reload_results[0]))
/* The heartbeat histogram's upper bounds (common/msg.h), in seconds. */
static const char *const hist_le[MSG_HIST_BUCKETS] = {"0.001", "0.01", "0.1", "1", "+Inf"};

/* ---- restarts by role and cause ---- */

void metrics_restarts_init(struct metrics_restarts *r) { memset(r, 0, sizeof(*r)); }

static int role_index(const char *role)
{
	for (int i = 0; i < MR_NROLES; i++)
		if (role != NULL && strcmp(role, role_names[i]) == 0)
			return i;
	return -1;
}

static int starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

enum metrics_cause metrics_exit_cause(const char *last_exit)
{
	if (starts(last_exit, "crash"))
		return MC_CRASH;
	if (starts(last_exit, "hung") || starts(last_exit, "did not start"))
		return MC_HUNG;
	if (starts(last_exit, "killed"))
		return MC_KILLED;
	return MC_EXIT;
}

/* The pending exit of pid in role i, or -1. */
static int exit_slot(const struct metrics_restarts *r, int i, int32_t pid)
{
	for (int j = 0; j < METRICS_PENDING_EXITS; j++)
		if (r->exits[i][j].pid == pid)
			return j;
	return -1;
}

/* An exit to count at its restart; one never restarted (a drain) is overwritten in turn. */
static void note_exit(struct metrics_restarts *r, int i, int32_t pid, const char *detail)
{
	int j = exit_slot(r, i, pid);

	if (j == -1 && (j = exit_slot(r, i, 0)) == -1)
		j = (int)(r->next[i]++ % METRICS_PENDING_EXITS);
	r->exits[i][j].pid = pid;
	r->exits[i][j].cause = (int)metrics_exit_cause(detail ? detail : "");
}

static void note_restart(struct metrics_restarts *r, int i, int32_t pid)
{
	int j = pid > 0 ? exit_slot(r, i, pid) : -1;

	if (j == -1)
		return;
	r->n[i][r->exits[i][j].cause]++;
	r->exits[i][j].pid = 0;
}

void metrics_note_event(
    struct metrics_restarts *r, const char *kind, const char *role, int32_t pid, const char *detail)
{
	int i = role_index(role);

	if (strcmp(kind, "recycle") == 0) /* the manager's decision about one of its workers */
		r->n[MR_WORKER][MC_RECYCLED]++;
	if (i == -1)
		return;
	if (strcmp(kind, "exited") == 0 && pid > 0)
		note_exit(r, i, pid, detail);
	else if (strcmp(kind, "restarting") == 0 || strcmp(kind, "backing off") == 0)
		note_restart(r, i, pid);
	else if (strcmp(kind, "restarted") == 0)
		r->n[i][MC_REPLACED]++;
}

/* ---- the text ---- */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(FILE *f, const char *name, const char *help, uint64_t v)
{
	family(f, name, "counter", help);
	fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(FILE *f, const char *name, const char *help, uint64_t v)
{
	family(f, name, "gauge", help);
	fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge_s(FILE *f, const char *name, const char *help, double seconds)
{
	family(f, name, "gauge", help);
	fprintf(f, "%s %.3f\n", name, seconds);
}

/* A label value as the format wants it: \\, \" and \n escaped. */
static void label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void server_families(FILE *f, const struct metrics_view *v)
{
	family(f, "wsd_build_info", "gauge", "Always 1; the version of the running daemon.");
	fputs("wsd_build_info{version=\"", f);
	label_value(f, v->st->version ? v->st->version : "");
	fputs("\"} 1\n", f);
	gauge_s(f, "wsd_start_time_seconds", "When the daemon started, in seconds since the epoch.",
	    (double)v->start_time_ms / 1000);
	gauge_s(f, "wsd_uptime_seconds", "Seconds since the daemon started.",
	    (double)v->st->uptime_ms / 1000);
	gauge(f, "wsd_ready", "1 while /readyz answers 200 (serving, not starting or stopping).",
	    v->ready ? 1 : 0);
	counter(f, "wsd_metrics_connections_refused_total",
	    "Connections to the metrics endpoint closed at once: 16 were open.",
	    v->metrics_refused);
}

static void traffic_families(FILE *f, const struct metrics_view *v)
{
	const struct status_view *s = v->st;

	counter(
	    f, "wsd_connections_accepted_total", "Connections the listener accepted.", s->accepted);
	gauge(f, "wsd_connections_active", "Connections the workers hold now.", s->active);
	gauge(f, "wsd_connections_parked",
	    "Idle keep-alive connections the listener holds for the workers now.", v->parked);
	counter(f, "wsd_http_requests_total", "HTTP requests the workers answered.", s->requests);
	counter(
	    f, "wsd_http_sent_bytes_total", "Bytes the workers sent, heads and bodies.", s->bytes);
}

static void histogram(FILE *f, const struct status_view *s)
{
	const char *name = "wsd_http_response_duration_seconds";
	uint64_t cum = 0;

	family(
	    f, name, "histogram", "Time from a complete request head to the end of its response.");
	for (int i = 0; i < MSG_HIST_BUCKETS; i++) {
		cum += s->hist[i];
		fprintf(
		    f, "%s_bucket{le=\"%s\"} %llu\n", name, hist_le[i], (unsigned long long)cum);
	}
	fprintf(f, "%s_sum %.6f\n", name, (double)s->resp_us / 1e6);
	fprintf(f, "%s_count %llu\n", name, (unsigned long long)cum);
}

static void pool_families(FILE *f, const struct status_view *s)
{
	gauge(f, "wsd_pool_workers", "Workers in the pool now.", s->current);
	gauge(f, "wsd_pool_workers_min", "The pool's lower bound in effect.", s->eff_min);
	gauge(f, "wsd_pool_workers_max", "The pool's upper bound in effect.", s->eff_max);
	gauge(f, "wsd_pool_workers_limit", "pool.limit: the most workers a scale may ask for.",
	    s->limit);
	gauge(f, "wsd_pool_queued_connections", "Connections waiting for a worker with room.",
	    s->queue);
}

static int state_index(const char *state)
{
	for (size_t i = 0; i < NSTATES; i++)
		if (state != NULL && strcmp(state, state_names[i]) == 0)
			return (int)i;
	return -1;
}

/*
 * The oldest heartbeat among the role's live processes; with none alive
 * (lost, waiting for its restart), the oldest of its stopped slots, which
 * keeps growing: an alert on the age must not go quiet when the role is gone.
 */
static void heartbeat_ages(const struct status_view *s, uint64_t age[], int seen[])
{
	uint64_t gone[MR_NROLES] = {0};
	int live[MR_NROLES] = {0};

	for (size_t i = 0; i < s->nprocs; i++) {
		const struct status_proc *p = &s->procs[i];
		int r = role_index(p->role);

		if (r == -1)
			continue;
		if (p->pid > 0 && p->hb_age_ms >= age[r])
			age[r] = p->hb_age_ms, live[r] = 1;
		else if (p->pid <= 0 && p->hb_age_ms >= gone[r])
			gone[r] = p->hb_age_ms, seen[r] = 1;
	}
	for (int r = 0; r < MR_NROLES; r++) {
		if (!live[r])
			age[r] = gone[r];
		seen[r] |= live[r];
	}
}

static void process_families(FILE *f, const struct status_view *s)
{
	uint64_t n[MR_NROLES][NSTATES] = {{0}}, age[MR_NROLES] = {0};
	int seen[MR_NROLES] = {0};

	for (size_t i = 0; i < s->nprocs; i++) {
		int r = role_index(s->procs[i].role), st = state_index(s->procs[i].state);

		if (r != -1 && st != -1)
			n[r][st]++;
	}
	heartbeat_ages(s, age, seen);
	family(f, "wsd_processes", "gauge", "Processes by role and supervision state.");
	for (int r = 0; r < MR_NROLES; r++)
		for (size_t st = 0; st < NSTATES; st++)
			fprintf(f, "wsd_processes{role=\"%s\",state=\"%s\"} %llu\n", role_names[r],
			    state_names[st], (unsigned long long)n[r][st]);
	family(f, "wsd_heartbeat_age_seconds", "gauge",
	    "Seconds since the oldest last heartbeat among the role's live processes "
	    "(none alive: since the role was last heard from).");
	for (int r = 0; r < MR_NROLES; r++)
		if (seen[r])
			fprintf(f, "wsd_heartbeat_age_seconds{role=\"%s\"} %.3f\n", role_names[r],
			    (double)age[r] / 1000);
}

static void restart_families(FILE *f, const struct metrics_restarts *r)
{
	family(f, "wsd_restarts_total", "counter",
	    "Processes restarted, by role and cause (exit, crash, killed, hung: lost and "
	    "restarted; replaced: by wsctl restart or a reload; recycled: pool.max_requests).");
	for (int i = 0; i < MR_NROLES; i++)
		for (int c = 0; c < MC_NCAUSES; c++)
			fprintf(f, "wsd_restarts_total{role=\"%s\",cause=\"%s\"} %llu\n",
			    role_names[i], cause_names[c],
			    (unsigned long long)(r ? r->n[i][c] : 0));
}

static void reload_families(FILE *f, const struct status_view *s)
{
	const char *res = s->reload_result;

	gauge(f, "wsd_config_generation", "The configuration's generation (1 at start).",
	    s->config_generation);
	gauge_s(f, "wsd_config_last_reload_timestamp_seconds",
	    "When the last reload ended, in seconds since the epoch; 0: none yet.",
	    res ? (double)s->reload_time_ms / 1000 : 0);
	family(f, "wsd_config_last_reload", "gauge",
	    "1 for the result of the last reload; all 0 before the first.");
	for (size_t i = 0; i < NRESULTS; i++)
		fprintf(f, "wsd_config_last_reload{result=\"%s\"} %d\n", reload_results[i],
		    res != NULL && strcmp(res, reload_results[i]) == 0);
}

char *metrics_text(const struct metrics_view *v, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (f == NULL)
		return NULL;
	server_families(f, v);
	traffic_families(f, v);
	histogram(f, v->st);
	pool_families(f, v->st);
	process_families(f, v->st);
	restart_families(f, v->restarts);
	reload_families(f, v->st);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}
