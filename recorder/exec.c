/* SPDX-License-Identifier: MIT */
/*
 * What the recorder does at an exec stop, before the program's first
 * instruction (the dynamic loader's entry point).
 */
#define LOG_PREFIX "exec"
#include <asm/unistd.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/log.h"
#include "recorder/record-private.h"
#include "tracee/tracee.h"

int
rec_exec_prepare(pid_t pid, const struct tracee_mapping *maps, size_t n,
		 struct user_regs_struct *ret_regs, uint64_t *ret_stack_end, char **ret_layout)
{
	struct user_regs_struct regs;
	uint64_t stack_end;
	char *layout;
	int r;

	r = tracee_get_regs(pid, &regs);
	if (r < 0)
		return r;
	r = tracee_maps_layout_of(maps, n, &layout, &stack_end);
	if (r < 0)
		return r;
	if (stack_end <= regs.rsp || stack_end - regs.rsp > (1u << 24)) {
		free(layout);
		return -EINVAL;
	}
	*ret_regs = regs;
	*ret_stack_end = stack_end;
	*ret_layout = layout;
	return 0;
}

/* The path execve(2)/execveat(2) at @tid's entry runs, as the program gave
 * it (@given) and as uprr can open it (@open_path): relative paths through
 * /proc/TID/cwd or /proc/TID/fd/DIRFD. */
static int
exec_target(pid_t tid, long nr, const uint64_t args[6], char *given, size_t given_len,
	    char *open_path, size_t len)
{
	uint64_t path_arg = nr == __NR_execveat ? args[1] : args[0];
	int r, dirfd = nr == __NR_execveat ? (int)args[0] : AT_FDCWD;
	bool empty_path = nr == __NR_execveat && (args[4] & AT_EMPTY_PATH);

	r = tracee_read_string(tid, path_arg, given, given_len);
	if (r < 0)
		return r;
	if (given[0] == '/')
		r = snprintf(open_path, len, "%s", given);
	else if (dirfd == AT_FDCWD)
		r = snprintf(open_path, len, "/proc/%d/cwd/%s", tid, given);
	else if (empty_path && !given[0])
		r = snprintf(open_path, len, "/proc/%d/fd/%d", tid, dirfd);
	else
		r = snprintf(open_path, len, "/proc/%d/fd/%d/%s", tid, dirfd, given);
	return r < 0 || (size_t)r >= len ? -ENAMETOOLONG : 0;
}

int
rec_exec_privileged(pid_t tid, long nr, const uint64_t args[6], char *why, size_t len)
{
	char given[PATH_MAX], path[PATH_MAX + 64], magic[2];
	_cleanup_close_ int fd = -1;
	struct statvfs vfs;
	struct stat st;
	uid_t euid;
	gid_t egid;
	int r;

	r = exec_target(tid, nr, args, given, sizeof(given), path, sizeof(path));
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno; /* the exec itself will fail, or we may not read it */
	if (fstat(fd, &st) < 0 || fstatvfs(fd, &vfs) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (vfs.f_flag & ST_NOSUID))
		return 0;
	/* the kernel ignores the bits of interpreted scripts (binfmt_script) */
	if (pread(fd, magic, sizeof(magic), 0) == sizeof(magic) && magic[0] == '#' && magic[1] == '!')
		return 0;
	r = tracee_ids(tid, &euid, &egid);
	if (r < 0)
		return r;
	if ((st.st_mode & S_ISUID) && st.st_uid != euid)
		snprintf(why, len, "%s, a set-user-ID program (owner uid %u)", given, (unsigned)st.st_uid);
	else if ((st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) && st.st_gid != egid)
		snprintf(why, len, "%s, a set-group-ID program (group %u)", given, (unsigned)st.st_gid);
	else if (euid != 0 && fgetxattr(fd, "security.capability", NULL, 0) > 0)
		snprintf(why, len, "%s, a program with file capabilities", given);
	else
		return 0;
	return 1;
}

int
rec_exec_open_exe(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	return open(path, O_RDONLY | O_CLOEXEC);
}
