/*
 * alert.cc - names of alert severities.
 */
#include "config.h"

#include "collector/alerts/alert.hh"

namespace dmarcwatch::collector
{

std::string_view severityName(AlertSeverity severity)
{
  switch (severity) {
  case AlertSeverity::Error:
    return "err";
  case AlertSeverity::Warning:
    return "warning";
  case AlertSeverity::Notice:
    return "notice";
  case AlertSeverity::Info:
    return "info";
  }
  return "notice";
}

} // namespace dmarcwatch::collector
