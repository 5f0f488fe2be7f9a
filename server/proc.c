/* Process plumbing shared by the daemon and the manager. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "notify.h"
#include "msg.h"

#define PPID_ENV "WSD_PPID"
#define DAEMON_ENV "WSD_DAEMON_PID"

static int self_fd = -1;
static pid_t daemon_pid; /* the root of our tree, and the subreaper of its orphans */

/*
 * We exec our binary through an O_PATH descriptor opened at start: a child
 * that has dropped privileges may not be allowed to walk the binary's path.
 */
int proc_init_self(int inherited)
{
	if (inherited) {
		self_fd = FD_SELF_EXE;
		return 0;
	}
	daemon_pid = getpid();
	self_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
	return self_fd == -1 ? -1 : 0;
}

/* Move the handed descriptors above the targets first, so dup2 never clobbers one. */
static void child_place_fds(const struct proc_fdmap *map, int nmap)
{
	int tmp[PROC_MAXFDS + 1];

	for (int i = 0; i < nmap; i++) {
		tmp[i] = -1;
		if (map[i].fd >= 0 && (tmp[i] = fcntl(map[i].fd, F_DUPFD, 64)) == -1)
			_exit(126);
	}
	for (int i = 0; i < nmap; i++)
		if (tmp[i] >= 0 && dup2(tmp[i], map[i].target) == -1)
			_exit(126);
	/* Everything else above stderr goes: only what is handed is inherited. */
	for (int fd = 3; fd < 64; fd++) {
		int keep = 0;

		for (int i = 0; i < nmap; i++)
			keep |= (map[i].target == fd && tmp[i] >= 0);
		if (!keep)
			close(fd);
	}
	close_range(64, ~0U, 0);
}

static void child_drop(const struct proc_creds *c)
{
	if (!c || !c->drop)
		return;
	if (setgroups(1, &c->gid) == -1 || setgid(c->gid) == -1 || setuid(c->uid) == -1) {
		log_warn("cannot drop privileges to uid %d", (int)c->uid);
		_exit(126);
	}
}

pid_t proc_spawn(
    const char *role, const struct proc_fdmap *map, int nmap, const struct proc_creds *creds)
{
	char title[32], ppid[24], dpid[24];
	char *argv[2] = {title, NULL};
	struct proc_fdmap all_map[PROC_MAXFDS + 1];
	sigset_t all;
	pid_t pid;

	/* Every role gets our binary too, so it can start children of its own. */
	memcpy(all_map, map, sizeof(*map) * (size_t)nmap);
	all_map[nmap].fd = self_fd;
	all_map[nmap].target = FD_SELF_EXE;

	snprintf(title, sizeof(title), "wsd: %s", role);
	snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
	snprintf(dpid, sizeof(dpid), "%d", (int)daemon_pid);
	if ((pid = fork()) == -1) {
		log_warn("fork %s", role);
		return -1;
	}
	if (pid > 0)
		return pid;
	/* Child: clean signal state, then become the role. */
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	child_place_fds(all_map, nmap + 1);
	child_drop(creds);
	for (const char *const *v = notify_env; *v; v++)
		unsetenv(*v); /* only the daemon speaks to the service manager */
	setenv(PPID_ENV, ppid, 1);
	setenv(DAEMON_ENV, dpid, 1);
	execveat(FD_SELF_EXE, "", argv, environ, AT_EMPTY_PATH);
	log_warn("exec %s", role);
	_exit(127);
}

#ifdef WSD_FAULTS
/*
 * Test-only fault switch (debug builds with -DWSD_FAULTS=ON): while the
 * file named by WSD_FAULT_FILE holds this role's name, the role crashes
 * at start, so tests can drive a real crash loop and then end it; "ROLE
 * slow MS" makes it take MS milliseconds to start instead.
 */
static void fault_switch(const char *role)
{
	const char *path = getenv("WSD_FAULT_FILE");
	char buf[64] = "";
	size_t n = strlen(role);
	struct timespec ts;
	int ms;
	FILE *f;

	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return;
	if (fgets(buf, sizeof(buf), f) && strncmp(buf, role, n) == 0) {
		if (sscanf(buf + n, " slow %d", &ms) == 1) {
			log_warnx("fault switch %s: starting %d ms late on purpose", path, ms);
			ts = clock_ts((uint64_t)ms);
			while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
				;
		} else {
			log_warnx("fault switch %s: crashing on purpose", path);
			abort();
		}
	}
	fclose(f);
}
#else
static void fault_switch(const char *role) { (void)role; }
#endif

void proc_child_init(const char *role)
{
	const char *env = getenv(PPID_ENV), *denv = getenv(DAEMON_ENV);
	pid_t want = env ? (pid_t)atoi(env) : 0;

	char name[16];

	/* The daemon opened the log; it reaches us on FD_LOG whatever our user. */
	log_init(FD_LOG, LOG_LVL_INFO);
	log_setrole(role);
	snprintf(name, sizeof(name), "wsd: %s", role);
	prctl(PR_SET_NAME, name);
	/* Signals meant for the daemon (a terminal's Ctrl-C, a group-wide HUP,
	 * USR1/USR2 sent to the wrong pid) never kill a role. */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	/* After exec and any setuid, which would have cleared it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (want == 0 || getppid() != want) {
		log_warnx("parent %d is gone, exiting", (int)want);
		exit(1);
	}
	unsetenv(PPID_ENV);
	daemon_pid = denv ? (pid_t)atoi(denv) : 0;
	unsetenv(DAEMON_ENV);
	fault_switch(role);
}

void proc_adopt_log(int type, int fd)
{
	int target = type == MSG_LOG_ERROR ? FD_LOG : FD_ACCESS;

	/* dup2 swaps the file atomically, even under a thread writing to it. */
	if (dup2(fd, target) == -1)
		log_warn("reopened log");
	close(fd);
	if (type == MSG_LOG_ERROR)
		log_info("log reopened");
}

void proc_describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "%s: SIG%s%s",
		    WTERMSIG(status) == SIGKILL || WTERMSIG(status) == SIGTERM ? "killed" : "crash",
		    sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?",
		    WCOREDUMP(status) ? " (core dumped)" : "");
	else
		snprintf(buf, len, "status 0x%x", status);
}

pid_t proc_daemon_pid(void) { return daemon_pid; }

/* Our parent, or (a manager just gone, our reparenting not seen yet) still there:
 * EPERM is a live daemon too (it runs as root, we may not). */
int proc_daemon_alive(void)
{
	return daemon_pid > 0 &&
	    (getppid() == daemon_pid || kill(daemon_pid, 0) == 0 || errno == EPERM);
}

/* Parsing a pid list as /proc/.../children writes it: numbers separated by spaces. */
struct pid_list {
	void (*fn)(pid_t pid, void *arg);
	void *arg;
	long cur; /* the number being read, capped past INT_MAX */
	int in, count;
};

static void pid_list_char(struct pid_list *p, char ch)
{
	if (ch >= '0' && ch <= '9') {
		p->cur = p->cur <= INT_MAX ? p->cur * 10 + (ch - '0') : p->cur;
		p->in = 1;
		return;
	}
	if (p->in && p->cur > 1 && p->cur <= INT_MAX) {
		p->fn((pid_t)p->cur, p->arg);
		p->count++;
	}
	p->cur = p->in = 0;
}

int proc_each_pid(int fd, void (*fn)(pid_t pid, void *arg), void *arg)
{
	struct pid_list p = {fn, arg, 0, 0, 0};
	char buf[1024];
	ssize_t n;

	/* One read may end anywhere, even inside a number: read to EOF. */
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		for (ssize_t i = 0; i < n; i++)
			pid_list_char(&p, buf[i]);
	}
	pid_list_char(&p, ' '); /* a number that ends the file is whole */
	return p.count;
}

/*
 * /proc/self/task/TID/children lists the children of that thread only: we
 * read the main thread's, which is all of them in a single-threaded
 * process (the daemon). They are ours and not yet reaped, so none of these
 * pids can be reused by an unrelated process before we wait for it.
 */
int proc_each_child(void (*fn)(pid_t pid, void *arg), void *arg)
{
	char path[64];
	int fd, n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = proc_each_pid(fd, fn, arg);
	close(fd);
	return n;
}

int proc_has_children(void)
{
	siginfo_t si;

	/* WNOWAIT: look, reap nothing; fails with ECHILD only when there is no child at all. */
	return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 || errno != ECHILD;
}
