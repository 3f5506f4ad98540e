/* SPDX-License-Identifier: MIT */
/*
 * Where traces live: $UPRR_TRACE_DIR, else ~/.local/share/uprr (as rr uses
 * ~/.local/share/rr), with NAME-N directories and a `latest-trace` symlink.
 */
#define LOG_PREFIX "trace"

#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>

#include "common/log.h"
#include "trace/trace-private.h"

/* The base directory, not created. */
static int
base_dir(char *buf, size_t len)
{
	const char *env = getenv("UPRR_TRACE_DIR");
	const char *home;
	int n;

	if (env && *env) {
		n = snprintf(buf, len, "%s", env);
	} else {
		home = getenv("HOME");
		if (!home || !*home) {
			struct passwd *pw = getpwuid(getuid());

			home = pw ? pw->pw_dir : NULL;
		}
		if (!home || !*home)
			return -ENOENT;
		n = snprintf(buf, len, "%s/.local/share/uprr", home);
	}
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* mkdir -p with mode 0700 for every directory it creates. */
static int
mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	struct stat st;
	size_t len = strlen(path);

	if (len == 0)
		return -ENOENT;
	if (len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (c == '\0')
			break;
	}
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int
trace_dir_new(const char *prog_name, char *buf, size_t len)
{
	char base[PATH_MAX];
	const char *name;
	int r;

	r = base_dir(base, sizeof(base));
	if (r < 0)
		return r;
	r = mkdir_p(base);
	if (r < 0)
		return log_debug_errno(r, "cannot create '%s'", base);

	name = prog_name ? strrchr(prog_name, '/') : NULL;
	name = name ? name + 1 : prog_name;
	if (!name || !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		name = "trace";

	/* first free N, as rr does; trace_writer_open()'s mkdir settles a race */
	for (unsigned int i = 0; i < 1000000; i++) {
		char path[PATH_MAX];
		struct stat st;
		int n = snprintf(path, sizeof(path), "%s/%.200s-%u", base, name, i);

		if (n < 0 || (size_t)n >= sizeof(path) || (size_t)n >= len)
			return -ENAMETOOLONG;
		if (lstat(path, &st) == 0)
			continue;
		if (errno != ENOENT)
			return -errno;
		memcpy(buf, path, (size_t)n + 1);
		return 0;
	}
	return -EEXIST;
}

int
trace_dir_set_latest(const char *dir)
{
	char path[PATH_MAX], tmp[64];
	_cleanup_close_ int fd = -1;
	const char *parent, *name;
	size_t len = strlen(dir);
	char *slash;

	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len);
	path[len] = '\0';
	slash = strrchr(path, '/');
	if (!slash) {
		parent = ".";
		name = path;
	} else {
		parent = slash == path ? "/" : path;
		*slash = '\0';
		name = slash + 1;
	}
	if (!*name || strcmp(name, TRACE_LATEST_LINK) == 0)
		return -EINVAL;
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;

	/* a new link renamed over the old one: readers never see none */
	snprintf(tmp, sizeof(tmp), "." TRACE_LATEST_LINK ".%d", (int)getpid());
	(void)unlinkat(fd, tmp, 0);
	if (symlinkat(name, fd, tmp) < 0)
		return -errno;
	if (renameat(fd, tmp, fd, TRACE_LATEST_LINK) < 0) {
		int r = -errno;

		(void)unlinkat(fd, tmp, 0);
		return r;
	}
	return 0;
}

int
trace_dir_latest(char *buf, size_t len)
{
	char base[PATH_MAX], target[PATH_MAX], path[2 * PATH_MAX];
	_cleanup_close_ int fd = -1;
	struct stat st;
	ssize_t n;
	int r, m;

	r = base_dir(base, sizeof(base));
	if (r < 0)
		return r;
	fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = readlinkat(fd, TRACE_LATEST_LINK, target, sizeof(target));
	if (n < 0)
		return errno == EINVAL ? -ENOENT : -errno;
	if ((size_t)n >= sizeof(target))
		return -ENAMETOOLONG;
	target[n] = '\0';
	if (target[0] == '/')
		m = snprintf(path, sizeof(path), "%s", target);
	else
		m = snprintf(path, sizeof(path), "%s/%s", base, target);
	if (m < 0 || (size_t)m >= len)
		return -ENAMETOOLONG;
	/* a link to a deleted trace is no trace */
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOENT;
	memcpy(buf, path, (size_t)m + 1);
	return 0;
}
