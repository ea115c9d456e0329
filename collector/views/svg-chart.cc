/*
 * svg-chart.cc - inline SVG charts for the HTML report (svg-chart.hh).
 *
 * Coordinates are in a 640-unit-wide viewBox; the page scales it.  Numbers are
 * printed with one decimal so the output is the same on every run.
 */
#include "config.h"

#include "collector/views/svg-chart.hh"

#include "collector/views/html-escape.hh"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dmarcwatch::collector
{

namespace
{

constexpr double s_width = 640;
constexpr double s_height = 220;
constexpr double s_left = 58; //!< room for the y-axis numbers
constexpr double s_right = 8;
constexpr double s_top = 10;
constexpr double s_bottom = 24; //!< room for the day labels
constexpr double s_plotWidth = s_width - s_left - s_right;
constexpr double s_plotHeight = s_height - s_top - s_bottom;
//! Up to this many columns every point of a line gets a dot; beyond, only lone points.
constexpr size_t s_dottedColumns = 62;
//! Characters of a bar's label.
constexpr size_t s_barLabelChars = 22;

//! A coordinate: one decimal is finer than a pixel at any width the page is read at.
std::string num(double value)
{
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", value);
  return buf;
}

//! An axis number: "950", "12k", "1.5M" (the y axis has little room).
std::string compact(double value, std::string_view unit)
{
  char buf[32];
  if (value >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.3gM", value / 1e6);
  }
  else if (value >= 1e4) {
    std::snprintf(buf, sizeof buf, "%.3gk", value / 1e3);
  }
  else {
    std::snprintf(buf, sizeof buf, "%.0f", value);
  }
  return std::string(buf) + std::string(unit);
}

//! The top of the y axis: the smallest 1, 2 or 5 times a power of ten at or above max.
double niceMax(double max)
{
  if (!(max > 0)) {
    return 1;
  }
  const double power = std::pow(10.0, std::floor(std::log10(max)));
  for (double step : {1.0, 2.0, 5.0, 10.0}) {
    if (step * power >= max) {
      return step * power;
    }
  }
  return 10 * power;
}

//! Inline SVG in HTML needs no xmlns (and the page names no URL at all).
void openSvg(std::string& out, std::string_view title, double height, std::string_view cssClass = "chart")
{
  out += "<svg viewBox=\"0 0 " + num(s_width) + " " + num(height) + "\" width=\"100%\" role=\"img\" class=\"" +
         std::string(cssClass) + "\"><title>";
  appendEscaped(out, title, 200);
  out += "</title>";
}

//! Grid lines and numbers at 0, half and the top; the first, middle and last column labels.
void drawAxes(std::string& out, const ChartFrame& frame, double top)
{
  for (double part : {0.0, 0.5, 1.0}) {
    const double y = s_top + s_plotHeight * (1 - part);
    out += "<line x1=\"" + num(s_left) + "\" y1=\"" + num(y) + "\" x2=\"" + num(s_width - s_right) + "\" y2=\"" +
           num(y) + "\" stroke=\"#d0d7de\" stroke-width=\"1\"/>";
    out += "<text x=\"" + num(s_left - 4) + "\" y=\"" + num(y + 4) + "\" font-size=\"14\" text-anchor=\"end\" fill=\"#57606a\">";
    appendEscaped(out, compact(top * part, frame.unit));
    out += "</text>";
  }
  const size_t n = frame.labels.size();
  if (n == 0) {
    return;
  }
  const double column = s_plotWidth / static_cast<double>(n);
  const std::vector<std::pair<size_t, const char*>> marks = n == 1 ? std::vector<std::pair<size_t, const char*>>{{0, "middle"}}
    : std::vector<std::pair<size_t, const char*>>{{0, "start"}, {n / 2, "middle"}, {n - 1, "end"}};
  for (const auto& [index, anchor] : marks) {
    double x = s_left + column * (static_cast<double>(index) + 0.5);
    if (n > 1 && index == 0) {
      x = s_left;
    }
    else if (n > 1 && index == n - 1) {
      x = s_width - s_right;
    }
    out += "<text x=\"" + num(x) + "\" y=\"" + num(s_height - 6) + "\" font-size=\"14\" text-anchor=\"" + anchor +
           "\" fill=\"#57606a\">";
    appendEscaped(out, frame.labels[index], 40);
    out += "</text>";
  }
}

//! A column chart's start: the svg element, its title and the axes up to top.
std::string openColumnChart(const ChartFrame& frame, double top)
{
  std::string out;
  openSvg(out, frame.title, s_height);
  drawAxes(out, frame, top);
  return out;
}

//! A mark's tooltip: "<title>2024-06-01 SendGrid: 140</title>".
void appendTooltip(std::string& out, std::string_view label, std::string_view name, const std::string& value)
{
  out += "<title>";
  appendEscaped(out, label, 40);
  out += ' ';
  appendEscaped(out, name);
  out += ": " + value + "</title>";
}

double valueOr0(double value)
{
  return std::isfinite(value) && value > 0 ? value : 0;
}

} // namespace

std::string svgStackedColumns(const ChartFrame& frame, const std::vector<ChartSeries>& series)
{
  // Step: the tallest stack sets the axis.
  const size_t n = frame.labels.size();
  double max = 0;
  for (size_t i = 0; i < n; ++i) {
    double sum = 0;
    for (const auto& s : series) {
      sum += i < s.values.size() ? valueOr0(s.values[i]) : 0;
    }
    max = std::max(max, sum);
  }
  const double top = niceMax(max);
  std::string out = openColumnChart(frame, top);
  if (n == 0) {
    return out + "</svg>";
  }
  // Step: a rectangle per series and column, a tooltip each; thin columns lose their gap.
  const double column = s_plotWidth / static_cast<double>(n);
  const double gap = column >= 4 ? column * 0.15 : 0;
  for (size_t i = 0; i < n; ++i) {
    double base = 0;
    for (const auto& s : series) {
      const double value = i < s.values.size() ? valueOr0(s.values[i]) : 0;
      if (value == 0) {
        continue;
      }
      const double y0 = s_top + s_plotHeight * (1 - base / top);
      const double y1 = s_top + s_plotHeight * (1 - (base + value) / top);
      base += value;
      out += "<rect x=\"" + num(s_left + column * static_cast<double>(i) + gap / 2) + "\" y=\"" + num(y1) +
             "\" width=\"" + num(std::max(column - gap, 0.5)) + "\" height=\"" + num(std::max(y0 - y1, 0.5)) +
             "\" fill=\"" + s.colour + "\">";
      appendTooltip(out, frame.labels[i], s.name, compact(value, ""));
      out += "</rect>";
    }
  }
  return out + "</svg>";
}

std::string svgLines(const ChartFrame& frame, const std::vector<ChartSeries>& series, double maxValue)
{
  const size_t n = frame.labels.size();
  const double top = maxValue > 0 ? maxValue : 1;
  std::string out = openColumnChart(frame, top);
  if (n == 0) {
    return out + "</svg>";
  }
  const double column = s_plotWidth / static_cast<double>(n);
  const auto x = [&](size_t i) { return s_left + column * (static_cast<double>(i) + 0.5); };
  const auto y = [&](double v) { return s_top + s_plotHeight * (1 - std::clamp(v, 0.0, top) / top); };
  for (const auto& s : series) {
    // Step: the path, broken where the series has no value; then the dots (every point of a
    // short chart, else the lone points a path cannot show).
    std::string path;
    bool drawing = false;
    std::string dots;
    for (size_t i = 0; i < n; ++i) {
      const bool has = i < s.values.size() && std::isfinite(s.values[i]);
      if (!has) {
        drawing = false;
        continue;
      }
      path += (drawing ? " L" : " M") + num(x(i)) + " " + num(y(s.values[i]));
      const bool alone = !drawing && (i + 1 >= n || i + 1 >= s.values.size() || !std::isfinite(s.values[i + 1]));
      if (n <= s_dottedColumns || alone) {
        dots += "<circle cx=\"" + num(x(i)) + "\" cy=\"" + num(y(s.values[i])) + "\" r=\"2.5\" fill=\"" + s.colour + "\">";
        appendTooltip(dots, frame.labels[i], s.name, num(s.values[i]) + frame.unit);
        dots += "</circle>";
      }
      drawing = true;
    }
    if (!path.empty()) {
      out += "<path d=\"" + path.substr(1) + "\" fill=\"none\" stroke=\"" + s.colour +
             "\" stroke-width=\"2\" stroke-linejoin=\"round\"/>";
    }
    out += dots;
  }
  return out + "</svg>";
}

std::string svgBars(std::string_view title, const std::vector<ChartBar>& bars)
{
  constexpr double row = 22;
  constexpr double labelWidth = 170;
  constexpr double valueWidth = 70;
  const double height = std::max(1.0, static_cast<double>(bars.size())) * row + 8;
  uint64_t max = 1;
  for (const auto& bar : bars) {
    max = std::max(max, bar.value);
  }
  std::string out;
  openSvg(out, title, height, "chart bars");
  double y = 4;
  for (const auto& bar : bars) {
    const double width = (s_width - labelWidth - valueWidth) * static_cast<double>(bar.value) / static_cast<double>(max);
    out += "<text x=\"" + num(labelWidth - 6) + "\" y=\"" + num(y + 15) + "\" font-size=\"13\" text-anchor=\"end\" fill=\"#1f2328\">";
    appendEscaped(out, bar.label, s_barLabelChars);
    out += "</text><rect x=\"" + num(labelWidth) + "\" y=\"" + num(y + 2) + "\" width=\"" + num(std::max(width, 1.0)) +
           "\" height=\"" + num(row - 6) + "\" fill=\"" + bar.colour + "\"/><text x=\"" +
           num(labelWidth + std::max(width, 1.0) + 4) + "\" y=\"" + num(y + 15) + "\" font-size=\"13\" fill=\"#1f2328\">" +
           std::to_string(bar.value) + "</text>";
    y += row;
  }
  return out + "</svg>";
}

std::string chartLegend(const std::vector<ChartSeries>& series)
{
  std::string out = "<ul class=\"legend\">";
  for (const auto& s : series) {
    out += "<li><i style=\"background:" + s.colour + "\"></i>";
    appendEscaped(out, s.name, 40);
    out += "</li>";
  }
  return out + "</ul>";
}

} // namespace dmarcwatch::collector
