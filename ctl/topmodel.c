/*
 * wsctl top's model: the status result as a snapshot, rates between two
 * snapshots, sorting and the table's columns. A member the result lacks
 * (an older or newer server) reads as unknown, never a failure.
 */
#include "topmodel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

static const char *const roles[] = {"listener", "manager", "worker"};

static double num(const cJSON *o, const char *name, double def)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(j) ? j->valuedouble : def;
}

static void text(const cJSON *o, const char *name, char *buf, size_t len)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);

	snprintf(buf, len, "%s", cJSON_IsString(j) ? j->valuestring : "");
}

static const cJSON *obj(const cJSON *o, const char *name)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsObject(j) ? j : NULL;
}

/* One decision: a string as it is, an object as "key value" pairs. */
static void decision_text(const cJSON *d, char *buf, size_t len)
{
	const cJSON *m;
	size_t used = 0;
	int n;

	buf[0] = '\0';
	if (cJSON_IsString(d)) {
		snprintf(buf, len, "%s", d->valuestring);
		return;
	}
	cJSON_ArrayForEach(m, d)
	{
		if (cJSON_IsString(m))
			n = snprintf(
			    buf + used, len - used, "%s%s", used ? " " : "", m->valuestring);
		else if (cJSON_IsNumber(m))
			n = snprintf(buf + used, len - used, "%s%s %g", used ? " " : "", m->string,
			    m->valuedouble);
		else
			continue;
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
}

/* status.pool.decisions (when the server gives them): the last TOP_MAXDEC. */
static void parse_decisions(const cJSON *pool, struct top_snap *s)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(pool, "decisions");
	int n = cJSON_IsArray(d) ? cJSON_GetArraySize(d) : 0;

	s->ndecisions = 0;
	for (int i = n > TOP_MAXDEC ? n - TOP_MAXDEC : 0; i < n; i++)
		decision_text(cJSON_GetArrayItem(d, i), s->decisions[s->ndecisions++], TOP_TEXT);
}

static void parse_pool(const cJSON *pool, struct top_snap *s)
{
	s->pool_current = num(pool, "current", -1);
	s->pool_min = num(obj(pool, "effective"), "min", -1);
	s->pool_max = num(obj(pool, "effective"), "max", -1);
	s->pool_limit = num(pool, "limit", -1);
	s->workload = num(pool, "workload", -1);
	s->max_workload = num(pool, "max_workload", -1);
	s->queue = num(pool, "queue", -1);
	parse_decisions(pool, s);
}

static void parse_row(const char *role, const cJSON *p, struct top_row *r)
{
	snprintf(r->role, sizeof(r->role), "%s", role);
	r->pid = (long)num(p, "pid", 0);
	text(p, "state", r->state, sizeof(r->state));
	r->uptime = num(p, "uptime", 0);
	r->hb_ms = num(p, "heartbeat_age_ms", -1);
	r->conns = num(p, "connections", -1);
	r->requests = num(p, "requests", -1);
	r->restarts = num(p, "restarts", 0);
	r->rate = -1;
}

static void parse_roles(const cJSON *roles_j, struct top_snap *s)
{
	const cJSON *p;

	s->nrows = 0;
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		const cJSON *procs = cJSON_GetObjectItemCaseSensitive(
		    obj(roles_j, roles[i]), "processes");

		if (!cJSON_IsArray(procs))
			continue;
		cJSON_ArrayForEach(p, procs)
		{
			if (s->nrows < TOP_MAXROWS && cJSON_IsObject(p))
				parse_row(roles[i], p, &s->rows[s->nrows++]);
		}
	}
}

int top_snap_parse(const cJSON *result, uint64_t at_ms, struct top_snap *s)
{
	const cJSON *server = obj(result, "server"), *totals = obj(result, "totals");

	if (server == NULL || totals == NULL)
		return -1;
	s->at_ms = at_ms;
	text(server, "version", s->version, sizeof(s->version));
	text(server, "listen", s->listen, sizeof(s->listen));
	s->uptime = num(server, "uptime", 0);
	s->requests = num(totals, "requests", 0);
	s->bytes = num(totals, "bytes", 0);
	s->connections = num(totals, "connections", 0);
	s->active = num(totals, "active", 0);
	/* Parked connections: wherever the server puts the count, if it does. */
	s->parked = num(totals, "parked", num(obj(result, "pool"), "parked", -1));
	s->req_rate = s->byte_rate = -1;
	parse_pool(obj(result, "pool"), s);
	parse_roles(obj(result, "roles"), s);
	return 0;
}

static const struct top_row *find_pid(const struct top_snap *s, const struct top_row *r)
{
	for (int i = 0; i < s->nrows; i++) {
		if (s->rows[i].pid == r->pid && strcmp(s->rows[i].role, r->role) == 0)
			return &s->rows[i];
	}
	return NULL;
}

/* A count's growth per second; -1 when it went back (a new wsd) or is unknown. */
static double per_s(double prev, double cur, double dt)
{
	return (prev < 0 || cur < 0 || cur < prev) ? -1 : (cur - prev) / dt;
}

void top_rates(const struct top_snap *prev, struct top_snap *cur)
{
	double dt;

	if (prev == NULL || cur->at_ms <= prev->at_ms || cur->uptime < prev->uptime)
		return;
	dt = (double)(cur->at_ms - prev->at_ms) / 1000;
	cur->req_rate = per_s(prev->requests, cur->requests, dt);
	cur->byte_rate = per_s(prev->bytes, cur->bytes, dt);
	for (int i = 0; i < cur->nrows; i++) {
		const struct top_row *p = find_pid(prev, &cur->rows[i]);

		if (p != NULL)
			cur->rows[i].rate = per_s(p->requests, cur->rows[i].requests, dt);
	}
}

static int role_rank(const char *role)
{
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		if (strcmp(role, roles[i]) == 0)
			return (int)i;
	}
	return (int)(sizeof(roles) / sizeof(roles[0]));
}

static double key_of(const struct top_row *r, enum top_sort key)
{
	switch (key) {
	case TOP_SORT_PID:
		return (double)r->pid;
	case TOP_SORT_RATE:
		return r->rate;
	case TOP_SORT_CONNS:
		return r->conns;
	case TOP_SORT_UPTIME:
		return r->uptime;
	case TOP_SORT_RESTARTS:
		return r->restarts;
	default:
		return -role_rank(r->role);
	}
}

/* Largest first; ties (and the role sort) by role, then pid ascending. */
static int cmp_rows(const void *a, const void *b, void *arg)
{
	const struct top_row *x = a, *y = b;
	enum top_sort key = *(const enum top_sort *)arg;
	double kx = key_of(x, key), ky = key_of(y, key);
	int rx = role_rank(x->role), ry = role_rank(y->role);

	if (kx != ky)
		return kx > ky ? -1 : 1;
	if (rx != ry)
		return rx - ry;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

void top_sort(struct top_snap *s, enum top_sort key)
{
	qsort_r(s->rows, (size_t)s->nrows, sizeof(s->rows[0]), cmp_rows, &key);
}

const char *top_sort_name(enum top_sort key)
{
	static const char *const names[] = {"role", "pid", "req/s", "conns", "uptime", "restarts"};

	return key < TOP_NSORTS ? names[key] : "?";
}

static const struct {
	const char *name;
	int width;
} cols[TOP_NCOLS] = {{"ROLE", 9}, {"PID", 8}, {"STATE", 9}, {"UPTIME", 10}, {"HB", 7}, {"CONNS", 6},
    {"REQ/S", 9}, {"RESTARTS", 8}};

const char *top_col_name(int i) { return cols[i].name; }

int top_col_width(int i) { return cols[i].width; }

int top_col_left(int i) { return i == 0 || i == 2; }

int top_cols_fit(int width)
{
	int used = 0, n = 0;

	while (n < TOP_NCOLS && used + cols[n].width + (n ? 1 : 0) <= width)
		used += cols[n].width + (n ? 1 : 0), n++;
	return n < 2 ? 2 : n;
}

/* v with decimals and a unit, or "-" when unknown. */
static void count(double v, int decimals, const char *unit, char *buf, size_t len)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.*f%s", decimals, v, unit);
}

void top_cell(const struct top_row *r, int i, char *buf, size_t len)
{
	switch (i) {
	case 0:
		snprintf(buf, len, "%s", r->role);
		break;
	case 1:
		snprintf(buf, len, "%ld", r->pid);
		break;
	case 2:
		snprintf(buf, len, "%s", r->state);
		break;
	case 3:
		out_duration(r->uptime, buf, len);
		break;
	case 4:
		count(r->hb_ms, 0, "ms", buf, len);
		break;
	case 5:
		count(r->conns, 0, "", buf, len);
		break;
	case 6:
		count(r->rate, 1, "", buf, len);
		break;
	default:
		count(r->restarts, 0, "", buf, len);
	}
}

void top_line(const struct top_row *r, int ncols, char *buf, size_t len)
{
	char cell[64];
	size_t used = 0;
	int n;

	buf[0] = '\0';
	for (int i = 0; i < ncols && i < TOP_NCOLS; i++) {
		if (r != NULL)
			top_cell(r, i, cell, sizeof(cell));
		n = snprintf(buf + used, len - used, top_col_left(i) ? "%s%-*s" : "%s%*s",
		    i ? " " : "", top_col_width(i), r != NULL ? cell : top_col_name(i));
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
}
