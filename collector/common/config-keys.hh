/*
 * config-keys.hh - the name of every configuration key, declared once.
 *
 * The configuration table (config.cc) and every message that names a key
 * (a cap hit while parsing, a reload that needs a restart) use these, so a
 * key cannot be renamed in one place and forgotten in another.
 */
#pragma once

namespace dmarcwatch::collector::keys
{

inline constexpr const char* socket = "Socket";
inline constexpr const char* socketMode = "SocketMode";
inline constexpr const char* reportAddress = "ReportAddress";
inline constexpr const char* reportAction = "ReportAction";
inline constexpr const char* onStoreError = "OnStoreError";
inline constexpr const char* onParseError = "OnParseError";
inline constexpr const char* addHeader = "AddHeader";
inline constexpr const char* userId = "UserID";
inline constexpr const char* pidFile = "PidFile";
inline constexpr const char* memoryBufferSize = "MemoryBufferSize";
inline constexpr const char* tempDirectory = "TempDirectory";
inline constexpr const char* commandTimeout = "CommandTimeout";
inline constexpr const char* progressInterval = "ProgressInterval";
inline constexpr const char* database = "Database";
inline constexpr const char* mapSize = "MapSize";
inline constexpr const char* maxDatabaseSize = "MaxDatabaseSize";
inline constexpr const char* syslogTarget = "SyslogTarget";
inline constexpr const char* syslogFacility = "SyslogFacility";
inline constexpr const char* resolver = "Resolver";
inline constexpr const char* serviceCatalog = "ServiceCatalog";
inline constexpr const char* serviceFile = "ServiceFile";
inline constexpr const char* network = "Network";
inline constexpr const char* authorize = "Authorize";
inline constexpr const char* suspiciousMessages = "SuspiciousMessages";
inline constexpr const char* geoIpCountry = "GeoIPCountry";
inline constexpr const char* geoIpAsn = "GeoIPAsn";
inline constexpr const char* daemonPidFile = "DaemonPidFile";
inline constexpr const char* pollInterval = "PollInterval";
inline constexpr const char* enrichInterval = "EnrichInterval";
inline constexpr const char* alertRules = "AlertRules";
inline constexpr const char* alertFacility = "AlertFacility";
inline constexpr const char* alertAppName = "AlertAppName";
inline constexpr const char* alertEnterpriseNumber = "AlertEnterpriseNumber";
inline constexpr const char* alertRepeat = "AlertRepeat";
inline constexpr const char* alertBurst = "AlertBurst";
inline constexpr const char* alertWindow = "AlertWindow";
inline constexpr const char* newSenderGrace = "NewSenderGrace";
inline constexpr const char* unknownSenderMessages = "UnknownSenderMessages";
inline constexpr const char* spoofingMessages = "SpoofingMessages";
inline constexpr const char* blockerMessages = "BlockerMessages";
inline constexpr const char* reportGap = "ReportGap";
inline constexpr const char* readyPassRate = "ReadyPassRate";
inline constexpr const char* readyDays = "ReadyDays";
inline constexpr const char* untrustedReports = "UntrustedReports";
inline constexpr const char* unauthenticatedReports = "UnauthenticatedReports";
inline constexpr const char* authTimeout = "AuthTimeout";
inline constexpr const char* reporterCatalog = "ReporterCatalog";
inline constexpr const char* maxDkimSignatures = "MaxDkimSignatures";
inline constexpr const char* minDkimKeyBits = "MinDkimKeyBits";
inline constexpr const char* reporterReportsPerDay = "ReporterReportsPerDay";
inline constexpr const char* reporterRecordsPerDay = "ReporterRecordsPerDay";
inline constexpr const char* reporterBytesPerDay = "ReporterBytesPerDay";
inline constexpr const char* domainReportsPerDay = "DomainReportsPerDay";
inline constexpr const char* domainRecordsPerDay = "DomainRecordsPerDay";
inline constexpr const char* domainBytesPerDay = "DomainBytesPerDay";
inline constexpr const char* overLimitAction = "OverLimitAction";
inline constexpr const char* maxMessageSize = "MaxMessageSize";
inline constexpr const char* maxDecompressedSize = "MaxDecompressedSize";
inline constexpr const char* maxCompressionRatio = "MaxCompressionRatio";
inline constexpr const char* maxArchiveMembers = "MaxArchiveMembers";
inline constexpr const char* maxNesting = "MaxNesting";
inline constexpr const char* maxMimeParts = "MaxMimeParts";
inline constexpr const char* maxMimeDepth = "MaxMimeDepth";
inline constexpr const char* maxRecords = "MaxRecords";
inline constexpr const char* maxXmlDepth = "MaxXmlDepth";
inline constexpr const char* maxTextLength = "MaxTextLength";
inline constexpr const char* maxAuthResults = "MaxAuthResults";
inline constexpr const char* maxWarnings = "MaxWarnings";
inline constexpr const char* maxRawArchive = "MaxRawArchive";
inline constexpr const char* maxReportDays = "MaxReportDays";

} // namespace dmarcwatch::collector::keys
