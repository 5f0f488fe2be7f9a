/* JSON views of the daemon's state: see status.h. */
#include "status.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Upper bounds of the histogram buckets, in ms; the last bucket is above them all. */
static const double hist_bounds_ms[MSG_HIST_BUCKETS - 1] = {1, 10, 100, 1000};

void status_time(int64_t ms, char *buf, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&s, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int)(ms % 1000));
}

static void add_str_or_null(cJSON *o, const char *name, const char *s)
{
	if (s == NULL || *s == '\0')
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddStringToObject(o, name, s);
}

static cJSON *server_json(const struct status_view *v)
{
	cJSON *s = cJSON_CreateObject(), *lr;
	char when[32];

	cJSON_AddStringToObject(s, "version", v->version);
	cJSON_AddNumberToObject(s, "pid", v->pid);
	cJSON_AddNumberToObject(s, "uptime", (double)v->uptime_ms / 1000);
	cJSON_AddStringToObject(s, "listen", v->listen);
	cJSON_AddStringToObject(s, "root", v->root);
	add_str_or_null(s, "config_file", v->config_file);
	cJSON_AddNumberToObject(s, "config_generation", v->config_generation);
	if (v->reload_result == NULL) {
		cJSON_AddNullToObject(s, "last_reload");
		return s;
	}
	lr = cJSON_AddObjectToObject(s, "last_reload");
	status_time(v->reload_time_ms, when, sizeof(when));
	cJSON_AddStringToObject(lr, "time", when);
	cJSON_AddStringToObject(lr, "result", v->reload_result);
	cJSON_AddStringToObject(lr, "message", v->reload_message ? v->reload_message : "");
	return s;
}

static cJSON *totals_json(const struct status_view *v)
{
	cJSON *t = cJSON_CreateObject(), *h, *counts;
	uint64_t answered = 0;

	for (int i = 0; i < MSG_HIST_BUCKETS; i++)
		answered += v->hist[i];
	cJSON_AddNumberToObject(t, "connections", (double)v->accepted);
	cJSON_AddNumberToObject(t, "active", (double)v->active);
	cJSON_AddNumberToObject(t, "requests", (double)v->requests);
	cJSON_AddNumberToObject(t, "bytes", (double)v->bytes);
	cJSON_AddNumberToObject(
	    t, "avg_response_ms", answered ? (double)v->resp_us / (double)answered / 1000 : 0);
	h = cJSON_AddObjectToObject(t, "histogram");
	cJSON_AddItemToObject(
	    h, "bounds_ms", cJSON_CreateDoubleArray(hist_bounds_ms, MSG_HIST_BUCKETS - 1));
	counts = cJSON_AddArrayToObject(h, "counts");
	for (int i = 0; i < MSG_HIST_BUCKETS; i++)
		cJSON_AddItemToArray(counts, cJSON_CreateNumber((double)v->hist[i]));
	return t;
}

static cJSON *bounds_json(uint32_t min, uint32_t max)
{
	cJSON *b = cJSON_CreateObject();

	cJSON_AddNumberToObject(b, "min", min);
	cJSON_AddNumberToObject(b, "max", max);
	return b;
}

int status_is_decision(const struct elog_rec *r)
{
	return strcmp(r->kind, "scale up") == 0 || strcmp(r->kind, "scale down") == 0 ||
	    strcmp(r->kind, "recycle") == 0;
}

/* The last STATUS_DECISIONS decisions in the event log, oldest first. */
static cJSON *decisions_json(const struct elog *l)
{
	const struct elog_rec *last[STATUS_DECISIONS];
	cJSON *a = cJSON_CreateArray();
	size_t n = 0;

	if (l == NULL)
		return a;
	for (const struct elog_rec *r = elog_since(l, 0); r != NULL; r = elog_next(l, r))
		if (status_is_decision(r))
			last[n++ % STATUS_DECISIONS] = r;
	for (size_t i = n > STATUS_DECISIONS ? n - STATUS_DECISIONS : 0; i < n; i++)
		cJSON_AddItemToArray(a, status_event_json(last[i % STATUS_DECISIONS]));
	return a;
}

static cJSON *pool_json(const struct status_view *v)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddItemToObject(p, "configured", bounds_json(v->cfg_min, v->cfg_max));
	cJSON_AddItemToObject(p, "effective", bounds_json(v->eff_min, v->eff_max));
	cJSON_AddNumberToObject(p, "limit", v->limit);
	cJSON_AddNumberToObject(p, "current", v->current);
	cJSON_AddNumberToObject(p, "max_workload", v->max_workload);
	cJSON_AddNumberToObject(p, "workload", (double)v->workload);
	cJSON_AddNumberToObject(p, "queue", (double)v->queue);
	cJSON_AddItemToObject(p, "decisions", decisions_json(v->events));
	return p;
}

static cJSON *proc_json(const struct status_proc *p)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "pid", p->pid);
	cJSON_AddStringToObject(o, "state", p->state);
	cJSON_AddNumberToObject(o, "uptime", (double)p->uptime_ms / 1000);
	cJSON_AddNumberToObject(o, "heartbeat_age_ms", (double)p->hb_age_ms);
	cJSON_AddNumberToObject(o, "missed", p->missed);
	cJSON_AddNumberToObject(o, "restarts", p->restarts);
	add_str_or_null(o, "last_exit", p->last_exit);
	cJSON_AddNumberToObject(o, "backoff_ms", p->backoff_ms);
	if (p->is_worker) {
		cJSON_AddNumberToObject(o, "connections", (double)p->connections);
		cJSON_AddNumberToObject(o, "requests", (double)p->requests);
		cJSON_AddNumberToObject(o, "bytes", (double)p->bytes);
		cJSON_AddNumberToObject(o, "busy", (double)p->busy_ppm / 1e6);
		cJSON_AddNumberToObject(o, "lag_ms", (double)p->lag_us / 1000);
	}
	return o;
}

/* Per role: a count, the pids of live processes, and every entry. */
static cJSON *role_json(const struct status_view *v, const char *role)
{
	cJSON *r = cJSON_CreateObject(), *pids, *procs;
	int count = 0;

	pids = cJSON_AddArrayToObject(r, "pids");
	procs = cJSON_AddArrayToObject(r, "processes");
	for (size_t i = 0; i < v->nprocs; i++) {
		const struct status_proc *p = &v->procs[i];

		if (p->role != role && (p->role == NULL || strcmp(p->role, role) != 0))
			continue;
		if (p->pid > 0) {
			count++;
			cJSON_AddItemToArray(pids, cJSON_CreateNumber(p->pid));
		}
		cJSON_AddItemToArray(procs, proc_json(p));
	}
	cJSON_AddNumberToObject(r, "count", count);
	return r;
}

cJSON *status_json(const struct status_view *v)
{
	static const char *const roles[] = {"listener", "manager", "worker"};
	cJSON *st = cJSON_CreateObject(), *r;

	cJSON_AddItemToObject(st, "server", server_json(v));
	cJSON_AddItemToObject(st, "totals", totals_json(v));
	cJSON_AddItemToObject(st, "pool", pool_json(v));
	r = cJSON_AddObjectToObject(st, "roles");
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		cJSON_AddItemToObject(r, roles[i], role_json(v, roles[i]));
	return st;
}

cJSON *status_event_json(const struct elog_rec *e)
{
	cJSON *o = cJSON_CreateObject();
	char when[32];

	status_time(e->time_ms, when, sizeof(when));
	cJSON_AddNumberToObject(o, "seq", (double)e->seq);
	cJSON_AddStringToObject(o, "time", when);
	cJSON_AddStringToObject(o, "role", e->role);
	if (e->pid > 0)
		cJSON_AddNumberToObject(o, "pid", e->pid);
	else
		cJSON_AddNullToObject(o, "pid");
	cJSON_AddStringToObject(o, "event", e->kind);
	cJSON_AddStringToObject(o, "detail", e->detail);
	return o;
}
