# DW_CHECK_UNBOUND: libunbound (the daemon's one DNS resolver, collector/dns).  pkg-config
# first; Debian's libunbound.pc names libevent as a private requirement, so without
# libevent-dev it fails although dynamic linking needs -lunbound only: then the header and
# the library are checked directly.  Sets LIBUNBOUND_CFLAGS/LIBS.
AC_DEFUN([DW_CHECK_UNBOUND], [
  PKG_CHECK_MODULES([LIBUNBOUND], [libunbound], [], [
    AC_CHECK_HEADER([unbound.h], [],
      [AC_MSG_ERROR([libunbound not found: install the Debian package libunbound-dev])])
    dw_save_LIBS=$LIBS
    AC_SEARCH_LIBS([ub_ctx_create], [unbound], [],
      [AC_MSG_ERROR([libunbound not found: install the Debian package libunbound-dev])])
    LIBS=$dw_save_LIBS
    LIBUNBOUND_CFLAGS=
    LIBUNBOUND_LIBS=-lunbound
    AC_SUBST([LIBUNBOUND_CFLAGS])
    AC_SUBST([LIBUNBOUND_LIBS])
  ])
])
