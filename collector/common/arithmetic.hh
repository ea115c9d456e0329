/*
 * arithmetic.hh - sums of counts that never wrap.
 *
 * Stored counts are checked when written (the store refuses a sum that would
 * overflow); views that add them up again across reports, sources or services
 * saturate instead, so a display can never show a small number for a huge one.
 * Thread-safety: pure.  Errors: none.
 */
#pragma once

#include <cstdint>

namespace dmarcwatch::collector
{

//! \brief a + b, or UINT64_MAX when that would wrap.
constexpr uint64_t saturatingAdd(uint64_t a, uint64_t b)
{
  uint64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? UINT64_MAX : sum;
}

/*!
 * \brief part of whole in whole percent, rounded down; 0 of nothing.  part is taken as at most
 * whole (saturated sums may leave it above), and the product cannot wrap.
 */
constexpr unsigned percentOf(uint64_t part, uint64_t whole)
{
  if (whole == 0) {
    return 0;
  }
  const uint64_t clamped = part < whole ? part : whole;
  return static_cast<unsigned>(static_cast<unsigned __int128>(clamped) * 100 / whole);
}

} // namespace dmarcwatch::collector
