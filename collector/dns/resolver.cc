/*
 * resolver.cc - Resolver over libunbound (resolver.hh).
 *
 * libunbound runs its questions in a thread of its own (ub_ctx_async(ctx, 1))
 * and signals finished ones through ub_fd(); ub_process() then calls our C
 * callback on this thread.  The callback only files the answer by the id we
 * gave the question; run() hands answers to the callers' callbacks outside
 * libunbound, so a caller's callback may queue new questions.
 *
 * Forwarding to a test server on loopback needs two libunbound settings
 * (shared/reference/e2e/REPORT.md): do-not-query-localhost no, and the
 * built-in RFC 6761/6303 local zones (test., the TEST-NET reverse zones, the
 * private ranges) made transparent, or libunbound answers NXDOMAIN for them
 * without asking.  With a forwarder that is right in production too: the
 * forwarder, not libunbound, decides what those names are.
 */
#include "config.h"

#include "collector/dns/resolver.hh"

#include "collector/common/errors.hh"
#include "collector/common/text.hh"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <deque>
#include <exception>
#include <map>
#include <poll.h>
#include <stdexcept>
#include <unbound.h>
#include <unordered_map>
#include <utility>

namespace dmarcwatch::collector
{

namespace
{

constexpr int s_classIn = 1;
constexpr int s_rcodeNoError = 0;
constexpr int s_rcodeNxDomain = 3;
//! How often run() looks at its stop flag while it waits for answers.
constexpr int64_t s_stopCheckMs = 100;

//! Built-in local zones of libunbound (RFC 6761, RFC 6303, RFC 6598, TEST-NETs) that a forwarder
//! must be asked about instead: the reverse zones of private and shared address space are
//! added in the loops of transparentZones().
const char* const s_transparentZones[] = {
  "test.",
  "invalid.",
  "10.in-addr.arpa.",
  "168.192.in-addr.arpa.",
  "254.169.in-addr.arpa.",
  "2.0.192.in-addr.arpa.",
  "100.51.198.in-addr.arpa.",
  "113.0.203.in-addr.arpa.",
  "8.b.d.0.1.0.0.2.ip6.arpa.",
  "d.f.ip6.arpa.",
};

//! Every zone of s_transparentZones, with 16-31.172.in-addr.arpa and 64-127.100.in-addr.arpa.
std::vector<std::string> transparentZones()
{
  std::vector<std::string> zones(std::begin(s_transparentZones), std::end(s_transparentZones));
  for (int octet = 16; octet <= 31; ++octet) {
    zones.push_back(std::to_string(octet) + ".172.in-addr.arpa.");
  }
  for (int octet = 64; octet <= 127; ++octet) {
    zones.push_back(std::to_string(octet) + ".100.in-addr.arpa.");
  }
  return zones;
}

struct UbContextDeleter
{
  void operator()(ub_ctx* ctx) const { ub_ctx_delete(ctx); }
};
using UbContext = std::unique_ptr<ub_ctx, UbContextDeleter>;

struct UbResultDeleter
{
  void operator()(ub_result* result) const { ub_resolve_free(result); }
};
using UbResult = std::unique_ptr<ub_result, UbResultDeleter>;

//! \brief Apply one libunbound option. \throw std::runtime_error naming it
void setOption(ub_ctx* ctx, const char* option, const char* value)
{
  if (int rc = ub_ctx_set_option(ctx, option, value); rc != 0) {
    throw std::runtime_error(std::string("libunbound: cannot set ") + option + " " + value + ": " + ub_strerror(rc));
  }
}

std::string cacheKey(std::string_view name, uint16_t type)
{
  std::string key = std::to_string(type);
  key += ' ';
  key += name;
  return key;
}

//! The name as asked: lower case, one trailing dot dropped.
std::string normalName(std::string_view name)
{
  if (name.ends_with('.')) {
    name.remove_suffix(1);
  }
  return lowerAscii(name);
}

} // namespace

std::string_view dnsStatusName(DnsStatus status)
{
  switch (status) {
  case DnsStatus::Answer:
    return "answer";
  case DnsStatus::NoData:
    return "nodata";
  case DnsStatus::NxDomain:
    return "nxdomain";
  case DnsStatus::Unknown:
    break;
  }
  return "unknown";
}

struct Resolver::Impl
{
  struct Question
  {
    std::string name;
    uint16_t type = 0;
    Callback callback;
  };
  struct InFlight
  {
    Question question;
    int asyncId = 0;
    std::chrono::steady_clock::time_point deadline;
  };
  struct Done
  {
    Question question;
    DnsAnswer answer;
  };
  struct CacheEntry
  {
    DnsAnswer answer;
    int64_t expiresAt = 0;
    size_t bytes = 0; //!< name and rdata, for the cache's byte bound
  };
  static constexpr size_t s_maxCacheEntries = 20000;
  static constexpr size_t s_maxCacheBytes = 16U << 20;
  static constexpr size_t s_maxCachedAnswerBytes = 16U << 10; //!< a bigger answer is used, not kept

  ResolverOptions options;
  ResolverSpec spec;
  UbContext ctx;
  std::deque<Question> queued;
  std::map<uint64_t, InFlight> inFlight; //!< by our serial (the C callback's mydata)
  std::deque<Done> done;
  std::unordered_map<std::string, CacheEntry> cache;
  size_t cacheBytes = 0;
  uint64_t nextSerial = 1;
  Stats stats;
  const std::atomic<bool>* stop = nullptr; //!< setStop()
  std::optional<std::chrono::steady_clock::time_point> deadline; //!< setDeadline()

  [[nodiscard]] bool stopped() const { return stop != nullptr && stop->load(); }

  [[nodiscard]] int64_t now() const
  {
    return options.clock ? options.clock() : static_cast<int64_t>(::time(nullptr));
  }

  //! libunbound's C callback: file the answer under the question's serial.
  //! Nothing may unwind through libunbound's C frames: an exception (bad_alloc) is kept and
  //! rethrown by waitOnce once ub_process() has returned.
  static void answered(void* mydata, int err, ub_result* raw) noexcept
  {
    UbResult result(raw);
    auto* self = s_running;
    if (self == nullptr) {
      return;
    }
    try {
      self->finish(reinterpret_cast<uintptr_t>(mydata), err, result.get());
    }
    catch (...) {
      self->callbackError = std::current_exception();
    }
  }
  std::exception_ptr callbackError;

  //! Drop every question: cancelled at libunbound, their callbacks never run (after a failed
  //! run(), whose callbacks may point at state that is gone).
  void cancelAll() noexcept
  {
    if (ctx) {
      for (const auto& [serial, flight] : inFlight) {
        ub_cancel(ctx.get(), flight.asyncId);
      }
    }
    inFlight.clear();
    queued.clear();
    done.clear();
  }
  //! The Impl whose ub_process() runs (one thread at a time: resolver.hh).
  static thread_local Impl* s_running;

  void finish(uint64_t serial, int err, const ub_result* result)
  {
    auto found = inFlight.find(serial);
    if (found == inFlight.end()) {
      return;
    }
    DnsAnswer answer;
    if (err == 0 && result != nullptr) {
      answer = toAnswer(*result);
    }
    remember(found->second.question, answer);
    done.push_back(Done{std::move(found->second.question), std::move(answer)});
    inFlight.erase(found);
  }

  [[nodiscard]] DnsAnswer toAnswer(const ub_result& result) const
  {
    DnsAnswer answer;
    answer.rcode = result.rcode;
    if (result.rcode == s_rcodeNxDomain || result.nxdomain != 0) {
      answer.status = DnsStatus::NxDomain;
    }
    else if (result.rcode != s_rcodeNoError) {
      answer.status = DnsStatus::Unknown; // SERVFAIL, REFUSED, ...
      return answer;
    }
    else if (result.havedata != 0) {
      answer.status = DnsStatus::Answer;
      for (int i = 0; result.data[i] != nullptr; ++i) {
        answer.rdata.emplace_back(result.data[i], static_cast<size_t>(result.len[i]));
      }
    }
    else {
      answer.status = DnsStatus::NoData;
    }
    const uint32_t ttl = result.ttl > 0 ? static_cast<uint32_t>(result.ttl) : 0;
    answer.ttl = answer.status == DnsStatus::Answer ? ttl : (ttl > 0 ? ttl : options.negativeTtl);
    answer.ttl = std::min(answer.ttl, options.maxTtl);
    return answer;
  }

  void remember(const Question& question, const DnsAnswer& answer)
  {
    if (answer.status == DnsStatus::Unknown || answer.ttl == 0) {
      return;
    }
    keep(cacheKey(question.name, question.type), answer, now() + answer.ttl);
  }

  /*!
   * Cache an answer.  The names come from untrusted mail (DKIM selectors, SPF includes) and the
   * process lives long: the cache is bounded in entries and bytes.  Full: expired entries go,
   * then all of them.
   */
  void keep(std::string key, const DnsAnswer& answer, int64_t expiresAt)
  {
    size_t bytes = key.size();
    for (const auto& rdata : answer.rdata) {
      bytes += rdata.size();
    }
    if (bytes > s_maxCachedAnswerBytes) {
      return;
    }
    if (cache.size() >= s_maxCacheEntries || cacheBytes + bytes > s_maxCacheBytes) {
      const int64_t t = now();
      std::erase_if(cache, [&](const auto& item) {
        if (item.second.expiresAt > t) {
          return false;
        }
        cacheBytes -= item.second.bytes;
        return true;
      });
      if (cache.size() >= s_maxCacheEntries || cacheBytes + bytes > s_maxCacheBytes) {
        cache.clear();
        cacheBytes = 0;
      }
    }
    auto [slot, added] = cache.try_emplace(std::move(key));
    if (!added) {
      cacheBytes -= slot->second.bytes;
    }
    slot->second = CacheEntry{answer, expiresAt, bytes};
    cacheBytes += bytes;
  }

  //! \brief A cached, unexpired answer for the question.
  [[nodiscard]] const DnsAnswer* cached(const Question& question) const
  {
    auto found = cache.find(cacheKey(question.name, question.type));
    if (found == cache.end() || found->second.expiresAt <= now()) {
      return nullptr;
    }
    return &found->second.answer;
  }

  //! Send queued questions while there is room; cache hits and offline answers go to done.
  void startQueued()
  {
    while (!queued.empty() && inFlight.size() < options.maxInFlight) {
      Question question = std::move(queued.front());
      queued.pop_front();
      if (const auto* hit = cached(question)) {
        ++stats.cacheHits;
        done.push_back(Done{std::move(question), *hit});
        continue;
      }
      if (!ctx) {
        done.push_back(Done{std::move(question), DnsAnswer{}});
        continue;
      }
      // Step: past the caller's deadline nothing more is sent (a timeout, answered at once).
      const auto sendAt = std::chrono::steady_clock::now();
      if (deadline && *deadline <= sendAt) {
        ++stats.timeouts;
        done.push_back(Done{std::move(question), DnsAnswer{}});
        continue;
      }
      const uint64_t serial = nextSerial++;
      int asyncId = 0;
      int rc = ub_resolve_async(ctx.get(), question.name.c_str(), question.type, s_classIn,
                                reinterpret_cast<void*>(static_cast<uintptr_t>(serial)), &Impl::answered, &asyncId);
      if (rc != 0) {
        done.push_back(Done{std::move(question), DnsAnswer{}});
        continue;
      }
      ++stats.sent;
      auto expires = sendAt + options.timeout;
      if (deadline) {
        expires = std::min(expires, *deadline);
      }
      inFlight.emplace(serial, InFlight{std::move(question), asyncId, expires});
      stats.peakInFlight = std::max(stats.peakInFlight, inFlight.size());
    }
  }

  //! Wait for libunbound's fd until the earliest deadline, process, and cancel what expired.
  void waitOnce()
  {
    auto earliest = std::chrono::steady_clock::time_point::max();
    for (const auto& [serial, flight] : inFlight) {
      earliest = std::min(earliest, flight.deadline);
    }
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(earliest - std::chrono::steady_clock::now());
    pollfd fd{ub_fd(ctx.get()), POLLIN, 0};
    // With a stop flag, wake every s_stopCheckMs to look at it.
    const int64_t longest = stop != nullptr ? s_stopCheckMs : 60000;
    const int timeoutMs = static_cast<int>(std::clamp<int64_t>(wait.count(), 0, longest));
    const int ready = ::poll(&fd, 1, timeoutMs);
    if (ready > 0) {
      s_running = this;
      ub_process(ctx.get());
      s_running = nullptr;
      if (callbackError) {
        std::rethrow_exception(std::exchange(callbackError, nullptr));
      }
    }
    // Step: every question past its deadline is cancelled and answered Unknown.
    const auto current = std::chrono::steady_clock::now();
    for (auto it = inFlight.begin(); it != inFlight.end();) {
      if (it->second.deadline <= current) {
        ub_cancel(ctx.get(), it->second.asyncId);
        ++stats.timeouts;
        done.push_back(Done{std::move(it->second.question), DnsAnswer{}});
        it = inFlight.erase(it);
      }
      else {
        ++it;
      }
    }
  }
};

thread_local Resolver::Impl* Resolver::Impl::s_running = nullptr;

Resolver::Resolver(const ResolverOptions& options) :
  d_impl(std::make_unique<Impl>())
{
  d_impl->options = options;
  d_impl->options.maxInFlight = std::max(1U, options.maxInFlight);
  d_impl->spec = ResolverSpec::parse(options.spec);
  if (d_impl->spec.kind == ResolverSpec::Kind::None) {
    return;
  }
  UbContext ctx(ub_ctx_create());
  if (!ctx) {
    throw std::runtime_error("libunbound: cannot create a context");
  }
  // Step: answers arrive through a thread of libunbound's, not a forked process.
  if (int rc = ub_ctx_async(ctx.get(), 1); rc != 0) {
    throw std::runtime_error(std::string("libunbound: no threads: ") + ub_strerror(rc));
  }
  if (d_impl->spec.kind == ResolverSpec::Kind::System) {
    if (int rc = ub_ctx_resolvconf(ctx.get(), nullptr); rc != 0) {
      throw std::runtime_error(std::string("libunbound: cannot read /etc/resolv.conf: ") + ub_strerror(rc));
    }
  }
  else {
    if (d_impl->spec.loopback) {
      setOption(ctx.get(), "do-not-query-localhost:", "no");
    }
    for (const auto& zone : transparentZones()) {
      setOption(ctx.get(), "local-zone:", (zone + " transparent").c_str());
    }
    if (int rc = ub_ctx_set_fwd(ctx.get(), d_impl->spec.forwarder.c_str()); rc != 0) {
      throw ConfigError("Resolver: libunbound refuses forwarder " + d_impl->spec.forwarder + ": " + ub_strerror(rc));
    }
  }
  d_impl->ctx = std::move(ctx);
}

Resolver::~Resolver()
{
  // Questions still at libunbound are cancelled before the context goes.
  if (d_impl) {
    d_impl->cancelAll();
  }
}

bool Resolver::offline() const
{
  return !d_impl->ctx;
}

void Resolver::submit(std::string_view name, uint16_t type, Callback callback)
{
  ++d_impl->stats.questions;
  d_impl->queued.push_back(Impl::Question{normalName(name), type, std::move(callback)});
}

void Resolver::run()
{
  auto& impl = *d_impl;
  try {
    runQuestions();
  }
  catch (...) {
    // A callback failed: the questions left belong to a caller that is unwinding.
    impl.cancelAll();
    throw;
  }
}

void Resolver::runQuestions()
{
  auto& impl = *d_impl;
  for (;;) {
    // Step: stopped: every question is dropped, no callback runs.
    if (impl.stopped()) {
      impl.cancelAll();
      return;
    }
    impl.startQueued();
    // Step: hand finished answers to their callbacks (which may queue more).
    while (!impl.done.empty()) {
      Impl::Done finished = std::move(impl.done.front());
      impl.done.pop_front();
      if (finished.answer.status == DnsStatus::Unknown) {
        ++impl.stats.unknown;
      }
      if (finished.question.callback) {
        finished.question.callback(finished.answer);
      }
      impl.startQueued();
    }
    if (impl.inFlight.empty() && impl.queued.empty()) {
      return;
    }
    if (!impl.inFlight.empty()) {
      impl.waitOnce();
    }
  }
}

DnsAnswer Resolver::resolve(std::string_view name, uint16_t type)
{
  DnsAnswer out;
  submit(name, type, [&out](const DnsAnswer& answer) { out = answer; });
  run();
  return out;
}

std::vector<DnsCacheEntry> Resolver::cacheEntries() const
{
  std::vector<DnsCacheEntry> out;
  const int64_t now = d_impl->now();
  for (const auto& [key, entry] : d_impl->cache) {
    if (entry.expiresAt <= now) {
      continue;
    }
    const auto space = key.find(' ');
    DnsCacheEntry saved;
    saved.type = static_cast<uint16_t>(std::stoul(key.substr(0, space)));
    saved.name = key.substr(space + 1);
    saved.answer = entry.answer;
    saved.expiresAt = entry.expiresAt;
    out.push_back(std::move(saved));
  }
  return out;
}

void Resolver::preload(const std::vector<DnsCacheEntry>& entries)
{
  const int64_t now = d_impl->now();
  for (const auto& entry : entries) {
    if (entry.expiresAt > now && entry.answer.status != DnsStatus::Unknown) {
      d_impl->keep(cacheKey(normalName(entry.name), entry.type), entry.answer, entry.expiresAt);
    }
  }
}

void Resolver::setStop(const std::atomic<bool>* stop)
{
  d_impl->stop = stop;
}

void Resolver::setDeadline(std::optional<std::chrono::steady_clock::time_point> deadline)
{
  d_impl->deadline = deadline;
}

Resolver::Stats Resolver::stats() const
{
  return d_impl->stats;
}

int64_t Resolver::now() const
{
  return d_impl->now();
}

} // namespace dmarcwatch::collector
