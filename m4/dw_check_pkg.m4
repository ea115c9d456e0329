# DW_CHECK_PKG(VAR, MODULE, DEBIAN-PACKAGE)
# pkg-config check whose failure tells the admin which Debian package to install.
AC_DEFUN([DW_CHECK_PKG], [
  PKG_CHECK_MODULES([$1], [$2], [],
    [AC_MSG_ERROR([$2 not found: install the Debian package $3 (apt-get install $3)])])
])
