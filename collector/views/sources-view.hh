/*
 * sources-view.hh - what `dmarcwatch sources` and `dmarcwatch services` show:
 * every source IP of a domain over a window, named and classified
 * (sources/naming.hh), with why it fails; and the services they add up to.
 *
 * One pass over the window's facts per domain sums each source's messages and
 * keeps its few largest outcomes; each distinct outcome is decoded once.  Then
 * each source is named from its report evidence, the admin's networks and, when
 * the caller gives a look-up, what the daemon learnt from DNS and GeoIP.
 * Memory: about 200 bytes per distinct source of the window (a million
 * sources: some 200 MiB) - a listing, not the status fast path.
 *
 * Thread-safety: plain functions over a Store (one read transaction per domain).
 * Errors: StoreError from the store.
 */
#pragma once

#include "collector/sources/naming.hh"
#include "collector/store/row-reader.hh"
#include "collector/store/store.hh"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dmarcwatch::collector
{

struct NamedSource
{
  std::string domain;
  std::optional<IpAddress> ip;
  std::string headerFrom; //!< the header_from with most of its messages
  uint64_t messages = 0;
  uint64_t dmarcPass = 0;
  uint64_t dmarcFail = 0;
  uint32_t firstDay = 0;
  uint32_t lastDay = 0;
  SourceName name;
  std::string identity; //!< first passing DKIM d=, else passing SPF domain, lower-case; "" none
  bool ownIdentity = false; //!< identity is under the policy domain's organizational domain
  NetworkSignals network;
  std::string passed;                 //!< of its largest outcome, by our judge: "dkim", "spf", "both", "none"
  bool counted = false;               //!< the stored verdict of its largest outcome (the reporter's where given)
  bool ours = false;                  //!< our verdict of it, from auth_results
  std::vector<std::string> contradictions; //!< where the reporter's word goes against auth_results
  std::string failure;                //!< why its largest failing outcome fails, "" when none fails
  std::vector<std::string> overrides; //!< reporter overrides seen ("forwarded", ...)
};

struct NamedService
{
  std::string id;   //!< catalog id, "network:NAME" for an own network, "" when unnamed
  std::string name; //!< unnamed: the passing identity ("example.com"), else "unknown"
  std::string category;
  SourceClass cls = SourceClass::Unknown; //!< the class of most of its messages
  unsigned confidence = 0;                //!< the best of its sources
  uint64_t messages = 0;
  uint64_t dmarcPass = 0;
  uint64_t dmarcFail = 0;
  uint64_t sources = 0;
  std::vector<std::string> evidence; //!< its top source's evidence, in words
};

//! Which sources to list.
struct SourceFilter
{
  bool unknownOnly = false; //!< class unknown or suspicious
  bool failingOnly = false; //!< some DMARC failure
  std::string service;      //!< catalog id or display name (case-insensitive); "" any
};

//! What the daemon knows of an address for a domain; empty signals when nothing.
using NetworkLookup = std::function<NetworkSignals(std::string_view domain, const IpAddress& ip)>;

/*!
 * \brief What dmarcwatchd stored of each source (store/enrichment.hh) as a NetworkLookup; evidence
 * a week past its expiry (the daemon stopped) is not used.  The store must outlive it.
 */
NetworkLookup storedNetworkLookup(const Store& store);

//! How much computeSources works out per source.
enum class SourceDetail
{
  Verdicts, //!< everything: what passed, why it fails, both verdicts (sources)
  Names,    //!< names, classes, evidence and sums only (services)
};

/*!
 * \brief The named sources of one domain (or every domain when empty) over days [fromDay, toDay],
 * most messages first.  \param lookup may be empty (report evidence and own networks only).
 * \param leaveOut the rows of counted reports with these verdicts are left out (the alert
 * rules' view under UntrustedReports/UnauthenticatedReports flag): their facts are read
 * (store/row-reader.hh windowFactsOf) and taken off the window's.  \throw StoreError
 */
std::vector<NamedSource> computeSources(const Store& store, const Namer& namer, std::string_view domain,
                                        uint32_t fromDay, uint32_t toDay, const NetworkLookup& lookup,
                                        SourceDetail detail = SourceDetail::Verdicts, AuthenticitySet leaveOut = 0);

//! \brief Keep the sources the filter asks for.
std::vector<NamedSource> filterSources(std::vector<NamedSource> sources, const SourceFilter& filter);

//! \brief The services these sources add up to, per domain in order, most messages first.
std::vector<std::pair<std::string, std::vector<NamedService>>> servicesOf(const std::vector<NamedSource>& sources);

//! \brief A service's label of a source: "SendGrid", "Head office MX", its identity, or "unknown".
std::string serviceLabel(const NamedSource& source);

} // namespace dmarcwatch::collector
