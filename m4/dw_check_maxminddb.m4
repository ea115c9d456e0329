# DW_CHECK_MAXMINDDB: libmaxminddb, required (collector/geo reads the GeoIPCountry and
# GeoIPAsn MMDB files through it).  The library is required; the data files are not: without
# them the programs run and leave country and AS number unknown.
# pkg-config first (Debian ships libmaxminddb.pc), else the header and MMDB_open.
# Sets MAXMINDDB_CFLAGS and MAXMINDDB_LIBS.
AC_DEFUN([DW_CHECK_MAXMINDDB], [
  PKG_CHECK_MODULES([MAXMINDDB], [libmaxminddb], [], [
    AC_CHECK_HEADER([maxminddb.h], [],
      [AC_MSG_ERROR([libmaxminddb not found: install the Debian package libmaxminddb-dev (apt-get install libmaxminddb-dev)])])
    dw_save_LIBS=$LIBS
    AC_SEARCH_LIBS([MMDB_open], [maxminddb], [],
      [AC_MSG_ERROR([libmaxminddb not found: install the Debian package libmaxminddb-dev (apt-get install libmaxminddb-dev)])])
    LIBS=$dw_save_LIBS
    MAXMINDDB_CFLAGS=
    MAXMINDDB_LIBS=-lmaxminddb
    AC_SUBST([MAXMINDDB_CFLAGS])
    AC_SUBST([MAXMINDDB_LIBS])
  ])
])
