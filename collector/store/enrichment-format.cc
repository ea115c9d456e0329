/*
 * enrichment-format.cc - byte encodings of the enrichment tables (the layout is
 * in store-format.hh; the types in enrichment.hh).
 *
 * Thread-safety: pure functions.  Errors: decoders throw StoreError(MDB_CORRUPTED).
 */
#include "config.h"

#include "collector/common/errors.hh"
#include "collector/common/text.hh"
#include "collector/store/store-format.hh"

#include <lmdb.h>

namespace dmarcwatch::collector
{

namespace storeformat
{

namespace
{

constexpr uint8_t s_maxPtrState = 3;
constexpr uint8_t s_maxDnsStatus = 2;

std::string timesValue(int64_t checkedAt, int64_t expiresAt)
{
  std::string out(1, static_cast<char>(s_valueVersion));
  putZigzag(out, checkedAt);
  putZigzag(out, expiresAt);
  return out;
}

std::vector<std::string> readStrings(Reader& in)
{
  const uint64_t count = in.varint();
  std::vector<std::string> out;
  for (uint64_t i = 0; i < count; ++i) {
    out.emplace_back(in.string());
  }
  return out;
}

} // namespace

std::string ipInfoKey(const std::array<uint8_t, 16>& ip)
{
  return {reinterpret_cast<const char*>(ip.data()), ip.size()};
}

std::string encodeIpEnrichment(const IpEnrichment& value)
{
  std::string out = timesValue(value.checkedAt, value.expiresAt);
  out += static_cast<char>(value.ptrState);
  putString(out, value.ptrName);
  putVarint(out, value.asn);
  putString(out, value.asOrg);
  putString(out, value.country);
  return out;
}

IpEnrichment decodeIpEnrichment(std::string_view value)
{
  Reader in(value, "ipinfo");
  in.version();
  IpEnrichment out;
  out.checkedAt = in.zigzag();
  out.expiresAt = in.zigzag();
  const uint8_t state = in.u8();
  if (state > s_maxPtrState) {
    in.corrupt("PTR state " + std::to_string(state));
  }
  out.ptrState = static_cast<PtrState>(state);
  out.ptrName = in.string();
  const uint64_t asn = in.varint();
  if (asn > UINT32_MAX) {
    in.corrupt("ASN out of range");
  }
  out.asn = static_cast<uint32_t>(asn);
  out.asOrg = in.string();
  out.country = in.string();
  return out;
}

std::string spfAuthKey(std::string_view domain, const std::array<uint8_t, 16>& ip)
{
  std::string key = lowerAscii(domain);
  key += '\0';
  key.append(reinterpret_cast<const char*>(ip.data()), ip.size());
  return key;
}

std::pair<std::string, std::array<uint8_t, 16>> decodeSpfAuthKey(std::string_view key)
{
  if (key.size() < 18 || key[key.size() - 17] != '\0') {
    throw StoreError("decode", MDB_CORRUPTED, "spfauth key of " + std::to_string(key.size()) + " bytes");
  }
  std::array<uint8_t, 16> ip{};
  std::copy(key.end() - 16, key.end(), ip.begin());
  return {std::string(key.substr(0, key.size() - 17)), ip};
}

std::string encodeSpfAuthorization(const SpfAuthorization& value)
{
  std::string out = timesValue(value.checkedAt, value.expiresAt);
  putString(out, value.result);
  putString(out, value.include);
  return out;
}

SpfAuthorization decodeSpfAuthorization(std::string_view value)
{
  Reader in(value, "spfauth");
  in.version();
  SpfAuthorization out;
  out.checkedAt = in.zigzag();
  out.expiresAt = in.zigzag();
  out.result = in.string();
  out.include = in.string();
  return out;
}

std::string encodeLivePolicy(const LivePolicy& value)
{
  std::string out = timesValue(value.checkedAt, value.expiresAt);
  for (const auto* text : {&value.state, &value.record, &value.p, &value.sp, &value.np, &value.testing}) {
    putString(out, *text);
  }
  out += static_cast<char>(value.pct ? 1 : 0);
  if (value.pct) {
    putVarint(out, *value.pct);
  }
  putStrings(out, value.rua);
  // Step: the trailing fields added later (a value without them decodes as unknown).
  putString(out, value.recordDomain);
  putString(out, value.spfRecord);
  out += static_cast<char>(value.spfLookups ? 1 : 0);
  if (value.spfLookups) {
    putVarint(out, *value.spfLookups);
  }
  putString(out, value.spfError);
  return out;
}

LivePolicy decodeLivePolicy(std::string_view value)
{
  Reader in(value, "livepolicy");
  in.version();
  LivePolicy out;
  out.checkedAt = in.zigzag();
  out.expiresAt = in.zigzag();
  for (auto* text : {&out.state, &out.record, &out.p, &out.sp, &out.np, &out.testing}) {
    *text = in.string();
  }
  if (in.u8() != 0) {
    const uint64_t pct = in.varint();
    if (pct > UINT32_MAX) {
      in.corrupt("pct out of range");
    }
    out.pct = static_cast<unsigned>(pct);
  }
  out.rua = readStrings(in);
  // Step: a value written before the trailing fields ends here: they stay unknown.
  if (in.atEnd()) {
    return out;
  }
  out.recordDomain = in.string();
  out.spfRecord = in.string();
  if (in.u8() != 0) {
    const uint64_t lookups = in.varint();
    if (lookups > UINT32_MAX) {
      in.corrupt("SPF look-ups out of range");
    }
    out.spfLookups = static_cast<unsigned>(lookups);
  }
  out.spfError = in.string();
  return out;
}

std::string dnsCacheKey(uint16_t type, std::string_view name)
{
  std::string key;
  key += static_cast<char>(type >> 8);
  key += static_cast<char>(type & 0xff);
  key += lowerAscii(name);
  return key;
}

std::string encodeDnsCacheRecord(const DnsCacheRecord& value)
{
  std::string out(1, static_cast<char>(s_valueVersion));
  putZigzag(out, value.expiresAt);
  putZigzag(out, value.rcode);
  out += static_cast<char>(value.status);
  putVarint(out, value.ttl);
  putStrings(out, value.rdata);
  return out;
}

DnsCacheRecord decodeDnsCacheRecord(std::string_view key, std::string_view value)
{
  if (key.size() < 2) {
    throw StoreError("decode", MDB_CORRUPTED, "dnscache key of " + std::to_string(key.size()) + " bytes");
  }
  Reader in(value, "dnscache");
  in.version();
  DnsCacheRecord out;
  out.type = static_cast<uint16_t>((static_cast<uint8_t>(key[0]) << 8) | static_cast<uint8_t>(key[1]));
  out.name = std::string(key.substr(2));
  out.expiresAt = in.zigzag();
  const int64_t rcode = in.zigzag();
  if (rcode < -1 || rcode > 65535) {
    in.corrupt("rcode out of range");
  }
  out.rcode = static_cast<int>(rcode);
  out.status = in.u8();
  if (out.status > s_maxDnsStatus) {
    in.corrupt("DNS status " + std::to_string(out.status));
  }
  const uint64_t ttl = in.varint();
  if (ttl > UINT32_MAX) {
    in.corrupt("TTL out of range");
  }
  out.ttl = static_cast<uint32_t>(ttl);
  out.rdata = readStrings(in);
  return out;
}

} // namespace storeformat
} // namespace dmarcwatch::collector
