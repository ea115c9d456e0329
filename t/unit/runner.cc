// main() of every Boost.Test runner (one per library, t/Makefile.inc); each test-<module>.cc holds one suite.
#define BOOST_TEST_MODULE dmarcwatch
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
