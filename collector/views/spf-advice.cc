/*
 * spf-advice.cc - the SPF view (spf-advice.hh).
 *
 * Three steps: parse the live record into terms (verbatim text, qualifier,
 * lower-case name and target), judge each term against the observed services,
 * then gather the changes and write the suggested record and the notes.
 */
#include "config.h"

#include "collector/views/spf-advice.hh"

#include "collector/common/log.hh"
#include "collector/common/text.hh"
#include "collector/dns/spf-record.hh"

#include <algorithm>
#include <cctype>

namespace dmarcwatch::collector
{

namespace
{

//! Bytes of a service name or domain in the advice's sentences.
constexpr size_t s_maxNameBytes = 100;

//! One term of an SPF record.
struct Term
{
  std::string text;   //!< verbatim, as in the record
  char qualifier = 0; //!< '+', '-', '~', '?', or 0 when none is written
  bool modifier = false;
  std::string name;   //!< lower case: "include", "all", "redirect", or an unknown modifier's name
  std::string target; //!< include/exists/redirect/exp: lower case, one trailing dot dropped
};

struct ParsedRecord
{
  std::string state = "found"; //!< "found", "malformed" or "too long" (spf-advice.hh SpfAdvice::state)
  std::string problem;         //!< why, for the notes
  std::vector<Term> terms;     //!< after v=spf1
};

bool isMechanismName(std::string_view name)
{
  for (std::string_view known : {"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"}) {
    if (name == known) {
      return true;
    }
  }
  return false;
}

//! RFC 7208 12: name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
bool isModifierName(std::string_view name)
{
  if (name.empty() || std::isalpha(static_cast<unsigned char>(name.front())) == 0) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
  });
}

std::string targetOf(std::string_view value)
{
  std::string out = lowerAscii(value);
  if (!out.empty() && out.back() == '.') {
    out.pop_back();
  }
  return out;
}

//! \brief Parse one term (known to be printable ASCII without spaces). \return why it is malformed, "" fine.
std::string parseTerm(std::string_view word, Term& term)
{
  term.text = std::string(word);
  if (std::string_view("+-~?").find(word.front()) != std::string_view::npos) {
    term.qualifier = word.front();
    word.remove_prefix(1);
  }
  // Step: the name ends at ':' or '/' (a mechanism) or '=' (a modifier), whichever comes first.
  const size_t end = word.find_first_of(":/=");
  term.name = lowerAscii(word.substr(0, end));
  if (end != std::string_view::npos && word[end] == '=') {
    term.modifier = true;
    term.target = targetOf(word.substr(end + 1));
    if (term.qualifier != 0 || !isModifierName(term.name)) {
      return "'" + term.text + "' is not a modifier";
    }
    if ((term.name == "redirect" || term.name == "exp") && term.target.empty()) {
      return "'" + term.text + "' has no domain";
    }
    return "";
  }
  if (!isMechanismName(term.name)) {
    return "'" + term.text + "' is not an SPF mechanism";
  }
  const bool hasValue = end != std::string_view::npos && word[end] == ':';
  if (hasValue) {
    term.target = targetOf(word.substr(end + 1, word.find('/', end) - end - 1));
  }
  const bool needsValue = term.name == "include" || term.name == "exists" || term.name == "ip4" || term.name == "ip6";
  if ((needsValue && term.target.empty()) || (term.name == "all" && end != std::string_view::npos) ||
      (hasValue && term.target.empty())) {
    return "'" + term.text + "' is incomplete";
  }
  return "";
}

ParsedRecord parseRecord(std::string_view record)
{
  ParsedRecord out;
  // Step: SPF is ASCII; a control byte or a UTF-8 byte from DNS is a malformed record
  // (and is never copied into the advice's texts).
  if (!std::all_of(record.begin(), record.end(), [](char c) { return c >= 0x20 && c < 0x7f; })) {
    out.state = "malformed";
    out.problem = "it holds bytes that are not printable ASCII";
    return out;
  }
  std::vector<std::string_view> words;
  for (std::string_view rest = record; !rest.empty();) {
    const size_t space = rest.find(' ');
    if (space != 0) {
      words.push_back(rest.substr(0, space));
    }
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  }
  if (words.empty() || lowerAscii(words.front()) != "v=spf1") {
    out.state = "malformed";
    out.problem = "it does not start with v=spf1";
    return out;
  }
  // Step: caps first, so that a hostile record costs no more than s_spfMaxTerms parses.
  if (words.size() - 1 > s_spfMaxTerms) {
    out.state = "too long";
    out.problem = "it has " + std::to_string(words.size() - 1) + " terms (the view judges up to " +
                  std::to_string(s_spfMaxTerms) + ")";
    return out;
  }
  for (size_t i = 1; i < words.size(); ++i) {
    if (words[i].size() > s_spfMaxTermBytes) {
      out.state = "too long";
      out.problem = "a term is longer than " + std::to_string(s_spfMaxTermBytes) + " bytes";
      out.terms.clear();
      return out;
    }
    Term term;
    std::string problem = parseTerm(words[i], term);
    // RFC 7208 6: redirect and exp each appear at most once.
    if (problem.empty() && term.modifier && (term.name == "redirect" || term.name == "exp") &&
        std::any_of(out.terms.begin(), out.terms.end(), [&](const Term& seen) { return seen.modifier && seen.name == term.name; })) {
      problem = "it has two " + term.name + "= modifiers";
    }
    if (!problem.empty()) {
      out.state = "malformed";
      out.problem = std::move(problem);
      out.terms.clear();
      return out;
    }
    out.terms.push_back(std::move(term));
  }
  return out;
}

//! "1,234".
std::string grouped(uint64_t number)
{
  return groupedCount(number);
}

std::string plural(uint64_t count, std::string_view word)
{
  return grouped(count) + " " + std::string(word) + (count == 1 ? "" : "s");
}

bool isUnder(std::string_view name, std::string_view parent)
{
  return name == parent || (name.size() > parent.size() && name.ends_with(parent) &&
                            name[name.size() - parent.size() - 1] == '.');
}

//! What the view knows about one observed service, normalised once.
struct Sender
{
  const SpfObservedService* observed = nullptr;
  std::string name;                  //!< printable
  std::vector<std::string> catalog;  //!< its catalog spf-include names (lower case), catalog order
  std::vector<std::string> includes; //!< the includes the daemon saw authorize it (lower case)
  std::string alignedEnvelope;       //!< its first MAIL FROM domain under the organizational domain, "" none
  std::string ownEnvelope;           //!< its first MAIL FROM domain outside it, "" none

  [[nodiscard]] bool mapsTo(std::string_view target) const
  {
    return std::find(catalog.begin(), catalog.end(), target) != catalog.end() ||
           std::find(includes.begin(), includes.end(), target) != includes.end();
  }
  //! SPF passes aligned for less than s_spfAddBelowPercent of its messages.
  [[nodiscard]] bool failsAligned() const
  {
    // In long double: counts from reports are untrusted and could overflow a product.
    return static_cast<long double>(observed->spfAligned) * 100 <
           static_cast<long double>(observed->messages) * s_spfAddBelowPercent;
  }
};

std::vector<Sender> sendersOf(const std::vector<SpfObservedService>& observed, std::string_view org)
{
  std::vector<Sender> out;
  out.reserve(observed.size());
  for (const auto& service : observed) {
    Sender sender;
    sender.observed = &service;
    sender.name = printable(service.name, s_maxNameBytes);
    if (service.service != nullptr) {
      for (const auto& rule : service.service->rules) {
        if (rule.kind == RuleKind::SpfInclude) {
          sender.catalog.push_back(targetOf(rule.value));
        }
      }
    }
    for (const auto& include : service.includes) {
      sender.includes.push_back(targetOf(include));
    }
    for (const auto& envelope : service.envelopeDomains) {
      const std::string domain = targetOf(envelope);
      std::string& slot = isUnder(domain, org) ? sender.alignedEnvelope : sender.ownEnvelope;
      if (slot.empty() && !domain.empty()) {
        slot = printable(domain, s_maxNameBytes);
      }
    }
    out.push_back(std::move(sender));
  }
  return out;
}

//! The judging and the gathering of adviseSpf, over one domain.
class Advisor
{
public:
  Advisor(std::string_view domain, const std::vector<SpfObservedService>& observed, const PublicSuffixList& psl,
          const SpfAdviceOptions& options) :
    d_org(psl.organizationalDomain(domain)),
    d_senders(sendersOf(observed, d_org)),
    d_options(options)
  {
    d_advice.domain = printable(normalizeDomain(domain), 253);
  }

  SpfAdvice run(const LivePolicy* live)
  {
    readLive(live);
    serviceNotes();
    if (d_advice.state == "found") {
      judgeTerms();
      gatherAdds(true);
      writeSuggestion();
      recordNotes();
    }
    else if (d_advice.state == "none" || d_advice.state == "multiple" || d_advice.state == "malformed") {
      gatherAdds(false);
      writeStartingPoint();
    }
    lookupNotes();
    return std::move(d_advice);
  }

private:
  //! Step: the record's state from the stored live policy.
  void readLive(const LivePolicy* live)
  {
    SpfAdvice& advice = d_advice;
    if (live == nullptr) {
      advice.state = "unknown";
      advice.error = "unknown";
      advice.notes.push_back("the live SPF record of " + advice.domain + " has not been checked yet (dmarcwatchd checks it)");
      return;
    }
    advice.error = printable(live->spfError, s_maxNameBytes);
    advice.lookups = live->spfLookups;
    advice.record = printable(live->spfRecord, live->spfRecord.size());
    if (live->spfRecord.empty()) {
      if (live->spfError == "none") {
        advice.state = "none";
        advice.notes.push_back(advice.domain + " publishes no SPF record");
      }
      else if (live->spfError == "multiple SPF records") {
        advice.state = "multiple";
        advice.notes.push_back(advice.domain + " publishes several SPF records: that is a permerror for every "
                                               "message (RFC 7208 4.5); publish one");
      }
      else {
        advice.state = "unknown";
        advice.notes.push_back("the live SPF record of " + advice.domain + " is not known (" +
                               (advice.error.empty() ? "unknown" : advice.error) + ")");
      }
      return;
    }
    ParsedRecord parsed = parseRecord(live->spfRecord);
    advice.state = parsed.state;
    d_terms = std::move(parsed.terms);
    if (parsed.state == "malformed") {
      advice.notes.push_back("the SPF record is malformed (" + parsed.problem +
                             "): receivers treat it as a permerror (RFC 7208 4.6)");
    }
    else if (parsed.state == "too long") {
      advice.notes.push_back("the SPF record is not judged: " + parsed.problem);
    }
    // The daemon's own findings beyond the count (the count has its note in lookupNotes).
    if (!advice.error.empty() && live->spfError != "too many look-ups") {
      advice.notes.push_back("the live check of the record reports: " + advice.error);
    }
  }

  //! Step: the authorized services SPF can never align for.
  void serviceNotes()
  {
    for (const auto& sender : d_senders) {
      if (!sender.observed->authorized || sender.observed->messages == 0) {
        continue;
      }
      if (sender.alignedEnvelope.empty() && !sender.ownEnvelope.empty()) {
        d_advice.notes.push_back("SPF alignment is not possible for " + sender.name +
                                 ": it uses its own MAIL FROM domain (" + sender.ownEnvelope + "); rely on DKIM");
      }
    }
  }

  [[nodiscard]] std::vector<std::string> mappedBy(std::string_view target, bool authorized) const
  {
    std::vector<std::string> out;
    for (const auto& sender : d_senders) {
      if (sender.observed->authorized == authorized && sender.mapsTo(target)) {
        out.push_back(sender.name);
      }
    }
    return out;
  }

  //! Step: each term used or not; duplicates and a void redirect removed.
  void judgeTerms()
  {
    const bool hasAll = std::any_of(d_terms.begin(), d_terms.end(), [](const Term& term) { return !term.modifier && term.name == "all"; });
    std::vector<std::string> seenIncludes;
    bool ptrNoted = false;
    bool afterAll = false;
    d_removed.assign(d_terms.size(), false);
    for (size_t i = 0; i < d_terms.size(); ++i) {
      const Term& term = d_terms[i];
      const bool all = !term.modifier && term.name == "all";
      SpfMechanismUse use;
      use.mechanism = term.text;
      const bool include = !term.modifier && term.name == "include";
      const bool redirect = term.modifier && term.name == "redirect";
      use.lookup = (!term.modifier && (include || term.name == "a" || term.name == "mx" || term.name == "ptr" ||
                                       term.name == "exists")) ||
                   (redirect && !hasAll);
      use.verdict = "not judged";
      if (afterAll && !term.modifier) {
        use.verdict = "never evaluated";
        removeTerm(i, "after all: never evaluated (RFC 7208 5.1)", false);
      }
      else if (include && std::find(seenIncludes.begin(), seenIncludes.end(), term.target) != seenIncludes.end()) {
        use.verdict = "duplicate";
        removeTerm(i, "included twice: the second costs a look-up for nothing", false);
      }
      else if (redirect && hasAll) {
        use.verdict = "void";
        removeTerm(i, "ignored: the record has an all mechanism (RFC 7208 6.1)", false);
      }
      else if (include || redirect) {
        judgeTarget(i, use);
      }
      if (include) {
        seenIncludes.push_back(term.target);
      }
      if (!term.modifier && term.name == "ptr" && !ptrNoted) {
        ptrNoted = true;
        d_advice.notes.push_back(term.text + " is slow and unreliable and should not be used (RFC 7208 5.5)");
      }
      d_advice.mechanisms.push_back(std::move(use));
      afterAll = afterAll || all;
    }
  }

  void judgeTarget(size_t index, SpfMechanismUse& use)
  {
    const Term& term = d_terms[index];
    use.usedBy = mappedBy(term.target, true);
    if (!use.usedBy.empty()) {
      use.verdict = "used";
      noteUselessInclude(term);
      return;
    }
    // Step: the admin's own indirection and macros reach what we cannot see here.
    if (isUnder(term.target, d_org) || term.target.find('%') != std::string::npos) {
      return;
    }
    use.usedBy = mappedBy(term.target, false);
    if (!use.usedBy.empty()) {
      use.verdict = "sent-not-authorized";
      d_advice.notes.push_back(term.text + " belongs to " + use.usedBy.front() + ", which sent as " + d_advice.domain +
                               " but is not authorized: authorize it or remove the include");
      return;
    }
    use.verdict = "unused";
    d_advice.unused.push_back(term.text);
    if (term.modifier) {
      d_advice.notes.push_back(term.text + " is not used by any observed service, but it is the whole rest of the "
                                           "policy: review it by hand");
      return;
    }
    const bool review = d_options.coveredDays < s_spfReviewDays;
    const std::string days = plural(d_options.coveredDays, "day");
    removeTerm(index,
               review ? "not seen in " + days + " - check before removing"
                      : "no observed service sent through it in " + days,
               review);
  }

  //! An include whose services all use their own MAIL FROM domain authorizes nothing that
  //! aligns: kept (they send), but the admin may want the look-up back.
  void noteUselessInclude(const Term& term)
  {
    std::vector<const Sender*> users;
    for (const auto& sender : d_senders) {
      if (sender.observed->authorized && sender.mapsTo(term.target)) {
        users.push_back(&sender);
      }
    }
    const bool ownOnly = std::all_of(users.begin(), users.end(), [](const Sender* sender) {
      return sender->alignedEnvelope.empty() && !sender->ownEnvelope.empty();
    });
    if (ownOnly && !term.modifier) {
      d_advice.notes.push_back(term.text + " serves " + users.front()->name + ", which uses its own MAIL FROM domain (" +
                               users.front()->ownEnvelope + "): the include does not help alignment and costs a look-up");
    }
  }

  void removeTerm(size_t index, std::string why, bool review)
  {
    d_removed[index] = true;
    d_advice.remove.push_back({d_terms[index].text, std::move(why), review});
  }

  [[nodiscard]] bool inRecord(std::string_view target) const
  {
    for (size_t i = 0; i < d_terms.size(); ++i) {
      const Term& term = d_terms[i];
      const bool removed = i < d_removed.size() && d_removed[i]; // after all, or a void redirect
      if ((term.name == "include" || term.name == "redirect") && term.target == target && !removed) {
        return true;
      }
    }
    return false;
  }

  //! Step: an include for each authorized service that could align SPF and fails it.
  void gatherAdds(bool haveRecord)
  {
    for (const auto& sender : d_senders) {
      const SpfObservedService& observed = *sender.observed;
      if (!observed.authorized || observed.messages == 0 || sender.alignedEnvelope.empty() || !sender.failsAligned()) {
        continue;
      }
      const std::string sends = sender.name + " sends " + plural(observed.messages, "message") +
                                " with MAIL FROM under " + d_org + " and SPF passes aligned for " +
                                grouped(observed.spfAligned);
      if (sender.catalog.empty()) {
        d_advice.notes.push_back(sends + ": add its addresses (ip4:/ip6:) or its provider's include; the "
                                         "catalog knows no include for it");
        continue;
      }
      const auto present = std::find_if(sender.catalog.begin(), sender.catalog.end(),
                                        [&](const std::string& name) { return inRecord(name); });
      if (haveRecord && (present != sender.catalog.end() || !sender.includes.empty())) {
        d_advice.notes.push_back(sends + ": the record already reaches its include; check the addresses it "
                                         "sends from and the record's look-ups");
        continue;
      }
      const std::string mechanism = "include:" + sender.catalog.front();
      const bool added = std::any_of(d_advice.add.begin(), d_advice.add.end(),
                                     [&](const SpfChange& change) { return change.mechanism == mechanism; });
      if (!added) {
        d_advice.add.push_back({mechanism, sends, false});
      }
    }
  }

  //! Step: the record less its removals, the additions before "all" (else before the first
  //! modifier, else at the end).
  void writeSuggestion()
  {
    SpfAdvice& advice = d_advice;
    if (advice.add.empty() && advice.remove.empty()) {
      advice.suggested = advice.record;
      advice.suggestedLookups = advice.lookups;
      return;
    }
    auto at = std::find_if(d_terms.begin(), d_terms.end(), [](const Term& term) { return !term.modifier && term.name == "all"; });
    if (at == d_terms.end()) {
      at = std::find_if(d_terms.begin(), d_terms.end(), [](const Term& term) { return term.modifier; });
    }
    const auto insertAt = static_cast<size_t>(at - d_terms.begin());
    std::string out = "v=spf1";
    unsigned removedLookups = 0;
    for (size_t i = 0; i <= d_terms.size(); ++i) {
      if (i == insertAt) {
        for (const auto& change : advice.add) {
          out += " " + change.mechanism;
        }
      }
      if (i == d_terms.size()) {
        break;
      }
      if (d_removed[i]) {
        removedLookups += advice.mechanisms[i].lookup ? 1 : 0;
        continue;
      }
      out += " " + d_terms[i].text;
    }
    advice.suggested = std::move(out);
    if (advice.lookups && *advice.lookups < s_spfLookupsCap) {
      advice.suggestedLookups = *advice.lookups - std::min(*advice.lookups, removedLookups) +
                                static_cast<unsigned>(advice.add.size());
    }
  }

  //! Step: a minimal record from what was observed, for a domain without a usable one.
  void writeStartingPoint()
  {
    SpfAdvice& advice = d_advice;
    if (advice.add.empty()) {
      advice.notes.push_back("no authorized service fails SPF with a MAIL FROM under " + d_org +
                             ": nothing to suggest");
      return;
    }
    std::string out = "v=spf1";
    for (const auto& change : advice.add) {
      out += " " + change.mechanism;
    }
    advice.suggested = out + " ~all";
    advice.startingPoint = true;
    advice.suggestedLookups = static_cast<unsigned>(advice.add.size());
    advice.notes.push_back("the suggested record is a starting point built from the observed services: add "
                           "every other sender of " + advice.domain + " before publishing it");
  }

  //! Step: what the record allows everyone else.
  void recordNotes()
  {
    const auto all = std::find_if(d_terms.begin(), d_terms.end(), [](const Term& term) { return !term.modifier && term.name == "all"; });
    const bool redirect = std::any_of(d_terms.begin(), d_terms.end(), [](const Term& term) { return term.modifier && term.name == "redirect"; });
    if (all == d_terms.end()) {
      if (!redirect) {
        d_advice.notes.push_back("the record has neither all nor redirect: SPF is neutral for every other "
                                 "address; end it with ~all or -all");
      }
      return;
    }
    if (all->qualifier == 0 || all->qualifier == '+') {
      d_advice.notes.push_back("the record ends with " + all->text + ": it allows anyone to pass SPF as " + d_advice.domain);
    }
    else if (all->qualifier == '?') {
      d_advice.notes.push_back("the record ends with ?all: SPF is neutral for every other address, it never fails");
    }
  }

  //! Step: the look-up limit, before and after the suggestion.
  void lookupNotes()
  {
    SpfAdvice& advice = d_advice;
    if (advice.lookups && *advice.lookups > s_spfMaxLookups) {
      const std::string count = *advice.lookups >= s_spfLookupsCap ? "at least " + std::to_string(s_spfLookupsCap)
                                                                  : std::to_string(*advice.lookups);
      advice.notes.push_back("the record needs " + count + " DNS look-ups, over the limit of " +
                             std::to_string(s_spfMaxLookups) +
                             ": SPF is a permerror for every message (RFC 7208 4.6.4); remove includes first");
    }
    if (advice.suggestedLookups && *advice.suggestedLookups > s_spfMaxLookups && !advice.suggested.empty()) {
      advice.notes.push_back("the suggested record still needs about " + std::to_string(*advice.suggestedLookups) +
                             " look-ups: remove more includes, or send from subdomains with records of their own");
    }
    if (!advice.add.empty() && !advice.suggested.empty()) {
      advice.notes.push_back("each added include counts one look-up here, plus the look-ups of its own record");
    }
  }

  std::string d_org;
  std::vector<Sender> d_senders;
  SpfAdviceOptions d_options;
  SpfAdvice d_advice;
  std::vector<Term> d_terms;
  std::vector<bool> d_removed; //!< per term of d_terms
};

} // namespace

SpfAdvice adviseSpf(std::string_view domain, const LivePolicy* live, const std::vector<SpfObservedService>& observed,
                    const PublicSuffixList& psl, const SpfAdviceOptions& options)
{
  return Advisor(domain, observed, psl, options).run(live);
}

} // namespace dmarcwatch::collector
