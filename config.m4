dnl config.m4 - phpize build of the clustershm PHP extension.
dnl
dnl Invariants:
dnl  - The extension is one shared object, clustershm.so, built from the
dnl    binding (ext-php/*.c) and the whole C core (core/src/*.c), which is
dnl    compiled in, so the package needs no libclustershm installed.
dnl  - Sources are found relative to $ext_srcdir by a shell glob at configure
dnl    time: the same file works in the repository, in a copy (make php) and
dnl    in the unpacked PECL package (pecl runs configure in a separate build
dnl    directory), and a new core file needs no edit here.
dnl  - The core needs _GNU_SOURCE (futex, robust lists), pthreads and OpenSSL; symbols
dnl    other than get_module stay hidden, so the core cannot clash with another
dnl    extension loaded in the same process.

PHP_ARG_ENABLE([clustershm],
  [whether to enable clustershm support],
  [AS_HELP_STRING([--enable-clustershm],
    [Enable clustershm: one cluster tender per host shared by every worker])],
  [no])

if test "$PHP_CLUSTERSHM" != "no"; then
  dnl $ext_srcdir is only set by PHP_NEW_EXTENSION; the sources are needed before.
  CLUSTERSHM_SRCDIR=PHP_EXT_SRCDIR([clustershm])
  AC_MSG_CHECKING([for the clustershm C core])
  if test ! -f "$CLUSTERSHM_SRCDIR/core/include/clustershm.h"; then
    AC_MSG_RESULT([not found])
    AC_MSG_ERROR([core/include/clustershm.h is missing under $CLUSTERSHM_SRCDIR: the core sources must ship with the extension])
  fi
  AC_MSG_RESULT([$CLUSTERSHM_SRCDIR/core])

  case $host_os in
    linux*) ;;
    *) AC_MSG_ERROR([clustershm needs Linux (SysV shared memory, futexes, robust futex lists)]) ;;
  esac

  CLUSTERSHM_SOURCES=`cd "$CLUSTERSHM_SRCDIR" && echo ext-php/*.c core/src/*.c`

  PHP_ADD_INCLUDE([$CLUSTERSHM_SRCDIR/core/include])
  PHP_ADD_INCLUDE([$CLUSTERSHM_SRCDIR/core/src])
  PHP_ADD_INCLUDE([$CLUSTERSHM_SRCDIR/ext-php])
  PHP_ADD_LIBRARY([pthread], 1, CLUSTERSHM_SHARED_LIBADD)
  dnl TLS to the cluster (core/src/tls.c): the system's OpenSSL, found the way
  dnl PHP's own openssl extension finds it (pkg-config openssl; Debian:
  dnl libssl-dev), linked dynamically.
  PHP_SETUP_OPENSSL(CLUSTERSHM_SHARED_LIBADD,
    [],
    [AC_MSG_ERROR([clustershm needs OpenSSL's headers and libraries for TLS; install libssl-dev (Debian) or openssl-devel])])
  dnl libcrypt (Debian libcrypt1): bcrypt of Aerospike credentials (core/src/aerospike_admin.c)
  PHP_ADD_LIBRARY([crypt], 1, CLUSTERSHM_SHARED_LIBADD)
  PHP_SUBST(CLUSTERSHM_SHARED_LIBADD)

  PHP_NEW_EXTENSION([clustershm], [$CLUSTERSHM_SOURCES], [$ext_shared], [],
    [-D_GNU_SOURCE -pthread -fvisibility=hidden -Wall -DZEND_ENABLE_STATIC_TSRMLS_CACHE=1])
  PHP_ADD_BUILD_DIR([$ext_builddir/ext-php])
  PHP_ADD_BUILD_DIR([$ext_builddir/core/src])
fi
