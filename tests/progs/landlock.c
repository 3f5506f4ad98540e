/* SPDX-License-Identifier: MIT */
/*
 * Landlock: landlock_create_ruleset (the ABI version, then a ruleset that
 * handles writing, creating and executing files), landlock_add_rule (write
 * beneath DIR/rw, execute beneath /usr and this program's directory),
 * landlock_restrict_self; then open(2) for writing beneath DIR/ro fails with
 * EACCES and beneath DIR/rw works, reading works anywhere, executing a copy
 * of this program in DIR fails with EACCES and executing this program works.
 * Usage: landlock DIR, where DIR/ro and DIR/rw exist and DIR/copy is a copy
 * of this program. Exits 77 where the kernel has no landlock. Every line but
 * the "nonce" one is the same natively, recorded and replayed.
 */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "progs.h"

static void
try_open(const char *dir, const char *name, int flags, const char *what)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, flags | O_CLOEXEC, 0600);
	say("%s %s: %s\n", what, name, fd >= 0 ? "ok" : strerror(errno));
	if (fd >= 0)
		close(fd);
}

static int
allow(int ruleset, const char *path, uint64_t access)
{
	struct landlock_path_beneath_attr rule = { .allowed_access = access };
	long r;

	rule.parent_fd = open(path, O_PATH | O_CLOEXEC);
	if (rule.parent_fd < 0)
		die("open %s: %s", path, strerror(errno));
	r = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
	close(rule.parent_fd);
	return (int)r;
}

int
main(int argc, char **argv)
{
	struct landlock_ruleset_attr attr = {
		.handled_access_fs = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG |
				     LANDLOCK_ACCESS_FS_EXECUTE,
	};
	char self[PATH_MAX], self_dir[PATH_MAX], path[PATH_MAX];
	const char *dir;
	int abi, ruleset;
	ssize_t n;

	if (argc == 2 && strcmp(argv[1], "exec-child") == 0) {
		say("exec-child: runs under the restriction\n");
		try_open("/", "tmp/landlock-never-created", O_WRONLY | O_CREAT, "exec-child: create");
		return 0;
	}
	if (argc != 2)
		die("usage: landlock DIR");
	dir = argv[1];
	say("nonce: %llu\n", (unsigned long long)random_seed());
	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0) {
		say("landlock: unavailable: %s\n", strerror(errno));
		return 77;
	}
	say("landlock ABI >= 1: %d\n", abi >= 1);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		die("readlink: %s", strerror(errno));
	self[n] = '\0';
	strcpy(self_dir, self);
	dirname(self_dir);

	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0)
		die("landlock_create_ruleset: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/rw", dir);
	say("add_rule rw: %d\n",
	    allow(ruleset, path, LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG));
	say("add_rule /usr: %d\n", allow(ruleset, "/usr", LANDLOCK_ACCESS_FS_EXECUTE));
	say("add_rule own dir: %d\n", allow(ruleset, self_dir, LANDLOCK_ACCESS_FS_EXECUTE));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	say("restrict_self: %ld\n", syscall(SYS_landlock_restrict_self, ruleset, 0));
	close(ruleset);

	try_open(dir, "ro/new", O_WRONLY | O_CREAT, "create");
	try_open(dir, "ro/existing", O_WRONLY, "write");
	try_open(dir, "ro/existing", O_RDONLY, "read");
	try_open(dir, "rw/new", O_WRONLY | O_CREAT, "create");
	try_open(dir, "rw/new", O_WRONLY, "write");

	snprintf(path, sizeof(path), "%s/copy", dir);
	execl(path, path, "exec-child", (char *)NULL);
	say("exec of the copy in DIR: %s\n", strerror(errno));
	execl(self, self, "exec-child", (char *)NULL);
	die("exec of %s: %s", self, strerror(errno));
}
