/*
 * reindex.cc - reindexStore (reindex.hh).
 */
#include "config.h"

#include "collector/ingest/reindex.hh"

#include "collector/common/text.hh"
#include "collector/ingest/ingest.hh"
#include "collector/store/lmdb.hh"
#include "collector/store/notify.hh"

#include <lmdb.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fcntl.h>
#include <map>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace dmarcwatch::collector
{

namespace
{

//! Source of the per-domain report the schema-1 upgrade made (upgrade.cc).
constexpr std::string_view s_schema1Source = "upgrade from store schema 1";

std::string timestamp(int64_t now)
{
  return formatUtc(now, "%Y%m%dT%H%M%S");
}

//! Give the new store's directory and files the owner and mode of the old one's (the files: the
//! directory's mode without x, and the group bits every store has, lmdb::shareWithGroup).
void copyOwnership(const std::string& from, const std::string& to)
{
  struct stat st{};
  if (::stat(from.c_str(), &st) != 0) {
    throw StoreError("reindex", errno, from);
  }
  auto setMode = [](const std::string& path, mode_t mode) {
    if (::chmod(path.c_str(), mode) != 0 && errno != ENOENT) {
      throw StoreError("reindex", errno, "chmod " + path);
    }
  };
  auto setOwner = [&st](const std::string& path) {
    if (::chown(path.c_str(), st.st_uid, st.st_gid) != 0 && errno != ENOENT) {
      throw StoreError("reindex", errno, "chown " + path);
    }
  };
  // The group bits while this user still owns the files (shareWithGroup changes only its own).
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(to)) {
    files.push_back(entry.path().string());
    setMode(files.back(), (st.st_mode & 0666) | S_IRUSR | S_IWUSR);
  }
  lmdb::shareWithGroup(to);
  for (const auto& file : files) {
    setOwner(file);
  }
  setOwner(to);
  setMode(to, st.st_mode & 07777);
}

} // namespace

ReindexResult reindexStore(const std::string& dir, const Store::Options& options, const Limits& limits)
{
  ReindexResult result;
  Store::Options exclusive = options;
  exclusive.readOnly = false;
  exclusive.sharing = Store::Sharing::Exclusive;
  const std::string fresh = dir + ".reindex-new";
  std::error_code ec;
  std::filesystem::remove_all(fresh, ec);
  if (ec) {
    throw StoreError("reindex", ec.value(), "cannot remove " + fresh);
  }

  const int64_t now = options.clock ? options.clock() : static_cast<int64_t>(std::time(nullptr));
  {
    Store old(dir, exclusive);
    Store rebuilt(fresh, exclusive);
    const std::vector<StoredReport> reports = old.listReports();
    result.reportsBefore = reports.size();
    // A re-parsed report keeps the verdict its mail earned (the mail is not archived, only its
    // payload): found among the old reports of the payload being parsed by what identifies it.
    // With the verdicts, which copy of a key wins comes out as it did.
    std::vector<const StoredReport*> ofPayload;
    IngestTrust keepVerdicts;
    keepVerdicts.outsideMail = [&ofPayload](const ReportHeader& header) {
      for (const StoredReport* before : ofPayload) {
        const auto& was = before->header;
        if (was.metadata.reportId == header.metadata.reportId && was.metadata.orgName == header.metadata.orgName &&
            lowerAscii(was.policy.domain) == lowerAscii(header.policy.domain) &&
            was.metadata.begin == header.metadata.begin && was.metadata.end == header.metadata.end) {
          return ReportVerdict{before->authenticity, before->authReason};
        }
      }
      return ReportVerdict{Authenticity::Unauthenticated, "not a mail"};
    };
    Ingester ingester(rebuilt, limits, &keepVerdicts);

    // Step: schema-1 domains that cannot be re-parsed whole keep their schema-1 reports as they are.
    std::set<std::string> keepSchema1;
    for (const auto& report : reports) {
      if (report.state == ReportState::Legacy && report.payloadId == 0) {
        keepSchema1.insert(lowerAscii(report.header.policy.domain));
      }
    }

    // Step: every report, in the order first stored.
    std::set<uint64_t> parsedPayloads;
    std::map<uint64_t, uint64_t> copiedPayloads;
    std::vector<const StoredReport*> quarantined;
    for (const auto& report : reports) {
      const std::string domain = lowerAscii(report.header.policy.domain);
      const bool schema1Aggregates = report.source == s_schema1Source;
      const std::string name = "report " + std::to_string(report.sequence) + " (" + report.header.metadata.orgName +
                               " " + report.header.metadata.reportId + ")";
      if (report.state == ReportState::Loading) {
        result.notes.push_back(name + ": was still loading, left out");
        continue;
      }
      if (schema1Aggregates || report.state == ReportState::Legacy) {
        if (keepSchema1.count(domain) != 0) {
          rebuilt.copyReport(old, report.sequence, copiedPayloads);
          ++result.reportsCopied;
          continue;
        }
        if (schema1Aggregates) {
          continue; // replaced by the re-parsed schema-1 reports of the domain
        }
      }
      if (report.payloadId == 0) {
        rebuilt.copyReport(old, report.sequence, copiedPayloads);
        ++result.reportsCopied;
        continue;
      }
      if (report.state == ReportState::Quarantined) {
        quarantined.push_back(&report);
      }
      if (!parsedPayloads.insert(report.payloadId).second) {
        continue;
      }
      auto payload = old.payload(report.payloadId);
      if (!payload) {
        throw StoreError("reindex", MDB_CORRUPTED, name + ": payload " + std::to_string(report.payloadId) + " missing");
      }
      const auto& bytes = payload->second;
      ofPayload.clear();
      for (const auto& other : reports) {
        if (other.payloadId == report.payloadId) {
          ofPayload.push_back(&other);
        }
      }
      IngestOutcome outcome = ingester.ingestPayload(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), report.source);
      ++result.payloadsParsed;
      for (const auto& error : outcome.errors) {
        result.notes.push_back(name + ": payload " + std::to_string(report.payloadId) + ": " + error);
      }
    }

    // Step: a quarantine is the admin's (or the authenticity check's) decision: it carries over.
    for (const StoredReport* report : quarantined) {
      for (const auto& candidate : rebuilt.listReports(report->header.policy.domain)) {
        if (candidate.state == ReportState::Active && candidate.contentHash == report->contentHash &&
            dedupKey(candidate.header) == dedupKey(report->header)) {
          rebuilt.setReportState(candidate.sequence, ReportState::Quarantined, report->stateReason);
        }
      }
    }

    result.reportsAfter = rebuilt.listReports().size();
    auto problems = rebuilt.verify();
    if (!problems.empty()) {
      throw StoreError("reindex", MDB_CORRUPTED,
                       "the rebuilt store " + fresh + " fails verification (" + problems.front() +
                         "); the old store is unchanged");
    }
  }

  // Step: swap the directories in one step, keep the old one beside.
  copyOwnership(dir, fresh);
  result.keptOldStore = dir + ".before-reindex-" + timestamp(now);
  if (::renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) == 0) {
    if (::rename(fresh.c_str(), result.keptOldStore.c_str()) != 0) {
      throw StoreError("reindex", errno, "swapped in; could not rename the old store " + fresh);
    }
  }
  else if (errno == EINVAL || errno == ENOSYS) {
    // A file system without RENAME_EXCHANGE: two renames (a moment without a store).
    if (::rename(dir.c_str(), result.keptOldStore.c_str()) != 0 || ::rename(fresh.c_str(), dir.c_str()) != 0) {
      throw StoreError("reindex", errno, "could not swap " + fresh + " in");
    }
  }
  else {
    throw StoreError("reindex", errno, "could not swap " + fresh + " in");
  }
  // Step: dmarcwatchd binds its socket in the new directory within a second (notify.hh); this
  // wakes it should it be there already, else its rebinding does.
  notifyStore(dir);
  return result;
}

} // namespace dmarcwatch::collector
