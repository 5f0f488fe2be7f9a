/* End to end: the real wsd serving files, its process tree, and its stop. */
#include <arpa/inet.h>
#include <check.h>

#include "check_run.h"
#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct wsd w;

static char *random_bytes(size_t n)
{
	char *p = malloc(n ? n : 1);

	srand((unsigned)n);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)(rand() & 0xff);
	return p;
}

static void expect_body(const char *target, const char *data, size_t len)
{
	struct h_response r;

	ck_assert_int_eq(h_get(&w, "GET", target, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.content_length, (long)len);
	ck_assert_int_eq(r.body_len, len);
	ck_assert(len == 0 || memcmp(r.body, data, len) == 0);
	h_response_free(&r);
}

START_TEST(test_bytes_equal_file)
{
	size_t sizes[] = {0, 1024, (1 << 20) + 12345};
	const char *names[] = {"empty.bin", "one-k.bin", "big.bin"};
	char *data[3];

	h_init(&w);
	for (int i = 0; i < 3; i++) {
		data[i] = random_bytes(sizes[i]);
		h_write_file(&w, names[i], data[i], sizes[i]);
	}
	h_start(&w, NULL);
	for (int i = 0; i < 3; i++) {
		char t[64];

		snprintf(t, sizeof(t), "/%s", names[i]);
		expect_body(t, data[i], sizes[i]);
		free(data[i]);
	}
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_head_404_index_and_types)
{
	struct h_response r;
	char v[128];

	h_init(&w);
	h_write_file(&w, "index.html", "<p>home</p>\n", 12);
	h_write_file(&w, "style.css", "p{}\n", 4);
	{
		char dir[PATH_MAX + 16];

		snprintf(dir, sizeof(dir), "%s/sub", w.root);
		ck_assert_int_eq(mkdir(dir, 0755), 0);
	}
	h_write_file(&w, "sub/index.html", "sub\n", 4);
	h_start(&w, NULL);

	ck_assert_int_eq(h_get(&w, "HEAD", "/style.css", &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.content_length, 4);
	ck_assert_int_eq(r.body_len, 0);
	ck_assert_int_eq(h_header(&r, "Content-Type", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "text/css; charset=utf-8");
	ck_assert_int_eq(h_header(&r, "Date", v, sizeof(v)), 0);
	ck_assert_ptr_nonnull(strstr(v, " GMT"));

	ck_assert_int_eq(h_get(&w, "GET", "/", &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "<p>home</p>\n");
	ck_assert_int_eq(h_header(&r, "Content-Type", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "text/html; charset=utf-8");
	h_response_free(&r);

	/* A directory without its slash: redirected, query kept. */
	ck_assert_int_eq(h_get(&w, "GET", "/sub?x=1", &r), 0);
	ck_assert_int_eq(r.status, 301);
	ck_assert_int_eq(h_header(&r, "Location", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "/sub/?x=1");
	h_response_free(&r);
	ck_assert_int_eq(h_get(&w, "GET", "/sub/", &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "sub\n");
	h_response_free(&r);

	ck_assert_int_eq(h_get(&w, "GET", "/missing.html", &r), 0);
	ck_assert_int_eq(r.status, 404);
	ck_assert_int_gt(r.content_length, 0);
	h_response_free(&r);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_keepalive_many_requests)
{
	struct h_response r;
	int fd;

	h_init(&w);
	h_write_file(&w, "a.txt", "alpha\n", 6);
	h_start(&w, NULL);
	fd = h_connect(&w);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(h_send(fd, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
		ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq(r.body, "alpha\n");
		ck_assert(!r.closed);
		h_response_free(&r);
	}
	/* HTTP/1.0 without keep-alive: answered, then closed. */
	ck_assert_int_eq(h_send(fd, "GET /a.txt HTTP/1.0\r\n\r\n"), 0);
	ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
	ck_assert(r.closed);
	h_response_free(&r);
	ck_assert_int_eq(recv(fd, &r.status, 1, 0), 0);
	close(fd);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_keepalive_timeout_closes_idle)
{
	struct h_response r;
	uint64_t t0;
	char c;
	int fd;

	h_init(&w);
	h_write_file(&w, "a.txt", "alpha\n", 6);
	h_start(&w, "[http]\nkeepalive_timeout = 300ms\n");
	fd = h_connect(&w);
	ck_assert_int_eq(h_send(fd, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
	h_response_free(&r);
	t0 = h_now_ms();
	/* Closed silently: end of file, no 408. */
	ck_assert_int_eq(recv(fd, &c, 1, 0), 0);
	ck_assert_uint_ge(h_now_ms() - t0, 200);
	close(fd);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

static const char secret[] = "TOP-SECRET-OUTSIDE-THE-ROOT";

static void expect_status(const char *target, int status)
{
	struct h_response r;
	int fd = h_connect(&w);
	char req[1024];

	snprintf(
	    req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target);
	ck_assert_int_eq(h_send(fd, req), 0);
	ck_assert_msg(h_read_response(fd, &r, 0) == 0, "no answer for %s", target);
	ck_assert_msg(r.status == status, "%s: got %d, want %d", target, r.status, status);
	ck_assert_msg(r.body == NULL || strstr(r.body, secret) == NULL, "%s leaked", target);
	h_response_free(&r);
	close(fd);
}

START_TEST(test_traversal_never_leaks)
{
	char path[PATH_MAX * 2];
	FILE *f;

	h_init(&w);
	snprintf(path, sizeof(path), "%s/secret.txt", w.dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(secret, f);
	fclose(f);
	h_write_file(&w, "ok.txt", "ok\n", 3);
	h_write_file(&w, ".hidden", secret, strlen(secret));
	snprintf(path, sizeof(path), "%s/noindex", w.root);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/out-link", w.root);
	ck_assert_int_eq(symlink("../secret.txt", path), 0);
	snprintf(path, sizeof(path), "%s/abs-link", w.root);
	ck_assert_int_eq(symlink("/etc/passwd", path), 0);
	snprintf(path, sizeof(path), "%s/in-link", w.root);
	ck_assert_int_eq(symlink("ok.txt", path), 0);
	h_start(&w, NULL);

	expect_status("/../secret.txt", 400);
	expect_status("/%2e%2e/secret.txt", 400);
	expect_status("/%2E%2E%2Fsecret.txt", 400);
	expect_status("/noindex/../../secret.txt", 400);
	expect_status("//..//secret.txt", 400);
	expect_status("/ok.txt%00", 400);
	expect_status("/%zz", 400);
	expect_status("/.hidden", 404);
	expect_status("/noindex/", 403);
	expect_status("/out-link", 403);
	expect_status("/abs-link", 403);
	expect_status("/in-link", 200);
	expect_status("/noindex/../ok.txt", 200);
	expect_status("http://x/../secret.txt", 400);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* The inode of the socket listening on port, from /proc/net/tcp. */
static unsigned long listen_inode(uint16_t port)
{
	char line[512];
	unsigned long inode = 0;
	unsigned lport, state;
	FILE *f = fopen("/proc/net/tcp", "r");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " %*d: %*x:%x %*x:%*x %x %*x:%*x %*x:%*x %*x %*d %*d %lu", &lport,
		        &state, &inode) == 3 &&
		    lport == port && state == 0x0A)
			break;
		else
			inode = 0;
	fclose(f);
	return inode;
}

/* Does pid hold socket:[inode]? */
static int holds(pid_t pid, unsigned long inode)
{
	char dir[64], path[PATH_MAX], link[128], want[64];
	struct dirent *e;
	DIR *d;
	int found = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	ck_assert_ptr_nonnull(d = opendir(dir));
	while (!found && (e = readdir(d)) != NULL) {
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if ((n = readlink(path, link, sizeof(link) - 1)) > 0) {
			link[n] = '\0';
			found = strcmp(link, want) == 0;
		}
	}
	closedir(d);
	return found;
}

START_TEST(test_process_tree_and_clean_stop)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	pid_t pids[16];
	unsigned long inode;
	int fd, one = 1, n;

	h_init(&w);
	h_write_file(&w, "index.html", "hi\n", 3);
	h_start(&w, "[pool]\nmin = 3\nmax = 8\n");
	ck_assert_int_ne(inode = listen_inode(w.port), 0);
	ck_assert(holds(w.pid, inode));
	ck_assert_int_eq(h_count_role(&w, "listener", pids, 16), 1);
	ck_assert(holds(pids[0], inode));
	/* Only the daemon and the listener ever hold the listening socket. */
	ck_assert_int_eq(h_count_role(&w, "manager", pids, 16), 1);
	ck_assert(!holds(pids[0], inode));
	ck_assert_int_eq(n = h_count_role(&w, "worker", pids, 16), 3);
	for (int i = 0; i < n; i++)
		ck_assert(!holds(pids[i], inode));
	ck_assert_int_eq(h_stop(&w), 0);
	/* The port is free again at once. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sin.sin_port = htons(w.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	close(fd);
}
END_TEST

START_TEST(test_sigterm_finishes_inflight)
{
	size_t big = 8u << 20;
	char *data = random_bytes(big);
	struct h_response r;
	int fd, status;

	h_init(&w);
	h_write_file(&w, "big.bin", data, big);
	h_start(&w, NULL);
	fd = h_connect(&w);
	ck_assert_int_eq(h_send(fd, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	/* Stop once the answer has started: the body must still arrive whole. */
	ck_assert_int_eq(recv(fd, &status, 1, MSG_PEEK), 1);
	kill(w.pid, SIGTERM);
	ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.body_len, big);
	ck_assert(memcmp(r.body, data, big) == 0);
	h_response_free(&r);
	close(fd);
	free(data);
	status = h_stop(&w);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

static int file_has(const char *path, const char *needle)
{
	char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

struct file_wait {
	const char *path, *needle;
};

static int file_pred(void *arg)
{
	struct file_wait *fw = arg;
	return file_has(fw->path, fw->needle);
}

static int two_workers_reopened(void *arg)
{
	char line[1024];
	FILE *f = fopen(arg, "r");
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		n += strstr(line, " worker[") && strstr(line, "log reopened");
	if (f)
		fclose(f);
	return n >= 2;
}

/* logrotate's way: move the files, SIGUSR1, and every process writes to new ones. */
START_TEST(test_access_log_and_reopen)
{
	char alog[PATH_MAX + 16], moved[PATH_MAX + 32], mlog[PATH_MAX + 32], extra[PATH_MAX + 64];
	struct h_response r;
	struct file_wait fw;

	h_init(&w);
	h_write_file(&w, "a.txt", "alpha\n", 6);
	snprintf(alog, sizeof(alog), "%s/access.log", w.dir);
	snprintf(extra, sizeof(extra), "[log]\naccess_log = %s\n", alog);
	h_start(&w, extra);
	ck_assert_int_eq(h_get(&w, "GET", "/a.txt?first", &r), 0);
	h_response_free(&r);
	fw = (struct file_wait){alog, "\"GET /a.txt?first HTTP/1.1\" 200 6 \"-\" \"-\" "};
	ck_assert_msg(h_wait_until(file_pred, &fw, 5000), "no access log line");

	snprintf(moved, sizeof(moved), "%s.1", alog);
	snprintf(mlog, sizeof(mlog), "%s.1", w.log);
	ck_assert_int_eq(rename(alog, moved), 0);
	ck_assert_int_eq(rename(w.log, mlog), 0);
	ck_assert_int_eq(kill(w.pid, SIGUSR1), 0);
	ck_assert(h_wait_log(&w, "logs reopened", 5000));
	/* Each of the two workers says so in the new error log once it has the new files. */
	ck_assert(h_wait_until(two_workers_reopened, w.log, 5000));
	ck_assert_int_eq(h_get(&w, "GET", "/a.txt?second", &r), 0);
	h_response_free(&r);
	fw = (struct file_wait){alog, "GET /a.txt?second"};
	ck_assert_msg(h_wait_until(file_pred, &fw, 5000), "the reopened access log got no line");
	ck_assert(!file_has(moved, "second"));
	ck_assert(file_has(moved, "first"));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

struct role_count {
	const char *role;
	int want;
};

static int role_count_pred(void *arg)
{
	struct role_count *rc = arg;
	return h_count_role(&w, rc->role, NULL, 0) == rc->want;
}

/* Busy workers make the pool grow to max; idle ones retire back to min. */
START_TEST(test_pool_grows_and_shrinks)
{
	struct role_count rc = {"worker", 3};
	struct h_response r;
	int fds[3], extra;

	h_init(&w);
	h_write_file(&w, "a.txt", "alpha\n", 6);
	/* Parking off: an idle keep-alive connection then holds its worker. */
	h_start(&w,
	    "[pool]\nmin = 1\nmax = 3\nmax_workload = 1\nidle_timeout = 300ms\n"
	    "[http]\npark_after = 0s\n");
	ck_assert_int_eq(h_count_role(&w, "worker", NULL, 0), 1);
	/* Three keep-alive connections, one a worker: each is answered. */
	for (int i = 0; i < 3; i++) {
		fds[i] = h_connect(&w);
		ck_assert_int_eq(h_send(fds[i], "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
		ck_assert_int_eq(h_read_response(fds[i], &r, 0), 0);
		ck_assert_int_eq(r.status, 200);
		h_response_free(&r);
	}
	ck_assert(h_wait_until(role_count_pred, &rc, 5000));
	ck_assert(h_log_has(&w, "→3: connections waited a whole tick, no worker has room"));
	/* A fourth waits in the backlog, and the operator is told why. */
	extra = h_connect(&w);
	ck_assert_int_eq(h_send(extra, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert(h_wait_log(&w, "pool full: 3 workers with 1 connection each", 5000));
	close(fds[0]);
	ck_assert_int_eq(h_read_response(extra, &r, 0), 0);
	ck_assert_int_eq(r.status, 200);
	h_response_free(&r);
	close(extra);
	for (int i = 1; i < 3; i++)
		close(fds[i]);
	rc.want = 1;
	ck_assert_msg(h_wait_until(role_count_pred, &rc, 10000), "the pool did not shrink back");
	ck_assert(h_log_has(&w, "scale down 2→1: quiet for pool.idle_timeout"));
	ck_assert_int_eq(h_get(&w, "GET", "/a.txt", &r), 0);
	ck_assert_int_eq(r.status, 200);
	h_response_free(&r);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

Suite *serve_suite(void)
{
	Suite *s = suite_create("serve");
	TCase *tc = tcase_create("serve");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_bytes_equal_file);
	tcase_add_test(tc, test_head_404_index_and_types);
	tcase_add_test(tc, test_keepalive_many_requests);
	tcase_add_test(tc, test_keepalive_timeout_closes_idle);
	tcase_add_test(tc, test_traversal_never_leaks);
	tcase_add_test(tc, test_process_tree_and_clean_stop);
	tcase_add_test(tc, test_sigterm_finishes_inflight);
	tcase_add_test(tc, test_access_log_and_reopen);
	tcase_add_test(tc, test_pool_grows_and_shrinks);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(serve_suite());

	return check_run(sr, CK_NORMAL);
}
