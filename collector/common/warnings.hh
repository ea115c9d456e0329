/*
 * warnings.hh - per-report list of tolerated oddities.
 *
 * Every quirk the parser or unpacker forgives becomes one short warning
 * ("gzip: 2 bytes of trailing garbage ignored").  The list is capped so a
 * hostile report cannot grow it; repeats of the same text are kept once.
 */
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace dmarcwatch::collector
{

class Warnings
{
public:
  explicit Warnings(uint32_t cap = 64) :
    d_cap(cap) {}
  void add(std::string text)
  {
    if (std::find(d_items.begin(), d_items.end(), text) != d_items.end()) {
      return;
    }
    if (d_items.size() < d_cap) {
      d_items.push_back(std::move(text));
    }
    else {
      ++d_dropped;
    }
  }
  void merge(const Warnings& other)
  {
    for (const auto& w : other.d_items) {
      add(w);
    }
    d_dropped += other.d_dropped;
  }
  [[nodiscard]] const std::vector<std::string>& items() const { return d_items; }
  [[nodiscard]] uint64_t dropped() const { return d_dropped; }
  [[nodiscard]] bool empty() const { return d_items.empty(); }

private:
  uint32_t d_cap;
  std::vector<std::string> d_items;
  uint64_t d_dropped = 0;
};

} // namespace dmarcwatch::collector
