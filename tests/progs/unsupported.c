/* SPDX-License-Identifier: MIT */
/*
 * Makes a request uprr cannot record faithfully, after printing a line:
 *   unsupported syscall  io_uring_setup(2): the kernel would write shared
 *                        rings behind the supervisor's back
 *   unsupported ioctl    an ioctl request no table knows (0xdead) on stdin
 * Recording must stop with a message that names it, never go on wrongly.
 * Natively both calls simply fail or succeed; the program exits 0.
 */
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "progs.h"

int
main(int argc, char **argv)
{
	long r;

	if (argc != 2)
		die("usage: unsupported syscall|ioctl");
	say("unsupported: about to make an unsupported %s\n", argv[1]);
	if (strcmp(argv[1], "syscall") == 0) {
		unsigned char params[120] = { 0 }; /* struct io_uring_params */

		r = syscall(SYS_io_uring_setup, 4, params);
	} else if (strcmp(argv[1], "ioctl") == 0) {
		r = ioctl(STDIN_FILENO, 0xdead, NULL);
	} else {
		die("usage: unsupported syscall|ioctl");
	}
	say("unsupported: it returned %ld\n", r);
	return 0;
}
