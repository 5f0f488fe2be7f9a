/*
 * The PROXY protocol v2 from the addresses in server.proxy_from: raw
 * headers over loopback, the access log showing whose connection it was
 * (docs/configuration.md, docs/scaling.md).
 */
#include <check.h>

#include "check_run.h"
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define BODY "proxied\n"
#define GET_CLOSE "GET /f HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
#define GET_KA "GET /f HTTP/1.1\r\nHost: t\r\n\r\n"

static struct wsd w;
static char alog[PATH_MAX + 16];

static const unsigned char sig[12] = {
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* wsd with an access log and this proxy_from (and more settings after it). */
static void setup(const char *from, const char *more)
{
	char conf[PATH_MAX + 512];

	h_init(&w);
	h_write_file(&w, "f", BODY, strlen(BODY));
	snprintf(alog, sizeof(alog), "%s/access.log", w.dir);
	snprintf(conf, sizeof(conf), "[server]\nproxy_from = %s\n[log]\naccess_log = %s\n%s", from,
	    alog, more ? more : "");
	h_start(&w, conf);
}

/* A v2 header into out: PROXY (or LOCAL) for src:port over TCP; its length. */
static size_t header(unsigned char *out, int local, const char *src, unsigned port)
{
	unsigned char a[16], dst[16] = {0};
	int v6 = strchr(src, ':') != NULL;
	size_t alen = v6 ? 16 : 4, blen = 2 * alen + 4;

	ck_assert_int_eq(inet_pton(v6 ? AF_INET6 : AF_INET, src, a), 1);
	memcpy(out, sig, sizeof(sig));
	out[12] = local ? 0x20 : 0x21;
	out[13] = v6 ? 0x21 : 0x11;
	out[14] = 0;
	out[15] = (unsigned char)blen;
	memcpy(out + 16, a, alen);
	memcpy(out + 16 + alen, dst, alen);
	out[16 + 2 * alen] = (unsigned char)(port >> 8);
	out[17 + 2 * alen] = (unsigned char)port;
	out[18 + 2 * alen] = 0;
	out[19 + 2 * alen] = 80;
	return 16 + blen;
}

static void send_all(int fd, const void *p, size_t len)
{
	ck_assert_int_eq(send(fd, p, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Send bytes then read one response: its status (the connection stays open). */
static int ask(int fd, const void *p, size_t len)
{
	struct h_response r;
	int status;

	send_all(fd, p, len);
	ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
	status = r.status;
	if (status == 200)
		ck_assert_uint_eq(r.body_len, strlen(BODY));
	h_response_free(&r);
	return status;
}

/* A header for src:5678 with req after it into out (size bytes): their length. */
static size_t with_request(
    unsigned char *out, size_t size, int local, const char *src, const char *req)
{
	size_t n = header(out, local, src, 5678);

	ck_assert_uint_le(n + strlen(req), size);
	memcpy(out + n, req, strlen(req));
	return n + strlen(req);
}

/* A header for src and a request after it, in one write: the status. */
static int ask_as(const char *src, int local, const char *req)
{
	unsigned char buf[512];
	size_t n = with_request(buf, sizeof(buf), local, src, req);
	int fd = h_connect(&w), status;

	status = ask(fd, buf, n);
	close(fd);
	return status;
}

static int file_count(const char *path, const char *needle)
{
	char buf[65536], *p = buf;
	FILE *f = fopen(path, "r");
	size_t n = 0;
	int count = 0;

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	while ((p = strstr(p, needle)) != NULL) {
		count++;
		p += strlen(needle);
	}
	return count;
}

struct alog_wait {
	const char *needle;
	int count;
};

static int alog_has(void *arg)
{
	struct alog_wait *a = arg;

	return file_count(alog, a->needle) >= a->count;
}

/* Wait until the access log holds needle count times. */
static void wait_alog(const char *needle, int count)
{
	struct alog_wait a = {needle, count};

	ck_assert_msg(h_wait_until(alog_has, &a, h_bound_ms(5000)),
	    "access log has %d, not %d, lines with '%s'", file_count(alog, needle), count, needle);
}

/* The access log comes to hold count lines from client, and not one holding absent. */
static void expect_clients(const char *client, int count, const char *absent)
{
	char line[128];

	ck_assert_int_lt(snprintf(line, sizeof(line), "%s - - [", client), (int)sizeof(line));
	wait_alog(line, count);
	ck_assert_int_eq(file_count(alog, absent), 0);
}

START_TEST(test_ipv4_source)
{
	setup("127.0.0.1", NULL);
	ck_assert_int_eq(ask_as("192.0.2.7", 0, GET_CLOSE), 200);
	expect_clients("192.0.2.7", 1, "127.0.0.1 - - [");
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_ipv6_source)
{
	setup("10.0.0.0/8, 127.0.0.0/8 ::1", NULL);
	ck_assert_int_eq(ask_as("2001:db8::42", 0, GET_CLOSE), 200);
	expect_clients("2001:db8::42", 1, "127.0.0.1 - - [");
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* A listed peer without the header: 400 and closed, and the error log says why. */
START_TEST(test_missing_header)
{
	struct h_response r;
	int fd;

	setup("127.0.0.1", NULL);
	fd = h_connect(&w);
	send_all(fd, GET_KA, strlen(GET_KA));
	ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert_int_eq(r.closed, 1);
	h_response_free(&r);
	close(fd);
	ck_assert(h_wait_log(&w, "refused with 400: no PROXY v2 header", h_bound_ms(5000)));
	wait_alog("127.0.0.1 - - [", 1);
	/* an invalid one: version 1 in the version nibble */
	{
		unsigned char buf[64];
		size_t n = header(buf, 0, "192.0.2.7", 1);

		buf[12] = 0x11;
		fd = h_connect(&w);
		ck_assert_int_eq(ask(fd, buf, n), 400);
		close(fd);
	}
	ck_assert(h_wait_log(&w, "PROXY header version is not 2", h_bound_ms(5000)));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* From a peer not listed, a PROXY header is only bad HTTP; plain HTTP is served. */
START_TEST(test_unlisted_peer)
{
	setup("10.0.0.0/8", NULL);
	ck_assert_int_eq(ask_as("192.0.2.7", 0, GET_CLOSE), 400);
	ck_assert_int_eq(ask_as("192.0.2.7", 1, GET_CLOSE), 400);
	ck_assert_int_eq(h_get(&w, "GET", "/f", &(struct h_response){0}), 0);
	expect_clients("127.0.0.1", 3, "192.0.2.7");
	ck_assert(!h_log_has(&w, "refused with 400"));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* No one read the header off the wire: the worker waits for the rest, wherever it splits. */
START_TEST(test_split_header)
{
	static const size_t cuts[] = {1, 5, 12, 13, 15, 16, 20, 28};
	unsigned char buf[512];
	size_t n;
	int fd;

	setup("127.0.0.1", NULL);
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		n = with_request(buf, sizeof(buf), 0, "192.0.2.7", GET_CLOSE);
		fd = h_connect(&w);
		send_all(fd, buf, cuts[i]);
		usleep(20000); /* pacing only: the second write must come as a second segment */
		ck_assert_int_eq(ask(fd, buf + cuts[i], n - cuts[i]), 200);
		close(fd);
	}
	expect_clients("192.0.2.7", (int)(sizeof(cuts) / sizeof(cuts[0])), "127.0.0.1 - - [");
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* LOCAL (a load balancer's health check): served as the real peer. */
START_TEST(test_local_command)
{
	setup("127.0.0.1", NULL);
	ck_assert_int_eq(ask_as("192.0.2.7", 1, GET_CLOSE), 200);
	expect_clients("127.0.0.1", 1, "192.0.2.7");
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* Keep-alive: the header comes once, the client's address stays for every request. */
START_TEST(test_keepalive_keeps_client)
{
	unsigned char buf[512];
	size_t n;
	int fd;

	setup("127.0.0.1", "[http]\npark_after = 0s\n");
	fd = h_connect(&w);
	n = with_request(buf, sizeof(buf), 0, "192.0.2.7", GET_KA);
	ck_assert_int_eq(ask(fd, buf, n), 200);
	ck_assert_int_eq(ask(fd, GET_KA, strlen(GET_KA)), 200);
	ck_assert_int_eq(ask(fd, GET_KA, strlen(GET_KA)), 200);
	close(fd);
	expect_clients("192.0.2.7", 3, "127.0.0.1 - - [");
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* The sockets the listener holds now, at any descriptor. */
static int listener_sockets(void)
{
	pid_t pid;

	ck_assert_int_eq(h_count_role(&w, "listener", &pid, 1), 1);
	return h_proc_sockets(pid, -1);
}

static int listener_holds(void *arg) { return listener_sockets() == *(int *)arg; }

/*
 * A connection parked in the listener comes back as the client it was,
 * with no new header expected - even when the client's address is itself
 * in proxy_from (HAProxy on the same host).
 */
START_TEST(test_parked_keeps_client)
{
	unsigned char buf[512];
	size_t n;
	int fd, base, want;

	setup("127.0.0.0/8", "[http]\npark_after = 100ms\nkeepalive_timeout = 30s\n");
	base = listener_sockets();
	fd = h_connect(&w);
	n = with_request(buf, sizeof(buf), 0, "127.0.0.9", GET_KA);
	ck_assert_int_eq(ask(fd, buf, n), 200);
	want = base + 1;
	ck_assert(h_wait_until(listener_holds, &want, h_bound_ms(3000)));
	ck_assert_int_eq(ask(fd, GET_KA, strlen(GET_KA)), 200); /* back from the listener */
	ck_assert(h_wait_until(listener_holds, &want, h_bound_ms(3000)));
	ck_assert_int_eq(ask(fd, GET_KA, strlen(GET_KA)), 200);
	close(fd);
	expect_clients("127.0.0.9", 3, "127.0.0.1 - - [");
	ck_assert(!h_log_has(&w, "refused with 400"));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* The header falls under http.header_timeout: a stalled one is closed. */
START_TEST(test_header_timeout)
{
	struct pollfd p;
	char b[512];
	uint64_t t0;
	int fd;

	setup("127.0.0.1", "[http]\nheader_timeout = 300ms\n");
	fd = h_connect(&w);
	t0 = h_now_ms();
	send_all(fd, sig, 8);
	p = (struct pollfd){.fd = fd, .events = POLLIN};
	for (;;) {
		ck_assert_int_eq(poll(&p, 1, h_bound_ms(5000)), 1);
		if (recv(fd, b, sizeof(b), 0) <= 0)
			break;
	}
	ck_assert_uint_lt(h_now_ms() - t0, (uint64_t)h_bound_ms(3000));
	close(fd);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proxy");
	TCase *tc = tcase_create("proxy");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_ipv4_source);
	tcase_add_test(tc, test_ipv6_source);
	tcase_add_test(tc, test_missing_header);
	tcase_add_test(tc, test_unlisted_peer);
	tcase_add_test(tc, test_split_header);
	tcase_add_test(tc, test_local_command);
	tcase_add_test(tc, test_keepalive_keeps_client);
	tcase_add_test(tc, test_parked_keeps_client);
	tcase_add_test(tc, test_header_timeout);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
