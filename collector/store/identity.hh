/*
 * identity.hh - the authenticated identity of a record: what a stored row
 * carries so that `dmarcwatch status` names a row's sending service without
 * decoding its outcome.
 *
 * The rule, in this one place: the first DKIM result that passes (result
 * "pass", any case) with a d= domain, else the first such SPF result, its
 * domain lower-cased (ASCII); none: "" (status shows "unknown").  The writer
 * applies it to a parsed Record, the 1->2 upgrade and `db verify` to a stored
 * outcome, status's merge path to the outcomes of its facts.
 *
 * Thread-safety: pure functions.  Errors: none.
 */
#pragma once

#include "collector/common/text.hh"

#include <string>
#include <string_view>

namespace dmarcwatch::collector
{

/*!
 * \brief The authenticated identity of DKIM and SPF results (any type with .domain and
 * .result: Record's, Outcome's, OutcomeView's), lower-cased, into out (cleared); "" when none
 * passed.  Does not allocate once out has grown.
 */
template <typename DkimResults, typename SpfResults>
void authenticatedIdentity(const DkimResults& dkimResults, const SpfResults& spfResults, std::string& out)
{
  out.clear();
  for (const auto& dkim : dkimResults) {
    if (equalsIgnoreCaseAscii(dkim.result, "pass") && !std::string_view(dkim.domain).empty()) {
      appendLowerAscii(out, dkim.domain);
      return;
    }
  }
  for (const auto& spf : spfResults) {
    if (equalsIgnoreCaseAscii(spf.result, "pass") && !std::string_view(spf.domain).empty()) {
      appendLowerAscii(out, spf.domain);
      return;
    }
  }
}

} // namespace dmarcwatch::collector
