/*
 * row-reader.hh - the rows of a domain's counted reports over a window of days,
 * each with the messages it adds to that window: what the totals are made of,
 * without reading the totals (status's table path; FactReader is the other way).
 *
 * Which rows count is decided by Store::Impl::countedRows (store.hh CountedRows):
 * the facts and days tables hold exactly the sum of those rows, so a reader that
 * sums them sees what one that reads the facts sees.  A row's messages in the window
 * are its day shares (aggregates.hh forEachDayShare) on the window's days.
 *
 * Cost: the domain's bydomain entries up to the window's end (they carry each
 * report's state, days and authenticity; an entry written before they did costs a
 * lookup of the record), and the row blocks of the reports that overlap the window
 * (and have a verdict asked for), read in place.
 *
 * Thread-safety: as its StoreSnapshot, which it must not outlive.  Holds three
 * LMDB cursors.  Errors: StoreError (a corrupt report value or row block).
 */
#pragma once

#include "collector/store/store-format.hh"
#include "collector/store/store.hh"

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <tuple>
#include <vector>

namespace dmarcwatch::collector
{

//! The verdicts a report can have (intake/report.hh Authenticity): the size of arrays indexed by one.
inline constexpr size_t s_authenticities = 3;
//! A set of verdicts: bit (1 << Authenticity) set for each one in it.
using AuthenticitySet = uint8_t;
constexpr AuthenticitySet authenticityBit(Authenticity authenticity)
{
  return static_cast<AuthenticitySet>(1U << static_cast<unsigned>(authenticity));
}
inline constexpr AuthenticitySet s_everyAuthenticity = 0x7;

//! A counted row and the messages it adds to the window (never 0: rows adding none are skipped).
struct WindowRow
{
  ReportRow row;
  uint64_t messages = 0;
  Authenticity authenticity = Authenticity::Unauthenticated; //!< of the report it is in
};

class RowReader
{
public:
  /*!
   * The counted rows of domainId's reports that add messages to days [fromDay, toDay]; of the
   * reports with a verdict in `verdicts` only (the others' rows are not read).
   */
  RowReader(const StoreSnapshot& snapshot, uint32_t domainId, uint32_t fromDay, uint32_t toDay,
            AuthenticitySet verdicts = s_everyAuthenticity);
  ~RowReader();
  RowReader(const RowReader&) = delete;
  RowReader& operator=(const RowReader&) = delete;

  //! \brief The next rows, up to out.size(). \return how many were read; 0 at the end. \throw StoreError
  size_t read(std::span<WindowRow> out);
  /*!
   * The reports whose rows were read so far (counted, overlapping the window, with a verdict
   * asked for, whether or not a row of theirs added messages), by verdict (index: Authenticity).
   */
  [[nodiscard]] const std::array<uint64_t, s_authenticities>& reportsRead() const;
  /*!
   * \brief The rest of the rows as their day shares on the window's days (aggregates.hh), one
   * RawFact each, appended to out in the order read (not the facts' key order). \throw StoreError
   */
  void readDayShares(std::vector<RawFact>& out);

private:
  struct Impl;
  std::unique_ptr<Impl> d_impl;
};

//! The facts' key order (day, IP, header_from id, outcome id) of a RawFact, for comparing.
inline auto factOrder(const RawFact& fact)
{
  return std::tie(fact.day, fact.ip, fact.headerFromId, fact.outcomeId);
}

/*!
 * \brief What the counted reports of domainId with a verdict in `verdicts` add to the facts of
 * days [fromDay, toDay]: their rows' day shares (aggregates.hh), as facts in the facts' key
 * order (day, IP, header_from id, outcome id), equal keys summed.  The facts table holds the
 * sum of every counted report's, so subtracting these from a scan of the facts
 * (StoreSnapshot::forEachRawFact, same order: a merge) leaves those reports out exactly.
 * Memory: one RawFact (40 bytes) per row and day of those reports in the window.  \throw StoreError
 */
std::vector<RawFact> windowFactsOf(const StoreSnapshot& snapshot, uint32_t domainId, uint32_t fromDay,
                                   uint32_t toDay, AuthenticitySet verdicts);

} // namespace dmarcwatch::collector
