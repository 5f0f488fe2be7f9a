/*
 * Several wsd instances behind the real HAProxy (docs/scaling.md): TLS
 * ends in HAProxy with a certificate made here by openssl, each wsd gets
 * the client in a PROXY v2 header, health checks ask each instance's
 * /readyz on its metrics port. Under a wrk load over HTTPS, each instance
 * is stopped with wsctl and started again on the same port, in turn, and
 * resized with wsctl scale: not one request may fail.
 *
 * HAProxy connects from 127.0.0.2 (its "source"), the only address in
 * server.proxy_from, while wrk connects from 127.0.0.1: so a 127.0.0.1 in
 * an access log can only have come from the PROXY header.
 *
 * Skipped (exit 77) when haproxy, openssl or wrk is not installed.
 */
#include <check.h>

#include "check_run.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define BODY "behind haproxy\n"
#define BACKEND_FROM "127.0.0.2" /* HAProxy's source address towards wsd */

struct inst {
	const char *name; /* HAProxy's name for it */
	struct wsd w;
	uint16_t port, mport; /* its HTTP and metrics ports, kept across restarts */
	int gen;              /* how many times started */
	int running;
};

static char dir[] = "/tmp/wsd-haproxy-XXXXXX";
static struct inst inst[2] = {{.name = "a"}, {.name = "b"}};
static uint16_t front; /* HAProxy's TLS port */
static pid_t haproxy = -1, wrk = -1;

/* A free loopback port now (nothing else on this machine binds loopback ports on purpose). */
static uint16_t free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void path_of(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	ck_assert(n > 0 && (size_t)n < len);
}

/* Run a command to its end (within timeout_ms); its exit status, its output in out. */
static int run(char *out, size_t outlen, int timeout_ms, char *const argv[])
{
	return h_run(argv, out, outlen, timeout_ms);
}

/* Is prog on the PATH? */
static int have(const char *prog)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

static void make_cert(void)
{
	char key[PATH_MAX], crt[PATH_MAX], pem[PATH_MAX], out[4096], cmd[3 * PATH_MAX + 32];

	path_of(key, sizeof(key), "key.pem");
	path_of(crt, sizeof(crt), "crt.pem");
	path_of(pem, sizeof(pem), "site.pem");
	ck_assert_msg(run(out, sizeof(out), 60000,
	                  (char *[]){"/bin/sh", "-c",
	                      "exec openssl req -x509 -newkey rsa:2048 -nodes -days 1 "
	                      "-subj /CN=localhost -keyout \"$0\" -out \"$1\"",
	                      key, crt, NULL}) == 0,
	    "openssl req failed: %s", out);
	/* HAProxy's crt: the certificate and its key in one file */
	snprintf(cmd, sizeof(cmd), "cat %s %s > %s", crt, key, pem);
	ck_assert_int_eq(system(cmd), 0);
}

/* ---- the wsd instances ---- */

static void inst_start(struct inst *in)
{
	char conf[2 * PATH_MAX];

	in->gen++;
	h_init(&in->w);
	h_write_file(&in->w, "f", BODY, strlen(BODY));
	snprintf(conf, sizeof(conf),
	    "[server]\nlisten = 127.0.0.1:%u\nproxy_from = %s\ndrain_delay = 1s\n"
	    "[pool]\nmin = 2\nmax = 4\n"
	    "[log]\naccess_log = %s/access-%s%d.log\n"
	    "[metrics]\nlisten = 127.0.0.1:%u\n",
	    in->port, BACKEND_FROM, dir, in->name, in->gen, in->mport);
	h_start(&in->w, conf);
	ck_assert_uint_eq(in->w.port, in->port);
	in->running = 1;
}

static int wsctl(struct inst *in, char *out, size_t outlen, char *const args[])
{
	char *argv[16] = {WSCTL_BIN, "-s", in->w.sock};
	int i = 3;

	while (*args && i < 15)
		argv[i++] = *args++;
	argv[i] = NULL;
	return run(out, outlen, 70000, argv);
}

#define WSCTL(in, ...) \
	do { \
		char out_[4096]; \
		int st_ = wsctl(in, out_, sizeof(out_), (char *[]){__VA_ARGS__, NULL}); \
		ck_assert_msg(st_ == 0, "wsctl %s: status %d: %s", #__VA_ARGS__, st_, out_); \
	} while (0)

/* wsctl stop, wait until the daemon and all of it are gone (h_stop checks it left clean). */
static void inst_stop(struct inst *in)
{
	h_count_role(&in->w, "", NULL, 0); /* every process, before they go */
	WSCTL(in, "stop");
	in->w.term_sent = 1; /* h_stop only waits */
	ck_assert_int_eq(h_stop(&in->w), 0);
	in->running = 0;
}

/* ---- HAProxy ---- */

static void haproxy_conf(void)
{
	char path[PATH_MAX], pem[PATH_MAX], sock[PATH_MAX];
	FILE *f;

	path_of(path, sizeof(path), "haproxy.cfg");
	path_of(pem, sizeof(pem), "site.pem");
	path_of(sock, sizeof(sock), "haproxy.sock");
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	/* The shape of examples/haproxy.cfg, on loopback and with fast checks. */
	fprintf(f,
	    "global\n"
	    "    log stdout format raw local0 info\n"
	    "    stats socket %s mode 600 level admin\n"
	    "    maxconn 2000\n"
	    "defaults\n"
	    "    mode http\n"
	    "    log global\n"
	    "    option httplog\n"
	    "    timeout connect 2s\n"
	    "    timeout client 30s\n"
	    "    timeout server 30s\n"
	    "    timeout http-request 10s\n"
	    "    timeout http-keep-alive 10s\n"
	    "    timeout check 1s\n"
	    "    retries 3\n"
	    "    option redispatch\n"
	    "    retry-on conn-failure empty-response\n"
	    "frontend https\n"
	    "    bind 127.0.0.1:%u ssl crt %s alpn http/1.1\n"
	    "    default_backend wsd\n"
	    "backend wsd\n"
	    "    balance roundrobin\n"
	    "    option httpchk GET /readyz\n"
	    "    http-check expect status 200\n"
	    "    source %s\n"
	    "    default-server send-proxy-v2 check inter 100ms fall 2 rise 2\n"
	    "    server a 127.0.0.1:%u check port %u\n"
	    "    server b 127.0.0.1:%u check port %u\n",
	    sock, front, pem, BACKEND_FROM, inst[0].port, inst[0].mport, inst[1].port,
	    inst[1].mport);
	fclose(f);
}

static void haproxy_start(void)
{
	char cfg[PATH_MAX], log[PATH_MAX], out[8192];
	int fd;

	path_of(cfg, sizeof(cfg), "haproxy.cfg");
	path_of(log, sizeof(log), "haproxy.log");
	ck_assert_msg(
	    run(out, sizeof(out), 20000,
	        (char *[]){"/bin/sh", "-c", "exec haproxy -c -q -f \"$0\"", cfg, NULL}) == 0,
	    "haproxy -c: %s", out);
	if ((haproxy = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("haproxy", "haproxy", "-db", "-f", cfg, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(haproxy, 0);
}

/* "show stat" on the stats socket: the status column of backend wsd's server name. */
static int server_status(const char *name, char *status, size_t len)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char buf[65536], want[64], *line, *save = NULL;
	size_t n = 0;
	ssize_t r;
	int fd;

	path_of(a.sun_path, sizeof(a.sun_path), "haproxy.sock");
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    write(fd, "show stat\n", 10) != 10) {
		close(fd);
		return -1;
	}
	while (n + 1 < sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	snprintf(want, sizeof(want), "wsd,%s,", name);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f = line;

		if (strncmp(line, want, strlen(want)) != 0)
			continue;
		for (int i = 0; i < 17 && f; i++) /* the 18th column: status */
			f = strchr(f, ',') ? strchr(f, ',') + 1 : NULL;
		if (f == NULL)
			return -1;
		snprintf(status, len, "%.*s", (int)strcspn(f, ","), f);
		return 0;
	}
	return -1;
}

static int is_up(void *arg)
{
	char st[64];

	return server_status(arg, st, sizeof(st)) == 0 && strcmp(st, "UP") == 0;
}

static void wait_up(struct inst *in)
{
	char st[64] = "?";

	if (!h_wait_until(is_up, (void *)in->name, h_bound_ms(15000))) {
		server_status(in->name, st, sizeof(st));
		ck_abort_msg("haproxy never saw server %s UP (status %s)", in->name, st);
	}
}

static int exited(void *arg)
{
	pid_t *pid = arg;

	if (waitpid(*pid, NULL, WNOHANG) != *pid)
		return 0;
	*pid = -1;
	return 1;
}

/* Signal a child of ours and wait for it (SIGKILL if it lingers). */
static void end_child(pid_t *pid, int sig)
{
	if (*pid <= 0)
		return;
	kill(*pid, sig);
	if (!h_wait_until(exited, pid, 10000)) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
		*pid = -1;
	}
}

/* ---- the load ---- */

static void wrk_start(void)
{
	char url[64], out[PATH_MAX];
	int fd;

	snprintf(url, sizeof(url), "https://127.0.0.1:%u/f", front);
	path_of(out, sizeof(out), "wrk.txt");
	if ((wrk = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		/* bounded: stopped with SIGINT once the restarts are done, 120 s at most */
		execlp(
		    "wrk", "wrk", "-t2", "-c16", "-d120s", "--timeout", "10s", url, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(wrk, 0);
}

static char *slurp(const char *path)
{
	static char buf[1 << 20];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* wrk's summary: requests done; every error it counts is asserted zero. */
static long wrk_stop(void)
{
	char path[PATH_MAX], *s, *p;

	end_child(&wrk, SIGINT); /* wrk prints its summary on SIGINT */
	path_of(path, sizeof(path), "wrk.txt");
	s = slurp(path);
	ck_assert_msg(strstr(s, "Non-2xx or 3xx") == NULL, "failed requests:\n%s", s);
	ck_assert_msg(strstr(s, "Socket errors") == NULL, "socket errors:\n%s", s);
	ck_assert_msg((p = strstr(s, " requests in ")) != NULL, "no wrk summary:\n%s", s);
	printf("wrk through haproxy, during the restarts and resizes:\n%s", s);
	while (p > s && p[-1] != '\n' && p[-1] != ' ')
		p--;
	return atol(p);
}

/* An access log, line by line: lines, from the client (by PROXY), from HAProxy itself, 200s. */
struct tally {
	int lines, client, backend, ok;
};

/* Read until stop_at client lines (0: the whole file). */
static struct tally tally_of(const struct inst *in, int gen, int stop_at)
{
	char path[PATH_MAX], name[32], line[8192];
	struct tally t = {0};
	FILE *f;

	snprintf(name, sizeof(name), "access-%s%d.log", in->name, gen);
	path_of(path, sizeof(path), name);
	if ((f = fopen(path, "r")) == NULL)
		return t;
	while (fgets(line, sizeof(line), f) != NULL && (stop_at == 0 || t.client < stop_at)) {
		t.lines++;
		t.client += strncmp(line, "127.0.0.1 - - [", 15) == 0;
		t.backend += strncmp(line, BACKEND_FROM " ", strlen(BACKEND_FROM) + 1) == 0;
		t.ok += strstr(line, "\" 200 ") != NULL;
	}
	fclose(f);
	return t;
}

struct served {
	struct inst *in;
	int min;
};

/* The instance's current access log has at least min lines from the client. */
static int has_served(void *arg)
{
	struct served *sv = arg;

	return tally_of(sv->in, sv->in->gen, sv->min).client >= sv->min;
}

static void wait_served(struct inst *in, int min)
{
	struct served sv = {in, min};

	ck_assert_msg(h_wait_until(has_served, &sv, h_bound_ms(15000)),
	    "instance %s (start %d) served fewer than %d requests through haproxy", in->name,
	    in->gen, min);
}

/* Every access log: the client's address from PROXY, never HAProxy's own; only 200s. */
static void check_access_logs(void)
{
	struct tally t;

	for (int i = 0; i < 2; i++)
		for (int g = 1; g <= inst[i].gen; g++) {
			t = tally_of(&inst[i], g, 0);
			ck_assert_msg(t.client > 0, "%s%d: no client line", inst[i].name, g);
			ck_assert_msg(t.client == t.lines && t.backend == 0,
			    "%s%d: %d lines, %d from the client, %d from HAProxy", inst[i].name, g,
			    t.lines, t.client, t.backend);
			ck_assert_msg(t.ok == t.lines, "%s%d: %d of %d responses not 200",
			    inst[i].name, g, t.lines - t.ok, t.lines);
		}
}

/* ---- the test ---- */

static void setup_all(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	chmod(dir, 0755); /* the workers, maybe another user, append access logs here */
	make_cert();
	front = free_port();
	for (int i = 0; i < 2; i++) {
		inst[i].port = free_port();
		inst[i].mport = free_port();
		inst_start(&inst[i]);
	}
	haproxy_conf();
	haproxy_start();
	wait_up(&inst[0]);
	wait_up(&inst[1]);
}

static void teardown_all(void)
{
	char cmd[PATH_MAX + 16];

	end_child(&wrk, SIGINT);
	end_child(&haproxy, SIGTERM);
	for (int i = 0; i < 2; i++)
		if (inst[i].running)
			ck_assert_int_eq(h_stop(&inst[i].w), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_restarts_and_resizes_lose_nothing)
{
	long done;

	setup_all();
	wrk_start();
	wait_served(&inst[0], 50);
	wait_served(&inst[1], 50);
	for (int i = 0; i < 2; i++) {
		inst_stop(&inst[i]);
		inst_start(&inst[i]);
		wait_up(&inst[i]);
		wait_served(&inst[i], 50);
	}
	for (int i = 0; i < 2; i++) {
		WSCTL(&inst[i], "scale", "--min", "4", "--max", "8");
		wait_served(&inst[i], 200);
		WSCTL(&inst[i], "scale", "--min", "1", "--max", "2");
		wait_served(&inst[i], 400);
	}
	done = wrk_stop();
	ck_assert_int_gt(done, 1000);
	check_access_logs();
	teardown_all();
}
END_TEST

/* The shipped example is a valid HAProxy configuration (with a certificate where it says). */
START_TEST(test_example_config_valid)
{
	char cmd[4 * PATH_MAX], out[8192];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	make_cert();
	snprintf(cmd, sizeof(cmd),
	    "sed 's|/etc/haproxy/certs/www.pem|%s/site.pem|' %s > %s/example.cfg && "
	    "exec haproxy -c -f %s/example.cfg",
	    dir, WSD_EXAMPLE_HAPROXY, dir, dir);
	ck_assert_msg(run(out, sizeof(out), 20000, (char *[]){"/bin/sh", "-c", cmd, NULL}) == 0,
	    "haproxy -c examples/haproxy.cfg: %s", out);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	static const char *const needs[] = {"haproxy", "openssl", "wrk"};
	Suite *s = suite_create("haproxy");
	TCase *tc = tcase_create("haproxy");

	for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++)
		if (!have(needs[i])) {
			printf(
			    "SKIP: %s is not installed (apt-get install %s)\n", needs[i], needs[i]);
			return 77;
		}
	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_example_config_valid);
	tcase_add_test(tc, test_restarts_and_resizes_lose_nothing);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
