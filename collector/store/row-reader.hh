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
 * report's state and days; an entry written before they did costs a lookup of
 * the record), and the row blocks of the reports that overlap the window, read
 * in place.
 *
 * Thread-safety: as its StoreSnapshot, which it must not outlive.  Holds three
 * LMDB cursors.  Errors: StoreError (a corrupt report value or row block).
 */
#pragma once

#include "collector/store/store-format.hh"
#include "collector/store/store.hh"

#include <cstdint>
#include <memory>
#include <span>

namespace dmarcwatch::collector
{

//! A counted row and the messages it adds to the window (never 0: rows adding none are skipped).
struct WindowRow
{
  ReportRow row;
  uint64_t messages = 0;
};

class RowReader
{
public:
  //! The counted rows of domainId's reports that add messages to days [fromDay, toDay].
  RowReader(const StoreSnapshot& snapshot, uint32_t domainId, uint32_t fromDay, uint32_t toDay);
  ~RowReader();
  RowReader(const RowReader&) = delete;
  RowReader& operator=(const RowReader&) = delete;

  //! \brief The next rows, up to out.size(). \return how many were read; 0 at the end. \throw StoreError
  size_t read(std::span<WindowRow> out);

private:
  struct Impl;
  std::unique_ptr<Impl> d_impl;
};

} // namespace dmarcwatch::collector
