/*
 * config.hh - the configuration file, opendkim.conf style: one "Key value"
 * per line, '#' comments, keys case-insensitive.
 *
 * One table (config.cc s_keys) declares every key once: name, kind, default,
 * bounds and help.  It drives parsing, validation, `--dump-config` and the
 * man-page text, and a test fails when conf/dmarcwatch.conf misses a key.
 * Unknown keys, bad values and repeated single-value keys are errors that
 * read "path:line: message".
 *
 * A Config is immutable once loaded; holders share it as
 * std::shared_ptr<const Config> (reload builds a new one).
 */
#pragma once

#include "collector/common/ip-address.hh"
#include "collector/common/limits.hh"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

enum class ReportAction
{
  Keep,
  Discard
};

//! What the milter answers when storing fails (store errors) or the message is unreadable (parse errors).
enum class FailureAction
{
  Accept,
  Tempfail
};

//! A rua address: "local@domain", or "@domain" for every local part of a domain.
struct ReportAddress
{
  std::string local; //!< empty for "@domain"
  std::string domain;
  //! \brief Match an envelope recipient (angle brackets allowed). Domain and local part compare case-insensitively.
  [[nodiscard]] bool matches(std::string_view recipient) const;
};

//! One of the admin's own networks (`Network 192.0.2.0/24 = Head office MX`).
struct OwnNetwork
{
  IpAddress address; //!< host bits zero
  unsigned prefix = 0; //!< over the 16-byte form: an IPv4 /24 is 120
  std::string name;
  unsigned line = 0; //!< in the configuration file
  //! \brief True when the address lies inside this network.
  [[nodiscard]] bool contains(const IpAddress& ip) const;
  //! The network as written: "192.0.2.0/24", "2001:db8::/32".
  [[nodiscard]] std::string toString() const;
};

//! `Authorize DOMAIN SERVICE...`: the services allowed to send as a domain (ids checked
//! against the catalog when it is loaded: sources/catalog.hh checkAuthorizations).
struct Authorization
{
  std::string domain; //!< lower case
  std::vector<std::string> services;
  unsigned line = 0;
};

//! The alert rules of dmarcwatchd, in the order dmarcwatch.conf(5) documents them.
inline constexpr std::string_view s_alertRuleNames[] = {
  "new-sender", "unknown-sender", "spoofing", "enforcement-blocker", "pass-rate-change",
  "report-gap", "dns-change", "enforcement-ready"};

//! What happens to a report whose mail is not proven to come from its reporter (issue 14).
enum class UntrustedAction
{
  Count,      //!< stored and counted like any other (only marked)
  Flag,       //!< stored and counted, marked, never raises alerts
  Quarantine, //!< stored, kept out of the totals, listed by `dmarcwatch reports`
  Reject,     //!< the milter answers 550 with the reason; nothing stored
};

//! What happens to a report past one of the per-day sender limits.
enum class OverLimitAction
{
  Quarantine, //!< stored, kept out of the totals (the admin may release it)
  Tempfail,   //!< not stored; the milter answers 451, the CLI fails the input
};

//! Per UTC day, what one reporter and one policy domain may add (0: no limit).
struct SenderLimits
{
  uint64_t reporterReports = 100000;
  uint64_t reporterRecords = 50000000;
  uint64_t reporterBytes = 16ULL << 30;
  uint64_t domainReports = 10000;
  uint64_t domainRecords = 50000000;
  uint64_t domainBytes = 16ULL << 30;
  OverLimitAction action = OverLimitAction::Quarantine;
};

//! Authenticity of report mail (the milter, `dmarcwatch ingest` of mail) and sender limits.
struct TrustSettings
{
  UntrustedAction forged = UntrustedAction::Flag;          //!< UntrustedReports: a check failed
  UntrustedAction unauthenticated = UntrustedAction::Count; //!< UnauthenticatedReports: no verdict possible (never Reject)
  std::chrono::seconds authTimeout{5}; //!< all the DNS of one message's checks
  std::string reporterCatalog = PKGDATADIR "/reporters.conf"; //!< "none": no catalog
  uint32_t maxDkimSignatures = 5;
  uint32_t minDkimKeyBits = 1024;
  SenderLimits limits;
};

//! How dmarcwatchd raises alerts (the Alert* keys and the rule thresholds).
struct AlertSettings
{
  std::vector<std::string> rules{std::begin(s_alertRuleNames), std::end(s_alertRuleNames)}; //!< enabled
  std::string facility = "mail";
  std::string appName = "dmarcwatch";
  uint32_t enterpriseNumber = 32473; //!< RFC 5612's documentation number
  std::chrono::seconds repeat{7 * 86400};   //!< an alert is not sent again sooner unless it escalates
  uint64_t burst = 5;                       //!< more alerts of one rule and domain in a pass: one summary
  std::chrono::seconds window{7 * 86400};   //!< the traffic the rules judge ends now and is this long
  std::chrono::seconds newSenderGrace{7 * 86400};
  uint64_t unknownSenderMessages = 20;
  uint64_t spoofingMessages = 20;
  uint64_t blockerMessages = 10;
  std::chrono::seconds reportGap{48 * 3600};
  uint64_t readyPassRate = 98;
  std::chrono::seconds readyDays{14 * 86400};
  //! \brief True when the rule is enabled.
  [[nodiscard]] bool enabled(std::string_view rule) const
  {
    return std::find(rules.begin(), rules.end(), rule) != rules.end();
  }
};

//! One value as given: a line of the file, or a command-line option (line 0, origin "--db").
struct Setting
{
  std::string key; //!< the table's spelling
  std::string value;
  std::string origin; //!< the file, or the option
  unsigned line = 0;
};

struct Config
{
  std::string path; //!< file it came from ("" for defaults)
  std::vector<Setting> settings; //!< what the file and the options set, in order (--dump-config)

  // milter
  std::string socket = "inet:8895@127.0.0.1";
  uint32_t socketMode = 0660; //!< permissions of a unix Socket (octal in the file)
  std::vector<ReportAddress> reportAddresses;
  ReportAction reportAction = ReportAction::Keep;
  FailureAction onStoreError = FailureAction::Tempfail;
  FailureAction onParseError = FailureAction::Accept;
  std::string userId;
  std::string pidFile;
  uint64_t memoryBufferBytes = 1ULL << 20;
  std::string tempDirectory = "/tmp";
  std::chrono::seconds commandTimeout{7210};  //!< an MTA connection silent this long is closed
  std::chrono::seconds progressInterval{30};  //!< SMFIR_PROGRESS while a report waits for the store
  bool addHeader = true;

  // store
  std::string database = LOCALSTATEDIR "/lib/dmarcwatch";
  uint64_t mapSize = 64ULL << 20;        //!< LMDB map size at start (at most maxDatabaseSize)
  uint64_t maxDatabaseSize = 8ULL << 30; //!< the map grows on MDB_MAP_FULL up to this

  // logging and naming (daemon)
  std::string syslogTarget = "/dev/log";
  std::string syslogFacility = "mail";
  std::string resolver = "none";

  // naming the senders (issue 11)
  std::string serviceCatalog = PKGDATADIR "/services"; //!< "none": no shipped catalog
  std::vector<std::string> serviceFiles;               //!< the admin's own catalog files
  std::vector<OwnNetwork> ownNetworks;
  std::vector<Authorization> authorizations;
  uint64_t suspiciousMessages = 100; //!< failing unknown sources with this many messages are suspicious
  std::string geoIpCountry; //!< MMDB file giving the country of an address; "" = none
  std::string geoIpAsn;     //!< MMDB file giving the AS number and organisation; "" = none

  // dmarcwatchd
  std::string daemonPidFile;
  std::chrono::seconds pollInterval{60};    //!< a pass at least this often without a notification
  std::chrono::seconds enrichInterval{3600}; //!< every source and domain re-checked this often
  AlertSettings alerts;

  TrustSettings trust;

  Limits limits;

  //! \brief True when any configured ReportAddress matches the recipient.
  [[nodiscard]] bool isReportRecipient(std::string_view recipient) const;
  //! \brief The most specific own network holding the address, or nullptr.
  [[nodiscard]] const OwnNetwork* ownNetwork(const IpAddress& ip) const;
};

//! \brief Parse a configuration file. \throw ConfigError ("path:line: message"); a missing file names the path.
std::shared_ptr<const Config> loadConfig(const std::string& path);
//! \brief Parse configuration text (tests, --dump-config round trip). \throw ConfigError
std::shared_ptr<const Config> parseConfig(std::string_view text, const std::string& path);
//! The default configuration file path (SYSCONFDIR/dmarcwatch.conf).
std::string defaultConfigPath();
//! Every key with its default value and help, as a configuration file (`--dump-config` without a file).
std::string dumpDefaultConfig();
/*!
 * \brief The effective configuration as a configuration file (`--dump-config`): every key with its
 * help, the values the file and the options set (each with a comment naming its file and line or
 * option), the default for the rest; the header says which file was read, or that these are the defaults.
 */
std::string dumpConfig(const Config& config);
/*!
 * \brief The configuration the commands read: the file given (-c; it must exist), else the default
 * file when it exists, else the defaults.  \throw ConfigError
 */
std::shared_ptr<const Config> loadConfigOrDefaults(const std::string& givenPath);
//! \brief Record that an option set a key (the caller sets the member), for dumpConfig and originOf.
void recordOverride(Config& config, const char* key, std::string value, std::string option);
//! \brief Where a key's value came from: "FILE line N", the option, or "default".
std::string originOf(const Config& config, std::string_view key);
/*!
 * \brief The Database directory must exist (only `dmarcwatch ingest --db NEW` creates one).
 * \throw ConfigError "Database DIR (FILE line N): no such directory" (or not a directory, or
 * the system's reason such as Permission denied).  Does not block (one stat).
 */
void checkDatabaseDirectory(const Config& config);
//! Every key's name, in table order (used by the documentation check).
std::vector<std::string> configKeyNames();

//! \brief Parse "64M", "2G", "512k", "1000" as bytes. \return false on junk or overflow.
bool parseSize(std::string_view text, uint64_t& out);
//! \brief "90", "90s", "10m", "2h", "1d" -> seconds; false when malformed or too large.
bool parseDuration(std::string_view text, uint64_t& seconds);

} // namespace dmarcwatch::collector
