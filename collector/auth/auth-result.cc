/*
 * auth-result.cc - the summary line of a mail's checks.
 */
#include "collector/auth/auth-result.hh"

namespace dmarcwatch::collector
{

std::string MessageAuth::summary() const
{
  std::string out = "spf=" + spf;
  if (!spfDomain.empty()) {
    out += " (" + spfDomain + ")";
  }
  out += "; dkim=" + dkim;
  // The signature that decided: the first with the best result.
  for (const auto& sig : signatures) {
    if (sig.result == dkim) {
      out += " (d=" + sig.domain + " s=" + sig.selector + ")";
      break;
    }
  }
  out += "; dmarc=" + dmarc;
  if (!dmarcPolicy.empty()) {
    out += " (p=" + dmarcPolicy + ")";
  }
  if (timedOut) {
    out += "; dns timeout";
  }
  return out;
}

} // namespace dmarcwatch::collector
