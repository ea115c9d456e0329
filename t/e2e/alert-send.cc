/*
 * alert-send.cc - sends one alert through AlertEmitter (t/e2e/syslog-ng-alerts.sh).
 *
 *   alert-send TARGET ID RULE DOMAIN SEVERITY MESSAGE [NAME=VALUE ...]
 *
 * TARGET as SyslogTarget ("unix:PATH", "udp:HOST:PORT", "tcp:HOST:PORT", "stderr",
 * "/dev/log"); SEVERITY err, warning, notice or info; the fields in order.  The alert
 * is raised now, from facility mail and app name "dmarcwatch" (the defaults).
 * Exit status: 0 when the line was handed over, 1 when it was dropped, 2 for bad usage
 * or a bad target.
 */
#include "config.h"

#include "collector/alerts/alert-emitter.hh"
#include "collector/common/errors.hh"

#include <cstdio>
#include <ctime>
#include <exception>
#include <string>
#include <string_view>

using namespace dmarcwatch::collector;

int main(int argc, char** argv)
{
  if (argc < 7) {
    fprintf(stderr, "usage: alert-send TARGET ID RULE DOMAIN SEVERITY MESSAGE [NAME=VALUE ...]\n");
    return 2;
  }
  Alert alert;
  alert.id = argv[2];
  alert.rule = argv[3];
  alert.domain = argv[4];
  alert.time = time(nullptr);
  alert.message = argv[6];
  bool known = false;
  for (AlertSeverity severity :
       {AlertSeverity::Error, AlertSeverity::Warning, AlertSeverity::Notice, AlertSeverity::Info}) {
    if (severityName(severity) == argv[5]) {
      alert.severity = severity;
      known = true;
    }
  }
  if (!known) {
    fprintf(stderr, "alert-send: unknown severity '%s'\n", argv[5]);
    return 2;
  }
  for (int i = 7; i < argc; ++i) {
    std::string_view field = argv[i];
    auto equals = field.find('=');
    if (equals == std::string_view::npos) {
      fprintf(stderr, "alert-send: field '%s' is not NAME=VALUE\n", argv[i]);
      return 2;
    }
    alert.fields.emplace_back(std::string(field.substr(0, equals)), std::string(field.substr(equals + 1)));
  }
  try {
    AlertSyslogOptions options;
    options.target = argv[1];
    AlertEmitter emitter(options);
    return emitter.emit(alert) ? 0 : 1;
  }
  catch (const ConfigError& e) {
    fprintf(stderr, "alert-send: %s\n", e.what());
    return 2;
  }
}
