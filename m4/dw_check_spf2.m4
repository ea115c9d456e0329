# DW_CHECK_SPF2: libspf2 (SPF evaluation in collector/dns).  Debian ships no .pc file, so the
# header and the library are checked directly.  Sets SPF2_LIBS.
AC_DEFUN([DW_CHECK_SPF2], [
  AC_CHECK_HEADER([spf2/spf.h], [],
    [AC_MSG_ERROR([libspf2 not found: install the Debian package libspf2-dev])],
    [[#include <netinet/in.h>
#include <arpa/nameser.h>]])
  dw_save_LIBS=$LIBS
  AC_SEARCH_LIBS([SPF_server_new_dns], [spf2], [],
    [AC_MSG_ERROR([libspf2 not found: install the Debian package libspf2-dev])])
  LIBS=$dw_save_LIBS
  SPF2_LIBS=-lspf2
  AC_SUBST([SPF2_LIBS])
])
