# DW_ENABLE_SANITIZERS: --enable-asan / --enable-ubsan for test builds.
AC_DEFUN([DW_ENABLE_SANITIZERS], [
  SANITIZER_FLAGS=
  AC_ARG_ENABLE([asan], [AS_HELP_STRING([--enable-asan], [build with AddressSanitizer])],
    [AS_IF([test "x$enableval" = xyes], [SANITIZER_FLAGS="$SANITIZER_FLAGS -fsanitize=address -fno-omit-frame-pointer"])])
  AC_ARG_ENABLE([ubsan], [AS_HELP_STRING([--enable-ubsan], [build with UndefinedBehaviorSanitizer])],
    [AS_IF([test "x$enableval" = xyes], [SANITIZER_FLAGS="$SANITIZER_FLAGS -fsanitize=undefined -fno-sanitize-recover=undefined"])])
  AC_SUBST([SANITIZER_FLAGS])
])
