/*
 * enrichment.cc - the Store's enrichment tables (enrichment.hh): open, write
 * (one entry, or a batch in one transaction), read, and scan; and the scan of
 * the sources table the daemon's pass starts from.
 *
 * Thread-safety: as Store (store.hh).  Errors: StoreError; never for a
 * missing table or entry (nullopt: not enriched).
 */
#include "config.h"

#include "collector/common/text.hh"
#include "collector/store/store-impl.hh"

#include <cerrno>
#include <unordered_map>

namespace dmarcwatch::collector
{

namespace fmt = storeformat;

namespace
{

//! Visit every entry of an optional table in key order.
template <typename Txn, typename Visit>
void scanTable(const Txn& txn, const std::optional<MDB_dbi>& table, Visit&& visit)
{
  if (!table) {
    return;
  }
  lmdb::Cursor cursor(txn.get(), *table);
  MDB_val key{};
  MDB_val value{};
  for (bool ok = cursor.get(MDB_FIRST, key, value); ok; ok = cursor.get(MDB_NEXT, key, value)) {
    visit(lmdb::toView(key), lmdb::toView(value));
  }
}

IpAddress addressOf(const std::array<uint8_t, 16>& bytes)
{
  IpAddress ip;
  ip.bytes = bytes;
  return ip;
}

template <typename Txn>
std::optional<IpEnrichment> readIpEnrichment(const Txn& txn, const Store::Impl& store, const std::array<uint8_t, 16>& ip)
{
  if (!store.ipinfo) {
    return std::nullopt;
  }
  auto value = txn.get(*store.ipinfo, fmt::ipInfoKey(ip));
  return value ? std::optional(fmt::decodeIpEnrichment(*value)) : std::nullopt;
}

template <typename Txn>
std::optional<SpfAuthorization> readSpfAuthorization(const Txn& txn, const Store::Impl& store, std::string_view domain,
                                                     const std::array<uint8_t, 16>& ip)
{
  if (!store.spfauth) {
    return std::nullopt;
  }
  auto value = txn.get(*store.spfauth, fmt::spfAuthKey(domain, ip));
  return value ? std::optional(fmt::decodeSpfAuthorization(*value)) : std::nullopt;
}

template <typename Txn>
std::optional<LivePolicy> readLivePolicy(const Txn& txn, const Store::Impl& store, std::string_view domain)
{
  if (!store.livepolicy) {
    return std::nullopt;
  }
  auto value = txn.get(*store.livepolicy, lowerAscii(domain));
  return value ? std::optional(fmt::decodeLivePolicy(*value)) : std::nullopt;
}

} // namespace

void Store::Impl::openEnrichmentTables()
{
  ipinfo = env->dbi("ipinfo");
  spfauth = env->dbi("spfauth");
  livepolicy = env->dbi("livepolicy");
  dnscache = env->dbi("dnscache");
  alertlog = env->dbi("alertlog");
  senders = env->dbi("senders");
}

MDB_dbi Store::Impl::writable(const std::optional<MDB_dbi>& table, const char* name) const
{
  if (env->readOnly() || !table) {
    throw StoreError("write", EACCES, std::string(name) + ": " + dir + " is open read-only");
  }
  return *table;
}

void Store::forEachSource(const std::function<void(const Source&)>& visit) const
{
  lmdb::ReadTxn txn(d_impl->env);
  std::unordered_map<uint32_t, std::string> domains;
  lmdb::Cursor cursor(txn.get(), d_impl->sources);
  MDB_val key{};
  MDB_val value{};
  for (bool ok = cursor.get(MDB_FIRST, key, value); ok; ok = cursor.get(MDB_NEXT, key, value)) {
    auto bytes = lmdb::toSpan(key);
    if (bytes.size() != 20) {
      throw StoreError("read", MDB_CORRUPTED, "source key of " + std::to_string(bytes.size()) + " bytes");
    }
    const uint32_t domainId = fmt::readU32(bytes.data());
    auto found = domains.find(domainId);
    if (found == domains.end()) {
      found = domains.emplace(domainId, d_impl->dictString(txn, domainId)).first;
    }
    std::array<uint8_t, 16> ip{};
    std::copy(bytes.begin() + 4, bytes.end(), ip.begin());
    const auto seen = fmt::decodeSource(lmdb::toView(value));
    Source source{found->second, std::nullopt, seen.firstDay, seen.lastDay, seen.firstReport, seen.lastReport};
    if (ip != std::array<uint8_t, 16>{}) {
      source.ip = addressOf(ip);
    }
    visit(source);
  }
}

void Store::putIpEnrichment(const IpAddress& ip, const IpEnrichment& value)
{
  EnrichmentBatch batch;
  batch.ips.emplace_back(ip, value);
  putEnrichment(batch);
}

std::optional<IpEnrichment> Store::ipEnrichment(const IpAddress& ip) const
{
  lmdb::ReadTxn txn(d_impl->env);
  return readIpEnrichment(txn, *d_impl, ip.bytes);
}

void Store::putSpfAuthorization(std::string_view domain, const IpAddress& ip, const SpfAuthorization& value)
{
  EnrichmentBatch batch;
  batch.spf.push_back(EnrichmentBatch::Spf{std::string(domain), ip, value});
  putEnrichment(batch);
}

std::optional<SpfAuthorization> Store::spfAuthorization(std::string_view domain, const IpAddress& ip) const
{
  lmdb::ReadTxn txn(d_impl->env);
  return readSpfAuthorization(txn, *d_impl, domain, ip.bytes);
}

void Store::putLivePolicy(std::string_view domain, const LivePolicy& value)
{
  EnrichmentBatch batch;
  batch.policies.emplace_back(std::string(domain), value);
  putEnrichment(batch);
}

std::optional<LivePolicy> Store::livePolicy(std::string_view domain) const
{
  lmdb::ReadTxn txn(d_impl->env);
  return readLivePolicy(txn, *d_impl, domain);
}

void Store::putEnrichment(const EnrichmentBatch& batch)
{
  const MDB_dbi ips = d_impl->writable(d_impl->ipinfo, "ipinfo");
  const MDB_dbi spf = d_impl->writable(d_impl->spfauth, "spfauth");
  const MDB_dbi policies = d_impl->writable(d_impl->livepolicy, "livepolicy");
  const MDB_dbi dns = d_impl->writable(d_impl->dnscache, "dnscache");
  d_impl->withWriteTxn([&](lmdb::WriteTxn& txn) {
    for (const auto& [ip, value] : batch.ips) {
      txn.put(ips, fmt::ipInfoKey(ip.bytes), fmt::encodeIpEnrichment(value));
    }
    for (const auto& entry : batch.spf) {
      txn.put(spf, fmt::spfAuthKey(entry.domain, entry.ip.bytes), fmt::encodeSpfAuthorization(entry.value));
    }
    for (const auto& [domain, value] : batch.policies) {
      txn.put(policies, lowerAscii(domain), fmt::encodeLivePolicy(value));
    }
    for (const auto& record : batch.dns) {
      const std::string key = fmt::dnsCacheKey(record.type, record.name);
      if (key.size() <= fmt::s_maxInlineDictKey) { // longer names than DNS allows are not cached
        txn.put(dns, key, fmt::encodeDnsCacheRecord(record));
      }
    }
    txn.commit();
  });
}

std::vector<DnsCacheRecord> Store::dnsCache(int64_t now) const
{
  lmdb::ReadTxn txn(d_impl->env);
  std::vector<DnsCacheRecord> out;
  scanTable(txn, d_impl->dnscache, [&](std::string_view key, std::string_view value) {
    auto record = fmt::decodeDnsCacheRecord(key, value);
    if (record.expiresAt > now) {
      out.push_back(std::move(record));
    }
  });
  return out;
}

size_t Store::pruneDnsCache(int64_t now)
{
  const MDB_dbi dns = d_impl->writable(d_impl->dnscache, "dnscache");
  return d_impl->withWriteTxn([&](lmdb::WriteTxn& txn) {
    size_t pruned = 0;
    {
      lmdb::Cursor cursor(txn.get(), dns);
      MDB_val key{};
      MDB_val value{};
      for (bool ok = cursor.get(MDB_FIRST, key, value); ok; ok = cursor.get(MDB_NEXT, key, value)) {
        if (fmt::decodeDnsCacheRecord(lmdb::toView(key), lmdb::toView(value)).expiresAt <= now) {
          lmdb::check(mdb_cursor_del(cursor.get(), 0), "delete", "dnscache");
          ++pruned;
        }
      }
    }
    txn.commit();
    return pruned;
  });
}

void Store::forEachIpEnrichment(const std::function<void(const IpAddress&, const IpEnrichment&)>& visit) const
{
  lmdb::ReadTxn txn(d_impl->env);
  scanTable(txn, d_impl->ipinfo, [&](std::string_view key, std::string_view value) {
    if (key.size() != 16) {
      throw StoreError("read", MDB_CORRUPTED, "ipinfo key of " + std::to_string(key.size()) + " bytes");
    }
    std::array<uint8_t, 16> ip{};
    std::copy(key.begin(), key.end(), ip.begin());
    visit(addressOf(ip), fmt::decodeIpEnrichment(value));
  });
}

void Store::forEachSpfAuthorization(
  const std::function<void(const std::string&, const IpAddress&, const SpfAuthorization&)>& visit) const
{
  lmdb::ReadTxn txn(d_impl->env);
  scanTable(txn, d_impl->spfauth, [&](std::string_view key, std::string_view value) {
    auto [domain, ip] = fmt::decodeSpfAuthKey(key);
    visit(domain, addressOf(ip), fmt::decodeSpfAuthorization(value));
  });
}

void Store::forEachLivePolicy(const std::function<void(const std::string&, const LivePolicy&)>& visit) const
{
  lmdb::ReadTxn txn(d_impl->env);
  scanTable(txn, d_impl->livepolicy, [&](std::string_view key, std::string_view value) {
    visit(std::string(key), fmt::decodeLivePolicy(value));
  });
}

std::optional<IpEnrichment> StoreSnapshot::ipEnrichment(const std::array<uint8_t, 16>& ip) const
{
  return readIpEnrichment(d_impl->txn, d_impl->store, ip);
}

std::optional<SpfAuthorization> StoreSnapshot::spfAuthorization(std::string_view domain,
                                                                const std::array<uint8_t, 16>& ip) const
{
  return readSpfAuthorization(d_impl->txn, d_impl->store, domain, ip);
}

std::optional<LivePolicy> StoreSnapshot::livePolicy(std::string_view domain) const
{
  return readLivePolicy(d_impl->txn, d_impl->store, domain);
}

} // namespace dmarcwatch::collector
