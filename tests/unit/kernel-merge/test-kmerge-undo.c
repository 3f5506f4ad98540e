/* SPDX-License-Identifier: MIT */
/*
 * A TP epoch's undo and re-delivery (kernel-merge.h, struct kmerge_epoch),
 * on real processes, files, pipes and sockets. A child C plays the TP run:
 * it holds a file F open for reading and writing at offset 1000, a file G
 * open O_APPEND, a pipe, a stream and a datagram socket pair. At the
 * "checkpoint" C forks C2, which shares its open file descriptions as a
 * checkpoint's copy does, and whose descriptors are saved. In the "epoch"
 * C makes each recorded syscall as the recorder would see it: it tells the
 * test (a request pipe), which calls kmerge_epoch_on_entry() while C waits,
 * then C makes the call, and the test calls kmerge_epoch_on_exit() with its
 * result. C overwrites and grows F, appends to G, moves F's offset, sets
 * O_NONBLOCK on F and on the pipe, and reads the pipe and both sockets;
 * then it ends (the TP run discarded). The undo must bring F and G back
 * byte for byte and the offsets and flags C2 sees; C2 then plays the
 * re-run: each read asks kmerge_epoch_redeliver() first, and what C2
 * reads in all must be everything the writers wrote, in order. Refusals
 * (unlink, O_CREAT, a shared writable mapping of a file, a file grown by a
 * writer the record does not know) are checked to be named and to change
 * nothing; a private mapping of a file is no refusal. Prints the save's
 * cost. The bytes waiting in a pipe and a socket pair at a checkpoint are
 * kept and put back after reads and writes (kmerge_epoch_save_queues());
 * a datagram socket's are refused, named.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "kernel-merge/kernel-merge.h"

#define F_SIZE 8192
#define G_SIZE 100

/* A recorded call, told by the child before it makes it. */
struct req {
	long nr;
	uint64_t args[6];
};
/* The test's answer: whether the call is answered (re-delivered), and
 * with what result. */
struct ack {
	int answered;
	int64_t result;
};

static char dir[] = "/tmp/kmerge-undo-XXXXXX";
static char f_path[64], g_path[64], h_path[64];
static uint8_t f_orig[F_SIZE], g_orig[G_SIZE];
static pid_t kids[2] = { -1, -1 };
/* test -> C commands, test -> C2 commands (its own pipe: on one pipe, C2,
 * also waiting, could take C's command and C wait forever), child -> test
 * requests, test -> child acks, child -> test results and reports */
static int cmd[2] = { -1, -1 }, cmd2[2] = { -1, -1 }, reqp[2] = { -1, -1 }, ackp[2] = { -1, -1 },
	   rep[2] = { -1, -1 };

static void
fini(void)
{
	for (size_t i = 0; i < 2; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			kids[i] = -1;
		}
	if (f_path[0]) {
		unlink(f_path);
		unlink(g_path);
		unlink(h_path);
		rmdir(dir);
		f_path[0] = 0;
	}
}

TestSuite(kmerge_undo, .fini = fini, .timeout = 60);

static void
must_write(int fd, const void *p, size_t n)
{
	if (util_write_all(fd, p, n) < 0)
		_exit(90);
}

static void
must_read(int fd, void *p, size_t n)
{
	if (util_read_all(fd, p, n) != (ssize_t)n)
		_exit(91);
}

/* In a child: a recorded syscall, as the recorder sees it. */
static long
sys(long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
	struct req q = { nr, { a0, a1, a2, a3, a4, a5 } };
	struct ack k;
	long r;

	must_write(reqp[1], &q, sizeof(q));
	must_read(ackp[0], &k, sizeof(k));
	r = k.answered ? (long)k.result : syscall(nr, a0, a1, a2, a3, a4, a5);
	if (r < 0 && !k.answered)
		r = -errno;
	must_write(reqp[1], &(int64_t){ r }, sizeof(int64_t));
	/* stopped at its exit until the test saw it */
	must_read(ackp[0], &k, sizeof(k));
	return r;
}

/* In the test: serve @n recorded calls of @pid (/proc/PID/mem @memfd) for
 * epoch record @e: as the TP run (@rerun false: on_entry, the call, on_exit)
 * or as the re-run (kmerge_epoch_redeliver() first). */
static void
serve(struct kmerge_epoch *e, pid_t pid, int memfd, bool rerun, int n)
{
	for (int i = 0; i < n; i++) {
		struct ack k = { 0 };
		struct req q;
		int64_t result;

		cr_assert_eq(util_read_all(reqp[0], &q, sizeof(q)), (ssize_t)sizeof(q));
		if (rerun) {
			int r = kmerge_epoch_redeliver(e, pid, memfd, q.nr, q.args, &k.result);

			cr_assert_geq(r, 0, "redeliver: %s", strerror(-r));
			k.answered = r;
		} else {
			kmerge_epoch_on_entry(e, pid, pid, q.nr, q.args);
		}
		cr_assert_eq(util_write_all(ackp[1], &k, sizeof(k)), 0);
		cr_assert_eq(util_read_all(reqp[0], &result, sizeof(result)), (ssize_t)sizeof(result));
		if (!rerun)
			kmerge_epoch_on_exit(e, pid, pid, memfd, q.nr, q.args, result);
		cr_assert_eq(util_write_all(ackp[1], &k, sizeof(k)), 0);
	}
}

static void
make_files(void)
{
	int fd;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(f_path, sizeof(f_path), "%s/f", dir);
	snprintf(g_path, sizeof(g_path), "%s/g", dir);
	snprintf(h_path, sizeof(h_path), "%s/h", dir);
	for (size_t i = 0; i < F_SIZE; i++)
		f_orig[i] = (uint8_t)(i * 7 + i / 251);
	for (size_t i = 0; i < G_SIZE; i++)
		g_orig[i] = (uint8_t)('a' + i % 26);
	fd = open(f_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(util_write_all(fd, f_orig, sizeof(f_orig)), 0);
	close(fd);
	fd = open(g_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(util_write_all(fd, g_orig, sizeof(g_orig)), 0);
	close(fd);
	cr_assert_eq(pipe2(cmd, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(cmd2, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(reqp, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(ackp, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(rep, O_CLOEXEC), 0);
}

/* The whole contents of @path must be @want (@n bytes). */
static void
assert_file(const char *path, const uint8_t *want, size_t n)
{
	char *buf = NULL;
	size_t len = 0;

	cr_assert_eq(util_read_file(path, &buf, &len), 0);
	cr_assert_eq(len, n, "%s is %zu bytes, was %zu", path, len, n);
	cr_assert_eq(memcmp(buf, want, n), 0, "%s's bytes differ from the checkpoint's", path);
	free(buf);
}

/* The descriptors the children use. */
enum { FD_F = 500, FD_G, FD_PIPE, FD_STREAM, FD_DGRAM };

/* C2, the checkpoint's copy: waits; then reports F's offset and the
 * flags of F and the pipe, and re-runs the reads, reporting what it got. */
static void
copy_main(void)
{
	uint8_t pipe_bytes[256], stream_bytes[256], dgrams[3][64];
	int64_t report[8];
	size_t np = 0, ns = 0;
	struct msghdr mh;
	struct iovec iov;
	char c;
	long r;

	must_read(cmd2[0], &c, 1);
	report[0] = lseek(FD_F, 0, SEEK_CUR);
	report[1] = fcntl(FD_F, F_GETFL) & O_NONBLOCK;
	report[2] = fcntl(FD_PIPE, F_GETFL) & O_NONBLOCK;
	/* the pipe: what the epoch read, then live until 120 bytes */
	while (np < 120) {
		r = sys(SYS_read, FD_PIPE, (uint64_t)(pipe_bytes + np), sizeof(pipe_bytes) - np, 0, 0, 0);
		if (r <= 0)
			_exit(92);
		np += (size_t)r;
	}
	report[3] = (int64_t)np;
	while (ns < 70) {
		r = sys(SYS_recvfrom, FD_STREAM, (uint64_t)(stream_bytes + ns), sizeof(stream_bytes) - ns, 0, 0, 0);
		if (r <= 0)
			_exit(93);
		ns += (size_t)r;
	}
	report[4] = (int64_t)ns;
	for (int i = 0; i < 3; i++) {
		memset(&mh, 0, sizeof(mh));
		iov = (struct iovec){ dgrams[i], sizeof(dgrams[i]) };
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		r = sys(SYS_recvmsg, FD_DGRAM, (uint64_t)&mh, 0, 0, 0, 0);
		report[5 + i] = r;
	}
	must_write(rep[1], report, sizeof(report));
	must_write(rep[1], pipe_bytes, 120);
	must_write(rep[1], stream_bytes, 70);
	for (int i = 0; i < 3; i++)
		must_write(rep[1], dgrams[i], 64);
	_exit(0);
}

/* C, the TP run: its descriptors, a copy forked at the checkpoint, then
 * the epoch. */
static void
tp_main(int pipe_r, int stream, int dgram)
{
	uint8_t xs[500], ys[2000], zs[50], buf[64], b1[10], b2[10];
	struct iovec iov[2] = { { b1, sizeof(b1) }, { b2, sizeof(b2) } };
	struct msghdr mh;
	struct iovec one;
	pid_t copy;
	char c;

	if (dup2(open(f_path, O_RDWR), FD_F) != FD_F || dup2(open(g_path, O_WRONLY | O_APPEND), FD_G) != FD_G ||
	    dup2(pipe_r, FD_PIPE) != FD_PIPE || dup2(stream, FD_STREAM) != FD_STREAM ||
	    dup2(dgram, FD_DGRAM) != FD_DGRAM || lseek(FD_F, 1000, SEEK_SET) != 1000)
		_exit(94);
	copy = fork();
	if (copy == 0)
		copy_main();
	must_write(rep[1], &copy, sizeof(copy));
	must_read(cmd[0], &c, 1);
	memset(xs, 'x', sizeof(xs));
	memset(ys, 'y', sizeof(ys));
	memset(zs, 'z', sizeof(zs));
	/* the epoch: 8 recorded calls */
	sys(SYS_write, FD_F, (uint64_t)xs, sizeof(xs), 0, 0, 0);
	sys(SYS_pwrite64, FD_F, (uint64_t)ys, sizeof(ys), 7000, 0, 0);
	sys(SYS_write, FD_G, (uint64_t)zs, sizeof(zs), 0, 0, 0);
	sys(SYS_read, FD_PIPE, (uint64_t)buf, 40, 0, 0, 0);
	sys(SYS_readv, FD_PIPE, (uint64_t)iov, 2, 0, 0, 0);
	sys(SYS_recvfrom, FD_STREAM, (uint64_t)buf, 30, 0, 0, 0);
	for (int i = 0; i < 2; i++) {
		memset(&mh, 0, sizeof(mh));
		one = (struct iovec){ buf, sizeof(buf) };
		mh.msg_iov = &one;
		mh.msg_iovlen = 1;
		sys(SYS_recvmsg, FD_DGRAM, (uint64_t)&mh, 0, 0, 0, 0);
	}
	/* not recorded (no undo needs them): the offset and flags */
	lseek(FD_F, 5, SEEK_SET);
	fcntl(FD_F, F_SETFL, O_NONBLOCK);
	fcntl(FD_PIPE, F_SETFL, O_NONBLOCK);
	_exit(0);
}

static int
open_mem(pid_t p)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/mem", p);
	return open(path, O_RDWR | O_CLOEXEC);
}

Test(kmerge_undo, files_offsets_and_input)
{
	uint8_t pipe_all[120], stream_all[70], got[256], dg[64];
	int p[2], s[2], d[2], memfd, status;
	struct kmerge_undo_report rep_u;
	struct kmerge_epoch *e = NULL;
	int64_t report[8];
	uint64_t t0, t1, best = 0;
	pid_t copy;
	int r;

	make_files();
	/* C2, C's child, comes to us when C ends */
	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, d), 0);
	for (size_t i = 0; i < sizeof(pipe_all); i++)
		pipe_all[i] = (uint8_t)('A' + i % 50);
	for (size_t i = 0; i < sizeof(stream_all); i++)
		stream_all[i] = (uint8_t)(200 - i);
	/* before the checkpoint: 100 of the pipe's bytes, 60 of the
	 * stream's, two datagrams of 10 and 20 bytes */
	cr_assert_eq(util_write_all(p[1], pipe_all, 100), 0);
	cr_assert_eq(util_write_all(s[0], stream_all, 60), 0);
	memset(dg, 1, sizeof(dg));
	cr_assert_eq(send(d[0], dg, 10, 0), 10);
	memset(dg, 2, sizeof(dg));
	cr_assert_eq(send(d[0], dg, 20, 0), 20);

	kids[0] = fork();
	cr_assert_geq(kids[0], 0);
	if (kids[0] == 0)
		tp_main(p[0], s[1], d[1]);
	cr_assert_eq(util_read_all(rep[0], &copy, sizeof(copy)), (ssize_t)sizeof(copy));
	kids[1] = copy;
	cr_assert_eq(kmerge_epoch_new(3, &e), 0);
	/* the checkpoint: C2's descriptors are C's */
	r = kmerge_epoch_save_fds(e, copy);
	cr_assert_geq(r, 5, "save: %d", r);
	/* its cost, best of 20 (the machine is shared) */
	for (int i = 0, n; i < 20; i++) {
		struct kmerge_epoch *x = NULL;

		cr_assert_eq(kmerge_epoch_new(0, &x), 0);
		t0 = util_now_ns();
		n = kmerge_epoch_save_fds(x, copy);
		t1 = util_now_ns() - t0;
		cr_assert_eq(n, r);
		best = i && best < t1 ? best : t1;
		kmerge_epoch_free(x);
	}
	printf("kmerge_epoch_save_fds: %d descriptors in %" PRIu64 " us (best of 20), %" PRIu64 " ns each\n", r,
	       best / 1000, best / (uint64_t)r);

	memfd = open_mem(kids[0]);
	cr_assert_geq(memfd, 0);
	cr_assert_eq(write(cmd[1], "e", 1), 1);
	serve(e, kids[0], memfd, false, 8);
	close(memfd);
	cr_assert_eq(waitpid(kids[0], &status, 0), kids[0]);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "C ended with %#x", status);
	kids[0] = -1;
	cr_assert_null(kmerge_epoch_refusal(e), "refused: %s", kmerge_epoch_refusal(e));
	cr_assert_eq(kmerge_epoch_redeliver_left(e), 40 + 20 + 30 + 10 + 20, "%" PRIu64 " bytes to re-deliver", kmerge_epoch_redeliver_left(e));

	/* the undo, C2 standing for the respawn */
	r = kmerge_epoch_undo(e, &copy, 1, &rep_u);
	cr_assert_eq(r, 0, "undo: %s: %s", strerror(-r), rep_u.what);
	cr_assert_eq(rep_u.files, 2);
	cr_assert_eq(rep_u.files_truncated, 2);
	cr_assert_eq(rep_u.bytes_restored, 500 + (F_SIZE - 7000));
	cr_assert_geq(rep_u.offsets_set, 1);
	cr_assert_geq(rep_u.flags_set, 2);
	assert_file(f_path, f_orig, F_SIZE);
	assert_file(g_path, g_orig, G_SIZE);

	/* the writers go on: the re-run must read all of it, in order */
	cr_assert_eq(util_write_all(p[1], pipe_all + 100, 20), 0);
	cr_assert_eq(util_write_all(s[0], stream_all + 60, 10), 0);
	memset(dg, 3, sizeof(dg));
	cr_assert_eq(send(d[0], dg, 30, 0), 30);
	memfd = open_mem(copy);
	cr_assert_geq(memfd, 0);
	cr_assert_eq(write(cmd2[1], "r", 1), 1);
	/* pipe: 60 answered, 60 live; stream: 30 answered, 40 live;
	 * datagrams: 2 answered, 1 live */
	serve(e, copy, memfd, true, 2 + 2 + 3);
	close(memfd);
	cr_assert_eq(util_read_all(rep[0], report, sizeof(report)), (ssize_t)sizeof(report));
	cr_assert_eq(report[0], 1000, "F's offset is %" PRId64 " in the copy, 1000 at the checkpoint", report[0]);
	cr_assert_eq(report[1], 0, "F is O_NONBLOCK still");
	cr_assert_eq(report[2], 0, "the pipe is O_NONBLOCK still");
	cr_assert_eq(report[3], 120);
	cr_assert_eq(report[4], 70);
	cr_assert_eq(report[5], 10);
	cr_assert_eq(report[6], 20);
	cr_assert_eq(report[7], 30);
	cr_assert_eq(util_read_all(rep[0], got, 120), 120);
	cr_assert_eq(memcmp(got, pipe_all, 120), 0, "the pipe's bytes, re-delivered then live, differ");
	cr_assert_eq(util_read_all(rep[0], got, 70), 70);
	cr_assert_eq(memcmp(got, stream_all, 70), 0, "the stream's bytes differ");
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(util_read_all(rep[0], dg, 64), 64);
		for (int j = 0; j < (int)report[5 + i]; j++)
			cr_assert_eq(dg[j], i + 1, "datagram %d byte %d", i, j);
	}
	cr_assert_eq(kmerge_epoch_redeliver_left(e), 0);
	cr_assert_eq(waitpid(copy, &status, 0), copy);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "C2 ended with %#x", status);
	kids[1] = -1;
	kmerge_epoch_free(e);
}

/* C for the refusals: F and G open, then @what done as recorded calls. */
static void
refusing_main(int what)
{
	uint8_t xs[100];
	char c;

	if (dup2(open(f_path, O_RDWR), FD_F) != FD_F || dup2(open(g_path, O_WRONLY | O_APPEND), FD_G) != FD_G)
		_exit(94);
	must_write(rep[1], &(pid_t){ getpid() }, sizeof(pid_t));
	must_read(cmd[0], &c, 1);
	memset(xs, 'x', sizeof(xs));
	sys(SYS_pwrite64, FD_F, (uint64_t)xs, sizeof(xs), 0, 0, 0);
	/* a private mapping of a file, writable: its writes are not the
	 * file's, nothing to refuse (as ld.so maps a library) */
	sys(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, FD_F, 0);
	if (what == 0)
		sys(SYS_unlink, (uint64_t)g_path, 0, 0, 0, 0, 0);
	else if (what == 1)
		sys(SYS_openat, AT_FDCWD, (uint64_t)h_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600, 0, 0);
	else if (what == 3)
		sys(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, FD_F, 0);
	else
		sys(SYS_getpid, 0, 0, 0, 0, 0, 0);
	/* alive, as a respawn is, until the undo is over */
	must_read(cmd[0], &c, 1);
	_exit(0);
}

/* Epoch @what's refusal or failure: named, F and G untouched by the undo. */
static void
refused(int what, const char *want, int want_r)
{
	struct kmerge_undo_report rep_u;
	struct kmerge_epoch *e = NULL;
	uint8_t after[F_SIZE];
	int memfd, status, fd;
	pid_t c;
	int r;

	make_files();
	kids[0] = fork();
	cr_assert_geq(kids[0], 0);
	if (kids[0] == 0)
		refusing_main(what);
	cr_assert_eq(util_read_all(rep[0], &c, sizeof(c)), (ssize_t)sizeof(c));
	cr_assert_eq(kmerge_epoch_new(1, &e), 0);
	cr_assert_geq(kmerge_epoch_save_fds(e, c), 2);
	memfd = open_mem(c);
	cr_assert_geq(memfd, 0);
	cr_assert_eq(write(cmd[1], "e", 1), 1);
	serve(e, c, memfd, false, 3);
	close(memfd);
	if (what == 2) {
		/* G grows by a writer the record does not know */
		fd = open(g_path, O_WRONLY | O_APPEND | O_CLOEXEC);
		cr_assert_geq(fd, 0);
		cr_assert_eq(util_write_all(fd, "outside", 7), 0);
		close(fd);
	}
	memcpy(after, f_orig, sizeof(after));
	memset(after, 'x', 100);
	r = kmerge_epoch_undo(e, &c, 1, &rep_u);
	cr_assert_eq(r, want_r, "undo: %d (%s)", r, rep_u.what);
	cr_assert_not_null(strstr(rep_u.what, want), "'%s' does not say '%s'", rep_u.what, want);
	/* nothing changed: F keeps the epoch's write */
	assert_file(f_path, after, F_SIZE);
	cr_assert_eq(write(cmd[1], "q", 1), 1);
	cr_assert_eq(waitpid(kids[0], &status, 0), kids[0]);
	kids[0] = -1;
	kmerge_epoch_free(e);
}

Test(kmerge_undo, refused_unlink)
{
	refused(0, "unlink(2)", -EOPNOTSUPP);
}

Test(kmerge_undo, refused_create)
{
	refused(1, "O_CREAT", -EOPNOTSUPP);
}

Test(kmerge_undo, refused_shared_mapping)
{
	refused(3, "shared and writable", -EOPNOTSUPP);
}

Test(kmerge_undo, outside_writer)
{
	refused(2, "size moved", -ESTALE);
}

/* A re-run from the program's start: its processes are new, the undo goes
 * by the descriptions kept alone (kmerge_epoch_undo() with no pid). The
 * test's own descriptor of F shares the description C inherits. */
Test(kmerge_undo, by_kept_descriptions)
{
	struct kmerge_undo_report rep_u;
	struct kmerge_epoch *e = NULL;
	int fd, memfd, status, r;
	uint8_t xs[300];

	make_files();
	fd = open(f_path, O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(lseek(fd, 1000, SEEK_SET), 1000);
	kids[0] = fork();
	cr_assert_geq(kids[0], 0);
	if (kids[0] == 0) {
		char c;

		if (dup2(fd, FD_F) != FD_F)
			_exit(94);
		must_write(rep[1], "r", 1);
		must_read(cmd[0], &c, 1);
		memset(xs, 'w', sizeof(xs));
		sys(SYS_write, FD_F, (uint64_t)xs, sizeof(xs), 0, 0, 0);
		sys(SYS_pwrite64, FD_F, (uint64_t)xs, sizeof(xs), F_SIZE - 100, 0, 0);
		_exit(0);
	}
	cr_assert_eq(util_read_all(rep[0], xs, 1), 1);
	cr_assert_eq(kmerge_epoch_new(0, &e), 0);
	cr_assert_geq(kmerge_epoch_save_fds(e, kids[0]), 1);
	memfd = open_mem(kids[0]);
	cr_assert_geq(memfd, 0);
	cr_assert_eq(write(cmd[1], "e", 1), 1);
	serve(e, kids[0], memfd, false, 2);
	close(memfd);
	cr_assert_eq(waitpid(kids[0], &status, 0), kids[0]);
	kids[0] = -1;
	cr_assert_eq(lseek(fd, 0, SEEK_CUR), 1300);
	r = kmerge_epoch_undo(e, NULL, 0, &rep_u);
	cr_assert_eq(r, 0, "undo: %s", rep_u.what);
	assert_file(f_path, f_orig, F_SIZE);
	/* a file open for writing has no description kept (an exec of it
	 * would fail with ETXTBSY): its offset is left, the re-run's to put
	 * back (tp/rerun.c takes it from the TP run's process) */
	cr_assert_eq(lseek(fd, 0, SEEK_CUR), 1300, "a writable file's description was kept");
	cr_assert_eq(rep_u.bytes_restored, 300 + 100);
	close(fd);
	kmerge_epoch_free(e);
}

/* A file open read-only: its description is kept, and the undo puts its
 * offset back after the process that moved it is gone. */
Test(kmerge_undo, by_kept_read_only_description)
{
	struct kmerge_undo_report rep_u;
	struct kmerge_epoch *e = NULL;
	int fd, status;

	make_files();
	fd = open(f_path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(lseek(fd, 1000, SEEK_SET), 1000);
	kids[0] = fork();
	cr_assert_geq(kids[0], 0);
	if (kids[0] == 0) {
		char c;

		if (dup2(fd, FD_F) != FD_F)
			_exit(94);
		must_write(rep[1], "r", 1);
		must_read(cmd[0], &c, 1);
		if (lseek(FD_F, 3000, SEEK_SET) != 3000)
			_exit(95);
		_exit(0);
	}
	cr_assert_eq(util_read_all(rep[0], (char[1]){ 0 }, 1), 1);
	cr_assert_eq(kmerge_epoch_new(0, &e), 0);
	cr_assert_geq(kmerge_epoch_save_fds(e, kids[0]), 1);
	cr_assert_eq(write(cmd[1], "e", 1), 1);
	cr_assert_eq(waitpid(kids[0], &status, 0), kids[0]);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	kids[0] = -1;
	cr_assert_eq(lseek(fd, 0, SEEK_CUR), 3000);
	cr_assert_eq(kmerge_epoch_undo(e, NULL, 0, &rep_u), 0, "undo: %s", rep_u.what);
	cr_assert_eq(lseek(fd, 0, SEEK_CUR), 1000, "the offset is not the start's");
	close(fd);
	kmerge_epoch_free(e);
}

/* ---- the bytes waiting in pipes and sockets (kmerge_epoch_save_queues()) ---- */

static ino_t
ino_of(int fd)
{
	struct stat st;

	cr_assert_eq(fstat(fd, &st), 0);
	return st.st_ino;
}

static dev_t
dev_of(int fd)
{
	struct stat st;

	cr_assert_eq(fstat(fd, &st), 0);
	return st.st_dev;
}

/* The bytes the pipe or socket @fd holds now, read away, as a string. */
static char *
drain_now(int fd, bool sock)
{
	static char buf[256];
	ssize_t n = sock ? recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT) : read(fd, buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = 0;
	return buf;
}

/* This process plays the TP run: a pipe and a unix stream socket pair hold
 * bytes at the "checkpoint"; after it, some are read and more written; the
 * restore gives each exactly what it held at the checkpoint, through
 * descriptors of the same objects (a pipe's end opened anew, the socket's
 * peer found by sock_diag). */
Test(kmerge_undo, queues_put_back)
{
	struct kmerge_epoch *e = NULL;
	int p[2], s[2], fl;
	char why[256] = "";

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	/* three writes: three pipe buffers (tee(2) copies whole ones) */
	for (int i = 0; i < 3; i++)
		must_write(p[1], i == 0 ? "abc" : i == 1 ? "def" : "ghi", 3);
	must_write(s[1], "xyz", 3);
	cr_assert_eq(kmerge_epoch_new(1, &e), 0);
	cr_assert_geq(kmerge_epoch_save_fds(e, getpid()), 4);
	cr_assert_geq(kmerge_epoch_save_queues(e, getpid()), 2);
	/* the "epoch": some read, more written */
	cr_assert_eq(read(p[0], (char[2]){ 0 }, 2), 2);
	must_write(p[1], "ZZ", 2);
	cr_assert_eq(recv(s[0], (char[1]){ 0 }, 1, 0), 1);
	must_write(s[1], "QQ", 2);
	{
		struct kmerge_used used[] = { { dev_of(p[0]), ino_of(p[0]) }, { dev_of(s[0]), ino_of(s[0]) } };
		int fds[] = { p[0], p[1], s[0], s[1] };

		/* the socket's peer must be among the descriptors given */
		cr_assert_eq(kmerge_epoch_queues_check(e, used, 2, (int[]){ p[0], s[0] }, 2, why, sizeof(why)), -1);
		cr_assert(strstr(why, "its peer is not held"), "%s", why);
		cr_assert_eq(kmerge_epoch_queues_check(e, used, 2, fds, 4, why, sizeof(why)), 0, "%s", why);
		cr_assert_eq(kmerge_epoch_queues_restore(e, used, 2, fds, 4, why, sizeof(why)), 0, "%s", why);
	}
	fl = fcntl(p[0], F_GETFL);
	cr_assert_eq(fcntl(p[0], F_SETFL, fl | O_NONBLOCK), 0);
	cr_assert_str_eq(drain_now(p[0], false), "abcdefghi");
	cr_assert_str_eq(drain_now(p[0], false), "");
	cr_assert_str_eq(drain_now(s[0], true), "xyz");
	cr_assert_str_eq(drain_now(s[0], true), "");
	kmerge_epoch_free(e);
	close(p[0]), close(p[1]), close(s[0]), close(s[1]);
}

/* A datagram socket's bytes are not kept: a re-run that needs them is
 * refused, named, nothing changed. */
Test(kmerge_undo, queues_dgram_refused)
{
	struct kmerge_epoch *e = NULL;
	int s[2];
	char why[256] = "";

	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, s), 0);
	must_write(s[1], "m1", 2);
	cr_assert_eq(kmerge_epoch_new(1, &e), 0);
	cr_assert_geq(kmerge_epoch_save_fds(e, getpid()), 2);
	cr_assert_geq(kmerge_epoch_save_queues(e, getpid()), 1);
	{
		struct kmerge_used used[] = { { dev_of(s[0]), ino_of(s[0]) } };

		cr_assert_eq(kmerge_epoch_queues_check(e, used, 1, s, 2, why, sizeof(why)), -1);
		cr_assert(strstr(why, "were not read"), "%s", why);
	}
	cr_assert_str_eq(drain_now(s[0], true), "m1");
	kmerge_epoch_free(e);
	close(s[0]), close(s[1]);
}

/* A pipe of the program's own that the TP run closed every end of after
 * the checkpoint (a self-pipe) is made anew for a re-run, holding what the
 * old one held at the checkpoint; one whose bytes were not kept is
 * refused, named. */
Test(kmerge_undo, pipe_remade)
{
	struct kmerge_epoch *e = NULL;
	int p[2], ends[2] = { -1, -1 }, fl;
	char why[256] = "";
	dev_t dev;
	ino_t ino;

	cr_assert_eq(pipe(p), 0);
	must_write(p[1], "sig", 3);
	dev = dev_of(p[0]), ino = ino_of(p[0]);
	cr_assert_eq(kmerge_epoch_new(1, &e), 0);
	cr_assert_geq(kmerge_epoch_save_fds(e, getpid()), 2);
	cr_assert_geq(kmerge_epoch_save_queues(e, getpid()), 1);
	/* the "epoch": its bytes read, then both ends closed: gone */
	cr_assert_eq(read(p[0], (char[3]){ 0 }, 3), 3);
	close(p[0]), close(p[1]);
	cr_assert_eq(kmerge_epoch_pipe_remake(e, dev, ino, ends, why, sizeof(why)), 0, "%s", why);
	cr_assert_neq(ino_of(ends[0]), ino);
	cr_assert_eq(ino_of(ends[0]), ino_of(ends[1]));
	/* blocking, as pipe(2) makes them */
	cr_assert_eq(fcntl(ends[0], F_GETFL) & O_NONBLOCK, 0);
	fl = fcntl(ends[0], F_GETFL);
	cr_assert_eq(fcntl(ends[0], F_SETFL, fl | O_NONBLOCK), 0);
	cr_assert_str_eq(drain_now(ends[0], false), "sig");
	cr_assert_str_eq(drain_now(ends[0], false), "");
	close(ends[0]), close(ends[1]);
	/* an object the record never saw */
	cr_assert_eq(kmerge_epoch_pipe_remake(e, dev, ino + 1, ends, why, sizeof(why)), -1);
	cr_assert(strstr(why, "were not kept"), "%s", why);
	kmerge_epoch_free(e);
}

/* An epoll instance's interest list is saved with its descriptor: each
 * entry's number, events (with EPOLLET), data and object, as they were at
 * the save, whatever the instance holds after. */
Test(kmerge_undo, epoll_items_saved)
{
	struct kmerge_epoch *e = NULL;
	const struct kmerge_fd_saved *s = NULL;
	int ep = epoll_create1(EPOLL_CLOEXEC), p[2];
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u64 = 0x1122334455667788ull };

	cr_assert_geq(ep, 0);
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), 0);
	ev = (struct epoll_event){ .events = EPOLLOUT, .data.u64 = 7 };
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev), 0);
	cr_assert_eq(kmerge_epoch_new(1, &e), 0);
	cr_assert_geq(kmerge_epoch_save_fds(e, getpid()), 3);
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL), 0);
	for (size_t i = 0; i < kmerge_epoch_nfds(e); i++)
		if (kmerge_epoch_fd(e, i)->fd == ep)
			s = kmerge_epoch_fd(e, i);
	cr_assert_not_null(s);
	cr_assert(s->epoll);
	cr_assert_eq(s->nitems, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct kmerge_epoll_item *it = &s->items[i];
		bool rd = it->tfd == p[0];

		cr_assert(rd || it->tfd == p[1], "tfd %d", it->tfd);
		/* epoll_ctl(2) adds EPOLLERR and EPOLLHUP to every entry */
		cr_assert_eq(it->events, (rd ? (uint32_t)(EPOLLIN | EPOLLET) : (uint32_t)EPOLLOUT) | EPOLLERR | EPOLLHUP,
			     "%#x", it->events);
		cr_assert_eq(it->data, rd ? 0x1122334455667788ull : 7);
		cr_assert_eq(it->ino, ino_of(it->tfd));
		cr_assert_eq(it->dev, dev_of(it->tfd));
	}
	kmerge_epoch_free(e);
	close(ep), close(p[0]), close(p[1]);
}

/* An eventfd's counter and EFD_SEMAPHORE are saved with its descriptor,
 * as they were at the save. */
Test(kmerge_undo, eventfd_saved)
{
	struct kmerge_epoch *e = NULL;
	int a = eventfd(7, EFD_CLOEXEC | EFD_SEMAPHORE), b = eventfd(0, EFD_CLOEXEC);
	uint64_t add = 1ull << 40;
	bool seen_a = false, seen_b = false;

	cr_assert_geq(a, 0);
	cr_assert_geq(b, 0);
	cr_assert_eq(write(b, &add, sizeof(add)), sizeof(add));
	cr_assert_eq(kmerge_epoch_new(1, &e), 0);
	cr_assert_geq(kmerge_epoch_save_fds(e, getpid()), 2);
	cr_assert_eq(read(b, &add, sizeof(add)), sizeof(add));
	for (size_t i = 0; i < kmerge_epoch_nfds(e); i++) {
		const struct kmerge_fd_saved *s = kmerge_epoch_fd(e, i);

		if (s->fd == a) {
			seen_a = true;
			cr_assert(s->eventfd && s->efd_semaphore);
			cr_assert_eq(s->efd_count, 7);
			cr_assert_geq(s->dup, 0);
		} else if (s->fd == b) {
			seen_b = true;
			cr_assert(s->eventfd && !s->efd_semaphore);
			cr_assert_eq(s->efd_count, 1ull << 40);
		}
	}
	cr_assert(seen_a && seen_b);
	kmerge_epoch_free(e);
	close(a), close(b);
}

/* The child of timerfd_signalfd_conn_saved: a timerfd, a signalfd, a
 * listening socket and a TCP connection to it, and no epoll instance (the
 * test runner's closed); their numbers to @out, then it waits. */
static void
saved_child(int out)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct itimerspec its = { .it_value = { 500, 0 }, .it_interval = { 2, 5000 } };
	socklen_t len = sizeof(a);
	int fds[4], c;
	char path[64], link[64];
	sigset_t m;

	for (int fd = 3; fd < 1024; fd++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0 && (link[n] = 0, strcmp(link, "anon_inode:[eventpoll]") == 0))
			close(fd);
	}
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	fds[0] = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	fds[1] = signalfd(-1, &m, SFD_CLOEXEC);
	fds[2] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (timerfd_settime(fds[0], 0, &its, NULL) < 0 || bind(fds[2], (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fds[2], 1) < 0 || getsockname(fds[2], (struct sockaddr *)&a, &len) < 0 ||
	    connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
		_exit(1);
	fds[3] = accept4(fds[2], NULL, NULL, SOCK_CLOEXEC);
	if (write(out, fds, sizeof(fds)) != sizeof(fds))
		_exit(1);
	for (;;)
		pause();
}

/* A timerfd's setting and a signalfd's mask at the checkpoint are saved
 * (kernel-merge/anon.c: a re-run's are made anew from them), and a TCP
 * connection's description is kept in a process with no epoll instance
 * (kept_sock()), not a listening socket's; kmerge_epoch_drop_conns() lets
 * it go. */
Test(kmerge_undo, timerfd_signalfd_conn_saved)
{
	struct kmerge_epoch *e = NULL;
	bool seen[4] = { false };
	int p[2], fds[4];
	pid_t child;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (!child)
		saved_child(p[1]);
	cr_assert_eq(read(p[0], fds, sizeof(fds)), sizeof(fds));
	cr_assert_eq(kmerge_epoch_new(1, &e), 0);
	cr_assert_geq(kmerge_epoch_save_fds(e, child), 4);
	for (size_t i = 0; i < kmerge_epoch_nfds(e); i++) {
		const struct kmerge_fd_saved *s = kmerge_epoch_fd(e, i);

		if (s->fd == fds[0]) {
			seen[0] = true;
			cr_assert(s->timerfd && !s->signalfd && !s->eventfd);
			cr_assert_eq(s->tfd_clock, CLOCK_MONOTONIC);
			cr_assert_eq(s->tfd_ticks, 0);
			cr_assert(s->tfd_spec.it_value.tv_sec >= 490 && s->tfd_spec.it_value.tv_sec <= 500);
			cr_assert_eq(s->tfd_spec.it_interval.tv_sec, 2);
			cr_assert_eq(s->tfd_spec.it_interval.tv_nsec, 5000);
		} else if (s->fd == fds[1]) {
			seen[1] = true;
			cr_assert(s->signalfd && !s->timerfd);
			cr_assert_eq(s->sfd_mask, 1ull << (SIGUSR2 - 1));
		} else if (s->fd == fds[2]) {
			seen[2] = true;
			cr_assert_eq(s->dup, -1, "a listening socket is not kept");
		} else if (s->fd == fds[3]) {
			seen[3] = true;
			cr_assert_geq(s->dup, 0, "a TCP connection is kept");
		}
	}
	cr_assert(seen[0] && seen[1] && seen[2] && seen[3]);
	kmerge_epoch_drop_conns(e);
	for (size_t i = 0; i < kmerge_epoch_nfds(e); i++)
		if (kmerge_epoch_fd(e, i)->fd == fds[3])
			cr_assert_eq(kmerge_epoch_fd(e, i)->dup, -1, "let go");
	kmerge_epoch_free(e);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(p[0]), close(p[1]);
}
