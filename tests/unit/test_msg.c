/* Framing and descriptor passing over real SEQPACKET socketpairs. */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "msg.h"

static int sp[2];

static void setup(void) { ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0); }

static void teardown(void)
{
	close(sp[0]);
	close(sp[1]);
}

START_TEST(test_roundtrip_no_payload)
{
	struct msg m;

	ck_assert_int_eq(msg_send(sp[0], MSG_READY, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(msg_recv(sp[1], &m), 1);
	ck_assert_int_eq(m.hdr.type, MSG_READY);
	ck_assert_int_eq(m.hdr.len, 0);
	ck_assert_int_eq(m.nfds, 0);
}
END_TEST

START_TEST(test_roundtrip_config)
{
	struct msg_config c = {.pool_min = 3, .pool_max = 9};
	struct msg m;

	strcpy(c.root, "/srv/www");
	ck_assert_int_eq(msg_send(sp[0], MSG_CONFIG, &c, sizeof(c), NULL, 0), 0);
	ck_assert_int_eq(msg_recv(sp[1], &m), 1);
	ck_assert_int_eq(m.hdr.type, MSG_CONFIG);
	ck_assert_str_eq(m.u.config.root, "/srv/www");
	ck_assert_int_eq(m.u.config.pool_min, 3);
	ck_assert_int_eq(m.u.config.pool_max, 9);
}
END_TEST

/* A pool request and its reply: fixed sizes, the id carried back, a short one refused. */
START_TEST(test_request_reply)
{
	struct msg_request rq = {.id = 7, .op = MSG_OP_SCALE, .args = {2, 16}};
	struct msg_reply rp = {.id = 7, .code = -32002, .more = 1, .values = {4103, 4251}};
	struct msg m;

	ck_assert_int_eq(msg_send(sp[0], MSG_REQUEST, &rq, sizeof(rq), NULL, 0), 0);
	ck_assert_int_eq(msg_recv(sp[1], &m), 1);
	ck_assert_int_eq(m.hdr.type, MSG_REQUEST);
	ck_assert_uint_eq(m.u.req.id, 7);
	ck_assert_uint_eq(m.u.req.op, MSG_OP_SCALE);
	ck_assert_uint_eq(m.u.req.args[1], 16);
	strcpy(rp.text, "no such worker");
	ck_assert_int_eq(msg_send(sp[1], MSG_REPLY, &rp, sizeof(rp), NULL, 0), 0);
	ck_assert_int_eq(msg_recv(sp[0], &m), 1);
	ck_assert_int_eq(m.hdr.type, MSG_REPLY);
	ck_assert_uint_eq(m.u.reply.id, 7);
	ck_assert_int_eq(m.u.reply.code, -32002);
	ck_assert_uint_eq(m.u.reply.more, 1);
	ck_assert_int_eq(m.u.reply.values[1], 4251);
	ck_assert_str_eq(m.u.reply.text, "no such worker");
	ck_assert_str_eq(msg_type_name(MSG_REQUEST), "request");
	ck_assert_str_eq(msg_type_name(MSG_REPLY), "reply");
	ck_assert_int_eq(msg_send(sp[0], MSG_REQUEST, &rq, sizeof(rq) - 4, NULL, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_fd_passing)
{
	struct msg_conn mc = {.peerlen = 16};
	struct msg m;
	int p[2], fd;
	char buf[8] = {0};

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(msg_send(sp[0], MSG_CONN, &mc, sizeof(mc), &p[0], 1), 0);
	close(p[0]);
	ck_assert_int_eq(msg_recv(sp[1], &m), 1);
	ck_assert_int_eq(m.nfds, 1);
	fd = m.fds[0];
	/* Received descriptors are close-on-exec. */
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(write(p[1], "hi", 2), 2);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 2);
	ck_assert_str_eq(buf, "hi");
	ck_assert_int_eq(m.u.conn.peerlen, 16);
	close(fd);
	close(p[1]);
}
END_TEST

START_TEST(test_send_rejects_wrong_shape)
{
	struct msg_conn mc = {0};
	int fd = 0;

	/* Wrong payload size, missing fd, an fd where none is declared, unknown type. */
	ck_assert_int_eq(msg_send(sp[0], MSG_CONFIG, &mc, sizeof(mc), NULL, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(msg_send(sp[0], MSG_CONN, &mc, sizeof(mc), NULL, 0), -1);
	ck_assert_int_eq(msg_send(sp[0], MSG_READY, NULL, 0, &fd, 1), -1);
	ck_assert_int_eq(msg_send(sp[0], (enum msg_type)99, NULL, 0, NULL, 0), -1);
	ck_assert_int_eq(
	    msg_send(sp[0], (enum msg_type)9, NULL, 0, NULL, 0), -1); /* a gap in the numbering */
}
END_TEST

/* Raw bytes that no msg_send would produce must be refused on receipt. */
static void send_raw(const void *p, size_t n)
{
	ck_assert_int_eq(send(sp[0], p, n, 0), (ssize_t)n);
}

START_TEST(test_recv_rejects_malformed)
{
	struct msg_hdr h = {MSG_PROTO_VERSION, MSG_READY, 0};
	struct msg m;
	char big[32] = {0};

	h.version = 99; /* wrong protocol version */
	send_raw(&h, sizeof(h));
	ck_assert_int_eq(msg_recv(sp[1], &m), -1);
	ck_assert_int_eq(errno, EBADMSG);
	h = (struct msg_hdr){MSG_PROTO_VERSION, MSG_READY, 4}; /* length lies */
	send_raw(&h, sizeof(h));
	ck_assert_int_eq(msg_recv(sp[1], &m), -1);
	h = (struct msg_hdr){MSG_PROTO_VERSION, 77, 0}; /* unknown type */
	send_raw(&h, sizeof(h));
	ck_assert_int_eq(msg_recv(sp[1], &m), -1);
	send_raw("abc", 3); /* shorter than a header */
	ck_assert_int_eq(msg_recv(sp[1], &m), -1);
	h = (struct msg_hdr){MSG_PROTO_VERSION, MSG_READY, 0}; /* trailing bytes */
	memcpy(big, &h, sizeof(h));
	send_raw(big, sizeof(big));
	ck_assert_int_eq(msg_recv(sp[1], &m), -1);
	/* The channel still works after all that. */
	ck_assert_int_eq(msg_send(sp[0], MSG_READY, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(msg_recv(sp[1], &m), 1);
}
END_TEST

/* Emptying a dead reader's channel goes on past malformed messages, to the end. */
START_TEST(test_recv_skip_goes_past_malformed)
{
	struct msg_hdr h = {99, MSG_READY, 0};
	struct msg_conn mc = {.peerlen = 7};
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	unsigned bad = 0;
	struct msg m;

	send_raw(&h, sizeof(h));
	send_raw("abc", 3);
	ck_assert_int_eq(msg_send(sp[0], MSG_CONN, &mc, sizeof(mc), &fd, 1), 0);
	send_raw(&h, sizeof(h));
	close(fd);
	ck_assert_int_eq(msg_recv_skip(sp[1], &m, &bad), 1);
	ck_assert_int_eq(m.hdr.type, MSG_CONN);
	ck_assert_int_eq(m.u.conn.peerlen, 7);
	msg_close_fds(&m);
	ck_assert_uint_eq(bad, 2);
	ck_assert_int_eq(msg_recv_skip(sp[1], &m, &bad), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(bad, 3);
}
END_TEST

/* The soft limit as getrlimit says; what a failed send may retry. */
START_TEST(test_fd_limit_and_retry)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_eq(msg_fd_limit(), (long)rl.rlim_cur);
	ck_assert_int_eq(msg_send_again(ETOOMANYREFS), 1);
	ck_assert_int_eq(msg_send_again(EAGAIN), 1);
	ck_assert_int_eq(msg_send_again(EBADF), 0);
}
END_TEST

START_TEST(test_recv_conn_without_fd_rejected)
{
	struct {
		struct msg_hdr h;
		struct msg_conn c;
	} raw = {{MSG_PROTO_VERSION, MSG_CONN, sizeof(struct msg_conn)}, {.peerlen = 0}};
	struct msg m;

	send_raw(&raw, sizeof(raw));
	ck_assert_int_eq(msg_recv(sp[1], &m), -1);
	ck_assert_int_eq(errno, EBADMSG);
}
END_TEST

START_TEST(test_unexpected_fd_closed)
{
	struct msg_hdr h = {MSG_PROTO_VERSION, MSG_READY, 0};
	struct iovec iov = {&h, sizeof(h)};
	union {
		struct cmsghdr a;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr mh = {.msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = ctl.b,
	    .msg_controllen = sizeof(ctl.b)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	struct msg m;
	int p[2];
	char x;

	ck_assert_int_eq(pipe(p), 0);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &p[1], sizeof(int));
	ck_assert_int_eq(sendmsg(sp[0], &mh, 0), (ssize_t)sizeof(h));
	close(p[1]);
	ck_assert_int_eq(msg_recv(sp[1], &m), -1);
	/* The smuggled write end was closed: the pipe reads end-of-file. */
	ck_assert_int_eq(read(p[0], &x, 1), 0);
	close(p[0]);
}
END_TEST

START_TEST(test_eof_and_eagain)
{
	struct msg m;

	ck_assert_int_eq(msg_recv(sp[1], &m), -1);
	ck_assert_int_eq(errno, EAGAIN);
	close(sp[0]);
	sp[0] = open("/dev/null", O_RDONLY);
	ck_assert_int_eq(msg_recv(sp[1], &m), 0);
}
END_TEST

START_TEST(test_channel_full_is_eagain)
{
	struct msg_config c = {0};
	int n = 0;

	while (msg_send(sp[0], MSG_CONFIG, &c, sizeof(c), NULL, 0) == 0)
		ck_assert_int_lt(++n, 100000);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_gt(n, 0);
}
END_TEST

/* Send hdr + payload with nfds copies of fd, as no msg_send would. */
static void send_raw_fds(const struct msg_hdr *h, const void *p, size_t len, int fd, int nfds)
{
	struct iovec iov[2] = {{(void *)h, sizeof(*h)}, {(void *)p, len}};
	union {
		struct cmsghdr a;
		char b[CMSG_SPACE(sizeof(int) * 32)];
	} ctl;
	struct msghdr mh = {.msg_iov = iov,
	    .msg_iovlen = len ? 2 : 1,
	    .msg_control = ctl.b,
	    .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	ck_assert_int_le(nfds, 32);
	memset(&ctl, 0, sizeof(ctl));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
	for (int i = 0; i < nfds; i++)
		memcpy(CMSG_DATA(c) + sizeof(int) * (size_t)i, &fd, sizeof(int));
	ck_assert_int_eq(sendmsg(sp[0], &mh, 0), (ssize_t)(sizeof(*h) + len));
}

/* Every copy of the pipe's write end is closed: its read end sees end-of-file. */
static void assert_all_closed(int rd)
{
	char x;

	ck_assert_int_eq(read(rd, &x, 1), 0);
	close(rd);
}

/* A batch of k: exactly header + k entries, k descriptors, each entry with its own. */
START_TEST(test_batch_sizes_roundtrip)
{
	struct msg_conns b;
	int fds[MSG_MAXFDS];
	struct msg m;

	ck_assert_uint_eq(msg_batch_len(MSG_CONNS, 0), 0);
	ck_assert_uint_eq(msg_batch_len(MSG_CONNS, MSG_MAXFDS + 1), 0);
	ck_assert_uint_eq(msg_batch_len(MSG_CONN, 1), 0);
	ck_assert_uint_eq(msg_batch_len(MSG_PARKS, 3), 8 + 3 * sizeof(struct msg_park));
	for (uint32_t k = 1; k <= MSG_MAXFDS; k++) {
		memset(&b, 0, sizeof(b));
		b.count = k;
		for (uint32_t i = 0; i < k; i++) {
			fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
			b.conn[i].peerlen = i + 1;
			b.conn[i].flags = i % 2 ? MSG_CONN_RETURNING : 0;
		}
		ck_assert_uint_eq(msg_batch_len(MSG_CONNS, k), 8 + k * sizeof(struct msg_conn));
		ck_assert_int_eq(
		    msg_send(sp[0], MSG_CONNS, &b, msg_batch_len(MSG_CONNS, k), fds, (int)k), 0);
		for (uint32_t i = 0; i < k; i++)
			close(fds[i]);
		ck_assert_int_eq(msg_recv(sp[1], &m), 1);
		ck_assert_int_eq(m.hdr.type, MSG_CONNS);
		ck_assert_uint_eq(m.hdr.len, msg_batch_len(MSG_CONNS, k));
		ck_assert_int_eq(m.nfds, (int)k);
		for (uint32_t i = 0; i < k; i++) {
			ck_assert_uint_eq(m.u.conns.conn[i].peerlen, i + 1);
			ck_assert_uint_eq(m.u.conns.conn[i].flags, i % 2 ? MSG_CONN_RETURNING : 0);
			ck_assert_int_ge(fcntl(m.fds[i], F_GETFD), 0);
		}
		msg_close_fds(&m);
	}
}
END_TEST

/* A count that does not match the size or the descriptors is never sent. */
START_TEST(test_batch_send_mismatch_refused)
{
	struct msg_parks b = {.count = 2};
	int fds[3] = {0, 1, 2};

	errno = 0;
	ck_assert_int_eq(msg_send(sp[0], MSG_PARKS, &b, msg_batch_len(MSG_PARKS, 3), fds, 2), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(msg_send(sp[0], MSG_PARKS, &b, msg_batch_len(MSG_PARKS, 2), fds, 3), -1);
	b.count = 0;
	ck_assert_int_eq(msg_send(sp[0], MSG_PARKS, &b, 8, NULL, 0), -1);
	b.count = MSG_MAXFDS + 1;
	ck_assert_int_eq(msg_send(sp[0], MSG_PARKS, &b, sizeof(b), fds, 3), -1);
	ck_assert_int_eq(msg_send(sp[0], MSG_PARKS, &b, 4, NULL, 0), -1); /* shorter than count */
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* Received with a count that lies about the size or the descriptors: refused, fds closed. */
START_TEST(test_batch_recv_mismatch_closes_fds)
{
	struct msg_conns b = {.count = 3};
	struct msg_hdr h = {MSG_PROTO_VERSION, MSG_CONNS, (uint32_t)msg_batch_len(MSG_CONNS, 2)};
	struct msg m;
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	send_raw_fds(&h, &b, h.len, p[1], 2); /* count 3, two entries, two fds */
	b.count = 2;
	h.len = (uint32_t)msg_batch_len(MSG_CONNS, 2);
	send_raw_fds(&h, &b, h.len, p[1], 3); /* count 2, two entries, three fds */
	b.count = MSG_MAXFDS + 1;
	h.len = (uint32_t)sizeof(b);
	send_raw_fds(&h, &b, h.len, p[1], 1); /* count out of range */
	close(p[1]);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(msg_recv(sp[1], &m), -1);
		ck_assert_int_eq(errno, EBADMSG);
	}
	assert_all_closed(p[0]);
}
END_TEST

/* More descriptors than a batch may carry: the control data is truncated; none is kept. */
START_TEST(test_batch_ctrunc_closes_fds)
{
	struct msg_conns b = {.count = MSG_MAXFDS};
	struct msg_hdr h = {MSG_PROTO_VERSION, MSG_CONNS, (uint32_t)sizeof(b)};
	struct msg m[2];
	unsigned bad = 0;
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	send_raw_fds(&h, &b, sizeof(b), p[1], MSG_MAXFDS + 4);
	send_raw_fds(&h, &b, sizeof(b), p[1], MSG_MAXFDS + 4);
	close(p[1]);
	ck_assert_int_eq(msg_recv(sp[1], &m[0]), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_int_eq(msg_recv_many(sp[1], m, 2, &bad), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_uint_eq(bad, 1);
	assert_all_closed(p[0]);
}
END_TEST

/* Several messages in one call; the malformed skipped (counted, fds closed); then EAGAIN, EOF. */
START_TEST(test_recv_many)
{
	struct msg_conns b = {.count = 3};
	struct msg_conn mc = {.peerlen = 9};
	struct msg_hdr h = {MSG_PROTO_VERSION, MSG_CONN, sizeof(mc)};
	int fds[3], p[2];
	unsigned bad = 0;
	struct msg *m = calloc(8, sizeof(*m));

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(pipe(p), 0);
	for (int i = 0; i < 3; i++)
		fds[i] = p[1];
	ck_assert_int_eq(msg_send(sp[0], MSG_CONNS, &b, msg_batch_len(MSG_CONNS, 3), fds, 3), 0);
	send_raw_fds(&h, &mc, sizeof(mc), p[1], 2); /* a MSG_CONN with two fds */
	ck_assert_int_eq(msg_send(sp[0], MSG_CONN, &mc, sizeof(mc), fds, 1), 0);
	close(p[1]);
	ck_assert_int_eq(msg_recv_many(sp[1], m, 8, &bad), 2);
	ck_assert_uint_eq(bad, 1);
	ck_assert_int_eq(m[0].hdr.type, MSG_CONNS);
	ck_assert_int_eq(m[0].nfds, 3);
	ck_assert_int_eq(m[1].hdr.type, MSG_CONN);
	ck_assert_int_eq(m[1].nfds, 1);
	ck_assert_uint_eq(m[1].u.conn.peerlen, 9);
	msg_close_fds(&m[0]);
	msg_close_fds(&m[1]);
	assert_all_closed(p[0]);
	ck_assert_int_eq(msg_recv_many(sp[1], m, 8, &bad), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(msg_send(sp[0], MSG_READY, NULL, 0, NULL, 0), 0);
	close(sp[0]);
	sp[0] = open("/dev/null", O_RDONLY);
	ck_assert_int_eq(msg_recv_many(sp[1], m, 8, &bad), 1); /* what came before the end */
	ck_assert_int_eq(msg_recv_many(sp[1], m, 8, &bad), 0);
	free(m);
}
END_TEST

static int fd_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

/* Consecutive or not, exactly the descriptors given are closed, and no neighbour. */
START_TEST(test_close_sent)
{
	int fds[6], some[3], null = open("/dev/null", O_RDONLY);

	ck_assert_int_ge(null, 0);
	for (int i = 0; i < 6; i++) { /* six consecutive numbers, as accepted together */
		ck_assert(!fd_open(300 + i));
		ck_assert_int_eq(fds[i] = dup2(null, 300 + i), 300 + i);
	}
	close(null);
	/* fds[1..3]: consecutive, given out of order. */
	some[0] = fds[3], some[1] = fds[1], some[2] = fds[2];
	msg_close_sent(some, 3);
	ck_assert(fd_open(fds[0]) && fd_open(fds[4]) && fd_open(fds[5]));
	ck_assert(!fd_open(fds[1]) && !fd_open(fds[2]) && !fd_open(fds[3]));
	/* fds[0] and fds[5]: a gap between, and what is in it stays as it is. */
	ck_assert_int_eq(dup2(fds[4], fds[2]), fds[2]);
	some[0] = fds[5], some[1] = fds[0];
	msg_close_sent(some, 2);
	ck_assert(!fd_open(fds[0]) && !fd_open(fds[5]));
	ck_assert(fd_open(fds[2]) && fd_open(fds[4]));
	msg_close_sent(&fds[4], 1);
	ck_assert(!fd_open(fds[4]) && fd_open(fds[2]));
	close(fds[2]);
	msg_close_sent(NULL, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("msg");
	TCase *tc = tcase_create("framing");
	SRunner *sr;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_roundtrip_no_payload);
	tcase_add_test(tc, test_roundtrip_config);
	tcase_add_test(tc, test_request_reply);
	tcase_add_test(tc, test_fd_passing);
	tcase_add_test(tc, test_send_rejects_wrong_shape);
	tcase_add_test(tc, test_recv_rejects_malformed);
	tcase_add_test(tc, test_recv_skip_goes_past_malformed);
	tcase_add_test(tc, test_fd_limit_and_retry);
	tcase_add_test(tc, test_recv_conn_without_fd_rejected);
	tcase_add_test(tc, test_unexpected_fd_closed);
	tcase_add_test(tc, test_eof_and_eagain);
	tcase_add_test(tc, test_channel_full_is_eagain);
	tcase_add_test(tc, test_batch_sizes_roundtrip);
	tcase_add_test(tc, test_batch_send_mismatch_refused);
	tcase_add_test(tc, test_batch_recv_mismatch_closes_fds);
	tcase_add_test(tc, test_batch_ctrunc_closes_fds);
	tcase_add_test(tc, test_recv_many);
	tcase_add_test(tc, test_close_sent);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	return check_run(sr, CK_NORMAL);
}
