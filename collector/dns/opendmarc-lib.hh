/*
 * opendmarc-lib.hh - libopendmarc's process-wide state and its policy context
 * as a RAII handle, shared by live-dmarc.cc (parsing a live record) and
 * collector/auth's DMARC evaluation of report mail.
 *
 * libopendmarc is kept off DNS everywhere: no name servers, no public suffix
 * list (OPENDMARC_TLD_TYPE_NONE); the record is always fetched by us (the
 * Resolver) and handed over with opendmarc_policy_store_dmarc, and
 * organizational domains come from our public suffix code.
 *
 * Thread-safety: initOpendmarcOnce may be called from any thread (std::call_once);
 * a PolicyContext belongs to one thread.  Errors: none.
 */
#pragma once

#include <memory>
#include <netinet/in.h>
#include <sys/types.h>

#include <opendmarc/dmarc.h>

namespace dmarcwatch::collector
{

//! \brief Set libopendmarc's library state, once per process.  Does not block.
void initOpendmarcOnce();

struct OpendmarcPolicyDeleter
{
  void operator()(DMARC_POLICY_T* policy) const { opendmarc_policy_connect_shutdown(policy); }
};
//! One opendmarc_policy_connect_init context.
using OpendmarcPolicy = std::unique_ptr<DMARC_POLICY_T, OpendmarcPolicyDeleter>;

} // namespace dmarcwatch::collector
