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

} // namespace dmarcwatch::collector
