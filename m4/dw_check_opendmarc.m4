# DW_CHECK_OPENDMARC: libopendmarc (parsing a domain's live DMARC record in collector/dns).
# pkg-config first (opendmarc.pc), else the header and the library.  Sets OPENDMARC_CFLAGS/LIBS.
AC_DEFUN([DW_CHECK_OPENDMARC], [
  PKG_CHECK_MODULES([OPENDMARC], [opendmarc], [], [
    AC_CHECK_HEADER([opendmarc/dmarc.h], [],
      [AC_MSG_ERROR([libopendmarc not found: install the Debian package libopendmarc-dev])],
      [[#include <sys/types.h>
#include <netinet/in.h>]])
    dw_save_LIBS=$LIBS
    AC_SEARCH_LIBS([opendmarc_policy_store_dmarc], [opendmarc], [],
      [AC_MSG_ERROR([libopendmarc not found: install the Debian package libopendmarc-dev])])
    LIBS=$dw_save_LIBS
    OPENDMARC_CFLAGS=
    OPENDMARC_LIBS=-lopendmarc
    AC_SUBST([OPENDMARC_CFLAGS])
    AC_SUBST([OPENDMARC_LIBS])
  ])
])
