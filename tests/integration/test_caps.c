/*
 * The unit's capability bounding set is enough: wsd started as root under
 * setpriv with exactly the CapabilityBoundingSet= of dist/wsd.service.in
 * (and no new privileges, as NoNewPrivileges=) passes -t, serves, chowns
 * its control socket to control.group, and restarts every role - the
 * listener, the manager, the workers - and stops cleanly. Root only.
 */
#include <check.h>
#include <ctype.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "harness.h"

static struct wsd w;

/* The bit of the capabilities the unit may name (linux/capability.h). */
static unsigned long long cap_bit(const char *name)
{
	static const struct {
		const char *name;
		int bit;
	} caps[] = {{"CAP_CHOWN", 0}, {"CAP_DAC_OVERRIDE", 1}, {"CAP_DAC_READ_SEARCH", 2},
	    {"CAP_KILL", 5}, {"CAP_SETGID", 6}, {"CAP_SETUID", 7}, {"CAP_NET_BIND_SERVICE", 10},
	    {"CAP_SYS_RESOURCE", 24}};

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (strcmp(name, caps[i].name) == 0)
			return 1ULL << caps[i].bit;
	ck_abort_msg("a capability the test does not know: %s", name);
	return 0;
}

/*
 * "CapabilityBoundingSet=CAP_A CAP_B" of the unit as setpriv's "-all,+a,+b";
 * its mask in *mask.
 */
static void unit_bounding_set(char *out, size_t len, unsigned long long *mask)
{
	FILE *f = fopen(WSD_UNIT_IN, "r");
	char line[512], *caps = NULL;
	size_t n;

	ck_assert_ptr_nonnull(f);
	while (caps == NULL && fgets(line, sizeof(line), f))
		if (strncmp(line, "CapabilityBoundingSet=", 22) == 0)
			caps = line + 22;
	fclose(f);
	ck_assert_msg(caps != NULL, "no CapabilityBoundingSet= in %s", WSD_UNIT_IN);
	n = (size_t)snprintf(out, len, "-all");
	for (char *c = strtok(caps, " \n"); c; c = strtok(NULL, " \n")) {
		*mask |= cap_bit(c);
		n += (size_t)snprintf(out + n, len - n, ",+%s", c + 4);
		ck_assert_int_lt(n, len);
	}
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

static int wsctl(const char *a1, const char *a2)
{
	char *argv[] = {WSCTL_BIN, "-s", w.sock, (char *)a1, (char *)a2, NULL}, out[8192];
	int st = h_run(argv, out, sizeof(out), 60000);

	ck_assert_msg(
	    WIFEXITED(st) && WEXITSTATUS(st) == 0, "wsctl %s %s: %s", a1, a2 ? a2 : "", out);
	return 0;
}

static void get_ok(void)
{
	struct h_response r;

	ck_assert_int_eq(h_get(&w, "GET", "/a.txt", &r), 0);
	ck_assert_int_eq(r.status, 200);
	h_response_free(&r);
}

/* The daemon's CapBnd in /proc is what setpriv was told (it did exec wsd under it). */
static unsigned long long cap_bnd(pid_t pid)
{
	char path[64], line[256];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapBnd: %llx", &v) == 1)
			break;
	fclose(f);
	return v;
}

static pid_t stopped;

static int replaced(void *arg)
{
	pid_t pids[4];
	int n = h_count_role(&w, "listener", pids, 4);

	return n == 1 && pids[0] != stopped;
}

/*
 * A hung listener (SIGSTOP) is killed by the daemon and replaced: the
 * daemon, root, signals a child that runs as nobody (CAP_KILL).
 */
static void hung_listener_killed(void)
{
	pid_t pids[4];

	ck_assert_int_eq(h_count_role(&w, "listener", pids, 4), 1);
	stopped = pids[0];
	h_expect_lost(&w, 1, 1);
	ck_assert_int_eq(kill(stopped, SIGSTOP), 0);
	ck_assert_msg(h_wait_log(&w, "listener (hung: no heartbeat", h_bound_ms(5000)),
	    "the stopped listener was not found hung");
	if (!h_wait_until(replaced, NULL, h_bound_ms(5000))) {
		kill(stopped, SIGKILL); /* so the failure leaves nothing behind */
		ck_abort_msg("the hung listener %d was not killed and replaced", (int)stopped);
	}
}

START_TEST(test_unit_caps_restart_every_role)
{
	char set[512], out[8192];
	unsigned long long mask = 0;
	struct group *g = getgrnam("nogroup");

#ifndef SETPRIV_BIN
	printf("skipped: no setpriv (util-linux) at build time\n");
	return;
#else
	if (geteuid() != 0) {
		printf("skipped: needs root (the daemon drops its children's privileges)\n");
		return;
	}
	unit_bounding_set(set, sizeof(set), &mask);
	char *wrap[] = {SETPRIV_BIN, "--bounding-set", set, "--no-new-privs", "--", NULL};
	char *check[] = {SETPRIV_BIN, "--bounding-set", set, "--no-new-privs", "--", WSD_BIN, "-t",
	    "-c", w.conf, NULL};
	const char *grp = g ? "[control]\ngroup = nogroup\n" : "";

	h_init(&w);
	h_write_file(&w, "a.txt", "alpha\n", 6);
	w.wrap = wrap;
	h_write_conf(&w, grp);
	ck_assert_msg(h_run(check, out, sizeof(out), 20000) == 0, "wsd -t under %s: %s", set, out);
	h_start(&w, grp);
	ck_assert_uint_eq(cap_bnd(w.pid), mask); /* setpriv did exec wsd under the set */
	get_ok();
	wsctl("restart", "listener");
	get_ok();
	wsctl("restart", "manager");
	get_ok();
	wsctl("restart", "workers");
	get_ok();
	hung_listener_killed();
	get_ok();
	ck_assert_int_eq(h_stop(&w), 0);
#endif
}
END_TEST

Suite *caps_suite(void)
{
	Suite *s = suite_create("caps");
	TCase *tc = tcase_create("caps");

	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_unit_caps_restart_every_role);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(caps_suite());

	return check_run(sr, CK_NORMAL);
}
