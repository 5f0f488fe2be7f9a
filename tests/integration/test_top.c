/*
 * wsctl top in a real terminal: a private tmux server with a fixed window
 * size runs the real wsctl top against the real wsd; the test reads the
 * screen with capture-pane and types with send-keys. The view, a rate,
 * the sort key, restart (y) and drain (n) of the selected worker, a
 * resize, a lost and regained connection, q leaving the terminal sane,
 * and top refused without a terminal.
 */
#include <check.h>

#include "check_run.h"
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define SCREEN 16384
#define SCREEN_WAIT_MS 10000 /* generous: a wait ends as soon as the screen shows it */

static struct wsd w;
static char tmux_name[64];
static char screen[SCREEN];

/* Run a shell command line; its exit status, its output in out (may be NULL). */
static int sh(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sh(char *out, size_t len, const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	FILE *f;
	size_t n = 0;
	int st, r;

	va_start(ap, fmt);
	r = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ck_assert(r > 0 && (size_t)r < sizeof(cmd));
	ck_assert_ptr_nonnull(f = popen(cmd, "r"));
	while (out != NULL && n < len - 1 && (r = (int)fread(out + n, 1, len - 1 - n, f)) > 0)
		n += (size_t)r;
	if (out != NULL)
		out[n] = '\0';
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Start top in a 100x30 tmux window; its exit code and stty check follow it on screen. */
static void top_start_env(const char *env, const char *sock)
{
	char script[PATH_MAX + 32];
	char text[2 * PATH_MAX];

	snprintf(tmux_name, sizeof(tmux_name), "wsdtop%d", (int)getpid());
	snprintf(script, sizeof(script), "%s/top.sh", w.dir);
	snprintf(text, sizeof(text),
	    "trap true INT\ns=$(stty -g)\n%s %s -s '%s' top 2>&1\nrc=$?\n[ \"$(stty -g)\" = \"$s\" ] && echo SANE\n"
	    "echo EXIT=$rc\nexec sleep 600\n",
	    env, WSCTL_BIN, sock);
	h_write_text(script, text);
	ck_assert_int_eq(
	    sh(NULL, 0,
	        "TERM=xterm tmux -L %s -f /dev/null new-session -d -s top -x 100 -y 30 "
	        "'sh %s'",
	        tmux_name, script),
	    0);
}

static void top_start(const char *sock) { top_start_env("", sock); }

static void top_end(void) { sh(NULL, 0, "tmux -L %s kill-server 2>/dev/null", tmux_name); }

static void capture(void)
{
	sh(screen, sizeof(screen), "tmux -L %s capture-pane -p -t top", tmux_name);
}

static void keys(const char *k)
{
	ck_assert_int_eq(sh(NULL, 0, "tmux -L %s send-keys -t top %s", tmux_name, k), 0);
}

/* The screen shows needle within timeout_ms: 1, else 0 (the screen kept). */
static int screen_has(const char *needle, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;

	do {
		capture();
		if (strstr(screen, needle) != NULL)
			return 1;
		usleep(50 * 1000);
	} while (h_now_ms() < end);
	fprintf(stderr, "screen lacks '%s':\n%s\n", needle, screen);
	return 0;
}

/* The table's row i (0: the first after the header) into row. */
static int table_row(int i, char *row, size_t len)
{
	const char *p = strstr(screen, "\nROLE");

	for (int k = 0; p != NULL && k <= i; k++)
		p = strchr(p + 1, '\n');
	if (p == NULL)
		return -1;
	snprintf(row, len, "%.*s", (int)strcspn(p + 1, "\n"), p + 1);
	return 0;
}

/* The pid of the table's row i. */
static long row_pid(int i)
{
	char row[256], role[32];
	long pid = 0;

	ck_assert_int_eq(table_row(i, row, sizeof(row)), 0);
	ck_assert_int_eq(sscanf(row, "%31s %ld", role, &pid), 2);
	return pid;
}

static int is_worker(pid_t pid)
{
	pid_t pids[H_MAXPROCS];
	int n = h_count_role(&w, "worker", pids, H_MAXPROCS);

	for (int i = 0; i < n; i++) {
		if (pids[i] == pid)
			return 1;
	}
	return 0;
}

/* The total request rate shown, or -1 while it is "-". */
static double shown_rate(void)
{
	const char *p = strstr(screen, "requests ");
	double n, r;

	if (p == NULL || sscanf(p, "requests %lf (%lf/s)", &n, &r) != 2)
		return -1;
	return r;
}

static int rate_positive(void *arg)
{
	struct h_response r;

	if (h_get(&w, "GET", "/index.html", &r) == 0)
		h_response_free(&r);
	capture();
	return shown_rate() > 0;
}

/* The line showing pid is in reverse video (the selection): 1, else 0. */
static int selected(long pid)
{
	char num[32];
	const char *p, *bol;

	sh(screen, sizeof(screen), "tmux -L %s capture-pane -e -p -t top", tmux_name);
	snprintf(num, sizeof(num), " %ld", pid);
	if ((p = strstr(screen, num)) == NULL)
		return 0;
	for (bol = p; bol > screen && bol[-1] != '\n'; bol--)
		;
	return memmem(bol, (size_t)(p - bol), "\033[7m", 4) != NULL;
}

/* The header fits 40 columns: UPTIME shown, RESTARTS dropped, rows still there. */
static int narrow(void *arg)
{
	char row[256];

	capture();
	return strstr(screen, "UPTIME") != NULL && strstr(screen, "RESTARTS") == NULL &&
	    table_row(0, row, sizeof(row)) == 0 && strstr(row, "listener") != NULL;
}

START_TEST(test_top_view_keys_and_quit)
{
	char row[256], needle[128];
	long old, fresh;

	h_init(&w);
	h_write_file(&w, "index.html", "top\n", 4);
	top_start(w.sock);
	/* No wsd yet: said, and retried until it comes. */
	ck_assert(screen_has("not connected", SCREEN_WAIT_MS));
	h_start(&w, NULL);
	ck_assert(screen_has("manager", h_bound_ms(5000)));
	ck_assert(screen_has("listener", SCREEN_WAIT_MS));
	ck_assert(screen_has("pool 2 (min 2, max", SCREEN_WAIT_MS));
	ck_assert(screen_has("sort: role", SCREEN_WAIT_MS));
	/* A rate appears once requests are served between two status results. */
	ck_assert(h_wait_until(rate_positive, NULL, h_bound_ms(10000)));
	/* The role sort lists the listener first; the pid sort (largest first) a worker. */
	ck_assert_int_eq(table_row(0, row, sizeof(row)), 0);
	ck_assert_ptr_nonnull(strstr(row, "listener"));
	keys("s");
	ck_assert(screen_has("sort: pid", SCREEN_WAIT_MS));
	ck_assert_int_eq(table_row(0, row, sizeof(row)), 0);
	ck_assert_msg(strstr(row, "worker") != NULL, "first row under the pid sort: %s", row);
	/* Back to the role sort: s cycles through every key. */
	keys("s s s s s");
	ck_assert(screen_has("sort: role", SCREEN_WAIT_MS));
	/* j j: the first worker; r y restarts it. */
	keys("j j");
	ck_assert(screen_has("sort: role", SCREEN_WAIT_MS));
	old = row_pid(2);
	ck_assert(is_worker((pid_t)old));
	for (int i = 0; i < 200 && !selected(old); i++)
		usleep(50 * 1000);
	ck_assert_msg(selected(old), "row of %ld not selected:\n%s", old, screen);
	keys("r");
	snprintf(needle, sizeof(needle), "restart worker %ld? (y/n)", old);
	ck_assert(screen_has(needle, SCREEN_WAIT_MS));
	keys("y");
	snprintf(needle, sizeof(needle), "restarted worker %ld: now ", old);
	ck_assert(screen_has(needle, h_bound_ms(20000)));
	fresh = atol(strstr(screen, needle) + strlen(needle));
	ck_assert_int_gt(fresh, 0);
	ck_assert_int_ne(fresh, old);
	snprintf(needle, sizeof(needle), " %ld ", fresh);
	ck_assert(screen_has(needle, SCREEN_WAIT_MS));
	ck_assert(is_worker((pid_t)fresh));
	ck_assert(!is_worker((pid_t)old));
	/* d n: asked, cancelled, nothing drained. */
	keys("d");
	ck_assert(screen_has("? (y/n)", SCREEN_WAIT_MS));
	keys("n");
	ck_assert(screen_has("cancelled", SCREEN_WAIT_MS));
	ck_assert_int_eq(h_count_role(&w, "worker", NULL, 0), 2);
	ck_assert(is_worker((pid_t)fresh));
	ck_assert(!h_log_has(&w, ": drain "));
	/* d y on a pool at its min: the server's refusal in the message line. */
	keys("d");
	ck_assert(screen_has("? (y/n)", SCREEN_WAIT_MS));
	keys("y");
	ck_assert(screen_has("refused: ", h_bound_ms(5000)));
	ck_assert_int_eq(h_count_role(&w, "worker", NULL, 0), 2);
	/* A narrower terminal drops columns from the right, keeps the rows. */
	ck_assert_int_eq(sh(NULL, 0, "tmux -L %s resize-window -t top -x 40 -y 20", tmux_name), 0);
	ck_assert(h_wait_until(narrow, NULL, SCREEN_WAIT_MS));
	/* wsd gone: said, and top goes on; q: exit 0 and the terminal as it was. */
	ck_assert_int_eq(h_stop(&w), 0);
	ck_assert(screen_has("not connected", SCREEN_WAIT_MS));
	keys("q");
	ck_assert(screen_has("EXIT=0", SCREEN_WAIT_MS));
	ck_assert_ptr_nonnull(strstr(screen, "SANE"));
	top_end();
}
END_TEST

START_TEST(test_top_ctrl_c_quits_sane)
{
	char needle[PATH_MAX + 32];

	h_init(&w);
	top_start(w.sock);
	snprintf(needle, sizeof(needle), "not connected: %s", w.sock);
	ck_assert(screen_has(needle, SCREEN_WAIT_MS));
	keys("C-c");
	ck_assert(screen_has("EXIT=0", SCREEN_WAIT_MS));
	ck_assert_ptr_nonnull(strstr(screen, "SANE"));
	top_end();
	h_cleanup(&w);
}
END_TEST

START_TEST(test_top_needs_a_terminal)
{
	char out[1024];

	h_init(&w);
	ck_assert_int_eq(
	    sh(out, sizeof(out), "%s -s %s top </dev/null 2>&1", WSCTL_BIN, w.sock), 2);
	ck_assert_ptr_nonnull(strstr(out, "top needs a terminal"));
	ck_assert_int_eq(sh(out, sizeof(out), "%s -s %s top now 2>&1", WSCTL_BIN, w.sock), 2);
	/* A terminal curses cannot drive: said, exit 2, the terminal untouched. */
	top_start_env("TERM=nosuchterminal", w.sock);
	ck_assert(screen_has("EXIT=2", SCREEN_WAIT_MS));
	ck_assert_ptr_nonnull(strstr(screen, "cannot drive this terminal (TERM=nosuchterminal)"));
	ck_assert_ptr_nonnull(strstr(screen, "SANE"));
	top_end();
	h_cleanup(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("top");
	TCase *tc = tcase_create("top");
	SRunner *sr;

	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_top_view_keys_and_quit);
	tcase_add_test(tc, test_top_ctrl_c_quits_sane);
	tcase_add_test(tc, test_top_needs_a_terminal);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	return check_run(sr, CK_NORMAL);
}
