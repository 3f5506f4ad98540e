/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the held-output queue (tp/output.h) on pipes and a socket
 * pair of the test's own: nothing is written before its epoch is released;
 * releases keep the order the writes were held in, across destinations;
 * a discard drops the epochs past it, never shown; dups of one open file
 * are one destination; a datagram keeps its bounds; a reader gone (EPIPE)
 * drops that destination's rest without killing the process (SIGPIPE).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tp/output.h"

static struct tp_output *q;

static void
fini(void)
{
	tp_output_free(q);
	q = NULL;
}

TestSuite(output, .fini = fini, .timeout = 20);

/* Hold @text, written in epoch @k to a dup of @fd; its id. */
static long
hold(uint64_t k, int fd, bool msg, const char *text)
{
	int d = dup(fd);
	long id;

	cr_assert_geq(d, 0);
	id = tp_output_hold(q, k, d, msg, strdup(text), strlen(text));
	cr_assert_gt(id, 0);
	return id;
}

/* What the read end @fd holds now (non-blocking), as a string. */
static char *
drain(int fd)
{
	static char buf[4096];
	ssize_t n;

	n = read(fd, buf, sizeof(buf) - 1);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static void
make_pipe(int p[2])
{
	cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
}

Test(output, held_until_released_in_order)
{
	int a[2], b[2];
	struct tp_output_stats st;

	make_pipe(a);
	make_pipe(b);
	q = tp_output_new();
	cr_assert_not_null(q);
	hold(0, a[1], false, "a0 ");
	hold(0, b[1], false, "b0 ");
	hold(0, a[1], false, "a0' ");
	hold(1, a[1], false, "a1 ");
	hold(2, b[1], false, "b2 ");
	usleep(20000);
	cr_assert_str_eq(drain(a[0]), "", "written before its epoch was released");
	tp_output_release(q, 0);
	tp_output_flush(q);
	cr_assert_str_eq(drain(a[0]), "a0 a0' ");
	cr_assert_str_eq(drain(b[0]), "b0 ");
	tp_output_release(q, 1);
	tp_output_flush(q);
	cr_assert_str_eq(drain(a[0]), "a1 ");
	cr_assert_str_eq(drain(b[0]), "");
	tp_output_get_stats(q, &st);
	cr_assert_eq(st.writes, 5);
	cr_assert_eq(st.destinations, 2, "two dups of one pipe end are one destination");
	cr_assert_eq(st.written, strlen("a0 b0 a0' a1 "));
	/* a rollback to the end of epoch 1: epoch 2's write is never shown,
	 * and epoch 2 starts again */
	cr_assert_eq(tp_output_discard(q, 1), 3);
	hold(2, b[1], false, "b2' ");
	tp_output_release(q, UINT64_MAX);
	tp_output_flush(q);
	cr_assert_str_eq(drain(b[0]), "b2' ");
	close(a[0]), close(a[1]), close(b[0]), close(b[1]);
}

/* A re-run from the program's start (tp/tp.c) drops what was not
 * released, which tp_output_stats.released tells: nothing, or the bytes
 * let go, whether written yet or not. */
Test(output, released_counted_and_the_rest_dropped)
{
	struct tp_output_stats st;
	int a[2];

	make_pipe(a);
	q = tp_output_new();
	cr_assert_not_null(q);
	hold(0, a[1], false, "a0 ");
	hold(1, a[1], false, "a1 ");
	tp_output_get_stats(q, &st);
	cr_assert_eq(st.released, 0);
	/* a verdict of epoch 2 with nothing held in it lets nothing go */
	tp_output_release(q, 0);
	hold(1, a[1], false, "a1' ");
	tp_output_get_stats(q, &st);
	cr_assert_eq(st.released, strlen("a0 "));
	/* what was let go stays: epochs >= 0 asked, those >= 1 dropped */
	cr_assert_eq(tp_output_discard_from(q, 0), strlen("a1 a1' "));
	tp_output_flush(q);
	cr_assert_str_eq(drain(a[0]), "a0 ");
	/* held in an epoch already let go: released at once, counted */
	tp_output_release(q, 5);
	hold(3, a[1], false, "a3 ");
	tp_output_flush(q);
	tp_output_get_stats(q, &st);
	cr_assert_eq(st.released, strlen("a0 a3 "));
	cr_assert_eq(st.dropped, strlen("a1 a1' "));
	cr_assert_str_eq(drain(a[0]), "a3 ");
	close(a[0]), close(a[1]);
}

Test(output, replaced_in_place_until_released)
{
	int a[2];
	long first, second;
	struct tp_output_stats st;

	make_pipe(a);
	q = tp_output_new();
	cr_assert_not_null(q);
	first = hold(0, a[1], false, "count 1998\n");
	second = hold(1, a[1], false, "done\n");
	cr_assert_gt(second, first);
	/* the EP run wrote other bytes there: they take the write's place */
	cr_assert_eq(tp_output_replace(q, (uint64_t)first, strdup("count 2000\n"), 11), 0);
	cr_assert_eq(tp_output_replace(q, 999, strdup("x"), 1), -ENOENT);
	tp_output_release(q, 0);
	tp_output_flush(q);
	cr_assert_str_eq(drain(a[0]), "count 2000\n");
	/* shown: it cannot be taken back; the same bytes again (a re-run's,
	 * tp/tp.c) change nothing */
	cr_assert_eq(tp_output_replace(q, (uint64_t)first, strdup("late\n"), 5), -EALREADY);
	cr_assert_eq(tp_output_replace(q, (uint64_t)first, strdup("count 2000\n"), 11), 0);
	tp_output_release(q, 1);
	tp_output_flush(q);
	cr_assert_str_eq(drain(a[0]), "done\n");
	tp_output_get_stats(q, &st);
	cr_assert_eq(st.replaced, 1);
	cr_assert_eq(st.bytes, strlen("count 2000\ndone\n"));
	close(a[0]), close(a[1]);
}

Test(output, order_across_destinations)
{
	int a[2], b[2];
	struct pollfd pfd[2];

	make_pipe(a);
	make_pipe(b);
	q = tp_output_new();
	cr_assert_not_null(q);
	/* a full pipe a blocks the writer (a non-blocking file: poll):
	 * b's later write must wait for a's earlier one */
	cr_assert_eq(fcntl(a[1], F_SETPIPE_SZ, 4096), 4096);
	{
		char *big = malloc(8192);

		memset(big, 'x', 8192);
		cr_assert_gt(tp_output_hold(q, 0, dup(a[1]), false, big, 8192), 0);
	}
	hold(0, b[1], false, "after");
	tp_output_release(q, 0);
	usleep(50000);
	cr_assert_str_eq(drain(b[0]), "", "a later write went out before an earlier one");
	pfd[0] = (struct pollfd){ .fd = a[0], .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = b[0], .events = POLLIN };
	for (int got = 0; got < 8192;) {
		char buf[4096];
		ssize_t n;

		cr_assert_gt(poll(pfd, 1, 5000), 0);
		n = read(a[0], buf, sizeof(buf));
		cr_assert_gt(n, 0);
		got += (int)n;
	}
	tp_output_flush(q);
	cr_assert_str_eq(drain(b[0]), "after");
	cr_assert_eq(fcntl(a[1], F_GETFL) & O_NONBLOCK, O_NONBLOCK, "the file's flags changed");
	close(a[0]), close(a[1]), close(b[0]), close(b[1]);
}

Test(output, datagrams_keep_their_bounds)
{
	int s[2];
	char buf[64];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s), 0);
	q = tp_output_new();
	cr_assert_not_null(q);
	hold(0, s[0], true, "one");
	hold(0, s[0], true, "two");
	tp_output_release(q, 0);
	tp_output_flush(q);
	cr_assert_eq(recv(s[1], buf, sizeof(buf), MSG_DONTWAIT), 3);
	cr_assert_eq(memcmp(buf, "one", 3), 0);
	cr_assert_eq(recv(s[1], buf, sizeof(buf), MSG_DONTWAIT), 3);
	cr_assert_eq(memcmp(buf, "two", 3), 0);
	close(s[0]), close(s[1]);
}

Test(output, reader_gone)
{
	int a[2], b[2];
	struct tp_output_stats st;

	make_pipe(a);
	make_pipe(b);
	close(a[0]); /* the reader is gone: EPIPE, and SIGPIPE (pipe(7)) */
	q = tp_output_new();
	cr_assert_not_null(q);
	hold(0, a[1], false, "lost ");
	hold(0, b[1], false, "kept ");
	hold(0, a[1], false, "lost too ");
	hold(0, b[1], false, "kept too");
	tp_output_release(q, 0);
	tp_output_flush(q);
	/* still alive: the SIGPIPE stayed pending in the writer thread */
	cr_assert_str_eq(drain(b[0]), "kept kept too");
	tp_output_get_stats(q, &st);
	cr_assert_eq(st.dropped, strlen("lost lost too "));
	cr_assert_eq(st.written, strlen("kept kept too"));
	close(a[1]), close(b[0]), close(b[1]);
}

Test(output, unreleased_dropped_at_free)
{
	int a[2];

	make_pipe(a);
	q = tp_output_new();
	cr_assert_not_null(q);
	hold(0, a[1], false, "shown ");
	hold(1, a[1], false, "never");
	tp_output_release(q, 0);
	tp_output_free(q);
	q = NULL;
	cr_assert_str_eq(drain(a[0]), "shown ");
	close(a[0]), close(a[1]);
}

Test(output, closed_once_written)
{
	int a[2];
	char buf[16];

	make_pipe(a);
	q = tp_output_new();
	cr_assert_not_null(q);
	hold(0, a[1], false, "last");
	close(a[1]); /* the program closed its fd: the queue's dup holds it */
	cr_assert_eq(read(a[0], buf, sizeof(buf)), -1);
	cr_assert_eq(errno, EAGAIN, "the end came before the held write");
	tp_output_release(q, 0);
	tp_output_flush(q);
	cr_assert_str_eq(drain(a[0]), "last");
	/* no write waits: the dup is closed, and the reader sees the end */
	cr_assert_eq(read(a[0], buf, sizeof(buf)), 0);
	close(a[0]);
}

Test(output, hold_same_needs_a_destination)
{
	int a[2], b[2];
	struct tp_output_stats st;
	char *text = strdup("x");

	make_pipe(a);
	make_pipe(b);
	q = tp_output_new();
	cr_assert_not_null(q);
	/* no destination yet: the bytes stay the caller's */
	cr_assert_eq(tp_output_hold_same(q, 0, getpid(), a[1], text, 1), -ENOENT);
	free(text);
	hold(0, a[1], false, "a0 ");
	/* this process's fd a[1], and a dup of it: the open file held already */
	cr_assert_gt(tp_output_hold_same(q, 0, getpid(), a[1], strdup("a0' "), 4), 0);
	{
		int d = dup(a[1]);

		cr_assert_gt(tp_output_hold_same(q, 1, getpid(), d, strdup("a1 "), 3), 0);
		close(d);
	}
	/* another open file (the other pipe) is not */
	text = strdup("b");
	cr_assert_eq(tp_output_hold_same(q, 1, getpid(), b[1], text, 1), -ENOENT);
	free(text);
	tp_output_release(q, UINT64_MAX);
	tp_output_flush(q);
	cr_assert_str_eq(drain(a[0]), "a0 a0' a1 ");
	cr_assert_str_eq(drain(b[0]), "");
	tp_output_get_stats(q, &st);
	cr_assert_eq(st.writes, 3);
	cr_assert_eq(st.destinations, 1);
	/* written: the destination's dup is closed, so nothing is held of it */
	text = strdup("y");
	cr_assert_eq(tp_output_hold_same(q, 2, getpid(), a[1], text, 1), -ENOENT);
	free(text);
	close(a[0]), close(a[1]), close(b[0]), close(b[1]);
}
