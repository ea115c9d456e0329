/*
 * config.cc - the configuration table and its parser.
 *
 * s_keys below is the only place a key is named.  Parsing, validation,
 * --dump-config and the documentation check (t/unit/test-config.cc compares
 * it with conf/dmarcwatch.conf) all walk it, so a key cannot be added in one
 * place and forgotten in another.
 */
#include "config.h"

#include "collector/common/config.hh"

#include "collector/common/config-keys.hh"
#include "collector/common/resolver-spec.hh"
#include "collector/common/errors.hh"
#include "collector/common/socket-spec.hh"
#include "collector/common/text.hh"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <map>
#include <sstream>
#include <utility>

#include <sys/stat.h>

namespace dmarcwatch::collector
{
namespace
{

//! Where a value came from, for error messages.
struct Origin
{
  const std::string& file;
  unsigned line;
  [[noreturn]] void fail(const std::string& message) const { throw ConfigError(file, line, message); }
};

enum class Kind
{
  String,
  Size,
  Count,
  Mode, //!< octal file permissions ("0660")
  Duration, //!< seconds, or with a unit: "30s", "10m", "2h", "1d" (as Postfix writes time)
  Choice,
  Flag,
  List
};

struct KeyDef
{
  const char* name;
  Kind kind;
  const char* defaultValue; //!< as written in the file; "" = unset
  uint64_t min;
  uint64_t max;
  const char* choices; //!< for Choice: "a|b"
  const char* help;
  std::function<void(Config&, std::string_view, uint64_t, const Origin&)> apply;
};

std::string toOctal(uint64_t number)
{
  std::ostringstream out;
  out << std::showbase << std::oct << number; // 0 -> "0", 432 -> "0660"
  return out.str();
}

uint64_t parseNumber(const KeyDef& key, std::string_view value, const Origin& where)
{
  uint64_t number = 0;
  bool ok = false;
  if (key.kind == Kind::Size) {
    ok = parseSize(value, number);
  }
  else if (key.kind == Kind::Duration) {
    ok = parseDuration(value, number);
  }
  else if (key.kind == Kind::Mode) {
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), number, 8);
    ok = ec == std::errc() && ptr == value.data() + value.size();
  }
  else {
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    ok = ec == std::errc() && ptr == value.data() + value.size();
  }
  if (!ok) {
    where.fail(std::string(key.name) + ": '" + std::string(value) + "' is not " +
               (key.kind == Kind::Size       ? "a size (like 512K, 64M, 2G)"
                : key.kind == Kind::Mode     ? "an octal mode (like 0660)"
                : key.kind == Kind::Duration ? "a time (like 30s, 10m, 2h)"
                                             : "a number"));
  }
  if (number < key.min || number > key.max) {
    if (key.kind == Kind::Mode) {
      where.fail(std::string(key.name) + ": " + std::string(value) + " is outside " + toOctal(key.min) + ".." +
                 toOctal(key.max));
    }
    const char* unit = key.kind == Kind::Duration ? "s" : "";
    where.fail(std::string(key.name) + ": " + std::to_string(number) + unit + " is outside " +
               std::to_string(key.min) + unit + ".." + std::to_string(key.max) + unit);
  }
  return number;
}

ReportAddress parseAddress(std::string_view text, const Origin& where)
{
  auto at = text.rfind('@');
  if (at == std::string_view::npos || at + 1 == text.size()) {
    where.fail("ReportAddress: '" + std::string(text) + "' is not an address (local@domain or @domain)");
  }
  ReportAddress address;
  address.local = std::string(text.substr(0, at));
  address.domain = lowerAscii(text.substr(at + 1));
  return address;
}

//! \brief "192.0.2.0/24 = Head office MX" (a bare address is a /32 or /128).
OwnNetwork parseNetwork(std::string_view text, const Origin& where)
{
  auto eq = text.find('=');
  auto name = eq == std::string_view::npos ? std::string_view{} : trimAscii(text.substr(eq + 1));
  auto cidr = trimAscii(text.substr(0, eq));
  if (name.empty() || name.size() > 100) {
    where.fail(std::string(keys::network) + ": write ADDRESS/PREFIX = NAME (a name of 1 to 100 characters)");
  }
  OwnNetwork network;
  auto slash = cidr.find('/');
  auto ip = IpAddress::parse(cidr.substr(0, slash));
  if (!ip) {
    where.fail(std::string(keys::network) + ": '" + std::string(cidr) + "' is not an IPv4 or IPv6 network");
  }
  unsigned maxPrefix = ip->isV4() ? 32 : 128;
  unsigned prefix = maxPrefix;
  if (slash != std::string_view::npos) {
    auto digits = cidr.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || digits.empty() || prefix > maxPrefix) {
      where.fail(std::string(keys::network) + ": bad prefix length in '" + std::string(cidr) + "' (0 to " +
                 std::to_string(maxPrefix) + ")");
    }
  }
  network.address = *ip;
  network.prefix = prefix + (ip->isV4() ? 96 : 0);
  network.name = std::string(name);
  network.line = where.line;
  // Host bits set usually means a typo in the prefix: refuse rather than guess.
  for (unsigned bit = network.prefix; bit < 128; ++bit) {
    if ((network.address.bytes[bit / 8] & (0x80U >> (bit % 8))) != 0) {
      where.fail(std::string(keys::network) + ": '" + std::string(cidr) + "' has host bits set");
    }
  }
  return network;
}

//! \brief "example.com google-workspace sendgrid": a domain and at least one service id.
Authorization parseAuthorization(std::string_view text, const Origin& where)
{
  std::istringstream words{std::string(text)};
  std::string word;
  Authorization authorization;
  authorization.line = where.line;
  words >> word;
  authorization.domain = lowerAscii(word);
  if (!isDomainName(authorization.domain)) {
    where.fail(std::string(keys::authorize) + ": '" + word + "' is not a domain name");
  }
  while (words >> word) {
    auto id = lowerAscii(word);
    bool ok = id.size() <= 63 && id.front() != '-' && std::all_of(id.begin(), id.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
    if (!ok) {
      where.fail(std::string(keys::authorize) + ": '" + word + "' is not a service id");
    }
    authorization.services.push_back(std::move(id));
  }
  if (authorization.services.empty()) {
    where.fail(std::string(keys::authorize) + ": write DOMAIN SERVICE... (at least one service id)");
  }
  return authorization;
}

//! \brief AlertRules: "all", "none" or rule names. \return the enabled rules
std::vector<std::string> parseAlertRules(std::string_view text, const Origin& where)
{
  std::vector<std::string> rules;
  std::istringstream words{std::string(text)};
  std::string word;
  while (words >> word) {
    word = lowerAscii(word);
    if (word == "all") {
      rules.assign(std::begin(s_alertRuleNames), std::end(s_alertRuleNames));
    }
    else if (word != "none") {
      if (std::find(std::begin(s_alertRuleNames), std::end(s_alertRuleNames), word) == std::end(s_alertRuleNames)) {
        std::string names;
        for (auto name : s_alertRuleNames) {
          names += " ";
          names += name;
        }
        where.fail(std::string(keys::alertRules) + ": unknown rule '" + word + "' (all, none or:" + names + ")");
      }
      if (std::find(rules.begin(), rules.end(), word) == rules.end()) {
        rules.push_back(word);
      }
    }
  }
  return rules;
}

UntrustedAction parseUntrustedAction(std::string_view value)
{
  if (value == "count") {
    return UntrustedAction::Count;
  }
  if (value == "quarantine") {
    return UntrustedAction::Quarantine;
  }
  return value == "reject" ? UntrustedAction::Reject : UntrustedAction::Flag;
}

FailureAction parseFailureAction(std::string_view value)
{
  return value == "tempfail" ? FailureAction::Tempfail : FailureAction::Accept;
}

bool flagValue(std::string_view value)
{
  auto v = lowerAscii(value);
  return v == "yes" || v == "true" || v == "on" || v == "1";
}

constexpr uint64_t s_kib = 1024;
constexpr uint64_t s_mib = s_kib * 1024;
constexpr uint64_t s_gib = s_mib * 1024;
constexpr uint64_t s_tib = s_gib * 1024;

// The table. Defaults here must equal the member initialisers in config.hh / limits.hh
// (test-config checks that parsing the dumped defaults gives a default Config).
const std::vector<KeyDef>& keyTable()
{
  static const std::vector<KeyDef> s_keys = {
    {keys::socket, Kind::String, "inet:8895@127.0.0.1", 0, 0, nullptr,
     "Where the milter listens: inet:PORT@HOST, inet6:PORT@HOST, inet:PORT (loopback only:\n"
     "127.0.0.1, ::1 for inet6; to listen on every address write @0.0.0.0 or @:: and firewall\n"
     "the port: whoever reaches it can feed reports) or unix:PATH (local:PATH), such as\n"
     "unix:" RUNSTATEDIR "/dmarcwatch/milter.sock.  A unix socket costs the MTA a little less\n"
     "per connection.  A socket a running milter listens on is\n"
     "never taken over (exit 1); a stale one left by a crash is replaced.",
     [](Config& c, std::string_view v, uint64_t, const Origin& o) {
       try {
         parseSocketSpec(std::string(v));
       }
       catch (const std::invalid_argument& e) {
         o.fail(e.what());
       }
       c.socket = v;
     }},
    {keys::socketMode, Kind::Mode, "0660", 0, 0777, nullptr,
     "Permissions (octal) of a unix Socket, set after it is created and owned by UserID;\n"
     "the MTA must be able to connect (Postfix: add postfix to the milter's group).\n"
     "Ignored for inet sockets.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.socketMode = static_cast<uint32_t>(n); }},
    {keys::reportAddress, Kind::List, "", 0, 0, nullptr,
     "The rua mailbox(es) whose mail holds reports: local@domain, or @domain for a whole domain.\n"
     "Several may be given, separated by commas or spaces, and the key may repeat.\n"
     "Domains and local parts compare case-insensitively.  Without one, dmarcwatch-milter does not start (exit 2).",
     [](Config& c, std::string_view v, uint64_t, const Origin& o) {
       std::string item;
       std::istringstream in{std::string(v)};
       while (std::getline(in, item, ',')) {
         std::istringstream words(item);
         std::string word;
         while (words >> word) {
           c.reportAddresses.push_back(parseAddress(word, o));
         }
       }
     }},
    {keys::reportAction, Kind::Choice, "keep", 0, 0, "keep|discard",
     "keep: deliver report mail as usual (with an X-DMARCwatch header).\n"
     "discard: drop it once stored (only the rua recipient is removed when there are others).",
     [](Config& c, std::string_view v, uint64_t, const Origin&) {
       c.reportAction = v == "discard" ? ReportAction::Discard : ReportAction::Keep;
     }},
    {keys::onStoreError, Kind::Choice, "tempfail", 0, 0, "tempfail|accept",
     "When a report cannot be stored (disk full, map full, lock): tempfail makes the MTA retry\n"
     "later (dedup makes the retry safe); accept lets the mail through unrecorded.",
     [](Config& c, std::string_view v, uint64_t, const Origin&) { c.onStoreError = parseFailureAction(v); }},
    {keys::onParseError, Kind::Choice, "accept", 0, 0, "accept|tempfail",
     "When a report message cannot be read: accept delivers it with the error in the header\n"
     "(ReportAction discard never discards such mail); tempfail asks the MTA to retry.",
     [](Config& c, std::string_view v, uint64_t, const Origin&) { c.onParseError = parseFailureAction(v); }},
    {keys::addHeader, Kind::Flag, "yes", 0, 0, nullptr,
     "Add X-DMARCwatch: stored|duplicate|error; ... to report mail that is delivered.",
     [](Config& c, std::string_view v, uint64_t, const Origin&) { c.addHeader = flagValue(v); }},
    {keys::userId, Kind::String, "", 0, 0, nullptr,
     "user[:group] the milter runs as after opening its socket (empty: stay as started).",
     [](Config& c, std::string_view v, uint64_t, const Origin&) { c.userId = v; }},
    {keys::pidFile, Kind::String, "", 0, 0, nullptr,
     "File the milter writes its process id to (empty: none), such as\n"
     RUNSTATEDIR "/dmarcwatch/dmarcwatch-milter.pid.  One that names a running process is\n"
     "not overwritten (exit 1).",
     [](Config& c, std::string_view v, uint64_t, const Origin&) { c.pidFile = v; }},
    {keys::memoryBufferSize, Kind::Size, "1M", 0, s_gib, nullptr,
     "Bytes of a report message kept in memory; the rest goes to a private temporary file.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.memoryBufferBytes = n; }},
    {keys::tempDirectory, Kind::String, "/tmp", 0, 0, nullptr,
     "Directory for the temporary files of large report messages.",
     [](Config& c, std::string_view v, uint64_t, const Origin&) { c.tempDirectory = v; }},
    {keys::commandTimeout, Kind::Duration, "7210s", 1, 86400, nullptr,
     "An MTA connection that sends nothing for this long (in the middle of a command or\n"
     "between two), or does not read our replies for this long, is closed (libmilter's\n"
     "default; the MTA's own milter timeouts are shorter and end a dead connection first).",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.commandTimeout = std::chrono::seconds(n); }},
    {keys::progressInterval, Kind::Duration, "30s", 1, 3600, nullptr,
     "While a report waits for the store (another program writing a large report), the\n"
     "milter tells the MTA it is still working this often (SMFIR_PROGRESS), so the MTA's\n"
     "end-of-message timeout (Postfix milter_content_timeout, Sendmail T=E) does not expire.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.progressInterval = std::chrono::seconds(n); }},
    {keys::database, Kind::String, LOCALSTATEDIR "/lib/dmarcwatch", 0, 0, nullptr,
     "Directory of the LMDB store shared by dmarcwatch-milter, dmarcwatchd and dmarcwatch.\n"
     "It must exist (only dmarcwatch ingest --db DIR creates one).  Its group may read the\n"
     "store: an admin in that group can run dmarcwatch status.",
     [](Config& c, std::string_view v, uint64_t, const Origin&) { c.database = v; }},
    {keys::mapSize, Kind::Size, "64M", s_mib, 4 * s_tib, nullptr,
     "LMDB map size at start (address space; the file grows as used).  No more than\n"
     "MaxDatabaseSize.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.mapSize = n; }},
    {keys::maxDatabaseSize, Kind::Size, "8G", s_mib, 4 * s_tib, nullptr,
     "The most the store may grow to: a full map doubles, up to this size; past it storing\n"
     "fails with MDB_MAP_FULL (the milter answers as OnStoreError says).  A full file system\n"
     "is an error too (ENOSPC), never a crash.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.maxDatabaseSize = n; }},
    {keys::syslogTarget, Kind::String, "/dev/log", 0, 0, nullptr,
     "Where log lines go: /dev/log (syslog(3)), unix:PATH, udp:HOST:PORT or tcp:HOST:PORT\n"
     "(RFC 5424), or stderr.  Programs run with -f log to stderr.  dmarcwatchd's alerts go\n"
     "here too (also with -f), always as RFC 5424 with structured data: point it at a source\n"
     "that parses RFC 5424 (contrib/syslog-ng/dmarcwatch.conf); /dev/log sources usually do not.",
     [](Config& c, std::string_view v, uint64_t, const Origin& o) {
       if (!(v == "/dev/log" || v == "stderr" || v.starts_with("unix:") || v.starts_with("udp:") ||
             v.starts_with("tcp:"))) {
         o.fail("SyslogTarget: '" + std::string(v) + "' must be /dev/log, stderr, unix:PATH, udp:HOST:PORT or tcp:HOST:PORT");
       }
       c.syslogTarget = v;
     }},
    {keys::syslogFacility, Kind::Choice, "mail", 0, 0,
     "mail|daemon|user|local0|local1|local2|local3|local4|local5|local6|local7",
     "Syslog facility of every log line.",
     [](Config& c, std::string_view v, uint64_t, const Origin&) { c.syslogFacility = v; }},
    {keys::resolver, Kind::String, "none", 0, 0, nullptr,
     "DNS server dmarcwatchd asks: an address with an optional @PORT (every question is\n"
     "forwarded there), system (/etc/resolv.conf), or none to work offline (every DNS\n"
     "result is unknown).  The milter never uses DNS.",
     [](Config& c, std::string_view v, uint64_t, const Origin& o) {
       try {
         ResolverSpec::parse(v);
       }
       catch (const ConfigError& e) {
         o.fail(e.what());
       }
       c.resolver = v;
     }},
    {keys::serviceCatalog, Kind::String, PKGDATADIR "/services", 0, 0, nullptr,
     "Directory of the shipped service catalog: every *.services file in it is read at start\n"
     "(format: contrib/services/README).  none: read no catalog (only ServiceFile).",
     [](Config& c, std::string_view v, uint64_t, const Origin&) { c.serviceCatalog = v; }},
    {keys::serviceFile, Kind::List, "", 0, 0, nullptr,
     "A file of your own services, in the catalog's format, read after ServiceCatalog; the\n"
     "key may repeat.  An id already in the catalog, or a rule another service claims\n"
     "exclusively, is an error.",
     [](Config& c, std::string_view v, uint64_t, const Origin&) { c.serviceFiles.emplace_back(v); }},
    {keys::network, Kind::List, "", 0, 0, nullptr,
     "One of your own networks and its name: ADDRESS/PREFIX = NAME, e.g.\n"
     "192.0.2.0/24 = Head office MX.  Mail from it is yours (authorized); the most specific\n"
     "network names a source.  The key may repeat; the same network twice is an error.",
     [](Config& c, std::string_view v, uint64_t, const Origin& o) {
       auto network = parseNetwork(v, o);
       for (const auto& other : c.ownNetworks) {
         if (other.address == network.address && other.prefix == network.prefix) {
           o.fail(std::string(keys::network) + ": " + network.toString() + " already given at line " +
                  std::to_string(other.line));
         }
       }
       c.ownNetworks.push_back(std::move(network));
     }},
    {keys::authorize, Kind::List, "", 0, 0, nullptr,
     "Services allowed to send as a domain: DOMAIN SERVICE..., e.g.\n"
     "example.com google-workspace sendgrid (ids from the catalog or a ServiceFile; an\n"
     "unknown id is an error).  The key may repeat; lines for one domain add up.",
     [](Config& c, std::string_view v, uint64_t, const Origin& o) {
       c.authorizations.push_back(parseAuthorization(v, o));
     }},
    {keys::suspiciousMessages, Kind::Count, "100", 1, UINT32_MAX, nullptr,
     "A source that fails DMARC, is no known service and sends at least this many\n"
     "messages in the window shown is classed suspicious (fewer: unknown).",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.suspiciousMessages = n; }},
    {keys::geoIpCountry, Kind::String, "", 0, 0, nullptr,
     "MMDB file giving the country of a source address (ISO 3166 code), read by the daemon\n"
     "through libmaxminddb.  Unset or none: countries stay unknown.  Layouts read:\n"
     "ip-location-db's geo-whois-asn-country (country_code; fetched by\n"
     "contrib/geoip/fetch-geoip.sh) and MaxMind GeoLite2-Country (country.iso_code).\n"
     "A missing or broken file is an error at start.",
     [](Config& c, std::string_view v, uint64_t, const Origin&) { c.geoIpCountry = v == "none" ? "" : v; }},
    {keys::geoIpAsn, Kind::String, "", 0, 0, nullptr,
     "MMDB file giving the AS number and organisation of a source address.  Unset or none:\n"
     "unknown.  Layout read: autonomous_system_number and autonomous_system_organization, as\n"
     "in MaxMind GeoLite2-ASN and in the file contrib/geoip/fetch-geoip.sh converts from\n"
     "ip-location-db's asn CSV.  A missing or broken file is an error at start.",
     [](Config& c, std::string_view v, uint64_t, const Origin&) { c.geoIpAsn = v == "none" ? "" : v; }},
    {keys::daemonPidFile, Kind::String, "", 0, 0, nullptr,
     "File dmarcwatchd writes its process id to (empty: none), such as\n"
     RUNSTATEDIR "/dmarcwatch/dmarcwatchd.pid.  One that names a running process is not\n"
     "overwritten (exit 1).",
     [](Config& c, std::string_view v, uint64_t, const Origin&) { c.daemonPidFile = v; }},
    {keys::pollInterval, Kind::Duration, "60s", 1, 3600, nullptr,
     "dmarcwatchd wakes within a second of a report stored by the milter or dmarcwatch\n"
     "(a datagram on DATABASE/dmarcwatchd.sock); without one it looks for new reports\n"
     "this often.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.pollInterval = std::chrono::seconds(n); }},
    {keys::enrichInterval, Kind::Duration, "1h", 60, 7 * 86400, nullptr,
     "How often dmarcwatchd re-checks every source whose DNS answers expired and judges\n"
     "every domain by the rules that depend on time (report-gap, dns-change,\n"
     "enforcement-ready).  New reports are judged as they arrive.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.enrichInterval = std::chrono::seconds(n); }},
    {keys::alertRules, Kind::String, "all", 0, 0, nullptr,
     "The alert rules dmarcwatchd applies: all, none, or rule names separated by spaces:\n"
     "new-sender unknown-sender spoofing enforcement-blocker pass-rate-change report-gap\n"
     "dns-change enforcement-ready.",
     [](Config& c, std::string_view v, uint64_t, const Origin& o) { c.alerts.rules = parseAlertRules(v, o); }},
    {keys::alertFacility, Kind::Choice, "mail", 0, 0,
     "mail|daemon|user|local0|local1|local2|local3|local4|local5|local6|local7",
     "Syslog facility of the alerts (they go to SyslogTarget; the severity is the rule's).",
     [](Config& c, std::string_view v, uint64_t, const Origin&) { c.alerts.facility = v; }},
    {keys::alertAppName, Kind::String, "dmarcwatch", 0, 0, nullptr,
     "RFC 5424 APP-NAME of the alerts (printable ASCII, at most 48 characters), so syslog\n"
     "can route them apart from dmarcwatchd's own log lines.",
     [](Config& c, std::string_view v, uint64_t, const Origin& o) {
       bool ok = !v.empty() && v.size() <= 48 &&
                 std::all_of(v.begin(), v.end(), [](char ch) { return ch > 32 && ch < 127; });
       if (!ok) {
         o.fail(std::string(keys::alertAppName) + ": '" + std::string(v) +
                "' must be 1 to 48 printable characters without spaces");
       }
       c.alerts.appName = v;
     }},
    {keys::alertEnterpriseNumber, Kind::Count, "32473", 1, UINT32_MAX, nullptr,
     "Private enterprise number in the structured-data id of the alerts\n"
     "(dmarcwatch@NUMBER); 32473 is RFC 5612's number for documentation.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.alerts.enterpriseNumber = static_cast<uint32_t>(n); }},
    {keys::alertRepeat, Kind::Duration, "7d", 60, 365 * 86400, nullptr,
     "An alert is not sent again within this time, unless it escalates (a higher severity,\n"
     "or twice the messages it was sent with).",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.alerts.repeat = std::chrono::seconds(n); }},
    {keys::alertBurst, Kind::Count, "5", 1, 10000, nullptr,
     "More alerts than this of one rule and domain in one pass are sent as one summary line\n"
     "(each is still listed by dmarcwatch alerts).",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.alerts.burst = n; }},
    {keys::alertWindow, Kind::Duration, "7d", 86400, 90 * 86400, nullptr,
     "The traffic the rules judge: the reports of this many days up to now.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.alerts.window = std::chrono::seconds(n); }},
    {keys::newSenderGrace, Kind::Duration, "7d", 0, 365 * 86400, nullptr,
     "new-sender stays quiet for this long after dmarcwatchd first sees a domain: a new\n"
     "installation learns the domain's senders without an alert for each.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.alerts.newSenderGrace = std::chrono::seconds(n); }},
    {keys::unknownSenderMessages, Kind::Count, "20", 1, UINT32_MAX, nullptr,
     "unknown-sender: a source no catalog service or Network names, with at least this many\n"
     "messages passing DMARC in the window (someone sends as you, and passes).",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.alerts.unknownSenderMessages = n; }},
    {keys::spoofingMessages, Kind::Count, "20", 1, UINT32_MAX, nullptr,
     "spoofing: at least this many DMARC-failing messages from unauthorized sources of a\n"
     "domain in the window.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.alerts.spoofingMessages = n; }},
    {keys::blockerMessages, Kind::Count, "10", 1, UINT32_MAX, nullptr,
     "enforcement-blocker and pass-rate-change: a legitimate service with at least this many\n"
     "DMARC-failing messages, passing less than ReadyPassRate (pass-rate-change: messages).",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.alerts.blockerMessages = n; }},
    {keys::reportGap, Kind::Duration, "48h", 3600, 30 * 86400, nullptr,
     "report-gap: a reporter that sent a domain daily reports and has sent none for this\n"
     "long past the day after its last report's period.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.alerts.reportGap = std::chrono::seconds(n); }},
    {keys::readyPassRate, Kind::Count, "98", 1, 100, nullptr,
     "enforcement-ready: the DMARC pass rate (percent) every authorized service of a domain\n"
     "must reach over ReadyDays.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.alerts.readyPassRate = n; }},
    {keys::readyDays, Kind::Duration, "14d", 86400, 90 * 86400, nullptr,
     "enforcement-ready: how long the pass rate must hold, with reports covering it.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.alerts.readyDays = std::chrono::seconds(n); }},
    {keys::untrustedReports, Kind::Choice, "flag", 0, 0, "count|flag|quarantine|reject",
     "A forged report: its mail failed a check that should pass (a DKIM signature that does\n"
     "not verify, DMARC failing for the From domain, mail authenticated as another\n"
     "organisation than the report names).  count: stored and counted; flag: stored and\n"
     "counted, marked, never raises alerts; quarantine: stored, kept out of the totals,\n"
     "listed by dmarcwatch reports; reject: the milter answers 550 with the reason.",
     [](Config& c, std::string_view v, uint64_t, const Origin&) { c.trust.forged = parseUntrustedAction(v); }},
    {keys::unauthenticatedReports, Kind::Choice, "count", 0, 0, "count|flag|quarantine",
     "A report whose mail could not be judged (no DKIM signature and no DMARC record, a DNS\n"
     "answer that did not come within AuthTimeout, Resolver none, a bare file): as\n"
     "UntrustedReports; never rejected (a slow DNS server must not block mail).",
     [](Config& c, std::string_view v, uint64_t, const Origin&) { c.trust.unauthenticated = parseUntrustedAction(v); }},
    {keys::authTimeout, Kind::Duration, "5s", 1, 60, nullptr,
     "The most time the DNS of one report mail's checks (SPF, DKIM keys, DMARC record) may\n"
     "take together; what is not answered by then makes the report unauthenticated.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.trust.authTimeout = std::chrono::seconds(n); }},
    {keys::reporterCatalog, Kind::String, PKGDATADIR "/reporters.conf", 0, 0, nullptr,
     "The catalog of known reporters (the domains their report mail is authenticated as,\n"
     "for org_name and email values that name no domain): contrib/reporters.conf.\n"
     "none: match the domains the report's org_name and email give only.",
     [](Config& c, std::string_view v, uint64_t, const Origin&) { c.trust.reporterCatalog = v; }},
    {keys::maxDkimSignatures, Kind::Count, "5", 1, 64, nullptr,
     "Most DKIM signatures of one report mail verified (the From domain's first).",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.trust.maxDkimSignatures = static_cast<uint32_t>(n); }},
    {keys::minDkimKeyBits, Kind::Count, "1024", 512, 16384, nullptr,
     "Smallest RSA key (bits) a DKIM signature may use to count.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.trust.minDkimKeyBits = static_cast<uint32_t>(n); }},
    {keys::reporterReportsPerDay, Kind::Count, "100000", 0, UINT64_MAX, nullptr,
     "Most reports one reporter (its organisation) may add per UTC day (0: no limit).\n"
     "Past a limit, OverLimitAction applies; it is logged once per key and day.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.trust.limits.reporterReports = n; }},
    {keys::reporterRecordsPerDay, Kind::Count, "50000000", 0, UINT64_MAX, nullptr,
     "Most records one reporter may add per UTC day (0: no limit).",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.trust.limits.reporterRecords = n; }},
    {keys::reporterBytesPerDay, Kind::Size, "16G", 0, 4 * s_tib, nullptr,
     "Most report bytes (XML as parsed) one reporter may add per UTC day (0: no limit).",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.trust.limits.reporterBytes = n; }},
    {keys::domainReportsPerDay, Kind::Count, "10000", 0, UINT64_MAX, nullptr,
     "Most reports about one policy domain added per UTC day, all reporters together (0: no limit).",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.trust.limits.domainReports = n; }},
    {keys::domainRecordsPerDay, Kind::Count, "50000000", 0, UINT64_MAX, nullptr,
     "Most records about one policy domain added per UTC day (0: no limit).",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.trust.limits.domainRecords = n; }},
    {keys::domainBytesPerDay, Kind::Size, "16G", 0, 4 * s_tib, nullptr,
     "Most report bytes about one policy domain added per UTC day (0: no limit).",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.trust.limits.domainBytes = n; }},
    {keys::overLimitAction, Kind::Choice, "quarantine", 0, 0, "quarantine|tempfail",
     "A report past a per-day limit (only reports that are not authenticated are held back):\n"
     "quarantine stores it out of the totals (dmarcwatch reports lists it); tempfail stores\n"
     "nothing and makes the MTA retry (the CLI fails the input).",
     [](Config& c, std::string_view v, uint64_t, const Origin&) {
       c.trust.limits.action = v == "tempfail" ? OverLimitAction::Tempfail : OverLimitAction::Quarantine;
     }},
    {keys::maxMessageSize, Kind::Size, "64M", 64 * s_kib, 4 * s_gib, nullptr,
     "Largest report message (or mbox message, or zip archive) read; bigger ones are kept\n"
     "unparsed with an error.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.limits.maxMessageBytes = n; }},
    {keys::maxDecompressedSize, Kind::Size, "4G", s_mib, s_tib, nullptr,
     "Largest decompressed payload (all gzip members, or one zip member).",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.limits.maxDecompressedBytes = n; }},
    {keys::maxCompressionRatio, Kind::Count, "200", 2, 100000, nullptr,
     "Largest decompressed/compressed ratio, checked past the first MiB: the decompression-bomb guard.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.limits.maxCompressionRatio = n; }},
    {keys::maxArchiveMembers, Kind::Count, "64", 1, 100000, nullptr,
     "Most members read from one zip archive.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.limits.maxArchiveMembers = static_cast<uint32_t>(n); }},
    {keys::maxNesting, Kind::Count, "4", 1, 16, nullptr,
     "Most containers inside each other (gzip in gzip in zip ...).",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.limits.maxNesting = static_cast<uint32_t>(n); }},
    {keys::maxMimeParts, Kind::Count, "256", 1, 100000, nullptr,
     "Most MIME parts walked in one message.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.limits.maxMimeParts = static_cast<uint32_t>(n); }},
    {keys::maxMimeDepth, Kind::Count, "16", 1, 256, nullptr,
     "Deepest multipart / message/rfc822 nesting.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.limits.maxMimeDepth = static_cast<uint32_t>(n); }},
    {keys::maxRecords, Kind::Count, "10000000", 1, 1000000000, nullptr,
     "Most <record> elements in one report.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.limits.maxRecords = n; }},
    {keys::maxXmlDepth, Kind::Count, "32", 4, 1024, nullptr,
     "Deepest XML element nesting in a report.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.limits.maxXmlDepth = static_cast<uint32_t>(n); }},
    {keys::maxTextLength, Kind::Count, "4096", 64, 1048576, nullptr,
     "Longest text of one XML element.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.limits.maxTextLength = static_cast<uint32_t>(n); }},
    {keys::maxAuthResults, Kind::Count, "32", 1, 1024, nullptr,
     "Most DKIM plus SPF results kept per record (the rest are dropped with a warning).",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.limits.maxAuthResults = static_cast<uint32_t>(n); }},
    {keys::maxWarnings, Kind::Count, "64", 1, 10000, nullptr,
     "Most distinct warnings kept per report.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.limits.maxWarnings = static_cast<uint32_t>(n); }},
    {keys::maxRawArchive, Kind::Size, "16M", 0, 4 * s_gib, nullptr,
     "Largest raw payload archived (bytes as received, compressed; a zip of several reports\n"
     "is archived once; 0 archives none).  A bigger one is noted as not archived.  The\n"
     "archive lets dmarcwatch reindex re-parse reports with a later version.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.limits.maxRawArchiveBytes = n; }},
    {keys::maxReportDays, Kind::Count, "31", 1, 366, nullptr,
     "Most UTC days one report's counts are spread over.",
     [](Config& c, std::string_view, uint64_t n, const Origin&) { c.limits.maxReportDays = static_cast<uint32_t>(n); }},
  };
  return s_keys;
}

const KeyDef* findKey(std::string_view name)
{
  for (const auto& key : keyTable()) {
    if (equalsIgnoreCaseAscii(key.name, name)) {
      return &key;
    }
  }
  return nullptr;
}

void applyValue(Config& config, const KeyDef& key, std::string_view value, const Origin& where)
{
  uint64_t number = 0;
  std::string word(value);
  switch (key.kind) {
  case Kind::Size:
  case Kind::Count:
  case Kind::Mode:
  case Kind::Duration:
    number = parseNumber(key, value, where);
    break;
  case Kind::Choice: {
    word = lowerAscii(value);
    std::string choices = std::string("|") + key.choices + "|";
    if (choices.find("|" + word + "|") == std::string::npos) {
      where.fail(std::string(key.name) + ": '" + std::string(value) + "' must be one of " + key.choices);
    }
    break;
  }
  case Kind::Flag: {
    auto v = lowerAscii(value);
    if (v != "yes" && v != "no" && v != "true" && v != "false" && v != "on" && v != "off" && v != "1" && v != "0") {
      where.fail(std::string(key.name) + ": '" + std::string(value) + "' must be yes or no");
    }
    break;
  }
  case Kind::String:
  case Kind::List:
    break;
  }
  key.apply(config, word, number, where);
}

} // namespace

bool ReportAddress::matches(std::string_view recipient) const
{
  // Postfix hands recipients as <local@domain>; sendmail may omit the brackets.
  recipient = trimAscii(recipient);
  if (recipient.size() >= 2 && recipient.front() == '<' && recipient.back() == '>') {
    recipient = recipient.substr(1, recipient.size() - 2);
  }
  auto at = recipient.rfind('@');
  if (at == std::string_view::npos) {
    return false;
  }
  // Runs for every recipient of every message: compare in place, no copies.
  if (!equalsIgnoreCaseAscii(recipient.substr(at + 1), domain)) {
    return false;
  }
  return local.empty() || equalsIgnoreCaseAscii(recipient.substr(0, at), local);
}

bool OwnNetwork::contains(const IpAddress& ip) const
{
  unsigned full = prefix / 8;
  if (!std::equal(address.bytes.begin(), address.bytes.begin() + full, ip.bytes.begin())) {
    return false;
  }
  unsigned rest = prefix % 8;
  if (rest == 0) {
    return true;
  }
  auto mask = static_cast<uint8_t>(0xffU << (8 - rest));
  return (ip.bytes[full] & mask) == address.bytes[full];
}

std::string OwnNetwork::toString() const
{
  return address.toString() + "/" + std::to_string(address.isV4() ? prefix - 96 : prefix);
}

const OwnNetwork* Config::ownNetwork(const IpAddress& ip) const
{
  const OwnNetwork* best = nullptr;
  for (const auto& network : ownNetworks) {
    if (network.contains(ip) && (best == nullptr || network.prefix > best->prefix)) {
      best = &network;
    }
  }
  return best;
}

bool Config::isReportRecipient(std::string_view recipient) const
{
  return std::any_of(reportAddresses.begin(), reportAddresses.end(),
                     [&](const ReportAddress& a) { return a.matches(recipient); });
}

namespace
{

/*!
 * \brief A decimal number with an optional one-letter unit: "512k", "10m", "90".
 * \param units the unit letters (lower case) with their multipliers
 * \return false on junk, an unknown unit or overflow.
 */
bool parseScaled(std::string_view text, std::initializer_list<std::pair<char, uint64_t>> units, uint64_t& out)
{
  text = trimAscii(text);
  uint64_t multiplier = 1;
  if (!text.empty() && std::isalpha(static_cast<unsigned char>(text.back())) != 0) {
    char unit = static_cast<char>(std::tolower(static_cast<unsigned char>(text.back())));
    auto found = std::find_if(units.begin(), units.end(), [unit](const auto& u) { return u.first == unit; });
    if (found == units.end()) {
      return false;
    }
    multiplier = found->second;
    text.remove_suffix(1);
  }
  uint64_t number = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
    return false;
  }
  if (number > UINT64_MAX / multiplier) {
    return false;
  }
  out = number * multiplier;
  return true;
}

} // namespace

bool parseSize(std::string_view text, uint64_t& out)
{
  return parseScaled(text, {{'k', s_kib}, {'m', s_mib}, {'g', s_gib}, {'t', s_tib}}, out);
}

bool parseDuration(std::string_view text, uint64_t& seconds)
{
  return parseScaled(text, {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}}, seconds);
}

std::shared_ptr<const Config> parseConfig(std::string_view text, const std::string& path)
{
  auto config = std::make_shared<Config>();
  config->path = path;
  std::map<std::string, unsigned> seen; //!< single-value key -> its line
  unsigned lineNumber = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    auto eol = text.find('\n', pos);
    auto line = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() + 1 : eol + 1;
    ++lineNumber;
    Origin where{path, lineNumber};

    // A '#' starts a comment anywhere on the line, as in opendkim.conf.
    if (auto hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    line = trimAscii(line);
    if (line.empty()) {
      continue;
    }
    size_t split = 0;
    while (split < line.size() && std::isspace(static_cast<unsigned char>(line[split])) == 0) {
      ++split;
    }
    auto name = line.substr(0, split);
    auto value = trimAscii(line.substr(split));
    const KeyDef* key = findKey(name);
    if (key == nullptr) {
      where.fail("unknown key '" + std::string(name) + "' (dmarcwatch --dump-config lists every key)");
    }
    if (value.empty()) {
      where.fail(std::string(key->name) + ": missing value");
    }
    if (key->kind != Kind::List && !seen.emplace(key->name, lineNumber).second) {
      where.fail(std::string(key->name) + ": given twice");
    }
    applyValue(*config, *key, value, where);
    config->settings.push_back(Setting{key->name, std::string(value), path, lineNumber});
  }

  // Keys that bound each other: reported at the later of their lines.
  if (config->mapSize > config->maxDatabaseSize) {
    auto lineOf = [&seen](const char* name) {
      auto found = seen.find(name);
      return found == seen.end() ? 0U : found->second;
    };
    Origin where{path, std::max(lineOf(keys::mapSize), lineOf(keys::maxDatabaseSize))};
    where.fail(std::string(keys::mapSize) + " " + std::to_string(config->mapSize) + " exceeds " +
               keys::maxDatabaseSize + " " + std::to_string(config->maxDatabaseSize) +
               ": the map starts at " + keys::mapSize + " and grows up to " + keys::maxDatabaseSize);
  }
  return config;
}

std::shared_ptr<const Config> loadConfig(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(path + ": cannot open configuration file");
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    throw ConfigError(path + ": read error");
  }
  return parseConfig(text.str(), path);
}

std::string defaultConfigPath()
{
  return SYSCONFDIR "/dmarcwatch.conf";
}

std::string dumpConfig(const Config& config)
{
  std::string out = config.path.empty()
                      ? "# dmarcwatch configuration: no configuration file read, every key with its default.\n"
                      : "# dmarcwatch configuration as read from " + config.path +
                          ": what it and the options set, the default for every other key.\n";
  out += "# One \"Key value\" per line; '#' starts a comment; keys are case-insensitive.\n";
  for (const auto& key : keyTable()) {
    out += "\n";
    std::istringstream help(key.help);
    std::string line;
    while (std::getline(help, line)) {
      out += "# " + line + "\n";
    }
    if (key.kind == Kind::Choice) {
      out += std::string("# One of: ") + key.choices + "\n";
    }
    // The values given, in order: every one of a List key, the last of any other (an option
    // given after the file replaces its line).
    std::vector<const Setting*> given;
    for (const auto& setting : config.settings) {
      if (setting.key == key.name) {
        if (key.kind != Kind::List) {
          given.clear();
        }
        given.push_back(&setting);
      }
    }
    for (const Setting* setting : given) {
      out += std::string(key.name) + " " + setting->value + "  # " +
             (setting->line == 0 ? setting->origin : setting->origin + " line " + std::to_string(setting->line)) +
             "\n";
    }
    if (!given.empty()) {
      continue;
    }
    if (*key.defaultValue == '\0') {
      out += std::string("#") + key.name + "\n";
    }
    else {
      out += std::string(key.name) + " " + key.defaultValue + "\n";
    }
  }
  return out;
}

std::string dumpDefaultConfig()
{
  return dumpConfig(Config{});
}

std::shared_ptr<const Config> loadConfigOrDefaults(const std::string& givenPath)
{
  if (!givenPath.empty()) {
    return loadConfig(givenPath);
  }
  if (std::error_code ec; std::filesystem::exists(defaultConfigPath(), ec)) {
    return loadConfig(defaultConfigPath());
  }
  return std::make_shared<const Config>();
}

void recordOverride(Config& config, const char* key, std::string value, std::string option)
{
  config.settings.push_back(Setting{key, std::move(value), std::move(option), 0});
}

std::string originOf(const Config& config, std::string_view key)
{
  for (auto setting = config.settings.rbegin(); setting != config.settings.rend(); ++setting) {
    if (equalsIgnoreCaseAscii(setting->key, key)) {
      return setting->line == 0 ? setting->origin : setting->origin + " line " + std::to_string(setting->line);
    }
  }
  return "default";
}

void checkDatabaseDirectory(const Config& config)
{
  struct stat st{};
  std::string why;
  if (::stat(config.database.c_str(), &st) != 0) {
    why = errno == ENOENT ? std::string("no such directory") : std::string(std::strerror(errno));
  }
  else if (!S_ISDIR(st.st_mode)) {
    why = "not a directory";
  }
  if (!why.empty()) {
    throw ConfigError(std::string(keys::database) + " " + config.database + " (" + originOf(config, keys::database) +
                      "): " + why);
  }
}

std::vector<std::string> configKeyNames()
{
  std::vector<std::string> names;
  for (const auto& key : keyTable()) {
    names.emplace_back(key.name);
  }
  return names;
}

} // namespace dmarcwatch::collector
