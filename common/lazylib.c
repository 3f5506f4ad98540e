/* SPDX-License-Identifier: MIT */
#define LOG_PREFIX "lazylib"
#include "common/lazylib.h"

#include <dlfcn.h>
#include <errno.h>

#include "common/log.h"

int
lazylib_load(struct lazylib *lib)
{
	void *handle;

	if (lib->state)
		return lib->state > 0 ? 0 : lib->state;
	/* RTLD_NOW: a missing function fails here, not at a later call */
	handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		log_debug("cannot load %s: %s", lib->soname, dlerror());
		lib->state = -ENOENT;
		return lib->state;
	}
	for (size_t i = 0; i < lib->nfns; i++) {
		void *fn = dlsym(handle, lib->fns[i].name);

		if (!fn) {
			log_debug("%s has no %s: %s", lib->soname, lib->fns[i].name, dlerror());
			dlclose(handle);
			lib->state = -ENOSYS;
			return lib->state;
		}
		*lib->fns[i].slot = fn;
	}
	lib->state = 1;
	return 0;
}
