/* SPDX-License-Identifier: MIT */
/*
 * The pseudo-terminal and terminal ioctls of script(1), expect and tmux, on
 * a pty pair of its own: unlock and number the slave, window size, termios
 * in its three shapes, queue sizes, packet mode, exclusive mode, the line
 * discipline, a peer fd, flushing and draining, and in a child a session
 * whose controlling terminal is the slave (TIOCSCTTY, TIOCGSID, TIOCSPGRP,
 * TIOCNOTTY). Prints what it observed; the same natively.
 */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>

#include "progs.h"

/* struct termios2 and struct termio of asm-generic/termbits.h: glibc's
 * headers cannot be mixed with the kernel's */
#define TCGETS2_ 0x802c542aul
struct termio_ {
	unsigned short c_iflag, c_oflag, c_cflag, c_lflag;
	unsigned char c_line, c_cc[8];
};

static int
check(const char *what, int r)
{
	if (r < 0)
		say("%s: -1 %s\n", what, strerrorname_np(errno));
	return r;
}

static void
child_session(int slave)
{
	pid_t sid;

	if (setsid() < 0 || check("TIOCSCTTY", ioctl(slave, TIOCSCTTY, 0)) < 0)
		_exit(1);
	if (check("TIOCGSID", ioctl(slave, TIOCGSID, &sid)) < 0)
		_exit(1);
	say("child: TIOCGSID is its session: %s\n", sid == getsid(0) ? "yes" : "no");
	if (check("TIOCSPGRP", ioctl(slave, TIOCSPGRP, &(pid_t){ getpgrp() })) < 0)
		_exit(1);
	say("child: tcgetpgrp is its group: %s\n", tcgetpgrp(slave) == getpgrp() ? "yes" : "no");
	signal(SIGHUP, SIG_IGN);
	if (check("TIOCNOTTY", ioctl(slave, TIOCNOTTY)) < 0)
		_exit(1);
	say("child: after TIOCNOTTY, TIOCGSID: %s\n",
	    ioctl(slave, TIOCGSID, &sid) < 0 ? strerrorname_np(errno) : "still a terminal");
	_exit(0);
}

int
main(void)
{
	int master, slave, peer, n, lock = 1, excl = 0, ld = -1, pkt = 1;
	unsigned ptn;
	struct winsize ws = { .ws_row = 33, .ws_col = 101 }, got = { 0 };
	struct termios tio;
	unsigned char t2[44];
	struct termio_ ta;
	char buf[64];
	pid_t pid;
	int status;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0)
		die("posix_openpt: %s", strerror(errno));
	if (check("TIOCGPTLCK", ioctl(master, TIOCGPTLCK, &lock)) == 0)
		say("locked at first: %d\n", lock);
	check("TIOCSPTLCK", ioctl(master, TIOCSPTLCK, &(int){ 0 }));
	ioctl(master, TIOCGPTLCK, &lock);
	say("locked after TIOCSPTLCK 0: %d\n", lock);
	if (check("TIOCGPTN", ioctl(master, TIOCGPTN, &ptn)) == 0) {
		snprintf(buf, sizeof(buf), "/dev/pts/%u", ptn);
		say("TIOCGPTN names ptsname: %s\n", strcmp(buf, ptsname(master)) == 0 ? "yes" : "no");
	}
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	if (slave < 0)
		die("open slave: %s", strerror(errno));
	peer = check("TIOCGPTPEER", ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY));
	if (peer >= 0)
		say("TIOCGPTPEER gives the same terminal: %s\n",
		    isatty(peer) && strcmp(ttyname(peer), ttyname(slave)) == 0 ? "yes" : "no");

	check("TIOCSWINSZ", ioctl(master, TIOCSWINSZ, &ws));
	check("TIOCGWINSZ", ioctl(slave, TIOCGWINSZ, &got));
	say("window: %u rows %u cols\n", got.ws_row, got.ws_col);

	tcgetattr(slave, &tio);
	cfmakeraw(&tio);
	check("TCSETSW", ioctl(slave, TCSETSW, &tio));
	check("TCGETS2", ioctl(slave, TCGETS2_, t2));
	say("TCGETS2 agrees with TCGETS: %s\n", memcmp(t2, &tio, 36) == 0 ? "yes" : "no");
	check("TCGETA", ioctl(slave, TCGETA, &ta));
	say("TCGETA: lflag %#x, VMIN %u\n", ta.c_lflag, ta.c_cc[VMIN]);
	check("TCSETA", ioctl(slave, TCSETA, &ta));
	check("TCSETAW", ioctl(slave, TCSETAW, &ta));

	write(master, "typed\n", 6);
	/* the line discipline takes the bytes in a worker: wait for them */
	for (int i = 0; i < 2000 && check("FIONREAD", ioctl(slave, FIONREAD, &n)) == 0 && n < 6; i++)
		sleep_us(1000);
	say("slave has %d bytes to read\n", n);
	n = read(slave, buf, sizeof(buf));
	say("slave read %d: %.*s", n, n, buf);
	check("TIOCOUTQ", ioctl(slave, TIOCOUTQ, &n));
	say("slave output queue: %d\n", n);
	write(master, "dropped", 7);
	check("TCFLSH", ioctl(slave, TCFLSH, TCIFLUSH));
	ioctl(slave, FIONREAD, &n);
	say("after TCFLSH: %d bytes\n", n);
	check("TCXONC", ioctl(slave, TCXONC, TCOON));
	check("TCSBRK", ioctl(slave, TCSBRK, 1));

	check("TIOCEXCL", ioctl(slave, TIOCEXCL));
	check("TIOCGEXCL", ioctl(slave, TIOCGEXCL, &excl));
	say("exclusive: %d\n", excl);
	check("TIOCNXCL", ioctl(slave, TIOCNXCL));
	check("TIOCGETD", ioctl(slave, TIOCGETD, &ld));
	say("line discipline: %d\n", ld);
	check("TIOCSETD", ioctl(slave, TIOCSETD, &ld));
	check("TIOCMGET", ioctl(slave, TIOCMGET, &n));

	check("TIOCPKT", ioctl(master, TIOCPKT, &pkt));
	check("TIOCGPKT", ioctl(master, TIOCGPKT, &pkt));
	say("packet mode: %d\n", pkt);
	write(slave, "out", 3);
	n = read(master, buf, sizeof(buf));
	say("master read %d in packet mode: header %d, %.*s\n", n, buf[0], n - 1, buf + 1);

	pid = fork();
	if (pid == 0)
		child_session(slave);
	waitpid(pid, &status, 0);
	say("child: exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	say("pty_ioctls: ok\n");
	return 0;
}
