/*
 * report-trust.cc - the verdict on one report's mail (report-trust.hh).
 */
#include "collector/auth/report-trust.hh"

#include "collector/common/log.hh"
#include "collector/common/text.hh"

#include <algorithm>
#include <functional>
#include <optional>

namespace dmarcwatch::collector
{

namespace
{

//! Bytes of one mail-supplied word (a domain, a selector, an error) in a reason.
constexpr size_t s_maxReasonWord = 80;

std::string shown(std::string_view text)
{
  return printable(text, s_maxReasonWord);
}

bool contains(const std::vector<std::string>& list, std::string_view value)
{
  return std::find(list.begin(), list.end(), value) != list.end();
}

void addOnce(std::vector<std::string>& list, std::string value)
{
  if (!value.empty() && !contains(list, value)) {
    list.push_back(std::move(value));
  }
}

//! The organizational domain of a name that is a domain of two labels or more and not a public
//! suffix itself ("google.com" for "dmarc.google.com"); "" otherwise ("test", "co.uk", free text).
std::string orgDomainOf(std::string_view name, const PublicSuffixList& psl)
{
  const std::string domain = normalizeDomain(name);
  if (!isDomainName(domain) || psl.publicSuffix(domain) == domain) {
    return {};
  }
  return psl.organizationalDomain(domain);
}

void addMailDomains(std::vector<std::string>& list, const Reporter* reporter, const PublicSuffixList& psl)
{
  if (reporter != nullptr) {
    for (const auto& domain : reporter->mailDomains) {
      addOnce(list, orgDomainOf(domain, psl));
    }
  }
}

//! Why no verdict is possible, when a temporary failure played a part: the DMARC record, SPF,
//! or a signature that could have proven the From or the reporter (matters).  A forger's own
//! signature left unanswered (a selector on a server that never replies) changes nothing.
std::optional<std::string> uncertainty(const MessageAuth& auth, const std::function<bool(std::string_view)>& matters)
{
  if (auth.dmarc == "temperror") {
    return "dmarc=temperror";
  }
  if (auth.spf == "temperror") {
    return "spf=temperror (" + shown(auth.spfDomain) + ")";
  }
  for (const auto& sig : auth.signatures) {
    if (sig.result == "temperror" && matters(sig.domain)) {
      return "dkim=temperror (d=" + shown(sig.domain) + " s=" + shown(sig.selector) + ")";
    }
  }
  // Out of time with no result saying where: no verdict either.
  const bool anyTemperror = std::any_of(auth.signatures.begin(), auth.signatures.end(),
                                        [](const DkimSignatureCheck& sig) { return sig.result == "temperror"; });
  if (auth.timedOut && !anyTemperror) {
    return "dns timeout";
  }
  return std::nullopt;
}

//! How the report names itself in a reason: its first domain ("google.com").
std::string namedAs(const ReporterDomains& reporter)
{
  return reporter.named.empty() ? std::string("no domain") : reporter.named.front();
}

} // namespace

std::vector<std::string> ReporterDomains::all() const
{
  std::vector<std::string> out = named;
  for (const auto& domain : contact) {
    addOnce(out, domain);
  }
  return out;
}

ReporterDomains reporterDomains(const ReportMetadata& metadata, const ReporterCatalog& catalog,
                                const PublicSuffixList& psl)
{
  ReporterDomains out;
  const Reporter* byName = catalog.byName(metadata.orgName);
  const std::string nameOrg = orgDomainOf(metadata.orgName, psl);
  const std::string email = emailDomain(metadata.email);
  const std::string emailOrg = orgDomainOf(email, psl);
  const Reporter* byEmail = email.empty() ? nullptr : catalog.byEmailDomain(email);

  // Step: what org_name claims.  A catalog name is backed by that reporter's domains only;
  // a domain by itself (and the catalog reporter it is an email-domain of).
  addOnce(out.named, nameOrg);
  if (byName != nullptr) {
    addMailDomains(out.named, byName, psl);
    out.known = byName;
  }
  else if (!nameOrg.empty()) {
    out.known = catalog.byEmailDomain(nameOrg);
    addMailDomains(out.named, out.known, psl);
  }

  // Step: the <email>.  It names the reporter when org_name claims nothing; it joins a claim it
  // agrees with; otherwise it is only the report's contact (a catalog name: not even that).
  if (out.named.empty()) {
    addOnce(out.named, emailOrg);
    addMailDomains(out.named, byEmail, psl);
    out.known = byEmail;
  }
  else if ((byEmail != nullptr && byEmail == byName) || contains(out.named, emailOrg)) {
    addOnce(out.named, emailOrg);
  }
  else if (byName == nullptr) {
    addOnce(out.contact, emailOrg);
    addMailDomains(out.contact, byEmail, psl);
  }
  return out;
}

ReportVerdict judgeReport(const MessageAuth& auth, const ReportMetadata& metadata, const ReporterCatalog& catalog,
                          const PublicSuffixList& psl)
{
  const auto unauthenticated = [](std::string why) {
    return ReportVerdict{Authenticity::Unauthenticated, std::move(why)};
  };
  const auto forged = [](std::string why) { return ReportVerdict{Authenticity::Forged, std::move(why)}; };

  // Step 1: the From domain is what DMARC authenticates; without one there is nothing to judge.
  if (auth.fromDomain.empty()) {
    return unauthenticated("no single From domain");
  }
  const std::string from = shown(auth.fromDomain);
  const std::string fromOrg = psl.organizationalDomain(auth.fromDomain);
  const ReporterDomains reporter = reporterDomains(metadata, catalog, psl);
  const std::vector<std::string> reporterAll = reporter.all();
  const auto isReporters = [&](std::string_view domain) {
    return contains(reporterAll, psl.organizationalDomain(domain));
  };
  const std::optional<std::string> uncertain = uncertainty(auth, [&](std::string_view domain) {
    return isReporters(domain) || psl.organizationalDomain(domain) == fromOrg;
  });

  // Step 2: the From domain proven (DMARC, or an aligned DKIM pass where no usable record
  // exists): the verdict is whether it is the reporter's.
  std::string proof;
  if (auth.dmarc == "pass") {
    proof = "dmarc=pass as " + from;
  }
  else if ((auth.dmarc == "none" || auth.dmarc == "permerror") && auth.dkimAligned) {
    proof = "dkim=pass as " + from + " (dmarc=" + auth.dmarc + ")";
  }
  if (!proof.empty()) {
    if (reporterAll.empty()) {
      return unauthenticated(proof + ", report names no domain");
    }
    if (contains(reporter.named, fromOrg)) {
      return {Authenticity::Authenticated, proof + " (reporter " + fromOrg + ")"};
    }
    if (contains(reporter.contact, fromOrg)) {
      return unauthenticated(proof + " (the report's email), report names " + namedAs(reporter));
    }
    for (const auto& domain : auth.provenDomains) {
      if (isReporters(domain)) {
        return unauthenticated(proof + ", not the reporter's; " + shown(domain) + " is");
      }
    }
    if (uncertain) {
      return unauthenticated(*uncertain);
    }
    return forged("authenticated as " + from + ", report names " + namedAs(reporter));
  }

  // Step 3: a known reporter (the catalog's) signs its report mail and passes DMARC for its own
  // domains.  Mail naming it whose From is none of them, with no signature of its domains that
  // passed or could not be checked, cannot be its report, whatever DNS said of the rest (a
  // forger's unanswered selector, a From domain without a DMARC record).
  if (reporter.known != nullptr && !isReporters(auth.fromDomain)) {
    const bool reporterSignature =
      std::any_of(auth.signatures.begin(), auth.signatures.end(), [&](const DkimSignatureCheck& sig) {
        return isReporters(sig.domain) && (sig.result == "pass" || sig.result == "temperror");
      });
    if (!reporterSignature) {
      return forged("report names " + namedAs(reporter) + " (a known reporter), its mail is From " + from);
    }
  }

  // Step 3b: nothing proven.  A temporary failure may be why: no verdict.
  if (uncertain) {
    return unauthenticated(*uncertain);
  }

  // Step 4: the reporter's (or the From's) own signature broken, and nothing passed.
  const bool anyPass = auth.spf == "pass" || std::any_of(auth.signatures.begin(), auth.signatures.end(),
                                                         [](const DkimSignatureCheck& s) { return s.result == "pass"; });
  if (!anyPass) {
    for (const auto& sig : auth.signatures) {
      if (sig.result == "fail" && (isReporters(sig.domain) || psl.organizationalDomain(sig.domain) == fromOrg)) {
        return forged("dkim=fail (d=" + shown(sig.domain) + " s=" + shown(sig.selector) +
                      "): " + (sig.error.empty() ? std::string("signature verification failed") : shown(sig.error)));
      }
    }
  }

  // Step 5: DMARC failed.  Conclusive only when SPF had its chance.
  const bool spfChecked = !(auth.spf == "none" && auth.spfDomain.empty());
  if (auth.dmarc == "fail") {
    if (spfChecked) {
      return forged("dmarc=fail for " + from + " (spf=" + shown(auth.spf) + ", dkim=" + shown(auth.dkim) + ")");
    }
    return unauthenticated("dmarc=fail for " + from + " without spf (no client address), dkim=" + shown(auth.dkim));
  }

  // Step 6: no verdict possible.
  if (auth.dmarc == "none") {
    return unauthenticated(auth.signatures.empty() ? "no signature, no dmarc record for " + from
                                                   : "no aligned dkim pass, no dmarc record for " + from);
  }
  return unauthenticated("dmarc=" + shown(auth.dmarc) + " for " + from);
}

} // namespace dmarcwatch::collector
