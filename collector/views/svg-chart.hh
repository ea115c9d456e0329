/*
 * svg-chart.hh - the charts of the HTML report (html-report.cc) as inline SVG:
 * stacked columns (volume per day), lines (pass rate per day) and horizontal
 * bars (failing messages per country), plus the HTML legend beside them.
 *
 * Each chart is one well-formed <svg> element with a viewBox and width 100%,
 * so it scales to the page (1280 px or a 400 px phone) and parses as XML.
 * Names (series, labels, titles) are untrusted and go through html-escape.hh;
 * colours are the caller's own constants, never text from the store.
 *
 * Thread-safety: pure functions.  Errors: none (bad_alloc).
 */
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

//! One coloured series: a value per column; NaN where it has none (a gap in a line).
struct ChartSeries
{
  std::string name;
  std::string colour; //!< a CSS colour of the caller's ("#1f77b4")
  std::vector<double> values;
};

//! What every column chart has: its accessible title and a label per column.
struct ChartFrame
{
  std::string title;               //!< the SVG's <title>
  std::vector<std::string> labels; //!< one per column; the first, middle and last are drawn
  std::string unit;                //!< after the y-axis numbers: "" or "%"
};

//! \brief Columns with the series stacked bottom-up in their order (NaN counts as 0).
std::string svgStackedColumns(const ChartFrame& frame, const std::vector<ChartSeries>& series);

//! \brief A line per series over the columns, from 0 to maxValue (100 for a rate).
std::string svgLines(const ChartFrame& frame, const std::vector<ChartSeries>& series, double maxValue);

//! One labelled bar.
struct ChartBar
{
  std::string label;
  uint64_t value = 0;
  std::string colour;
};

//! \brief Horizontal bars, one row each, longest to scale, value printed after the bar.
std::string svgBars(std::string_view title, const std::vector<ChartBar>& bars);

//! \brief The series' names with their colours as an HTML list (wraps on a narrow page).
std::string chartLegend(const std::vector<ChartSeries>& series);

} // namespace dmarcwatch::collector
