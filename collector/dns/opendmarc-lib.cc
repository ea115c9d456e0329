/*
 * opendmarc-lib.cc - libopendmarc's library state (opendmarc-lib.hh).
 */
#include "config.h"

#include "collector/dns/opendmarc-lib.hh"

#include <cstring>
#include <mutex>

namespace dmarcwatch::collector
{

//! No public suffix list (we do not ask it to find organizational domains), no name servers
//! (it never queries: we store the record).
void initOpendmarcOnce()
{
  static std::once_flag s_once;
  std::call_once(s_once, [] {
    static OPENDMARC_LIB_T s_lib;
    std::memset(&s_lib, 0, sizeof s_lib);
    s_lib.tld_type = OPENDMARC_TLD_TYPE_NONE;
    opendmarc_policy_library_init(&s_lib);
  });
}

} // namespace dmarcwatch::collector
