/*
 * store-format.hh - byte encodings of the store's keys and values (the on-disk
 * format; store.hh has the database layout).
 *
 * Keys: fixed-width big-endian integers so that byte order is numeric order
 * and a domain/day range is one cursor scan; signed times are stored with the
 * sign bit flipped.  Values: a format version byte first (s_valueVersion),
 * then fixed big-endian integers or varints (LEB128) and varint-length-
 * prefixed strings.  Changing any layout here means a new value version or
 * schema version, an upgrade step in store.cc and a t/data/lmdb-v<N> dump.
 *
 * Schema 2, exactly (BE = big-endian, vN = varint, str = varint length + bytes):
 *   meta      "schema-version" -> [01][u32 BE]; "next-sequence", "next-dict-id", "next-payload"
 *             -> [01][u64 BE]
 *   dict      's' + string (<= 400 bytes)          -> [01][u32 BE id]
 *             'h' + u64 BE FNV-1a + u32 BE index   -> [01][u32 BE id]   (longer strings; chain
 *                                                     entries are confirmed against 'i')
 *             'i' + u32 BE id                      -> [01] + string bytes
 *             ids start at 1; domains and header_from are lower-cased; an outcome is
 *             encodeOutcome() bytes
 *   dedup     dedup key (<= 400 bytes), else its first 256 bytes + 00 + u64 BE length +
 *             u64 BE FNV-1a + u32 BE chain index   -> [01][u64 BE sequence]  (the report that
 *             holds the key: active, loading, quarantined or schema-1; chains confirmed against
 *             the report's own key)
 *   contents  16-byte content hash + u64 BE sequence -> [01]
 *   reports   u64 BE sequence (from 1)             -> encodeStoredReport fields
 *   bydomain  u32 BE domain id, i64 begin (BE, sign bit flipped), u64 BE sequence -> [01], or
 *             [01][u8 state][u32 BE first day][u32 BE day count] (the record's, for status),
 *             then (issue 14) [u8 authenticity] (the record's; absent: unauthenticated - an
 *             entry without it was written before any report had a verdict)
 *   loading   u64 BE sequence                      -> [01][zigzag pid][vN process start time], then
 *                                                     when applying: [01][vN n][n+1 vN run bounds:
 *                                                     first block of each run, then the end block]
 *                                                     [u8 has progress]([16 ip applied through])
 *   rows      u64 BE sequence + u32 BE block       -> [01][u16 BE n] + n rows of
 *             [16 ip][u32 BE header_from id][u32 BE outcome id][u32 BE identity id][u8 flags]
 *             [vN count][u8 has day]([u32 BE day]); identity id: the outcome's authenticated
 *             identity (identity.hh), 0 for none; flags bit 0: the outcome passes DMARC (other
 *             bits 0, ignored when read)
 *   payloads  u64 BE payload id                    -> [01][str kind] + payload bytes
 *   facts     u32 BE domain id, u32 BE day, 16-byte IP (all zero: no source IP),
 *             u32 BE header_from id, u32 BE outcome id (32 bytes) -> [01][u64 BE messages]
 *   days      u32 BE domain id, u32 BE day         -> [01][u64 BE messages][u64 BE dmarc pass]
 *                                                     [u64 BE records]
 *   sources   u32 BE domain id + 16-byte IP        -> [01][u32 BE first day][u32 BE last day]
 *                                                     [u64 BE first report][u64 BE last report]
 *   cursors   name                                 -> [01][u64 BE position]
 *   alerts    key                                  -> [01][zigzag first seen][zigzag last seen]
 *                                                     [zigzag last emitted][vN count], then
 *                                                     (issue 12) [u8 severity][vN value][str note]
 *   alertlog  u64 BE number                        -> [01][zigzag time][str domain][str key]
 *                                                     [u8 sent][zigzag sent at][str alert]
 *             (additive, like the enrichment tables below)
 *   senders   u32 BE UTC day + u8 kind ('d' policy domain, 'r' reporter) + lower-case name
 *             (trimmed, at most 400 bytes)         -> [01][vN reports][vN records][vN bytes]
 *                                                     [u8 noticed]
 *             what one sender stored on the day it was stored (per-day sender limits, issue
 *             14; noticed: a report went over a limit of that key that day).  Additive like
 *             the enrichment tables (created by a read-write open, no schema bump; absent:
 *             nothing counted yet); days before yesterday are pruned by the writers.
 * The enrichment tables (enrichment.hh; additive: created by a read-write open of a schema-2
 * store, no schema bump; a missing table or entry means "not enriched"):
 *   ipinfo    16-byte IP                           -> [01][zigzag checked at][zigzag expires at]
 *                                                     [u8 PTR state: 0 unknown 1 none 2 confirmed
 *                                                     3 unconfirmed][str PTR name][vN ASN]
 *                                                     [str AS org][str country]
 *   spfauth   lower-case domain + 00 + 16-byte IP  -> [01][zigzag checked at][zigzag expires at]
 *                                                     [str result][str include]
 *   livepolicy lower-case domain                   -> [01][zigzag checked at][zigzag expires at]
 *                                                     [str state][str record][str p][str sp][str np]
 *                                                     [str t][u8 has pct]([vN pct])[vN n + str rua]
 *                                                     then, added later (absent in older values:
 *                                                     unknown): [str record domain][str SPF record]
 *                                                     [u8 has look-ups]([vN SPF look-ups])[str SPF error]
 *   dnscache  u16 BE qtype + lower-case name       -> [01][zigzag expires at][zigzag rcode]
 *                                                     [u8 status: 0 answer 1 nodata 2 nxdomain]
 *                                                     [vN TTL][vN n + str wire-format rdata]
 *   Outcome:  [01] str disposition, str dkim, str spf, vN count + (str domain, selector, result,
 *             human) per DKIM, vN count + (str domain, scope, result, human) per SPF,
 *             str envelope_from, vN count + str per override type
 *   StoredReport: [01] str org, email, extra_contact, report_id, zigzag-vN begin, end,
 *             vN count + str errors, str generator, version; str domain, adkim, aspf, p, sp, np,
 *             [u8 has pct] vN pct, str fo, testing, discovery_method; vN records, messages,
 *             zigzag-vN stored_at, str source, vN count + str warnings, [u8 recovered], vN raw
 *             bytes; then the schema-2 block: [02][u8 state] vN related, str state reason,
 *             16-byte content hash, vN payload id, str payload member, vN first day, vN day
 *             count, vN rows, zigzag owner pid, vN owner start; then (issue 14; absent in older
 *             values: unauthenticated) [u8 authenticity] str auth reason.  A value without the
 *             block was written by schema 1 (state schema-1).
 *   Decoders ignore bytes after the fields they know (a later version may append).
 * Schema 1 had meta, dict, dedup (long keys without the chain index), reports (no block),
 * bydomain, facts, days and raw (u64 BE sequence -> [01][str kind] + bytes); upgrade.cc.
 *
 * Thread-safety: pure functions.  Errors: decoding a truncated or unknown
 * value throws StoreError(rc MDB_CORRUPTED) naming what was decoded.
 */
#pragma once

#include "collector/store/enrichment.hh"
#include "collector/store/store.hh"

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector::storeformat
{

//! Version byte written first in every value of schema 1.
constexpr uint8_t s_valueVersion = 1;

// Fixed-width big-endian integers.
void putU32(std::string& out, uint32_t value);
void putU64(std::string& out, uint64_t value);
//! i64 with the sign bit flipped: byte order equals numeric order for keys.
void putI64Key(std::string& out, int64_t value);
inline uint32_t readU32(const uint8_t* bytes)
{
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) | uint32_t{bytes[3]};
}
inline uint64_t readU64(const uint8_t* bytes)
{
  uint64_t value = 0;
  std::memcpy(&value, bytes, 8);
  return std::endian::native == std::endian::little ? __builtin_bswap64(value) : value;
}
inline void writeU32(uint8_t* out, uint32_t value)
{
  out[0] = static_cast<uint8_t>(value >> 24);
  out[1] = static_cast<uint8_t>(value >> 16);
  out[2] = static_cast<uint8_t>(value >> 8);
  out[3] = static_cast<uint8_t>(value);
}
void writeU64(uint8_t* out, uint64_t value);
//! Byte order of two keys of N bytes (a multiple of 8), 8 bytes at a time: faster than memcmp for sorting.
template <size_t N>
int compareKeys(const std::array<uint8_t, N>& a, const std::array<uint8_t, N>& b)
{
  static_assert(N % 8 == 0);
  for (size_t i = 0; i < N; i += 8) {
    uint64_t x = 0;
    uint64_t y = 0;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) {
      return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
    }
  }
  return 0;
}

// Variable-length values.
void putVarint(std::string& out, uint64_t value);
void putString(std::string& out, std::string_view text);
//! A signed integer as a zigzag varint (Reader::zigzag reads it).
void putZigzag(std::string& out, int64_t value);
//! vN count, then each string (str).
void putStrings(std::string& out, const std::vector<std::string>& items);

/*!
 * Decoder over one value; every read checks what remains and throws StoreError when short.
 * The reads are inline: status decodes millions of rows and reports with them.
 */
class Reader
{
public:
  Reader(std::string_view data, const char* what) :
    d_data(data), d_what(what) {}
  uint8_t u8()
  {
    if (d_pos >= d_data.size()) {
      corrupt("value too short");
    }
    return static_cast<uint8_t>(d_data[d_pos++]);
  }
  uint32_t u32() { return readU32(take(4)); }
  uint64_t u64() { return readU64(take(8)); }
  uint64_t varint()
  {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint8_t byte = u8();
      value |= uint64_t{byte & 0x7fU} << shift;
      if ((byte & 0x80) == 0) {
        return value;
      }
    }
    corrupt("varint too long");
  }
  int64_t zigzag()
  {
    const uint64_t raw = varint();
    return static_cast<int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
  }
  std::string_view bytes(size_t n)
  {
    const auto* at = take(n);
    return {reinterpret_cast<const char*>(at), n};
  }
  std::string_view string()
  {
    const uint64_t size = varint();
    if (size > d_data.size() - d_pos) {
      corrupt("string longer than the value");
    }
    return bytes(size);
  }
  //! \brief Read the version byte and check it is one this build knows.
  void version()
  {
    const uint8_t got = u8();
    if (got != s_valueVersion) {
      badVersion(got);
    }
  }
  [[nodiscard]] bool atEnd() const { return d_pos == d_data.size(); }
  [[noreturn]] void corrupt(const char* why) const;
  [[noreturn]] void corrupt(const std::string& why) const { corrupt(why.c_str()); }

private:
  //! The next n bytes, consumed.
  const uint8_t* take(size_t n)
  {
    if (n > d_data.size() - d_pos) {
      corrupt("value too short");
    }
    const auto* at = reinterpret_cast<const uint8_t*>(d_data.data() + d_pos);
    d_pos += n;
    return at;
  }
  [[noreturn]] void badVersion(uint8_t got) const;

  std::string_view d_data;
  size_t d_pos = 0;
  const char* d_what;
};

// meta values.
std::string encodeCounter(uint64_t value);
uint64_t decodeCounter(std::string_view value, const char* what);

// dict: 's'+string (short strings) or 'h'+hash+index (long strings) -> id; 'i'+id -> string.
constexpr size_t s_maxInlineDictKey = 400; //!< LMDB keys are at most 511 bytes
std::string dictStringKey(std::string_view text);
std::string dictHashKey(std::string_view text, uint32_t index);
std::string dictIdKey(uint32_t id);
std::string encodeDictId(uint32_t id);
uint32_t decodeDictId(std::string_view value);
std::string encodeDictString(std::string_view text);
std::string_view decodeDictString(std::string_view value);

//! \brief 64-bit FNV-1a (dict and dedup keys of long strings; collisions are resolved by comparing).
uint64_t hash64(std::string_view text);

// dedup: the dedup key itself, or a prefix, its hash and a chain index when too long for an LMDB key.
std::string dedupStoreKey(std::string_view dedupKey, uint32_t chainIndex = 0);

//! The fact key: [u32 domain][u32 day][16 ip, all zero = no source IP][u32 header_from][u32 outcome].
struct FactKey
{
  uint32_t domainId = 0;
  uint32_t day = 0;
  std::array<uint8_t, 16> ip{};
  uint32_t headerFromId = 0;
  uint32_t outcomeId = 0;
};
constexpr size_t s_factKeySize = 32;
using FactKeyBytes = std::array<uint8_t, s_factKeySize>;
FactKeyBytes encodeFactKey(const FactKey& key);
FactKey decodeFactKey(std::string_view bytes);
//! Fact value: [version][u64 messages].
constexpr size_t s_factValueSize = 9;
std::array<uint8_t, s_factValueSize> encodeFactValue(uint64_t messages);
uint64_t decodeFactValue(std::string_view value);

//! Prefix [u32 domain][u32 day] of fact and days keys.
std::string domainDayKey(uint32_t domainId, uint32_t day);
std::string domainKey(uint32_t domainId);

// days values: [version][u64 messages][u64 dmarc pass][u64 records].
std::string encodeDayTotals(const DayTotals& totals);
DayTotals decodeDayTotals(std::string_view value, uint32_t day);

// reports and raw: u64 sequence keys.
std::string sequenceKey(uint64_t sequence);
uint64_t decodeSequenceKey(std::string_view key);
//! bydomain key: [u32 domain][i64 begin, sign flipped][u64 sequence].
std::string byDomainKey(uint32_t domainId, int64_t begin, uint64_t sequence);
uint64_t byDomainSequence(std::string_view key);

//! \brief The outcome tuple as one dict string: [version] then every field length-prefixed.
std::string encodeOutcome(const Outcome& outcome);
//! \brief encodeOutcome() of a record's outcome fields (reasons: their types), into out (cleared; capacity kept).
void encodeRecordOutcome(const Record& record, std::string& out);
//! \brief encodeRecordOutcome() with policy_evaluated as the reporter wrote it (our judged verdict left
//! out): what the content hash is of, so judging records never makes a stored report look different.
void encodeReporterOutcome(const Record& record, std::string& out);
Outcome decodeOutcome(std::string_view bytes);
//! \brief decodeOutcome as views into bytes (no allocation once out's vectors have grown). \throw StoreError
void decodeOutcomeView(std::string_view bytes, OutcomeView& out);

std::string encodeStoredReport(const StoredReport& report);
StoredReport decodeStoredReport(std::string_view value);

//! What a reader of a report's rows needs of its value (decodeReportDays).
struct ReportDays
{
  ReportState state = ReportState::Legacy;
  uint32_t firstDay = 0;
  uint32_t dayCount = 0;
  uint64_t rows = 0;
  Authenticity authenticity = Authenticity::Unauthenticated; //!< issue 14 (absent: unauthenticated)
};
/*!
 * \brief The state, days, row count and authenticity of a report value, without copying its
 * strings: for queries over many reports (status).  \throw StoreError when corrupt
 */
ReportDays decodeReportDays(std::string_view value);
/*!
 * bydomain value: [version], or [version][u8 state][u32 BE first day][u32 BE day count]
 * [u8 authenticity]: what status needs of a report without reading its record (kept equal to
 * it by putReport; older entries have the version only, or no authenticity: unauthenticated,
 * as every report was before issue 14).
 */
std::string encodeByDomainValue(const StoredReport& report);
//! \brief The state, days and authenticity a bydomain value carries; nullopt for a version-only
//! value (rows 0: an entry does not carry them). \throw StoreError
std::optional<ReportDays> decodeByDomainValue(std::string_view value);

//! First byte of the schema-2 block appended to a report value.
constexpr uint8_t s_reportBlock2 = 2;

// rows: [u64 sequence][u32 block] -> [version][u16 n] then n times
//   [16 ip][u32 header_from][u32 outcome][u32 identity][u8 flags][vN count][u8 has day]([u32 day]).
// Packed: one put per block, not per record (rows are read whole, in order).
constexpr size_t s_rowsPerBlock = 256;
std::string rowKey(uint64_t sequence, uint32_t block);
//! Start a block value in out (cleared); appendRow adds one; finishRowBlock writes the count.
void beginRowBlock(std::string& out);
void appendRow(std::string& out, const ReportRow& row);
void finishRowBlock(std::string& out, size_t rows);
//! \brief Decode a block. \throw StoreError when corrupt
void decodeRowBlock(std::string_view value, std::vector<ReportRow>& rows);
//! Flags byte of a row: the outcome passes DMARC.
constexpr uint8_t s_rowDmarcPass = 1;

// sources: [u32 domain][16 ip] -> [version][u32 first day][u32 last day][u64 first report][u64 last report].
struct SourceSeen
{
  uint32_t firstDay = 0;
  uint32_t lastDay = 0;
  uint64_t firstReport = 0;
  uint64_t lastReport = 0;
};
std::string sourceKey(uint32_t domainId, const std::array<uint8_t, 16>& ip);
std::string encodeSource(const SourceSeen& seen);
SourceSeen decodeSource(std::string_view value);
// contents: [16 content hash][u64 sequence] -> [version].
std::string contentKey(const ContentHash& hash, uint64_t sequence);
/*!
 * A loading report's owner and phase.  Parsing: its chunks' rows are written, none counted.
 * Applying: its dedup decision is committed and every row written, in runs sorted by source
 * IP (each chunk one run); the rows of addresses up to appliedThrough are in the totals.
 */
struct LoadingEntry
{
  int64_t pid = 0;
  uint64_t start = 0; //!< the owner's process start time
  bool applying = false;
  std::vector<uint32_t> runBounds; //!< applying: first block of each run, then the end block
  std::optional<std::array<uint8_t, 16>> appliedThrough;
};
// loading: [u64 sequence] -> [version][zigzag pid][vN start] (+ the applying block).
std::string encodeLoading(const LoadingEntry& entry);
LoadingEntry decodeLoading(std::string_view value);
// alerts: key -> [version][zigzag first seen][zigzag last seen][zigzag last emitted][vN count]
// then, since issue 12 (absent in older values), [u8 severity][vN value][str note].
std::string encodeAlertState(const Store::AlertState& state);
Store::AlertState decodeAlertState(std::string_view value);
// alertlog: u64 BE number -> [version][zigzag time][str domain][str key][u8 emitted][zigzag emitted at]
// [str payload].
std::string encodeAlertLogEntry(const Store::AlertLogEntry& entry);
Store::AlertLogEntry decodeAlertLogEntry(uint64_t number, std::string_view value);

//! A sender's day in the senders table (per-day sender limits).
struct SenderDay
{
  uint64_t reports = 0;
  uint64_t records = 0;
  uint64_t bytes = 0;
  bool noticed = false; //!< a report went over a limit of this key on this day
};
//! Longest sender name kept in a senders key (longer ones are cut: two such senders share a key).
inline constexpr size_t s_maxSenderName = 400;
//! senders key: u32 BE day + kind ('d', 'r') + the name (cut at s_maxSenderName).
std::string senderDayKey(uint32_t day, char kind, std::string_view name);
//! rief The day of a senders key. 	hrow StoreError when shorter than 5 bytes
uint32_t decodeSenderDayKey(std::string_view key);
std::string encodeSenderDay(const SenderDay& value);
SenderDay decodeSenderDay(std::string_view value);

//! The content hash of a report: 128 bits from two independent 64-bit hashes (not cryptographic).
class ContentHasher
{
public:
  void add(std::string_view bytes);
  void addNumber(uint64_t value);
  [[nodiscard]] ContentHash digest() const;

private:
  uint64_t d_fnv = 0xcbf29ce484222325ULL;
  uint64_t d_mix = 0x243f6a8885a308d3ULL;
};

// The enrichment tables (additive, enrichment.hh): keys and values.
std::string ipInfoKey(const std::array<uint8_t, 16>& ip);
std::string encodeIpEnrichment(const IpEnrichment& value);
IpEnrichment decodeIpEnrichment(std::string_view value);
//! spfauth key: the lower-case domain, 00, the 16-byte IP.
std::string spfAuthKey(std::string_view domain, const std::array<uint8_t, 16>& ip);
//! \brief The domain and IP of an spfauth key. \throw StoreError when malformed
std::pair<std::string, std::array<uint8_t, 16>> decodeSpfAuthKey(std::string_view key);
std::string encodeSpfAuthorization(const SpfAuthorization& value);
SpfAuthorization decodeSpfAuthorization(std::string_view value);
//! livepolicy key: the lower-case domain.
std::string encodeLivePolicy(const LivePolicy& value);
LivePolicy decodeLivePolicy(std::string_view value);
//! dnscache key: u16 BE qtype + the lower-case name.
std::string dnsCacheKey(uint16_t type, std::string_view name);
std::string encodeDnsCacheRecord(const DnsCacheRecord& value);
//! \brief Decode a dnscache entry (type and name from its key). \throw StoreError
DnsCacheRecord decodeDnsCacheRecord(std::string_view key, std::string_view value);

//! raw and payloads values: [version][varint kind length][kind][bytes]; the header part of it.
std::string encodeRawHeader(std::string_view kind);
std::pair<std::string, std::string> decodeRaw(std::string_view value);

} // namespace dmarcwatch::collector::storeformat
