/* SPDX-License-Identifier: MIT */
/*
 * recorder/output.c on the test process itself: where an fd leads (uprr's
 * stdout is this process's), and that the cache forgets an fd number that
 * a syscall may have given to another file.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "recorder/record-private.h"
#include "trace/trace.h"

static unsigned
sinks_at_write(struct rec_output *o, int fd)
{
	uint64_t args[6] = { (uint64_t)fd };

	rec_output_entry(o, getpid(), getpid(), __NR_write, args);
	return o->sinks;
}

static void
some_other_syscall(struct rec_output *o)
{
	uint64_t args[6] = { 0 };

	rec_output_entry(o, getpid(), getpid(), __NR_close, args);
}

Test(output, fd_sinks_tell_stdout_stderr_socket_and_file)
{
	char path[] = "/tmp/uprr-test-output-XXXXXX";
	int out = dup(STDOUT_FILENO), file = mkstemp(path), sv[2];
	unsigned s;

	cr_assert_geq(out, 0);
	cr_assert_geq(file, 0);
	unlink(path);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s = rec_output_fd_sinks(getpid(), out);
	cr_assert(s & TRACE_OUT_STDOUT, "a dup of stdout leads to stdout (sinks %#x)", s);
	cr_assert_eq(rec_output_fd_sinks(getpid(), file), 0);
	cr_assert_eq(rec_output_fd_sinks(getpid(), sv[0]) & TRACE_OUT_SOCKET, TRACE_OUT_SOCKET);
	cr_assert_eq(rec_output_fd_sinks(getpid(), 999), 0, "a closed fd leads nowhere");
	close(out), close(file), close(sv[0]), close(sv[1]);
}

Test(output, cache_forgets_fds_at_other_syscalls)
{
	struct rec_output o = { 0 };
	char path[] = "/tmp/uprr-test-output-XXXXXX";
	int sv[2], fd, file;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* fill the cache (round 2: past its size), then reuse the first fd's number */
	for (int round = 0; round < 3; round++) {
		fd = dup(sv[0]);
		for (int i = 0; i < 20; i++)
			cr_assert_eq(sinks_at_write(&o, fd), TRACE_OUT_SOCKET);
		for (int i = 0; i < round * 10; i++)
			(void)sinks_at_write(&o, 100 + i);
		some_other_syscall(&o);
		close(fd);
		file = mkstemp(path);
		unlink(path);
		strcpy(path + strlen(path) - 6, "XXXXXX");
		cr_assert_eq(file, fd, "the file takes the fd number");
		some_other_syscall(&o);
		for (int i = 0; i < 3; i++)
			cr_assert_eq(sinks_at_write(&o, fd), 0, "round %d, write %d: the file is not "
				     "a socket", round, i);
		close(file);
		some_other_syscall(&o);
	}
	rec_output_free(&o);
	close(sv[0]), close(sv[1]);
}
