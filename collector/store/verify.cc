/*
 * verify.cc - Store::verify(): `dmarcwatch db verify`.
 *
 * In one read transaction: every key and value of every table decodes; every
 * row's identity and DMARC pass are what its outcome says (identity.hh; worked out
 * once per distinct outcome); every
 * dedup and loading entry names a report in a state that fits; and, domain by
 * domain, the facts and day totals equal what the counted rows (store.hh
 * CountedRows: all of an active report, the added ones of a loading one) add
 * up to with the writer's own day split, and every
 * source of a fact is in the sources table.  Memory: one domain's expected
 * facts at a time.
 */
#include "config.h"

#include "collector/store/aggregates.hh"
#include "collector/store/identity.hh"
#include "collector/store/store-impl.hh"

#include <cstring>
#include <map>
#include <unordered_map>

namespace dmarcwatch::collector
{

namespace fmt = storeformat;

namespace
{

constexpr size_t s_maxProblems = 200;

class Verifier
{
public:
  Verifier(const Store::Impl& store, const lmdb::ReadTxn& txn) :
    d_store(store), d_txn(txn) {}

  std::vector<std::string> run()
  {
    decodeTables();
    checkIndexes();
    checkTotals();
    if (d_dropped > 0) {
      d_problems.push_back(std::to_string(d_dropped) + " more problems not listed");
    }
    return std::move(d_problems);
  }

private:
  void problem(std::string text)
  {
    if (d_problems.size() < s_maxProblems) {
      d_problems.push_back(std::move(text));
    }
    else {
      ++d_dropped;
    }
  }

  //! Visit every entry of a table; a StoreError from decode becomes a problem.
  template <typename Visit>
  void scan(MDB_dbi dbi, const char* table, Visit&& visit)
  {
    lmdb::Cursor cursor(d_txn.get(), dbi);
    MDB_val key{};
    MDB_val value{};
    for (bool ok = cursor.get(MDB_FIRST, key, value); ok; ok = cursor.get(MDB_NEXT, key, value)) {
      try {
        visit(lmdb::toView(key), lmdb::toView(value));
      }
      catch (const StoreError& e) {
        problem(std::string(table) + ": " + e.what());
      }
    }
  }

  void decodeTables()
  {
    scan(d_store.reports, "reports", [&](std::string_view key, std::string_view value) {
      StoredReport report = fmt::decodeStoredReport(value);
      report.sequence = fmt::decodeSequenceKey(key);
      d_reports.emplace(report.sequence, std::move(report));
    });
    scan(d_store.dict, "dict", [&](std::string_view key, std::string_view value) {
      if (key.starts_with("i")) {
        fmt::decodeDictString(value);
      }
      else {
        fmt::decodeDictId(value);
      }
    });
    std::vector<ReportRow> block;
    scan(d_store.rows, "rows", [&](std::string_view key, std::string_view value) {
      if (key.size() != 12) {
        throw StoreError("decode", MDB_CORRUPTED, "row key of " + std::to_string(key.size()) + " bytes");
      }
      fmt::decodeRowBlock(value, block);
      for (const auto& row : block) {
        checkRowOutcome(fmt::decodeSequenceKey(key.substr(0, 8)), row);
      }
    });
    scan(d_store.payloads, "payloads", [](std::string_view, std::string_view value) { fmt::decodeRaw(value); });
    scan(d_store.facts, "facts", [](std::string_view key, std::string_view value) {
      fmt::decodeFactKey(key);
      fmt::decodeFactValue(value);
    });
    scan(d_store.days, "days", [](std::string_view key, std::string_view value) {
      if (key.size() != 8) {
        throw StoreError("decode", MDB_CORRUPTED, "days key");
      }
      fmt::decodeDayTotals(value, 0);
    });
    scan(d_store.sources, "sources", [](std::string_view key, std::string_view value) {
      if (key.size() != 20) {
        throw StoreError("decode", MDB_CORRUPTED, "source key");
      }
      fmt::decodeSource(value);
    });
    scan(d_store.alerts, "alerts", [](std::string_view, std::string_view value) { fmt::decodeAlertState(value); });
    // The enrichment tables (additive: absent on a read-only open of a store without them).
    auto scanOptional = [&](const std::optional<MDB_dbi>& table, const char* name, auto&& visit) {
      if (table) {
        scan(*table, name, visit);
      }
    };
    scanOptional(d_store.alertlog, "alertlog", [](std::string_view key, std::string_view value) {
      if (key.size() != 8) {
        throw StoreError("decode", MDB_CORRUPTED, "alertlog key of " + std::to_string(key.size()) + " bytes");
      }
      fmt::decodeAlertLogEntry(fmt::readU64(reinterpret_cast<const uint8_t*>(key.data())), value);
    });
    scanOptional(d_store.senders, "senders", [](std::string_view key, std::string_view value) {
      fmt::decodeSenderDayKey(key);
      fmt::decodeSenderDay(value);
    });
    scanOptional(d_store.ipinfo, "ipinfo", [](std::string_view key, std::string_view value) {
      if (key.size() != 16) {
        throw StoreError("decode", MDB_CORRUPTED, "ipinfo key of " + std::to_string(key.size()) + " bytes");
      }
      fmt::decodeIpEnrichment(value);
    });
    scanOptional(d_store.spfauth, "spfauth", [](std::string_view key, std::string_view value) {
      fmt::decodeSpfAuthKey(key);
      fmt::decodeSpfAuthorization(value);
    });
    scanOptional(d_store.livepolicy, "livepolicy",
                 [](std::string_view, std::string_view value) { fmt::decodeLivePolicy(value); });
    scanOptional(d_store.dnscache, "dnscache",
                 [](std::string_view key, std::string_view value) { fmt::decodeDnsCacheRecord(key, value); });
    scan(d_store.cursors, "cursors", [](std::string_view, std::string_view value) { fmt::decodeCounter(value, "cursor"); });
    scan(d_store.meta, "meta", [](std::string_view key, std::string_view value) {
      if (key != storekeys::schema) {
        fmt::decodeCounter(value, "meta");
      }
    });
  }

  //! What a row should say of its outcome: the identity's id (nullopt: not interned) and pass.
  struct OutcomeFacts
  {
    std::optional<uint32_t> identityId;
    std::string identity;
    bool pass = false;
  };

  //! A row's identity and pass against its outcome (worked out once per outcome id).
  void checkRowOutcome(uint64_t sequence, const ReportRow& row)
  {
    auto found = d_outcomeFacts.find(row.outcomeId);
    if (found == d_outcomeFacts.end()) {
      const std::string bytes = d_store.dictString(d_txn, row.outcomeId);
      OutcomeView outcome;
      fmt::decodeOutcomeView(bytes, outcome);
      OutcomeFacts facts;
      authenticatedIdentity(outcome.dkimResults, outcome.spfResults, facts.identity);
      facts.identityId = facts.identity.empty() ? std::optional<uint32_t>(0) : d_store.findDictId(d_txn, facts.identity);
      facts.pass = outcome.dmarcPass();
      found = d_outcomeFacts.emplace(row.outcomeId, std::move(facts)).first;
    }
    const OutcomeFacts& want = found->second;
    if (want.identityId != row.identityId || want.pass != row.dmarcPass) {
      problem("rows: a row of report " + std::to_string(sequence) + " says identity id " +
              std::to_string(row.identityId) + (row.dmarcPass ? ", DMARC pass" : ", DMARC fail") + "; its outcome " +
              std::to_string(row.outcomeId) + " says identity \"" + want.identity + "\"" +
              (want.identityId ? " (id " + std::to_string(*want.identityId) + ")" : " (not interned)") +
              (want.pass ? ", DMARC pass" : ", DMARC fail"));
    }
  }

  void checkIndexes()
  {
    scan(d_store.dedup, "dedup", [&](std::string_view, std::string_view value) {
      const uint64_t sequence = fmt::decodeCounter(value, "dedup");
      auto found = d_reports.find(sequence);
      if (found == d_reports.end()) {
        problem("dedup: names missing report " + std::to_string(sequence));
      }
      else if (found->second.state == ReportState::Conflict || found->second.state == ReportState::Superseded) {
        problem("dedup: names report " + std::to_string(sequence) + ", which is " +
                std::string(stateName(found->second.state)));
      }
    });
    scan(d_store.loading, "loading", [&](std::string_view key, std::string_view value) {
      fmt::decodeLoading(value);
      const uint64_t sequence = fmt::decodeSequenceKey(key);
      auto found = d_reports.find(sequence);
      if (found == d_reports.end() || found->second.state != ReportState::Loading) {
        problem("loading: report " + std::to_string(sequence) + " is not loading");
      }
    });
    // Every bydomain entry names a report; what it carries of it (status reads that) is the record's.
    scan(d_store.bydomain, "bydomain", [&](std::string_view key, std::string_view value) {
      const uint64_t sequence = fmt::byDomainSequence(key);
      auto found = d_reports.find(sequence);
      if (found == d_reports.end()) {
        problem("bydomain: names missing report " + std::to_string(sequence));
        return;
      }
      const StoredReport& report = found->second;
      auto carried = fmt::decodeByDomainValue(value);
      if (carried && (carried->state != report.state || carried->firstDay != report.firstDay ||
                      carried->dayCount != report.dayCount || carried->authenticity != report.authenticity)) {
        problem("bydomain: the entry of report " + std::to_string(sequence) + " says " +
                std::string(stateName(carried->state)) + ", days " + std::to_string(carried->firstDay) + "+" +
                std::to_string(carried->dayCount) + ", " + std::string(authenticityName(carried->authenticity)) +
                "; the report is " + std::string(stateName(report.state)) + ", days " +
                std::to_string(report.firstDay) + "+" + std::to_string(report.dayCount) + ", " +
                std::string(authenticityName(report.authenticity)));
      }
    });
    for (const auto& [sequence, report] : d_reports) {
      if (report.state == ReportState::Loading && !d_txn.get(d_store.loading, fmt::sequenceKey(sequence))) {
        problem("report " + std::to_string(sequence) + " is loading but has no owner entry");
      }
      // Readers of rows stop at the first report that begins after their window (row-reader.cc).
      if (report.state != ReportState::Legacy && report.firstDay < dayOfTime(report.header.metadata.begin)) {
        problem("report " + std::to_string(sequence) + ": first day " + std::to_string(report.firstDay) +
                " is before the day it begins");
      }
      if (report.payloadId != 0 && !d_txn.get(d_store.payloads, fmt::sequenceKey(report.payloadId))) {
        problem("report " + std::to_string(sequence) + ": payload " + std::to_string(report.payloadId) + " missing");
      }
    }
  }

  struct Expected
  {
    std::map<fmt::FactKeyBytes, uint64_t> facts;
    std::map<uint32_t, DayTotals> days;
  };

  void checkTotals()
  {
    // Step: the counted reports of each domain.
    std::map<uint32_t, std::vector<const StoredReport*>> byDomain;
    for (const auto& [sequence, report] : d_reports) {
      if (!report.counted() && report.state != ReportState::Legacy) {
        if (d_txn.get(d_store.rows, fmt::rowKey(sequence, 0)) && report.state != ReportState::Superseded &&
            report.state != ReportState::Quarantined) {
          problem("report " + std::to_string(sequence) + " is " + std::string(stateName(report.state)) +
                  " but has rows");
        }
        continue;
      }
      auto id = d_store.domainId(d_txn, report.header.policy.domain);
      if (!id) {
        problem("report " + std::to_string(sequence) + ": domain not interned");
        continue;
      }
      if (report.counted()) {
        byDomain[*id].push_back(&report);
      }
      else {
        byDomain.try_emplace(*id);
      }
    }
    // Facts and days of domains with no counted report must be empty: walk every domain id in facts.
    std::set<uint32_t> factDomains;
    {
      lmdb::Cursor cursor(d_txn.get(), d_store.facts);
      MDB_val key{};
      MDB_val value{};
      for (bool ok = cursor.get(MDB_FIRST, key, value); ok;) {
        const uint32_t id = fmt::readU32(static_cast<const uint8_t*>(key.mv_data));
        factDomains.insert(id);
        if (id == UINT32_MAX) {
          break;
        }
        ok = cursor.seek(fmt::domainKey(id + 1), key, value);
      }
    }
    for (uint32_t id : factDomains) {
      byDomain.try_emplace(id);
    }
    for (const auto& [domainId, reports] : byDomain) {
      checkDomain(domainId, reports);
    }
  }

  void checkDomain(uint32_t domainId, const std::vector<const StoredReport*>& reports)
  {
    // Step: what the rows add up to.
    // (A row's pass is checked against its outcome by checkRowOutcome.)
    Expected want;
    for (const StoredReport* report : reports) {
      const CountedRows counted = d_store.countedRows(d_txn, *report);
      d_store.forEachStoredRow(d_txn, report->sequence, [&](const ReportRow& row) {
        if (!counted.counts(row)) {
          return;
        }
        fmt::FactKey factKey{domainId, 0, row.ip, row.headerFromId, row.outcomeId};
        forEachDayShare(row, report->firstDay, report->dayCount, [&](uint32_t day, uint64_t share) {
          factKey.day = day;
          if (share > 0) {
            want.facts[fmt::encodeFactKey(factKey)] += share;
          }
          DayTotals& totals = want.days[day];
          totals.messages += share;
          totals.dmarcPass += row.dmarcPass ? share : 0;
          totals.records += 1;
        });
      });
    }

    // Step: what the store holds, in the same key order.
    const std::string domain = d_store.dictString(d_txn, domainId);
    const std::string prefix = fmt::domainKey(domainId);
    auto wantFact = want.facts.begin();
    lmdb::Cursor facts(d_txn.get(), d_store.facts);
    MDB_val key{};
    MDB_val value{};
    for (bool ok = facts.seek(prefix, key, value); ok && lmdb::toView(key).starts_with(prefix);
         ok = facts.get(MDB_NEXT, key, value)) {
      fmt::FactKeyBytes got{};
      std::memcpy(got.data(), key.mv_data, std::min(key.mv_size, got.size()));
      const uint64_t messages = fmt::decodeFactValue(lmdb::toView(value));
      while (wantFact != want.facts.end() && wantFact->first < got) {
        factProblem(domain, wantFact->first, 0, wantFact->second);
        ++wantFact;
      }
      if (wantFact != want.facts.end() && wantFact->first == got) {
        if (wantFact->second != messages) {
          factProblem(domain, got, messages, wantFact->second);
        }
        ++wantFact;
      }
      else {
        factProblem(domain, got, messages, 0);
      }
      const fmt::FactKey fact = fmt::decodeFactKey(lmdb::toView(key));
      if (fact.ip != std::array<uint8_t, 16>{} && !d_txn.get(d_store.sources, fmt::sourceKey(domainId, fact.ip))) {
        problem(domain + ": source " + IpAddress{fact.ip}.toString() + " of a fact missing from sources");
      }
    }
    for (; wantFact != want.facts.end(); ++wantFact) {
      factProblem(domain, wantFact->first, 0, wantFact->second);
    }

    auto wantDay = want.days.begin();
    lmdb::Cursor days(d_txn.get(), d_store.days);
    for (bool ok = days.seek(prefix, key, value); ok && lmdb::toView(key).starts_with(prefix);
         ok = days.get(MDB_NEXT, key, value)) {
      const uint32_t day = fmt::readU32(static_cast<const uint8_t*>(key.mv_data) + 4);
      const DayTotals got = fmt::decodeDayTotals(lmdb::toView(value), day);
      for (; wantDay != want.days.end() && wantDay->first < day; ++wantDay) {
        dayProblem(domain, wantDay->first, DayTotals{}, wantDay->second);
      }
      if (wantDay != want.days.end() && wantDay->first == day) {
        if (got.messages != wantDay->second.messages || got.dmarcPass != wantDay->second.dmarcPass ||
            got.records != wantDay->second.records) {
          dayProblem(domain, day, got, wantDay->second);
        }
        ++wantDay;
      }
      else {
        dayProblem(domain, day, got, DayTotals{});
      }
    }
    for (; wantDay != want.days.end(); ++wantDay) {
      dayProblem(domain, wantDay->first, DayTotals{}, wantDay->second);
    }
  }

  void factProblem(const std::string& domain, const fmt::FactKeyBytes& bytes, uint64_t got, uint64_t want)
  {
    const fmt::FactKey fact =
      fmt::decodeFactKey(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    problem(domain + ": day " + std::to_string(fact.day) + " source " + IpAddress{fact.ip}.toString() +
            " header_from id " + std::to_string(fact.headerFromId) + " outcome id " + std::to_string(fact.outcomeId) +
            ": facts hold " + std::to_string(got) + " messages, the rows say " + std::to_string(want));
  }

  void dayProblem(const std::string& domain, uint32_t day, const DayTotals& got, const DayTotals& want)
  {
    auto text = [](const DayTotals& t) {
      return std::to_string(t.messages) + " messages, " + std::to_string(t.dmarcPass) + " pass, " +
             std::to_string(t.records) + " records";
    };
    problem(domain + ": day " + std::to_string(day) + ": day totals hold " + text(got) + ", the rows say " +
            text(want));
  }

  const Store::Impl& d_store;
  const lmdb::ReadTxn& d_txn;
  std::map<uint64_t, StoredReport> d_reports;
  std::unordered_map<uint32_t, OutcomeFacts> d_outcomeFacts;
  std::vector<std::string> d_problems;
  size_t d_dropped = 0;
};

} // namespace

std::vector<std::string> Store::verify() const
{
  lmdb::ReadTxn txn(d_impl->env);
  return Verifier(*d_impl, txn).run();
}

} // namespace dmarcwatch::collector
