/* SPDX-License-Identifier: MIT */
/*
 * personality(2): the persona the program starts with (uprr runs it with
 * ADDR_NO_RANDOMIZE, which the program must not see), ADDR_NO_RANDOMIZE set
 * and read back, PER_LINUX32 | UNAME26 seen through uname(2), and the persona
 * carried into a new program by execve (without ADDR_NO_RANDOMIZE: the exec'd
 * image would be randomized natively; uprr keeps it fixed, unseen). Every
 * line but the "nonce" one is the same natively, recorded and replayed.
 */
#include <sys/personality.h>
#include <sys/utsname.h>

#include "progs.h"

static void
show(const char *who)
{
	struct utsname u;
	int p = personality(0xffffffff);

	if (uname(&u) < 0)
		die("uname: %s", strerror(errno));
	say("%s: persona 0x%x, machine %s, release starts %.3s\n", who, p, u.machine, u.release);
}

int
main(int argc, char **argv)
{
	int old;

	if (argc == 2 && strcmp(argv[1], "exec-child") == 0) {
		show("after exec");
		old = personality(PER_LINUX);
		say("personality(PER_LINUX) returned 0x%x\n", old);
		show("child, PER_LINUX");
		return 0;
	}
	say("nonce: %llu\n", (unsigned long long)random_seed());
	show("start");
	old = personality(ADDR_NO_RANDOMIZE);
	say("personality(ADDR_NO_RANDOMIZE) returned 0x%x\n", old);
	show("ADDR_NO_RANDOMIZE");
	old = personality(PER_LINUX32 | UNAME26);
	say("personality(PER_LINUX32 | UNAME26) returned 0x%x\n", old);
	show("PER_LINUX32 | UNAME26");
	execl("/proc/self/exe", argv[0], "exec-child", (char *)NULL);
	die("execl: %s", strerror(errno));
}
