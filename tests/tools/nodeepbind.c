/*
 * nodeepbind.c - preloaded before the ASan runtime into php and php-fpm by
 * `make test-php-asan`, and nowhere else: dlopen() without RTLD_DEEPBIND.
 *
 * PHP loads extensions with dlopen(..., RTLD_DEEPBIND) unless PHP itself
 * was compiled with ASan, and the ASan runtime refuses that flag (the
 * process dies: a deep-bound library would call libc around ASan's
 * interceptors).  Debian's php is not built with ASan, so this library
 * takes the flag off, as PHP's own ASan builds do.  Deep binding changes
 * nothing for clustershm.so, which exports only get_module.
 *
 * It is listed first in LD_PRELOAD so that php's dlopen reaches it before
 * the runtime's interceptor, which it then calls (RTLD_NEXT); that needs
 * ASAN_OPTIONS=verify_asan_link_order=0.  It is not instrumented itself.
 */
#define _GNU_SOURCE
#include <dlfcn.h>

void *dlopen(const char *file, int mode)
{
    /* Looked up on every call: dlopen is rare, and nothing is shared. */
    void *(*next)(const char *, int) =
        (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
    return next(file, mode & ~RTLD_DEEPBIND);
}
