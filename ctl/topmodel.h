/*
 * wsctl top's model, apart from the terminal: a status result read into
 * a snapshot, the rates between two snapshots, the sort of the process
 * rows and the columns that fit a width. Pure, so unit-tested.
 */
#ifndef WSD_TOPMODEL_H
#define WSD_TOPMODEL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define TOP_MAXROWS 1024
#define TOP_MAXDEC 3 /* scale decisions shown */
#define TOP_TEXT 128

struct top_row {
	char role[12];
	long pid;
	char state[12];
	double uptime;   /* seconds */
	double hb_ms;    /* heartbeat age */
	double conns;    /* workers only, else -1 */
	double requests; /* workers only, else -1 */
	double rate;     /* requests/s since the previous snapshot, -1: unknown */
	double restarts;
};

struct top_snap {
	uint64_t at_ms; /* when it was taken (monotonic) */
	char version[24], listen[TOP_TEXT];
	double uptime, requests, bytes, connections, active;
	double parked;              /* -1: the server does not say */
	double req_rate, byte_rate; /* -1: unknown (first snapshot, wsd restarted) */
	double pool_current, pool_min, pool_max, pool_limit, workload, max_workload, queue;
	char decisions[TOP_MAXDEC][TOP_TEXT]; /* newest last */
	int ndecisions;
	struct top_row rows[TOP_MAXROWS];
	int nrows;
};

enum top_sort {
	TOP_SORT_ROLE,
	TOP_SORT_PID,
	TOP_SORT_RATE,
	TOP_SORT_CONNS,
	TOP_SORT_UPTIME,
	TOP_SORT_RESTARTS,
	TOP_NSORTS
};

/* A status result into s (taken at at_ms): 0, or -1 when it is not one. */
int top_snap_parse(const cJSON *result, uint64_t at_ms, struct top_snap *s);

/* The rates of cur since prev (NULL: none yet), totals and per pid. */
void top_rates(const struct top_snap *prev, struct top_snap *cur);

/* Sort the rows: role order (listener, manager, worker) then the key. */
void top_sort(struct top_snap *s, enum top_sort key);
const char *top_sort_name(enum top_sort key);

/* The table's columns: header, width; how many fit in cols (at least 2). */
#define TOP_NCOLS 8
const char *top_col_name(int i);
int top_col_width(int i);
int top_col_left(int i); /* text, aligned left; numbers right */
int top_cols_fit(int cols);
/* Row r's column i as text into buf. */
void top_cell(const struct top_row *r, int i, char *buf, size_t len);
/* The first ncols columns of row r (NULL: the header) as one line, aligned. */
void top_line(const struct top_row *r, int ncols, char *buf, size_t len);

#endif
