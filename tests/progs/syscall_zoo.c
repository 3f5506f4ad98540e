/* SPDX-License-Identifier: MIT */
/*
 * One call each of the syscalls and requests the model learnt for issue 13,
 * in a directory of its own (argv[1]): protection keys, sendmmsg/recvmmsg,
 * splice/tee/vmsplice, sync_file_range, openat2, fchmodat2, mknodat, the
 * xattr family, inotify_init, fanotify, sched_*attr, NUMA policies, kcmp,
 * keys, adjtimex, name_to_handle_at, sysfs, syslog, file ioctls, fcntl
 * hints and leases, prctl getters, mounts (tmpfs, root only). Prints results,
 * errno names and the bytes read back: the same natively, recorded and
 * replayed.
 */
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/keyctl.h>
#include <linux/kcmp.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sys/fanotify.h>
#include <linux/random.h>
#include <sched.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "progs.h"

#ifndef PR_GET_AUXV
#define PR_GET_AUXV 0x41555856
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#define AT_PAGESZ_ 6

/* Print "what: result" or "what: -1 ENAME"; returns the result. */
static long
show(const char *what, long r)
{
	if (r < 0)
		say("%s: -1 %s\n", what, strerrorname_np(errno));
	else
		say("%s: %ld\n", what, r);
	return r;
}

/* Print only whether it worked: for results that differ from run to run. */
static long
works(const char *what, long r)
{
	if (r < 0)
		say("%s: -1 %s\n", what, strerrorname_np(errno));
	else
		say("%s: ok\n", what);
	return r;
}

static void
memory(void)
{
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned long mask[2] = { 0 };
	int key, mode = -1;

	key = (int)works("pkey_alloc", syscall(SYS_pkey_alloc, 0, 0));
	if (key >= 0) {
		show("pkey_mprotect", syscall(SYS_pkey_mprotect, p, 4096, PROT_READ | PROT_WRITE, key));
		p[0] = 'k';
		say("written through the key: %c\n", p[0]);
		show("pkey_free", syscall(SYS_pkey_free, key));
	}
	if (show("get_mempolicy", syscall(SYS_get_mempolicy, &mode, mask, 129, NULL, 0)) == 0)
		say("policy %d, node 0 allowed: %lu\n", mode, mask[0] & 1);
	show("set_mempolicy MPOL_DEFAULT", syscall(SYS_set_mempolicy, 0, NULL, 0));
	show("mbind MPOL_DEFAULT", syscall(SYS_mbind, p, 8192, 0, NULL, 0, 0));
	munmap(p, 8192);
}

static void
messages(void)
{
	int sv[2];
	char a[8] = "", b[8] = "";
	struct iovec out[2] = { { "one", 3 }, { "three", 5 } }, in[2] = { { a, 8 }, { b, 8 } };
	struct mmsghdr om[2] = { { .msg_hdr = { .msg_iov = &out[0], .msg_iovlen = 1 } },
				 { .msg_hdr = { .msg_iov = &out[1], .msg_iovlen = 1 } } };
	struct mmsghdr im[2] = { { .msg_hdr = { .msg_iov = &in[0], .msg_iovlen = 1 } },
				 { .msg_hdr = { .msg_iov = &in[1], .msg_iovlen = 1 } } };

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair: %s", strerror(errno));
	show("sendmmsg", syscall(SYS_sendmmsg, sv[0], om, 2, 0));
	say("sent %u and %u bytes\n", om[0].msg_len, om[1].msg_len);
	show("recvmmsg", syscall(SYS_recvmmsg, sv[1], im, 2, MSG_DONTWAIT, NULL));
	say("received %u '%.*s' and %u '%.*s'\n", im[0].msg_len, (int)im[0].msg_len, a,
	    im[1].msg_len, (int)im[1].msg_len, b);
	close(sv[0]);
	close(sv[1]);
}

static void
pipes(int dir)
{
	int p[2], q[2], fd;
	char buf[16] = "";
	loff_t off = 2;
	struct iovec iov = { "vmspliced", 9 }, back = { buf, sizeof(buf) };

	if (pipe(p) < 0 || pipe(q) < 0)
		die("pipe: %s", strerror(errno));
	fd = openat(dir, "spliced", O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
	show("vmsplice to a pipe", syscall(SYS_vmsplice, p[1], &iov, 1, 0));
	show("tee", syscall(SYS_tee, p[0], q[1], 9, 0));
	show("splice to the file at 2", syscall(SYS_splice, p[0], NULL, fd, &off, 9, 0));
	say("offset now %lld\n", (long long)off);
	show("sync_file_range", syscall(SYS_sync_file_range, fd, 0, 0, 0));
	show("vmsplice from a pipe", syscall(SYS_vmsplice, q[0], &back, 1, 0));
	say("read back through vmsplice: %s\n", buf);
	memset(buf, 0, sizeof(buf));
	pread(fd, buf, sizeof(buf) - 1, 2);
	say("the file has: %s\n", buf);
	close(fd);
	close(p[0]), close(p[1]), close(q[0]), close(q[1]);
}

static void
files(int dir)
{
	struct open_how how = { .flags = O_CREAT | O_RDWR | O_CLOEXEC, .mode = 0640 };
	char val[32] = "", list[64] = "";
	struct stat st;
	int fd, in;
	struct {
		struct file_handle h;
		unsigned char bytes[128];
	} fh = { .h.handle_bytes = 0 };
	int mnt;

	fd = (int)works("openat2", syscall(SYS_openat2, dir, "f", &how, sizeof(how)));
	write(fd, "data", 4);
	show("fchmodat2", syscall(SYS_fchmodat2, dir, "f", 0604, 0));
	fstatat(dir, "f", &st, 0);
	say("mode %o\n", st.st_mode & 0777);
	show("mknodat a fifo", syscall(SYS_mknodat, dir, "fifo", S_IFIFO | 0600, 0));
	fstatat(dir, "fifo", &st, 0);
	say("fifo: %s\n", S_ISFIFO(st.st_mode) ? "yes" : "no");
	if (show("fsetxattr", fsetxattr(fd, "user.zoo", "striped", 7, 0)) == 0) {
		show("fgetxattr", fgetxattr(fd, "user.zoo", val, sizeof(val)));
		say("value: %s\n", val);
		show("flistxattr", flistxattr(fd, list, sizeof(list)));
		say("names: %s\n", list);
		show("fremovexattr", fremovexattr(fd, "user.zoo"));
		show("fgetxattr after remove", fgetxattr(fd, "user.zoo", val, sizeof(val)));
	}
	in = (int)works("inotify_init", syscall(SYS_inotify_init));
	close(in);
	in = (int)works("fanotify_init", syscall(SYS_fanotify_init, 0, O_RDONLY));
	if (in >= 0)
		show("fanotify_mark", syscall(SYS_fanotify_mark, in, FAN_MARK_ADD, FAN_CLOSE_WRITE,
					      dir, "f"));
	close(in);
	show("name_to_handle_at, no room", syscall(SYS_name_to_handle_at, dir, "f", &fh, &mnt, 0));
	say("handle needs room: %s\n", fh.h.handle_bytes > 0 ? "yes" : "no");
	show("name_to_handle_at", syscall(SYS_name_to_handle_at, dir, "f", &fh, &mnt, 0));
	in = (int)works("open_by_handle_at", syscall(SYS_open_by_handle_at, dir, &fh, O_RDONLY));
	if (in >= 0) {
		memset(val, 0, sizeof(val));
		read(in, val, sizeof(val) - 1);
		say("read through the handle: %s\n", val);
		close(in);
	}
	show("kcmp of a dup", syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, fd, dup(fd)));
	{
		unsigned flags = 0;
		uint64_t hint = 0;

		works("FS_IOC_GETFLAGS", ioctl(fd, FS_IOC_GETFLAGS, &flags));
		show("FICLONE", ioctl(fd, FICLONE, fd));
		show("F_SET_RW_HINT", fcntl(fd, F_SET_RW_HINT, &(uint64_t){ RWH_WRITE_LIFE_SHORT }));
		show("F_GET_RW_HINT", fcntl(fd, F_GET_RW_HINT, &hint));
		say("hint %llu\n", (unsigned long long)hint);
		show("F_GETLEASE", fcntl(fd, F_GETLEASE));
	}
	close(fd);
}

static void
processes(void)
{
	unsigned char attr[56] = { 0 };
	struct timespec ts;
	struct timex tx = { 0 };
	unsigned long auxv[128] = { 0 };
	int sub = -1;
	long n, key;
	char buf[64] = "";
	int fd;

	show("sched_getattr", syscall(SYS_sched_getattr, 0, attr, sizeof(attr), 0));
	say("sched_attr size %u, policy %u\n", *(unsigned *)attr, *(unsigned *)(attr + 4));
	show("sched_setparam", syscall(SYS_sched_setparam, 0, &(int){ 0 }));
	show("sched_rr_get_interval", syscall(SYS_sched_rr_get_interval, 0, &ts));
	works("ioprio_set", syscall(SYS_ioprio_set, 1, 0, 0));
	works("adjtimex", adjtimex(&tx));
	n = show("PR_GET_AUXV", prctl(PR_GET_AUXV, auxv, sizeof(auxv), 0, 0) > 0 ? 0 : -1);
	for (int i = 0; n == 0 && i + 1 < 128 && auxv[i]; i += 2)
		if (auxv[i] == AT_PAGESZ_)
			say("page size from the auxv: %lu\n", auxv[i + 1]);
	show("PR_GET_CHILD_SUBREAPER", prctl(PR_GET_CHILD_SUBREAPER, &sub, 0, 0, 0));
	say("subreaper: %d\n", sub);
	show("PR_GET_KEEPCAPS", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
	works("PR_GET_SPECULATION_CTRL", prctl(PR_GET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS, 0, 0, 0));
	{
		int *where = NULL;

		if (works("PR_GET_TID_ADDRESS", prctl(PR_GET_TID_ADDRESS, &where, 0, 0, 0)) == 0)
			say("a tid address is set: %s\n", where ? "yes" : "no");
	}
	key = works("add_key", syscall(SYS_add_key, "user", "zoo", "hidden", 6,
				       KEY_SPEC_PROCESS_KEYRING));
	if (key >= 0) {
		show("KEYCTL_READ", syscall(SYS_keyctl, KEYCTL_READ, key, buf, sizeof(buf)));
		say("key payload: %s\n", buf);
		n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, key, buf, sizeof(buf));
		say("description ends with: %s\n", n > 4 ? buf + n - 4 : "?");
	}
	works("syslog SIZE_BUFFER", syscall(SYS_syslog, 10, NULL, 0));
	memset(buf, 0, sizeof(buf));
	fd = (int)show("sysfs: index of proc", syscall(SYS_sysfs, 1, "proc"));
	if (fd >= 0 && show("sysfs: name of that index", syscall(SYS_sysfs, 2, fd, buf)) == 0)
		say("name: %s\n", buf);
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	works("RNDGETENTCNT", ioctl(fd, RNDGETENTCNT, &n));
	close(fd);
}

/* A tmpfs mounted twice (mount(2), then fsopen & co.) in the directory, a
 * file written in it, unmounted (it needs root: EPERM otherwise). */
static void
mounts(int dir)
{
	int fs, mnt, fd;

	mkdirat(dir, "m", 0700);
	if (show("mount tmpfs", mount("zoo", "m", "tmpfs", 0, "size=64k")) == 0) {
		fd = open("m/in-tmpfs", O_CREAT | O_RDWR | O_CLOEXEC, 0600);
		say("file in the tmpfs: %s\n", fd >= 0 ? "yes" : strerrorname_np(errno));
		close(fd);
		show("umount2", umount2("m", 0));
		say("gone after umount: %s\n", access("m/in-tmpfs", F_OK) < 0 ? "yes" : "no");
	}
	fs = (int)works("fsopen", syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC));
	if (fs < 0)
		return;
	show("fsconfig size", syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", "64k", 0));
	show("fsconfig create", syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	mnt = (int)works("fsmount", syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0));
	if (mnt < 0)
		return;
	show("move_mount", syscall(SYS_move_mount, mnt, "", AT_FDCWD, "m", MOVE_MOUNT_F_EMPTY_PATH));
	fd = (int)works("open_tree", syscall(SYS_open_tree, AT_FDCWD, "m", OPEN_TREE_CLOEXEC));
	close(fd);
	fd = (int)works("fspick", syscall(SYS_fspick, AT_FDCWD, "m", FSPICK_CLOEXEC));
	close(fd);
	close(mnt);
	close(fs);
	show("umount2 again", umount2("m", 0));
	unlinkat(dir, "m", AT_REMOVEDIR);
}

/* Memory-deny-write-execute in a child (it lasts for the process): code
 * cannot become writable and executable any more. */
static void
mdwe(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (show("PR_SET_MDWE", prctl(65 /* PR_SET_MDWE */, 1, 0, 0, 0)) == 0) {
			show("PR_GET_MDWE", prctl(66 /* PR_GET_MDWE */, 0, 0, 0, 0));
			show("mprotect RW to RX", mprotect(p, 4096, PROT_READ | PROT_EXEC));
		}
		_exit(0);
	}
	waitpid(pid, &status, 0);
}

int
main(int argc, char **argv)
{
	int dir;

	if (argc != 2)
		die("usage: syscall_zoo DIR");
	if (mkdir(argv[1], 0700) < 0 && errno != EEXIST)
		die("mkdir %s: %s", argv[1], strerror(errno));
	if (chdir(argv[1]) < 0)
		die("chdir: %s", strerror(errno));
	dir = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	memory();
	messages();
	pipes(dir);
	files(dir);
	processes();
	mounts(dir);
	mdwe();
	say("syscall_zoo: ok\n");
	return 0;
}
