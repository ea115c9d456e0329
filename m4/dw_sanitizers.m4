# DW_ENABLE_SANITIZERS: --enable-asan / --enable-ubsan for test builds (issue 14: CI builds a second
# tree with both and runs the unit, milter and fuzz-replay suites in it).  Either option keeps the
# frame pointer, so that ASan's and UBSan's stack traces (UBSAN_OPTIONS=print_stacktrace=1) are whole.
# The flags go to compiling and linking alike (AM_CXXFLAGS and AM_LDFLAGS in Makefile.am).
AC_DEFUN([DW_ENABLE_SANITIZERS], [
  SANITIZER_FLAGS=
  AC_ARG_ENABLE([asan], [AS_HELP_STRING([--enable-asan], [build with AddressSanitizer])],
    [AS_IF([test "x$enableval" = xyes], [SANITIZER_FLAGS="$SANITIZER_FLAGS -fsanitize=address"])])
  AC_ARG_ENABLE([ubsan], [AS_HELP_STRING([--enable-ubsan], [build with UndefinedBehaviorSanitizer])],
    [AS_IF([test "x$enableval" = xyes], [SANITIZER_FLAGS="$SANITIZER_FLAGS -fsanitize=undefined -fno-sanitize-recover=undefined"])])
  AS_IF([test -n "$SANITIZER_FLAGS"], [SANITIZER_FLAGS="$SANITIZER_FLAGS -fno-omit-frame-pointer"])
  dnl GCC 12 at -O2 with -fsanitize=address warns "may be used uninitialized" inside libstdc++'s
  dnl <regex> (t/unit/test-config.cc), a false positive that stops --enable-werror: off in sanitized
  dnl trees only, and only where the compiler knows the warning (clang does not: -Wunknown-warning-option).
  AS_IF([test -n "$SANITIZER_FLAGS"],
    [AX_CHECK_COMPILE_FLAG([-Wmaybe-uninitialized], [SANITIZER_FLAGS="$SANITIZER_FLAGS -Wno-maybe-uninitialized"], [], [-Werror])])
  AC_SUBST([SANITIZER_FLAGS])
])
