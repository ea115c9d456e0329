/*
 * store-format.cc - encoders and decoders of the store's keys and values
 * (store-format.hh).
 *
 * Thread-safety: pure functions.  Errors: StoreError(MDB_CORRUPTED) when a
 * stored value is short or carries an unknown version byte.
 */
#include "config.h"

#include "collector/store/store-format.hh"

#include "collector/common/errors.hh"

#include <lmdb.h>

#include <cstring>

namespace dmarcwatch::collector::storeformat
{

void putZigzag(std::string& out, int64_t value)
{
  putVarint(out, (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63));
}

void putStrings(std::string& out, const std::vector<std::string>& items)
{
  putVarint(out, items.size());
  for (const auto& item : items) {
    putString(out, item);
  }
}

namespace
{

uint32_t narrowU32(const Reader& in, uint64_t value)
{
  if (value > UINT32_MAX) {
    in.corrupt("value out of range");
  }
  return static_cast<uint32_t>(value);
}

std::vector<std::string> readStrings(Reader& in)
{
  uint64_t count = in.varint();
  std::vector<std::string> items;
  for (uint64_t i = 0; i < count; ++i) {
    items.emplace_back(in.string());
  }
  return items;
}

//! A count read from a value, bounded by the bytes left (each item takes at least one byte).
uint64_t readCount(Reader& in, size_t remaining)
{
  uint64_t count = in.varint();
  if (count > remaining) {
    in.corrupt("count larger than the value");
  }
  return count;
}

//! \brief The authenticity byte at in's position (issue 14). \throw StoreError when unknown
Authenticity readAuthenticity(Reader& in)
{
  const uint8_t authenticity = in.u8();
  if (authenticity > static_cast<uint8_t>(Authenticity::Forged)) {
    in.corrupt("unknown report authenticity");
  }
  return static_cast<Authenticity>(authenticity);
}

} // namespace

void putU32(std::string& out, uint32_t value)
{
  uint8_t buf[4];
  writeU32(buf, value);
  out.append(reinterpret_cast<const char*>(buf), sizeof(buf));
}

void writeU64(uint8_t* out, uint64_t value)
{
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(value);
    value >>= 8;
  }
}

void putU64(std::string& out, uint64_t value)
{
  uint8_t buf[8];
  writeU64(buf, value);
  out.append(reinterpret_cast<const char*>(buf), sizeof(buf));
}

void putI64Key(std::string& out, int64_t value)
{
  putU64(out, static_cast<uint64_t>(value) ^ (1ULL << 63));
}

void putVarint(std::string& out, uint64_t value)
{
  if (value < 0x80) {
    out.push_back(static_cast<char>(value));
    return;
  }
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void putString(std::string& out, std::string_view text)
{
  putVarint(out, text.size());
  out.append(text);
}

void Reader::corrupt(const char* why) const
{
  throw StoreError("decode", MDB_CORRUPTED, std::string(d_what) + ": " + why);
}

void Reader::badVersion(uint8_t got) const
{
  corrupt(("unknown value version " + std::to_string(got)).c_str());
}

std::string encodeCounter(uint64_t value)
{
  std::string out(1, static_cast<char>(s_valueVersion));
  putU64(out, value);
  return out;
}

uint64_t decodeCounter(std::string_view value, const char* what)
{
  Reader in(value, what);
  in.version();
  return in.u64();
}

std::string dictStringKey(std::string_view text)
{
  std::string key(1, 's');
  key.append(text);
  return key;
}

std::string dictHashKey(std::string_view text, uint32_t index)
{
  std::string key(1, 'h');
  putU64(key, hash64(text));
  putU32(key, index);
  return key;
}

std::string dictIdKey(uint32_t id)
{
  std::string key(1, 'i');
  putU32(key, id);
  return key;
}

std::string encodeDictId(uint32_t id)
{
  std::string out(1, static_cast<char>(s_valueVersion));
  putU32(out, id);
  return out;
}

uint32_t decodeDictId(std::string_view value)
{
  Reader in(value, "dict id");
  in.version();
  return in.u32();
}

std::string encodeDictString(std::string_view text)
{
  std::string out(1, static_cast<char>(s_valueVersion));
  out.append(text);
  return out;
}

std::string_view decodeDictString(std::string_view value)
{
  Reader in(value, "dict string");
  in.version();
  return value.substr(1);
}

uint64_t hash64(std::string_view text)
{
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : text) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string dedupStoreKey(std::string_view dedupKey, uint32_t chainIndex)
{
  if (dedupKey.size() <= s_maxInlineDictKey) {
    return std::string(dedupKey);
  }
  // Too long for an LMDB key: a prefix, the length, a hash and the chain index.  The store
  // confirms a hit by comparing the stored report's own dedup key and walks the chain.
  std::string key(dedupKey.substr(0, 256));
  key.push_back('\0');
  putU64(key, dedupKey.size());
  putU64(key, hash64(dedupKey));
  putU32(key, chainIndex);
  return key;
}

FactKeyBytes encodeFactKey(const FactKey& key)
{
  FactKeyBytes out{};
  writeU32(out.data(), key.domainId);
  writeU32(out.data() + 4, key.day);
  std::memcpy(out.data() + 8, key.ip.data(), 16);
  writeU32(out.data() + 24, key.headerFromId);
  writeU32(out.data() + 28, key.outcomeId);
  return out;
}

FactKey decodeFactKey(std::string_view bytes)
{
  if (bytes.size() != s_factKeySize) {
    throw StoreError("decode", MDB_CORRUPTED, "fact key of " + std::to_string(bytes.size()) + " bytes");
  }
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  FactKey key;
  key.domainId = readU32(p);
  key.day = readU32(p + 4);
  std::memcpy(key.ip.data(), p + 8, 16);
  key.headerFromId = readU32(p + 24);
  key.outcomeId = readU32(p + 28);
  return key;
}

std::array<uint8_t, s_factValueSize> encodeFactValue(uint64_t messages)
{
  std::array<uint8_t, s_factValueSize> out{};
  out[0] = s_valueVersion;
  writeU64(out.data() + 1, messages);
  return out;
}

uint64_t decodeFactValue(std::string_view value)
{
  if (value.size() < s_factValueSize || static_cast<uint8_t>(value[0]) != s_valueVersion) {
    throw StoreError("decode", MDB_CORRUPTED, "fact value");
  }
  return readU64(reinterpret_cast<const uint8_t*>(value.data() + 1));
}

std::string domainDayKey(uint32_t domainId, uint32_t day)
{
  std::string key;
  putU32(key, domainId);
  putU32(key, day);
  return key;
}

std::string domainKey(uint32_t domainId)
{
  std::string key;
  putU32(key, domainId);
  return key;
}

std::string encodeDayTotals(const DayTotals& totals)
{
  std::string out(1, static_cast<char>(s_valueVersion));
  putU64(out, totals.messages);
  putU64(out, totals.dmarcPass);
  putU64(out, totals.records);
  return out;
}

DayTotals decodeDayTotals(std::string_view value, uint32_t day)
{
  Reader in(value, "day totals");
  in.version();
  DayTotals totals;
  totals.day = day;
  totals.messages = in.u64();
  totals.dmarcPass = in.u64();
  totals.records = in.u64();
  return totals;
}

std::string sequenceKey(uint64_t sequence)
{
  std::string key;
  putU64(key, sequence);
  return key;
}

uint64_t decodeSequenceKey(std::string_view key)
{
  if (key.size() != 8) {
    throw StoreError("decode", MDB_CORRUPTED, "sequence key");
  }
  return readU64(reinterpret_cast<const uint8_t*>(key.data()));
}

std::string byDomainKey(uint32_t domainId, int64_t begin, uint64_t sequence)
{
  std::string key;
  putU32(key, domainId);
  putI64Key(key, begin);
  putU64(key, sequence);
  return key;
}

std::string encodeByDomainValue(const StoredReport& report)
{
  std::string out(1, static_cast<char>(s_valueVersion));
  out.push_back(static_cast<char>(report.state));
  putU32(out, report.firstDay);
  putU32(out, report.dayCount);
  out.push_back(static_cast<char>(report.authenticity)); // issue 14
  return out;
}

std::optional<ReportDays> decodeByDomainValue(std::string_view value)
{
  Reader in(value, "bydomain");
  in.version();
  if (in.atEnd()) {
    return std::nullopt;
  }
  ReportDays days;
  const uint8_t state = in.u8();
  if (state > static_cast<uint8_t>(ReportState::Legacy)) {
    in.corrupt("unknown report state");
  }
  days.state = static_cast<ReportState>(state);
  days.firstDay = in.u32();
  days.dayCount = in.u32();
  if (!in.atEnd()) {
    days.authenticity = readAuthenticity(in);
  }
  return days;
}

uint64_t byDomainSequence(std::string_view key)
{
  if (key.size() != 20) {
    throw StoreError("decode", MDB_CORRUPTED, "bydomain key");
  }
  return readU64(reinterpret_cast<const uint8_t*>(key.data() + 12));
}

namespace
{

size_t varintSize(uint64_t value)
{
  size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

uint8_t* writeVarint(uint8_t* out, uint64_t value)
{
  while (value >= 0x80) {
    *out++ = static_cast<uint8_t>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  *out++ = static_cast<uint8_t>(value);
  return out;
}

size_t stringSize(std::string_view text)
{
  return varintSize(text.size()) + text.size();
}

uint8_t* writeString(uint8_t* out, std::string_view text)
{
  out = writeVarint(out, text.size());
  if (!text.empty()) {
    std::memcpy(out, text.data(), text.size());
  }
  return out + text.size();
}

/*
 * The outcome bytes of anything with the Outcome fields (reasons: a range whose
 * override types typeOf gives), into out (replaced).  Sized first, then written
 * in place: one resize, no per-field appends (this runs once per record).
 */
template <typename Reasons, typename TypeOf>
void writeOutcome(std::string& out, const std::string& disposition, const std::string& dkim, const std::string& spf,
                  const std::vector<DkimResult>& dkimResults, const std::vector<SpfResult>& spfResults,
                  const std::string& envelopeFrom, const Reasons& reasons, TypeOf typeOf)
{
  size_t size = 1 + stringSize(disposition) + stringSize(dkim) + stringSize(spf) + varintSize(dkimResults.size());
  for (const auto& result : dkimResults) {
    size += stringSize(result.domain) + stringSize(result.selector) + stringSize(result.result) +
      stringSize(result.humanResult);
  }
  size += varintSize(spfResults.size());
  for (const auto& result : spfResults) {
    size += stringSize(result.domain) + stringSize(result.scope) + stringSize(result.result) +
      stringSize(result.humanResult);
  }
  size += stringSize(envelopeFrom) + varintSize(reasons.size());
  for (const auto& reason : reasons) {
    size += stringSize(typeOf(reason));
  }

  out.resize(size);
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  *p++ = s_valueVersion;
  p = writeString(p, disposition);
  p = writeString(p, dkim);
  p = writeString(p, spf);
  p = writeVarint(p, dkimResults.size());
  for (const auto& result : dkimResults) {
    p = writeString(p, result.domain);
    p = writeString(p, result.selector);
    p = writeString(p, result.result);
    p = writeString(p, result.humanResult);
  }
  p = writeVarint(p, spfResults.size());
  for (const auto& result : spfResults) {
    p = writeString(p, result.domain);
    p = writeString(p, result.scope);
    p = writeString(p, result.result);
    p = writeString(p, result.humanResult);
  }
  p = writeString(p, envelopeFrom);
  p = writeVarint(p, reasons.size());
  for (const auto& reason : reasons) {
    p = writeString(p, typeOf(reason));
  }
}

} // namespace

std::string encodeOutcome(const Outcome& outcome)
{
  std::string out;
  writeOutcome(out, outcome.disposition, outcome.dkim, outcome.spf, outcome.dkimResults, outcome.spfResults,
               outcome.envelopeFrom, outcome.reasons, [](const std::string& type) -> const std::string& { return type; });
  return out;
}

namespace
{

void writeRecordOutcome(std::string& out, const Record& record, const std::string& dkim, const std::string& spf)
{
  writeOutcome(out, record.disposition, dkim, spf, record.dkimResults, record.spfResults, record.envelopeFrom,
               record.reasons, [](const PolicyOverride& reason) -> const std::string& { return reason.type; });
}

} // namespace

void encodeRecordOutcome(const Record& record, std::string& out)
{
  // policy_evaluated as counted: the reporter's words, ours (judgedDkim/judgedSpf) where it left
  // them out, so Outcome::dmarcPass() of the stored outcome agrees with the row's DMARC pass.
  writeRecordOutcome(out, record, record.effectiveDkim(), record.effectiveSpf());
}

void encodeReporterOutcome(const Record& record, std::string& out)
{
  writeRecordOutcome(out, record, record.dkim, record.spf);
}

void decodeOutcomeView(std::string_view bytes, OutcomeView& out)
{
  Reader in(bytes, "outcome");
  in.version();
  out.disposition = in.string();
  out.dkim = in.string();
  out.spf = in.string();
  out.dkimResults.clear();
  for (uint64_t i = 0, n = readCount(in, bytes.size()); i < n; ++i) {
    OutcomeView::Dkim& dkim = out.dkimResults.emplace_back();
    dkim.domain = in.string();
    dkim.selector = in.string();
    dkim.result = in.string();
    dkim.humanResult = in.string();
  }
  out.spfResults.clear();
  for (uint64_t i = 0, n = readCount(in, bytes.size()); i < n; ++i) {
    OutcomeView::Spf& spf = out.spfResults.emplace_back();
    spf.domain = in.string();
    spf.scope = in.string();
    spf.result = in.string();
    spf.humanResult = in.string();
  }
  out.envelopeFrom = in.string();
  out.reasons.clear();
  for (uint64_t i = 0, n = readCount(in, bytes.size()); i < n; ++i) {
    out.reasons.push_back(in.string());
  }
}

Outcome decodeOutcome(std::string_view bytes)
{
  // One decoder (the view), copied out.
  OutcomeView view;
  decodeOutcomeView(bytes, view);
  Outcome outcome;
  outcome.disposition = view.disposition;
  outcome.dkim = view.dkim;
  outcome.spf = view.spf;
  for (const auto& dkim : view.dkimResults) {
    outcome.dkimResults.push_back(DkimResult{std::string(dkim.domain), std::string(dkim.selector),
                                             std::string(dkim.result), std::string(dkim.humanResult)});
  }
  for (const auto& spf : view.spfResults) {
    outcome.spfResults.push_back(SpfResult{std::string(spf.domain), std::string(spf.scope), std::string(spf.result),
                                           std::string(spf.humanResult)});
  }
  outcome.envelopeFrom = view.envelopeFrom;
  outcome.reasons.assign(view.reasons.begin(), view.reasons.end());
  return outcome;
}

std::string encodeStoredReport(const StoredReport& report)
{
  // The sequence is the key; fields are appended in this order, later versions append more.
  const auto& meta = report.header.metadata;
  const auto& policy = report.header.policy;
  std::string out(1, static_cast<char>(s_valueVersion));
  putString(out, meta.orgName);
  putString(out, meta.email);
  putString(out, meta.extraContactInfo);
  putString(out, meta.reportId);
  putZigzag(out, meta.begin);
  putZigzag(out, meta.end);
  putStrings(out, meta.errors);
  putString(out, meta.generator);
  putString(out, meta.version);
  putString(out, policy.domain);
  putString(out, policy.adkim);
  putString(out, policy.aspf);
  putString(out, policy.p);
  putString(out, policy.sp);
  putString(out, policy.np);
  out.push_back(static_cast<char>(policy.pct ? 1 : 0));
  putVarint(out, policy.pct.value_or(0));
  putString(out, policy.fo);
  putString(out, policy.testing);
  putString(out, policy.discoveryMethod);
  putVarint(out, report.records);
  putVarint(out, report.messages);
  putZigzag(out, report.storedAt);
  putString(out, report.source);
  putStrings(out, report.warnings);
  out.push_back(static_cast<char>(report.recovered ? 1 : 0));
  putVarint(out, report.rawBytes);
  // Schema 2 block.
  out.push_back(static_cast<char>(s_reportBlock2));
  out.push_back(static_cast<char>(report.state));
  putVarint(out, report.related);
  putString(out, report.stateReason);
  out.append(reinterpret_cast<const char*>(report.contentHash.data()), report.contentHash.size());
  putVarint(out, report.payloadId);
  putString(out, report.payloadMember);
  putVarint(out, report.firstDay);
  putVarint(out, report.dayCount);
  putVarint(out, report.rows);
  putZigzag(out, report.ownerPid);
  putVarint(out, report.ownerStart);
  // Appended by issue 14 (absent in older values: unauthenticated).
  out.push_back(static_cast<char>(report.authenticity));
  putString(out, report.authReason);
  return out;
}

namespace
{

//! The schema-2 block of a report value, strings as views into it.
struct Block2
{
  ReportDays days; //!< state, first day, day count, rows
  uint64_t related = 0;
  std::string_view stateReason;
  std::string_view contentHash;
  uint64_t payloadId = 0;
  std::string_view payloadMember;
  int64_t ownerPid = 0;
  uint64_t ownerStart = 0;
};

//! \brief The schema-2 block at in's position; nullopt at the end (a schema-1 value). \throw StoreError
std::optional<Block2> readBlock2(Reader& in)
{
  if (in.atEnd()) {
    return std::nullopt;
  }
  if (in.u8() != s_reportBlock2) {
    in.corrupt("unknown report block");
  }
  Block2 block;
  uint8_t state = in.u8();
  if (state > static_cast<uint8_t>(ReportState::Legacy)) {
    in.corrupt("unknown report state");
  }
  block.days.state = static_cast<ReportState>(state);
  block.related = in.varint();
  block.stateReason = in.string();
  block.contentHash = in.bytes(sizeof(ContentHash));
  block.payloadId = in.varint();
  block.payloadMember = in.string();
  block.days.firstDay = narrowU32(in, in.varint());
  block.days.dayCount = narrowU32(in, in.varint());
  block.days.rows = in.varint();
  block.ownerPid = in.zigzag();
  block.ownerStart = in.varint();
  return block;
}

} // namespace

StoredReport decodeStoredReport(std::string_view value)
{
  Reader in(value, "report");
  in.version();
  StoredReport report;
  auto& meta = report.header.metadata;
  auto& policy = report.header.policy;
  meta.orgName = in.string();
  meta.email = in.string();
  meta.extraContactInfo = in.string();
  meta.reportId = in.string();
  meta.begin = in.zigzag();
  meta.end = in.zigzag();
  meta.errors = readStrings(in);
  meta.generator = in.string();
  meta.version = in.string();
  policy.domain = in.string();
  policy.adkim = in.string();
  policy.aspf = in.string();
  policy.p = in.string();
  policy.sp = in.string();
  policy.np = in.string();
  bool hasPct = in.u8() != 0;
  auto pct = static_cast<uint32_t>(in.varint());
  if (hasPct) {
    policy.pct = pct;
  }
  policy.fo = in.string();
  policy.testing = in.string();
  policy.discoveryMethod = in.string();
  report.records = in.varint();
  report.messages = in.varint();
  report.storedAt = in.zigzag();
  report.source = in.string();
  report.warnings = readStrings(in);
  report.recovered = in.u8() != 0;
  report.rawBytes = in.varint();
  const auto block = readBlock2(in);
  if (!block) {
    report.state = ReportState::Legacy;
    return report;
  }
  report.state = block->days.state;
  report.related = block->related;
  report.stateReason = block->stateReason;
  std::memcpy(report.contentHash.data(), block->contentHash.data(), report.contentHash.size());
  report.payloadId = block->payloadId;
  report.payloadMember = block->payloadMember;
  report.firstDay = block->days.firstDay;
  report.dayCount = block->days.dayCount;
  report.rows = block->days.rows;
  report.ownerPid = block->ownerPid;
  report.ownerStart = block->ownerStart;
  if (!in.atEnd()) {
    report.authenticity = readAuthenticity(in);
    report.authReason = in.string();
  }
  return report;
}

ReportDays decodeReportDays(std::string_view value)
{
  // The fields before the schema-2 block (decodeStoredReport has their names), skipped.
  Reader in(value, "report");
  in.version();
  auto skipStrings = [&](uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
      in.string();
    }
  };
  skipStrings(4);   // org, email, extra contact, report id
  in.varint();      // begin
  in.varint();      // end
  skipStrings(readCount(in, value.size())); // errors
  skipStrings(2 + 6); // generator, version; domain, adkim, aspf, p, sp, np
  in.u8();          // has pct
  in.varint();      // pct
  skipStrings(3);   // fo, testing, discovery method
  in.varint();      // records
  in.varint();      // messages
  in.varint();      // stored at
  skipStrings(1);   // source
  skipStrings(readCount(in, value.size())); // warnings
  in.u8();          // recovered
  in.varint();      // raw bytes
  auto block = readBlock2(in);
  if (!block) {
    return ReportDays{};
  }
  if (!in.atEnd()) {
    block->days.authenticity = readAuthenticity(in); // issue 14; absent: unauthenticated
  }
  return block->days;
}

std::string rowKey(uint64_t sequence, uint32_t block)
{
  std::string key;
  key.reserve(12);
  putU64(key, sequence);
  putU32(key, block);
  return key;
}

void beginRowBlock(std::string& out)
{
  // Version byte, then room for the row count: a fixed 2 bytes (<= s_rowsPerBlock).
  out.assign(3, '\0');
  out[0] = static_cast<char>(s_valueVersion);
}

void appendRow(std::string& out, const ReportRow& row)
{
  out.append(reinterpret_cast<const char*>(row.ip.data()), row.ip.size());
  putU32(out, row.headerFromId);
  putU32(out, row.outcomeId);
  putU32(out, row.identityId);
  out.push_back(static_cast<char>(row.dmarcPass ? s_rowDmarcPass : 0));
  putVarint(out, row.count);
  out.push_back(static_cast<char>(row.day ? 1 : 0));
  if (row.day) {
    putU32(out, *row.day);
  }
}

void finishRowBlock(std::string& out, size_t rows)
{
  out[1] = static_cast<char>(rows >> 8);
  out[2] = static_cast<char>(rows & 0xff);
}

void decodeRowBlock(std::string_view value, std::vector<ReportRow>& rows)
{
  Reader in(value, "rows");
  in.version();
  const size_t count = (size_t{in.u8()} << 8) | in.u8();
  if (count > s_rowsPerBlock) {
    in.corrupt("too many rows in a block");
  }
  rows.resize(count);
  // Most rows are read without a bounds check per field: while the block holds the longest
  // a row can be (fixed part, a 10-byte varint, the day), a row is decoded in place.
  constexpr size_t s_fixed = 16 + 4 + 4 + 4 + 1;
  constexpr size_t s_longestRow = s_fixed + 10 + 1 + 4;
  const auto* bytes = reinterpret_cast<const uint8_t*>(value.data());
  size_t pos = 3; // after the version and the count
  size_t done = 0;
  for (; done < count && value.size() - pos >= s_longestRow; ++done) {
    ReportRow& row = rows[done];
    const uint8_t* p = bytes + pos;
    std::memcpy(row.ip.data(), p, 16);
    row.headerFromId = readU32(p + 16);
    row.outcomeId = readU32(p + 20);
    row.identityId = readU32(p + 24);
    row.dmarcPass = (p[28] & s_rowDmarcPass) != 0;
    size_t at = s_fixed;
    uint64_t number = 0;
    bool ended = false;
    for (unsigned shift = 0; shift < 64 && !ended; shift += 7) { // as Reader::varint
      const uint8_t byte = p[at++];
      number |= uint64_t{byte & 0x7fU} << shift;
      ended = (byte & 0x80) == 0;
    }
    if (!ended) {
      in.corrupt("varint too long");
    }
    row.count = number;
    row.day.reset();
    if (p[at++] != 0) {
      row.day = readU32(p + at);
      at += 4;
    }
    pos += at;
  }
  // The last rows of the block, checked field by field.
  in.bytes(pos - 3);
  for (; done < count; ++done) {
    ReportRow& row = rows[done];
    std::memcpy(row.ip.data(), in.bytes(row.ip.size()).data(), row.ip.size());
    row.headerFromId = in.u32();
    row.outcomeId = in.u32();
    row.identityId = in.u32();
    row.dmarcPass = (in.u8() & s_rowDmarcPass) != 0;
    row.count = in.varint();
    row.day.reset();
    if (in.u8() != 0) {
      row.day = in.u32();
    }
  }
  if (!in.atEnd()) {
    in.corrupt("bytes after the last row");
  }
}

std::string sourceKey(uint32_t domainId, const std::array<uint8_t, 16>& ip)
{
  std::string key;
  key.reserve(20);
  putU32(key, domainId);
  key.append(reinterpret_cast<const char*>(ip.data()), ip.size());
  return key;
}

std::string encodeSource(const SourceSeen& seen)
{
  std::string out(1, static_cast<char>(s_valueVersion));
  putU32(out, seen.firstDay);
  putU32(out, seen.lastDay);
  putU64(out, seen.firstReport);
  putU64(out, seen.lastReport);
  return out;
}

SourceSeen decodeSource(std::string_view value)
{
  Reader in(value, "source");
  in.version();
  SourceSeen seen;
  seen.firstDay = in.u32();
  seen.lastDay = in.u32();
  seen.firstReport = in.u64();
  seen.lastReport = in.u64();
  return seen;
}

std::string contentKey(const ContentHash& hash, uint64_t sequence)
{
  std::string key(reinterpret_cast<const char*>(hash.data()), hash.size());
  putU64(key, sequence);
  return key;
}

std::string encodeLoading(const LoadingEntry& entry)
{
  std::string out(1, static_cast<char>(s_valueVersion));
  putZigzag(out, entry.pid);
  putVarint(out, entry.start);
  if (entry.applying) {
    out.push_back(1);
    putVarint(out, entry.runBounds.empty() ? 0 : entry.runBounds.size() - 1);
    for (uint32_t bound : entry.runBounds) {
      putVarint(out, bound);
    }
    out.push_back(entry.appliedThrough ? 1 : 0);
    if (entry.appliedThrough) {
      out.append(reinterpret_cast<const char*>(entry.appliedThrough->data()), entry.appliedThrough->size());
    }
  }
  return out;
}

LoadingEntry decodeLoading(std::string_view value)
{
  Reader in(value, "loading");
  in.version();
  LoadingEntry entry;
  entry.pid = in.zigzag();
  entry.start = in.varint();
  if (in.atEnd()) {
    return entry;
  }
  if (in.u8() != 1) {
    in.corrupt("unknown phase");
  }
  entry.applying = true;
  const uint64_t runs = in.varint();
  if (runs > value.size()) {
    in.corrupt("run count");
  }
  for (uint64_t i = 0; i <= runs; ++i) {
    const uint64_t bound = in.varint();
    if (bound > UINT32_MAX || (!entry.runBounds.empty() && bound < entry.runBounds.back())) {
      in.corrupt("run bounds");
    }
    entry.runBounds.push_back(static_cast<uint32_t>(bound));
  }
  if (in.u8() != 0) {
    std::array<uint8_t, 16> ip{};
    for (auto& byte : ip) {
      byte = in.u8();
    }
    entry.appliedThrough = ip;
  }
  return entry;
}

std::string encodeAlertState(const Store::AlertState& state)
{
  std::string out(1, static_cast<char>(s_valueVersion));
  putZigzag(out, state.firstSeen);
  putZigzag(out, state.lastSeen);
  putZigzag(out, state.lastEmitted);
  putVarint(out, state.count);
  out.push_back(static_cast<char>(state.severity));
  putVarint(out, state.value);
  putString(out, state.note);
  return out;
}

std::string senderDayKey(uint32_t day, char kind, std::string_view name)
{
  std::string key(4, '\0');
  writeU32(reinterpret_cast<uint8_t*>(key.data()), day);
  key.push_back(kind);
  key.append(name.substr(0, s_maxSenderName));
  return key;
}

uint32_t decodeSenderDayKey(std::string_view key)
{
  if (key.size() < 5 || (key[4] != 'd' && key[4] != 'r')) {
    throw StoreError("decode", MDB_CORRUPTED, "senders key of " + std::to_string(key.size()) + " bytes");
  }
  return readU32(reinterpret_cast<const uint8_t*>(key.data()));
}

std::string encodeSenderDay(const SenderDay& value)
{
  std::string out(1, static_cast<char>(s_valueVersion));
  putVarint(out, value.reports);
  putVarint(out, value.records);
  putVarint(out, value.bytes);
  out.push_back(value.noticed ? 1 : 0);
  return out;
}

SenderDay decodeSenderDay(std::string_view value)
{
  Reader in(value, "sender day");
  in.version();
  SenderDay day;
  day.reports = in.varint();
  day.records = in.varint();
  day.bytes = in.varint();
  day.noticed = in.u8() != 0;
  if (!in.atEnd()) {
    in.corrupt("trailing bytes");
  }
  return day;
}

std::string encodeAlertLogEntry(const Store::AlertLogEntry& entry)
{
  std::string out(1, static_cast<char>(s_valueVersion));
  putZigzag(out, entry.time);
  putString(out, entry.domain);
  putString(out, entry.key);
  out.push_back(entry.emitted ? 1 : 0);
  putZigzag(out, entry.emittedAt);
  putString(out, entry.payload);
  return out;
}

Store::AlertLogEntry decodeAlertLogEntry(uint64_t number, std::string_view value)
{
  Reader in(value, "alert log entry");
  in.version();
  Store::AlertLogEntry entry;
  entry.number = number;
  entry.time = in.zigzag();
  entry.domain = std::string(in.string());
  entry.key = std::string(in.string());
  entry.emitted = in.u8() != 0;
  entry.emittedAt = in.zigzag();
  entry.payload = std::string(in.string());
  if (!in.atEnd()) {
    in.corrupt("trailing bytes");
  }
  return entry;
}

Store::AlertState decodeAlertState(std::string_view value)
{
  Reader in(value, "alert state");
  in.version();
  Store::AlertState state;
  state.firstSeen = in.zigzag();
  state.lastSeen = in.zigzag();
  state.lastEmitted = in.zigzag();
  state.count = in.varint();
  if (!in.atEnd()) { // written since the daemon's alerts (issue 12)
    state.severity = in.u8();
    state.value = in.varint();
    state.note = std::string(in.string());
  }
  if (!in.atEnd()) {
    in.corrupt("trailing bytes");
  }
  return state;
}

void ContentHasher::add(std::string_view bytes)
{
  // Two independent 64-bit hashes: FNV-1a, and a multiply-rotate mix (not cryptographic).
  for (char c : bytes) {
    const auto byte = static_cast<uint8_t>(c);
    d_fnv = (d_fnv ^ byte) * 0x100000001b3ULL;
    d_mix = (d_mix ^ byte) * 0x9e3779b97f4a7c15ULL;
    d_mix ^= d_mix >> 29;
  }
}

void ContentHasher::addNumber(uint64_t value)
{
  std::string bytes;
  putU64(bytes, value);
  add(bytes);
}

ContentHash ContentHasher::digest() const
{
  ContentHash out{};
  writeU64(out.data(), d_fnv);
  writeU64(out.data() + 8, d_mix ^ (d_mix >> 31));
  return out;
}

std::string encodeRawHeader(std::string_view kind)
{
  std::string out(1, static_cast<char>(s_valueVersion));
  putString(out, kind);
  return out;
}

std::pair<std::string, std::string> decodeRaw(std::string_view value)
{
  Reader in(value, "raw payload");
  in.version();
  std::string kind(in.string());
  size_t headerSize = encodeRawHeader(kind).size();
  return {std::move(kind), std::string(value.substr(headerSize))};
}

} // namespace dmarcwatch::collector::storeformat
