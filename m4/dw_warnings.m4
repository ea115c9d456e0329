# DW_WARNINGS: the warning set every file compiles clean under, plus hardening.
AC_DEFUN([DW_WARNINGS], [
  DW_CXXFLAGS="-Wall -Wextra -Wshadow -Werror=vla -Wnon-virtual-dtor -Wformat=2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong"
  AC_ARG_ENABLE([werror], [AS_HELP_STRING([--enable-werror], [treat warnings as errors])],
    [AS_IF([test "x$enableval" = xyes], [DW_CXXFLAGS="$DW_CXXFLAGS -Werror"])])
  DW_LDFLAGS="-Wl,-z,relro -Wl,-z,now"
  AC_SUBST([DW_CXXFLAGS])
  AC_SUBST([DW_LDFLAGS])
])
