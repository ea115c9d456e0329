# DW_CHECK_MILTER: libmilter via milter.pc (Debian ships one), else a plain library search.
AC_DEFUN([DW_CHECK_MILTER], [
  PKG_CHECK_MODULES([MILTER], [milter], [], [
    AC_CHECK_HEADER([libmilter/mfapi.h], [],
      [AC_MSG_ERROR([libmilter not found: install the Debian package libmilter-dev])])
    dw_save_LIBS=$LIBS
    AC_SEARCH_LIBS([smfi_register], [milter], [],
      [AC_MSG_ERROR([libmilter not found: install the Debian package libmilter-dev])], [-lpthread])
    MILTER_LIBS="$LIBS -lpthread"
    LIBS=$dw_save_LIBS
    AC_SUBST([MILTER_LIBS])
  ])
])
