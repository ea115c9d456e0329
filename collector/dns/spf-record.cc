/*
 * spf-record.cc - the live SPF record and its look-up count (spf-record.hh).
 *
 * Two steps: fetch (asynchronous, each distinct name once, the answers kept
 * in a Walk shared by the callbacks) and count (a depth-first walk over the
 * fetched answers with the include path for loop detection).
 */
#include "config.h"

#include "collector/dns/spf-record.hh"

#include "collector/common/text.hh"

#include <algorithm>
#include <map>
#include <memory>
#include <set>

namespace dmarcwatch::collector
{

namespace
{

//! One term of an SPF record: a mechanism ("include", value "example.com") or a modifier
//! ("redirect", value "example.com"); the qualifier dropped, the name lower case.
struct Term
{
  bool modifier = false;
  std::string name;
  std::string value;
};

std::vector<Term> parseTerms(std::string_view record)
{
  std::vector<Term> out;
  std::string_view rest = record.size() > 6 ? record.substr(6) : std::string_view(); // after v=spf1
  while (!rest.empty()) {
    const size_t space = rest.find(' ');
    std::string_view word = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    if (word.empty()) {
      continue;
    }
    if (std::string_view("+-~?").find(word.front()) != std::string_view::npos) {
      word.remove_prefix(1);
    }
    // Step: the name ends at ':' or '/' (a mechanism) or '=' (a modifier).
    const size_t end = word.find_first_of(":/=");
    Term term;
    term.name = lowerAscii(word.substr(0, end));
    if (end != std::string_view::npos) {
      term.modifier = word[end] == '=';
      term.value = word[end] == '/' ? std::string() : lowerAscii(word.substr(end + 1));
    }
    out.push_back(std::move(term));
  }
  return out;
}

bool hasMacro(std::string_view target)
{
  return target.find('%') != std::string_view::npos;
}

//! RFC 7208 6.1: a redirect modifier is ignored when the record has an "all" mechanism.
bool hasAllMechanism(const std::vector<Term>& terms)
{
  return std::any_of(terms.begin(), terms.end(), [](const Term& term) { return !term.modifier && term.name == "all"; });
}

//! The include: targets and the redirect= target (unless an "all" makes it void), in record order.
std::vector<std::string> followedTargets(const std::vector<Term>& terms)
{
  const bool hasAll = hasAllMechanism(terms);
  std::vector<std::string> out;
  for (const auto& term : terms) {
    const bool include = !term.modifier && term.name == "include";
    const bool redirect = term.modifier && term.name == "redirect" && !hasAll;
    if ((include || redirect) && !term.value.empty() && !hasMacro(term.value)) {
      out.push_back(term.value);
    }
  }
  return out;
}

//! The depth-first count of countSpfLookups.
class Counter
{
public:
  explicit Counter(const std::function<const SpfTxt*(const std::string&)>& txt) :
    d_txt(txt) {}

  void countRecord(std::string_view record)
  {
    const std::vector<Term> terms = parseTerms(record);
    const bool hasAll = hasAllMechanism(terms);
    for (const auto& term : terms) {
      if (d_count >= s_spfLookupsCap) {
        d_capped = true;
        return;
      }
      if (term.modifier) {
        if (term.name == "redirect" && !hasAll) {
          ++d_count;
          follow(term.value);
        }
        continue;
      }
      if (term.name == "include") {
        ++d_count;
        follow(term.value);
      }
      else if (term.name == "a" || term.name == "mx" || term.name == "ptr" || term.name == "exists") {
        ++d_count;
      }
    }
  }

  void follow(const std::string& target)
  {
    if (target.empty() || hasMacro(target)) {
      return; // counted, not followed
    }
    if (std::find(d_path.begin(), d_path.end(), target) != d_path.end()) {
      d_loop = true;
      return;
    }
    const SpfTxt* answer = d_txt(target);
    if (answer == nullptr) {
      d_capped = true; // not fetched: the name cap was reached
      return;
    }
    if (answer->status == DnsStatus::Unknown) {
      d_unknown = true;
      return;
    }
    if (answer->records.empty()) {
      d_missing = true;
      return;
    }
    if (answer->records.size() > 1) {
      d_multiple = true;
      return;
    }
    d_path.push_back(target);
    countRecord(answer->records.front());
    d_path.pop_back();
  }

  void start(const std::string& domain, std::string_view record)
  {
    d_path.push_back(domain);
    countRecord(record);
  }

  [[nodiscard]] SpfRecordInfo result(std::string_view record) const
  {
    SpfRecordInfo out;
    out.record = std::string(record.substr(0, s_maxRecordText));
    out.lookups = d_capped ? s_spfLookupsCap : std::min(d_count, s_spfLookupsCap);
    if (d_unknown) {
      out.error = "temperror";
      out.lookups.reset();
    }
    else if (d_loop) {
      out.error = "loop";
    }
    else if (d_multiple) {
      out.error = "multiple SPF records";
    }
    else if (d_missing) {
      out.error = "include without SPF record";
    }
    else if (*out.lookups > s_spfMaxLookups) {
      out.error = "too many look-ups";
    }
    return out;
  }

private:
  const std::function<const SpfTxt*(const std::string&)>& d_txt;
  std::vector<std::string> d_path; //!< the names being counted, the domain first
  unsigned d_count = 0;
  bool d_capped = false, d_loop = false, d_unknown = false, d_missing = false, d_multiple = false;
};

//! The state of one fetch, shared by its Resolver callbacks.
struct Walk
{
  Resolver& resolver;
  std::string domain;
  std::function<void(const SpfRecordInfo&)> done;
  std::chrono::steady_clock::time_point deadline;
  std::map<std::string, SpfTxt> answers;
  std::set<std::string> asked;
  size_t pending = 0;
  bool broken = false; //!< a callback failed (bad_alloc) or the budget ran out

  Walk(Resolver& r, std::string d, std::function<void(const SpfRecordInfo&)> f, std::chrono::milliseconds budget) :
    resolver(r), domain(std::move(d)), done(std::move(f)), deadline(std::chrono::steady_clock::now() + budget)
  {
  }
};

SpfTxt spfTxtOf(const DnsAnswer& answer)
{
  SpfTxt out;
  out.status = answer.status;
  out.ttl = answer.ttl;
  for (const auto& rdata : answer.rdata) {
    if (auto text = txtFromWire(rdata); text && isSpfRecord(*text)) {
      out.records.push_back(std::move(*text));
    }
  }
  return out;
}

void finish(const Walk& walk)
{
  SpfRecordInfo info;
  if (walk.broken) {
    info.error = "temperror";
  }
  else {
    info = countSpfLookups(walk.domain, [&walk](const std::string& name) -> const SpfTxt* {
      auto found = walk.answers.find(name);
      return found == walk.answers.end() ? nullptr : &found->second;
    });
  }
  uint32_t ttl = UINT32_MAX;
  for (const auto& [name, answer] : walk.answers) {
    ttl = answer.status == DnsStatus::Unknown ? ttl : std::min(ttl, answer.ttl);
  }
  info.ttl = ttl == UINT32_MAX ? 0 : ttl;
  walk.done(info);
}

void ask(const std::shared_ptr<Walk>& walk, const std::string& name)
{
  if (walk->asked.size() >= s_spfMaxNames || !walk->asked.insert(name).second) {
    return;
  }
  ++walk->pending;
  walk->resolver.submit(name, dnstype::txt, [walk, name](const DnsAnswer& answer) {
    // Step: keep the answer and ask for the targets of its one SPF record.  Nothing may
    // leave this callback but done's own exception: a failure here is a temperror.
    try {
      SpfTxt txt = spfTxtOf(answer);
      const std::vector<std::string> targets =
        txt.records.size() == 1 ? followedTargets(parseTerms(txt.records.front())) : std::vector<std::string>();
      if (!targets.empty() && std::chrono::steady_clock::now() > walk->deadline) {
        walk->broken = true; // the budget is spent: no more names
      }
      else {
        for (const auto& target : targets) {
          ask(walk, target);
        }
      }
      walk->answers.emplace(name, std::move(txt));
    }
    catch (...) {
      walk->broken = true;
    }
    if (--walk->pending == 0) {
      finish(*walk);
    }
  });
}

} // namespace

bool isSpfRecord(std::string_view text)
{
  return text.size() >= 6 && lowerAscii(text.substr(0, 6)) == "v=spf1" && (text.size() == 6 || text[6] == ' ');
}

SpfRecordInfo countSpfLookups(std::string_view domain, const std::function<const SpfTxt*(const std::string&)>& txt)
{
  const std::string name = lowerAscii(domain);
  const SpfTxt* answer = txt(name);
  SpfRecordInfo out;
  // Step: the domain's own record: exactly one, or an error with no count.
  if (answer == nullptr || answer->status == DnsStatus::Unknown) {
    out.error = "temperror";
    return out;
  }
  if (answer->records.empty()) {
    out.error = "none";
    return out;
  }
  if (answer->records.size() > 1) {
    out.error = "multiple SPF records";
    return out;
  }
  Counter counter(txt);
  counter.start(name, answer->records.front());
  return counter.result(answer->records.front());
}

void fetchSpfRecord(Resolver& resolver, std::string_view domain, std::function<void(const SpfRecordInfo&)> done,
                    const SpfFetchOptions& options)
{
  auto walk = std::make_shared<Walk>(resolver, lowerAscii(domain), std::move(done), options.budget);
  ask(walk, walk->domain);
}

} // namespace dmarcwatch::collector
