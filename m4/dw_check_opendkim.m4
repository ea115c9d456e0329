# DW_CHECK_OPENDKIM: libopendkim (DKIM verification of report mail in collector/dns, issue 14).
# Debian ships no opendkim.pc: the header and the library.  dkim.h spells C99's _Bool inside its
# extern "C" and does not compile as C++; collector/dns/dkim-verify.cc maps _Bool to bool around the
# include (the same type in the x86-64/aarch64 psABIs), and this check compiles exactly that in C++
# mode, so a dkim.h that breaks it fails here, not in the build.  Sets OPENDKIM_CFLAGS/LIBS.
AC_DEFUN([DW_CHECK_OPENDKIM], [
  AC_LANG_PUSH([C])
  AC_CHECK_HEADER([opendkim/dkim.h], [],
    [AC_MSG_ERROR([libopendkim not found: install the Debian package libopendkim-dev])])
  dw_save_LIBS=$LIBS
  AC_SEARCH_LIBS([dkim_init], [opendkim], [],
    [AC_MSG_ERROR([libopendkim not found: install the Debian package libopendkim-dev])])
  LIBS=$dw_save_LIBS
  AC_LANG_POP([C])
  AC_MSG_CHECKING([whether opendkim/dkim.h compiles as C++ with _Bool mapped to bool])
  AC_LANG_PUSH([C++])
  AC_COMPILE_IFELSE([AC_LANG_PROGRAM([[
#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool
]], [[bool testkey = false;
DKIM_STAT (*eom)(DKIM*, bool*) = &dkim_eom;
(void)eom; (void)testkey;]])],
    [AC_MSG_RESULT([yes])],
    [AC_MSG_RESULT([no])
     AC_MSG_ERROR([opendkim/dkim.h does not compile as C++ even with _Bool mapped to bool])])
  AC_LANG_POP([C++])
  OPENDKIM_CFLAGS=
  OPENDKIM_LIBS=-lopendkim
  AC_SUBST([OPENDKIM_CFLAGS])
  AC_SUBST([OPENDKIM_LIBS])
])
