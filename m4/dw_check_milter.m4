# DW_CHECK_MILTER: libmilter, optional.  dmarcwatch-milter speaks the milter protocol itself
# (milter/protocol.hh); libmilter only builds the benchmark's null milter (t/bench/null-milter.cc),
# the floor our milter is compared with.  Sets HAVE_LIBMILTER (automake conditional).
AC_DEFUN([DW_CHECK_MILTER], [
  dw_have_milter=no
  PKG_CHECK_MODULES([MILTER], [milter], [dw_have_milter=yes], [
    AC_CHECK_HEADER([libmilter/mfapi.h], [
      dw_save_LIBS=$LIBS
      AC_SEARCH_LIBS([smfi_register], [milter], [
        dw_have_milter=yes
        MILTER_LIBS="$LIBS -lpthread"
        AC_SUBST([MILTER_LIBS])
      ], [], [-lpthread])
      LIBS=$dw_save_LIBS
    ])
  ])
  AS_IF([test "$dw_have_milter" = no],
    [AC_MSG_WARN([libmilter not found: make bench will skip its null-milter comparison (Debian package libmilter-dev)])])
  AM_CONDITIONAL([HAVE_LIBMILTER], [test "$dw_have_milter" = yes])
])
