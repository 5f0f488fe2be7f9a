/*
 * wsctl top: the terminal view. Asks for status once a second on its own
 * connection, keeps the previous result for the rates, and sends restart
 * or drain for the selected worker after a y/n. While connected it never
 * writes to stderr (that would tear the screen): errors go to the message
 * line. A lost connection is retried every second, as the shell does.
 */
#include "top.h"

#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curses.h>
#include <term.h>

#include "clock.h"
#include "jsonrpc.h"
#include "topmodel.h"

#define TICK_MS 1000
#define MSGLEN 256

struct top {
	const struct ctl_opts *o;
	struct conn c;
	struct top_snap *prev, *cur;
	int connected, quit;
	enum top_sort key;
	long sel_pid; /* the selection follows its pid through sorts */
	int sel, scroll;
	int confirm; /* 'r' or 'd' while asking y/n, else 0 */
	char msg[MSGLEN];
};

/* Ctrl-C or SIGTERM: leave as q does, the terminal restored (ends a wait too). */
static void on_signal(int sig) { ctl_interrupted = 1; }

/* One status into t->cur, the previous kept for the rates. */
static void poll_status(struct top *t)
{
	struct rpc_reply rep;
	struct top_snap *s = t->prev;

	conn_check(&t->c);
	if (t->c.fd < 0 && conn_open(&t->c, t->o) != EXIT_OK) {
		t->connected = 0;
		return;
	}
	if (conn_request(&t->c, "status", NULL, cmd_find("status")->wait_s, &rep) != EXIT_OK) {
		t->connected = 0;
		return;
	}
	if (rep.code == 0 && top_snap_parse(rep.result, clock_now_ms(), s) == 0) {
		top_rates(t->connected ? t->cur : NULL, s);
		top_sort(s, t->key);
		t->prev = t->cur, t->cur = s;
		t->connected = 1;
	} else
		snprintf(t->msg, sizeof(t->msg), "status: %s",
		    rep.message ? rep.message : "not a status");
	rpc_reply_free(&rep);
}

/* Keep the selection on its pid, inside the rows. */
static void fix_selection(struct top *t)
{
	int n = t->connected ? t->cur->nrows : 0;

	for (int i = 0; i < n; i++) {
		if (t->cur->rows[i].pid == t->sel_pid) {
			t->sel = i;
			return;
		}
	}
	t->sel = t->sel >= n ? n - 1 : t->sel < 0 ? 0 : t->sel;
	t->sel_pid = n > 0 ? t->cur->rows[t->sel].pid : 0;
}

/* One line at row y, cut at the screen's width (never wrapped onto the next). */
static void put(int y, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(int y, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	mvaddnstr(y, 0, line, COLS);
}

static void draw_summary(const struct top *t, int *y)
{
	const struct top_snap *s = t->cur;
	char up[32], b[32], br[32], rate[32], parked[32] = "";

	out_duration(s->uptime, up, sizeof(up));
	put((*y)++, "wsd %s  %s  up %s  sort: %s", s->version, s->listen, up,
	    top_sort_name(t->key));
	out_bytes(s->bytes, b, sizeof(b));
	out_bytes(s->byte_rate < 0 ? 0 : s->byte_rate, br, sizeof(br));
	snprintf(rate, sizeof(rate), s->req_rate < 0 ? "-" : "%.1f", s->req_rate);
	if (s->parked >= 0)
		snprintf(parked, sizeof(parked), "  parked %.0f", s->parked);
	put((*y)++, "requests %.0f (%s/s)  bytes %s (%s/s)  active %.0f%s  connections %.0f",
	    s->requests, rate, b, s->byte_rate < 0 ? "-" : br, s->active, parked, s->connections);
	put((*y)++, "pool %.0f (min %.0f, max %.0f, limit %.0f)  workload %.0f/%.0f  queue %.0f",
	    s->pool_current, s->pool_min, s->pool_max, s->pool_limit, s->workload, s->max_workload,
	    s->queue);
	for (int i = 0; i < s->ndecisions; i++)
		put((*y)++, "scale: %s", s->decisions[i]);
}

/* One line of the table, the whole width in the attribute (the selection). */
static void draw_line(const struct top_row *r, int y, int ncols, attr_t attr)
{
	char line[512];

	top_line(r, ncols, line, sizeof(line));
	attron(attr);
	mvprintw(y, 0, "%-*.*s", COLS, COLS, line); /* the attribute across the width */
	attroff(attr);
}

static void draw_table(struct top *t, int y)
{
	int ncols = top_cols_fit(COLS), room = LINES - y - 2;

	draw_line(NULL, y, ncols, A_BOLD);
	if (room < 1)
		return;
	if (t->sel < t->scroll)
		t->scroll = t->sel;
	if (t->sel >= t->scroll + room)
		t->scroll = t->sel - room + 1;
	for (int i = t->scroll; i < t->cur->nrows && i - t->scroll < room; i++)
		draw_line(&t->cur->rows[i], y + 1 + i - t->scroll, ncols,
		    i == t->sel ? A_REVERSE : A_NORMAL);
}

static void draw(struct top *t)
{
	int y = 0;

	erase();
	if (t->connected)
		draw_summary(t, &y);
	else
		put(y++, "not connected: %s (retrying every second)",
		    t->c.path[0]     ? t->c.path :
		        t->o->socket ? t->o->socket :
		                       "the default socket");
	put(y++, "%s", t->msg);
	if (t->connected)
		draw_table(t, y);
	put(LINES - 1, "q quit  j/k select  s sort  r restart  d drain");
	refresh();
}

/* The reply to restart or drain, in the message line. */
static void said(struct top *t, const char *what, long pid, const struct rpc_reply *rep)
{
	const cJSON *sec = cJSON_GetObjectItemCaseSensitive(rep->result, "seconds");
	char took[32];

	out_duration(cJSON_IsNumber(sec) ? sec->valuedouble : 0, took, sizeof(took));
	if (rep->code != 0)
		snprintf(t->msg, sizeof(t->msg), "%s worker %ld refused: %s", what, pid,
		    rep->message ? rep->message : "error");
	else if (strcmp(what, "restart") == 0)
		snprintf(t->msg, sizeof(t->msg), "restarted worker %ld: now %ld, in %s", pid,
		    (long)cJSON_GetNumberValue(cJSON_GetObjectItem(rep->result, "new_pid")), took);
	else
		snprintf(t->msg, sizeof(t->msg), "drained worker %ld in %s", pid, took);
}

/* restart worker PID or drain PID; waits for the reply as wsctl would. */
static void act(struct top *t, int which)
{
	const char *what = which == 'r' ? "restart" : "drain";
	cJSON *params = cJSON_CreateObject();
	struct rpc_reply rep;
	long pid = t->sel_pid;

	if (which == 'r')
		cJSON_AddStringToObject(params, "target", "worker");
	cJSON_AddNumberToObject(params, "pid", (double)pid);
	snprintf(t->msg, sizeof(t->msg), "%s worker %ld: waiting for wsd...", what, pid);
	draw(t);
	if (conn_request(&t->c, what, params, cmd_find(what)->wait_s, &rep) != EXIT_OK) {
		if (ctl_interrupted)
			return;
		snprintf(
		    t->msg, sizeof(t->msg), "%s worker %ld: no reply (connection lost)", what, pid);
		t->connected = 0;
		return;
	}
	said(t, what, pid, &rep);
	rpc_reply_free(&rep);
}

/* r or d: ask first, for a worker only. */
static void ask(struct top *t, int which)
{
	const struct top_row *r = t->connected && t->sel >= 0 && t->sel < t->cur->nrows ?
	    &t->cur->rows[t->sel] :
	    NULL;

	if (r == NULL || strcmp(r->role, "worker") != 0) {
		snprintf(t->msg, sizeof(t->msg), "select a worker first (wsctl restart %s)",
		    r ? r->role : "...");
		return;
	}
	t->confirm = which;
	snprintf(t->msg, sizeof(t->msg), "%s worker %ld? (y/n)", which == 'r' ? "restart" : "drain",
	    r->pid);
}

static void move_sel(struct top *t, int by)
{
	int n = t->connected ? t->cur->nrows : 0;

	t->sel += by;
	t->sel = t->sel >= n ? n - 1 : t->sel < 0 ? 0 : t->sel;
	t->sel_pid = n > 0 ? t->cur->rows[t->sel].pid : 0;
}

static void on_key(struct top *t, int ch)
{
	if (t->confirm) {
		int which = t->confirm;

		t->confirm = 0;
		if (ch == 'y' || ch == 'Y')
			act(t, which);
		else
			snprintf(t->msg, sizeof(t->msg), "cancelled");
		return;
	}
	if (ch == 'q' || ch == 'Q')
		t->quit = 1;
	else if (ch == 'j' || ch == KEY_DOWN)
		move_sel(t, 1);
	else if (ch == 'k' || ch == KEY_UP)
		move_sel(t, -1);
	else if (ch == 's') {
		t->key = (t->key + 1) % TOP_NSORTS;
		if (t->connected)
			top_sort(t->cur, t->key);
	} else if (ch == 'r' || ch == 'd')
		ask(t, ch);
}

static void run(struct top *t)
{
	uint64_t next = 0, now;
	int ch;

	while (!t->quit && !ctl_interrupted) {
		if ((now = clock_now_ms()) >= next) {
			poll_status(t);
			next = clock_now_ms() + TICK_MS;
		}
		fix_selection(t);
		draw(t);
		now = clock_now_ms();
		timeout(now >= next ? 0 : (int)(next - now));
		if ((ch = getch()) != ERR)
			on_key(t, ch);
	}
}

/* stderr to /dev/null while the screen is ours; the saved descriptor, or -1. */
static int quiet_stderr(void)
{
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (null >= 0) {
		dup2(null, STDERR_FILENO);
		close(null);
	}
	return saved;
}

/* Whether curses knows TERM; asked first, since a newterm that fails leaks. */
static int term_known(void)
{
	int err;

	if (setupterm(NULL, STDOUT_FILENO, &err) != OK)
		return 0;
	del_curterm(cur_term);
	return 1;
}

/* The screen, or NULL said on stderr (no terminal, or one curses cannot drive). */
static SCREEN *screen_open(void)
{
	const char *term = getenv("TERM");
	SCREEN *scr = NULL;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "wsctl: top needs a terminal (wsctl status prints one snapshot)\n");
		return NULL;
	}
	if (!term_known() || (scr = newterm(NULL, stdout, stdin)) == NULL) {
		fprintf(stderr, "wsctl: top: cannot drive this terminal (TERM=%s)\n",
		    term ? term : "unset");
		return NULL;
	}
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	return scr;
}

int top_main(const struct ctl_opts *o)
{
	struct top t = {.o = o, .c = {.fd = -1}};
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: a wait ends */
	SCREEN *scr;
	int saved;

	t.prev = calloc(1, sizeof(*t.prev));
	t.cur = calloc(1, sizeof(*t.cur));
	if (t.prev == NULL || t.cur == NULL) {
		fprintf(stderr, "wsctl: top: out of memory\n");
		free(t.prev), free(t.cur);
		return EXIT_FAILED;
	}
	sigaction(SIGINT, &sa, NULL); /* before curses starts: ncurses keeps ours */
	sigaction(SIGTERM, &sa, NULL);
	setlocale(LC_ALL, "");
	if ((scr = screen_open()) == NULL) {
		free(t.prev), free(t.cur);
		return EXIT_USAGE;
	}
	saved = quiet_stderr();
	run(&t);
	endwin();
	delscreen(scr);
	if (saved >= 0)
		dup2(saved, STDERR_FILENO), close(saved);
	conn_free(&t.c);
	free(t.prev), free(t.cur);
	return EXIT_OK;
}
