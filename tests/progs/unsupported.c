/* SPDX-License-Identifier: MIT */
/*
 * Makes a request uprr does not model, after printing a line:
 *   io_uring     io_uring_setup(2) with 4 entries: the kernel would write
 *                shared rings behind the supervisor's back
 *   userfaultfd  userfaultfd(2): page faults the program would serve itself
 *   ioctl        an ioctl request no table knows (0xdead) on stdin
 *   int80        getpid through int 0x80 (the i386 syscall ABI, number 20)
 * Where the kernel accepts the request, recording must stop with a message
 * that names it, never go on wrongly; where it fails (the ioctl: ENOTTY), the
 * failure is recorded and replayed. Natively the program prints the result
 * and exits 0.
 */
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "progs.h"

int
main(int argc, char **argv)
{
	long r;

	if (argc != 2)
		die("usage: unsupported io_uring|userfaultfd|ioctl|int80");
	say("unsupported: about to make an unsupported %s\n", argv[1]);
	if (strcmp(argv[1], "io_uring") == 0) {
		unsigned char params[120] = { 0 }; /* struct io_uring_params */

		r = syscall(SYS_io_uring_setup, 4, params);
	} else if (strcmp(argv[1], "userfaultfd") == 0) {
		r = syscall(SYS_userfaultfd, 0);
	} else if (strcmp(argv[1], "ioctl") == 0) {
		r = ioctl(STDIN_FILENO, 0xdead, NULL);
	} else if (strcmp(argv[1], "int80") == 0) {
		__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
	} else {
		die("usage: unsupported io_uring|userfaultfd|ioctl|int80");
	}
	if (r < 0)
		say("unsupported: it returned -1 (%s)\n", strerrorname_np(errno));
	else
		say("unsupported: it returned a result\n");
	return 0;
}
