# DW_CHECK_BOOST_TEST: Boost.Test as a shared library (unit tests always build).
AC_DEFUN([DW_CHECK_BOOST_TEST], [
  AC_CHECK_HEADER([boost/test/unit_test.hpp], [],
    [AC_MSG_ERROR([Boost.Test not found: install the Debian package libboost-test-dev])])
  AC_MSG_CHECKING([for the Boost unit test framework library])
  dw_save_LIBS=$LIBS
  LIBS="-lboost_unit_test_framework $LIBS"
  AC_LINK_IFELSE([AC_LANG_PROGRAM([[#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>]], [[return boost::unit_test::unit_test_main(nullptr, 0, nullptr);]])],
    [AC_MSG_RESULT([yes])],
    [AC_MSG_RESULT([no])
     AC_MSG_ERROR([libboost_unit_test_framework not found: install the Debian package libboost-test-dev])])
  LIBS=$dw_save_LIBS
  BOOST_TEST_LIBS=-lboost_unit_test_framework
  AC_SUBST([BOOST_TEST_LIBS])
])
