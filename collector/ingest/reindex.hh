/*
 * reindex.hh - `dmarcwatch reindex`: rebuild the store from its raw archive
 * with the current parser, into a fresh store swapped in atomically.
 *
 * Every archived payload is parsed again once (a zip of N reports once), in
 * the order first stored, so dedup, supersede and conflict decisions fall as
 * they did.  Reports the new store cannot get from a payload are copied as
 * they are (Store::copyReport): those whose payload was not archived, and the
 * schema-1 reports of a domain where any of them has no payload (with that
 * domain's schema-1 aggregates report).  The new store must pass verify()
 * before it replaces the old one; the old one is kept beside it
 * (DIR.before-reindex-YYYYMMDDTHHMMSS) for the admin to delete.
 *
 * Needs the store alone (Store::Sharing::Exclusive): fails at once while the
 * milter or an ingest has it open read-write.  Errors: StoreError.
 */
#pragma once

#include "collector/common/limits.hh"
#include "collector/store/store.hh"

#include <string>
#include <vector>

namespace dmarcwatch::collector
{

struct ReindexResult
{
  uint64_t reportsBefore = 0;
  uint64_t reportsAfter = 0;
  uint64_t payloadsParsed = 0;
  uint64_t reportsCopied = 0;       //!< copied as they were (no payload, or kept schema-1 reports)
  std::vector<std::string> notes;   //!< what changed or could not be re-parsed, one line each
  std::string keptOldStore;         //!< where the old store is now
};

/*!
 * \brief Rebuild the store in dir (see the file comment).  options: as for any read-write open.
 * \throw StoreError (store in use, I/O, the new store failing verification: nothing swapped)
 */
ReindexResult reindexStore(const std::string& dir, const Store::Options& options, const Limits& limits);

} // namespace dmarcwatch::collector
