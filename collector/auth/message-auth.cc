/*
 * message-auth.cc - SPF, DKIM and DMARC of one report mail (message-auth.hh).
 *
 * The DMARC record's question is queued first, so it is answered while the
 * SPF and DKIM look-ups wait (Resolver::resolve runs every queued question);
 * the last run() collects what is left.  One deadline (Resolver::setDeadline)
 * bounds all of it.
 */
#include "config.h"

#include "collector/auth/message-auth.hh"

#include "collector/auth/dmarc-eval.hh"
#include "collector/common/log.hh"
#include "collector/common/text.hh"
#include "collector/dns/dkim-verify.hh"
#include "collector/dns/live-dmarc.hh"
#include "collector/dns/spf-check.hh"
#include "collector/intake/classify.hh"

#include <algorithm>
#include <memory>
#include <optional>

namespace dmarcwatch::collector
{

namespace
{

//! Sets a deadline on the resolver for one mail, and clears it again.
class DeadlineScope
{
public:
  DeadlineScope(Resolver& resolver, std::chrono::steady_clock::time_point deadline) :
    d_resolver(resolver)
  {
    d_resolver.setDeadline(deadline);
  }
  ~DeadlineScope() { d_resolver.setDeadline(std::nullopt); }
  DeadlineScope(const DeadlineScope&) = delete;
  DeadlineScope& operator=(const DeadlineScope&) = delete;

private:
  Resolver& d_resolver;
};

//! A domain as DNS could ask it: labels of letters, digits, '-' and '_', at most 253 bytes.
bool plausibleDomain(std::string_view domain)
{
  if (domain.empty() || domain.size() > 253) {
    return false;
  }
  size_t label = 0;
  for (char c : domain) {
    if (c == '.') {
      if (label == 0) {
        return false;
      }
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) {
      return false;
    }
  }
  return label > 0;
}

void addUnique(std::vector<std::string>& list, const std::string& item)
{
  if (!item.empty() && std::find(list.begin(), list.end(), item) == list.end()) {
    list.push_back(item);
  }
}

} // namespace

std::string singleFromDomain(std::string_view value)
{
  // Step: split the address list at commas (and a group's ':' and ';') outside quoted strings,
  // comments and angle brackets; comments are dropped.
  std::vector<std::string> items(1);
  int comment = 0;
  bool quoted = false;
  bool angle = false;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '\r' || c == '\n') {
      continue; // folds
    }
    if (quoted) {
      // A quoted string's text is a display name or a local part: never an address's '<' or '@'.
      if (c == '\\' && i + 1 < value.size()) {
        ++i;
      }
      else if (c == '"') {
        quoted = false;
        items.back().push_back(c);
      }
      continue;
    }
    if (comment > 0) {
      if (c == '\\') {
        ++i;
      }
      else if (c == '(') {
        ++comment;
      }
      else if (c == ')') {
        --comment;
      }
      continue;
    }
    if (c == '(') {
      comment = 1;
    }
    else if (c == '"') {
      quoted = true;
      items.back().push_back(c);
    }
    else if (c == '<') {
      angle = true;
      items.back().push_back(c);
    }
    else if (c == '>') {
      angle = false;
      items.back().push_back(c);
    }
    else if (!angle && (c == ',' || c == ';')) {
      items.emplace_back();
    }
    else if (!angle && c == ':') {
      items.back().clear(); // a group's display name
    }
    else {
      items.back().push_back(c);
    }
  }
  if (quoted || comment > 0 || angle) {
    return "";
  }
  // Step: every item that holds an address (an '@' or an angle-addr) counts; exactly one may.
  std::string address;
  size_t count = 0;
  for (const auto& item : items) {
    std::string_view text = trimAscii(item);
    if (const size_t open = text.find('<'); open != std::string_view::npos) {
      const size_t close = text.find('>', open);
      if (close == std::string_view::npos) {
        return "";
      }
      text = text.substr(open + 1, close - open - 1);
      if (const size_t route = text.rfind(':'); route != std::string_view::npos && text.starts_with('@')) {
        text = text.substr(route + 1); // obsolete source route "@a,@b:local@domain"
      }
    }
    else if (text.find('@') == std::string_view::npos) {
      continue;
    }
    ++count;
    address = std::string(trimAscii(text));
  }
  if (count != 1) {
    return "";
  }
  const size_t at = address.rfind('@');
  if (at == std::string::npos || at == 0) {
    return "";
  }
  std::string domain = lowerAscii(trimAscii(std::string_view(address).substr(at + 1)));
  if (!domain.empty() && domain.back() == '.') {
    domain.pop_back();
  }
  return plausibleDomain(domain) ? domain : "";
}

struct MessageAuthenticator::Impl
{
  const TrustSettings& settings;
  const PublicSuffixList& psl;
  std::unique_ptr<Resolver> ownResolver;
  Resolver& resolver;
  SpfChecker spf;
  DkimVerifier dkim;

  Impl(const TrustSettings& s, Resolver& r, const PublicSuffixList& p, std::unique_ptr<Resolver> own = nullptr) :
    settings(s), psl(p), ownResolver(std::move(own)), resolver(r), spf(r), dkim(r)
  {
  }

  //! The checks, filling out as they go (so a failure still knows the From domain).
  void run(std::string_view rawMessage, const MailEnvelope& envelope, MessageAuth& out);
};

namespace
{

std::unique_ptr<Resolver> resolverFor(const TrustSettings& settings, const std::string& spec)
{
  ResolverOptions options;
  options.spec = spec;
  options.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(settings.authTimeout);
  return std::make_unique<Resolver>(options);
}

} // namespace

MessageAuthenticator::MessageAuthenticator(const TrustSettings& settings, Resolver& resolver,
                                           const PublicSuffixList& psl) :
  d_impl(std::make_unique<Impl>(settings, resolver, psl))
{
}

MessageAuthenticator::MessageAuthenticator(const TrustSettings& settings, const std::string& resolverSpec,
                                           const PublicSuffixList& psl)
{
  auto own = resolverFor(settings, resolverSpec);
  Resolver& resolver = *own;
  d_impl = std::make_unique<Impl>(settings, resolver, psl, std::move(own));
}

MessageAuthenticator::~MessageAuthenticator() = default;

void MessageAuthenticator::Impl::run(std::string_view rawMessage, const MailEnvelope& envelope, MessageAuth& out)
{
  const auto deadline = std::chrono::steady_clock::now() + settings.authTimeout;
  DeadlineScope scope(resolver, deadline);
  const RawMessage raw = splitMessage(rawMessage);

  // Step: the From domain (exactly one From field with exactly one address).
  size_t fromFields = 0;
  for (const auto& field : raw.fields) {
    const auto nameLength = headerFieldNameLength(field);
    if (nameLength && equalsIgnoreCaseAscii(trimAscii(std::string_view(field).substr(0, *nameLength)), "from")) {
      ++fromFields;
      const size_t colon = field.find(':');
      out.fromDomain = singleFromDomain(std::string_view(field).substr(colon + 1));
    }
  }
  if (fromFields != 1) {
    out.fromDomain.clear();
  }
  const std::string orgDomain = out.fromDomain.empty() ? "" : psl.organizationalDomain(out.fromDomain);

  // Step: queue the DMARC record first: it is answered while SPF and DKIM wait on theirs.  The
  // callback owns what it fills: if a check below throws, the question may still be answered in
  // a later run() and must not write into this frame.
  struct Fetched
  {
    DmarcRecord record;
    bool done = false;
  };
  auto fetched = std::make_shared<Fetched>();
  if (!out.fromDomain.empty()) {
    fetchDmarcRecord(
      resolver, out.fromDomain,
      [fetched](const DmarcRecord& answer) {
        fetched->record = answer;
        fetched->done = true;
      },
      orgDomain == out.fromDomain ? "" : orgDomain);
  }

  // Step: SPF of the envelope.  A loopback client is a local hop (a content filter re-injecting,
  // a local relay): the sending host is unknown, and libspf2 passes localhost for any domain
  // (SPF_REASON_LOCALHOST), which would let any MAIL FROM align.  Not checked, as without a client.
  // Without a client, the result the milter recorded when the caller vouches for the mail.
  SpfEnvelopeResult spfResult;
  if (envelope.client && !envelope.client->isLoopback()) {
    spfResult = spf.checkEnvelope(*envelope.client, envelope.mailFrom, envelope.helo);
    out.spfChecked = true;
  }
  else if (envelope.recordedSpf) {
    spfResult.result = envelope.recordedSpf->result;
    spfResult.domain = envelope.recordedSpf->domain;
  }
  out.spf = spfResult.result;
  out.spfDomain = spfResult.domain;

  // Step: DKIM, the From domain's signatures first.
  DkimLimits limits;
  limits.maxSignatures = settings.maxDkimSignatures;
  limits.minKeyBits = settings.minDkimKeyBits;
  limits.deadline = deadline;
  if (!out.fromDomain.empty()) {
    addUnique(limits.preferredDomains, out.fromDomain);
    addUnique(limits.preferredDomains, orgDomain);
  }
  const DkimVerification dkimResult = dkim.verify(rawMessage, limits);
  out.dkim = dkimResult.result;
  for (const auto& sig : dkimResult.signatures) {
    out.signatures.push_back(DkimSignatureCheck{sig.domain, sig.selector, sig.result, sig.error, sig.bits});
  }

  // Step: the DMARC record's answers still out, then the evaluation.
  resolver.run();
  if (out.fromDomain.empty()) {
    out.dmarc = "permerror";
  }
  else {
    if (!fetched->done) {
      fetched->record.state = "unknown";
    }
    const DmarcEvaluation dmarc = evaluateDmarc(out.fromDomain, fetched->record, spfResult, dkimResult.signatures, psl);
    out.dmarc = dmarc.result;
    out.dmarcPolicy = dmarc.policy;
    out.spfAligned = dmarc.spfAligned;
    out.dkimAligned = dmarc.dkimAligned;
  }
  out.timedOut = spfResult.timedOut || dkimResult.timedOut ||
                 (!out.fromDomain.empty() && fetched->record.state == "unknown");

  // Step: the domains proven.
  if (out.dmarc == "pass") {
    addUnique(out.provenDomains, out.fromDomain);
  }
  for (const auto& sig : out.signatures) {
    if (sig.result == "pass") {
      addUnique(out.provenDomains, sig.domain);
    }
  }
  if (out.spf == "pass") {
    addUnique(out.provenDomains, out.spfDomain);
  }
}

MessageAuth MessageAuthenticator::check(std::string_view rawMessage, const MailEnvelope& envelope)
{
  MessageAuth out;
  try {
    d_impl->run(rawMessage, envelope, out);
    return out;
  }
  catch (const std::exception& e) {
    logWarning("authentication checks failed", {{"module", "auth"}, {"error", printable(e.what())}});
  }
  catch (...) {
    logWarning("authentication checks failed", {{"module", "auth"}});
  }
  // Nothing is known: never "fail" for our own trouble.
  MessageAuth unknown;
  unknown.fromDomain = out.fromDomain;
  unknown.spf = "temperror";
  unknown.dkim = "temperror";
  unknown.dmarc = "temperror";
  return unknown;
}

} // namespace dmarcwatch::collector
