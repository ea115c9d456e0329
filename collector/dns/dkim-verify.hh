/*
 * dkim-verify.hh - DKIM verification of one mail by libopendkim, every key
 * look-up through our Resolver (or an injected look-up in tests).
 *
 * The message is given as the MTA sent it (the milter's buffer, an .eml file):
 * verify() splits it into header fields (at CRLF not followed by SP or HT)
 * and body itself and feeds libopendkim the exact bytes, so c=simple header
 * signatures verify; bare LF line ends are normalised to CRLF first.
 * Key look-ups: libopendkim's key-lookup callback (dkim_set_key_lookup) asks
 * TXT <s>._domainkey.<d> here, not libopendkim's own resolver, so the Resolver
 * setting, its timeouts and cache apply; `Resolver none` answers every look-up
 * Unknown at once (temperror).  A key record longer than libopendkim's buffer
 * (1024 bytes) is refused, never truncated (permerror).
 *
 * Limits per mail (DkimLimits): at most maxSignatures signatures are verified
 * (the preferred domains' first: the From domain and its organizational
 * domain; the rest are reported "neutral", not verified), keys under
 * minKeyBits do not count (permerror), and after the deadline every key
 * look-up answers "try again" without asking (temperror, timedOut).
 *
 * Results per signature are RFC 8601's words: pass, fail (the signature or
 * body hash does not match: the mail was changed or forged), temperror (the
 * key could not be fetched in time), permerror (no key, a bad signature or key
 * record, a small key), neutral (not verified: over the signature cap).
 *
 * Users: collector/auth (MessageAuthenticator).  Thread-safety: libopendkim's
 * library handle is made once per process (std::call_once) and shared; a
 * DkimVerifier, like its Resolver, is used by one thread at a time.  Errors:
 * none for DNS or message trouble (results); std::bad_alloc.
 */
#pragma once

#include "collector/dns/resolver.hh"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

//! One DKIM-Signature of the mail, as verified.
struct DkimSignatureResult
{
  std::string domain;   //!< d=, lower case ("" when the signature has none)
  std::string selector; //!< s=
  std::string result;   //!< pass fail temperror permerror neutral
  std::string error;    //!< why not pass ("body changed", "key not found", ...)
  unsigned bits = 0;    //!< key size, when the key was loaded
};

struct DkimVerification
{
  std::string result = "none"; //!< the best signature's: pass > fail > temperror > permerror > neutral > none
  std::vector<DkimSignatureResult> signatures; //!< in message order
  bool timedOut = false;       //!< a key look-up was not answered (timeout, deadline, Resolver none)
};

struct DkimLimits
{
  unsigned maxSignatures = 5;
  unsigned minKeyBits = 1024;
  //! Signatures whose d= is one of these (lower case) are verified first, in this order.
  std::vector<std::string> preferredDomains;
  //! After it, key look-ups answer "try again" without asking.  nullopt: none.
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

//! libopendkim's key buffer: a key record longer than this is refused.
inline constexpr size_t s_maxDkimKeyRecord = 1024;

class DkimVerifier
{
public:
  //! Answers TXT look-ups: (name without trailing dot) -> the answer.
  using KeyLookup = std::function<DnsAnswer(const std::string& name)>;

  //! \brief Key look-ups through resolver (kept by reference).
  explicit DkimVerifier(Resolver& resolver);
  //! \brief Key look-ups through lookup (tests).
  explicit DkimVerifier(KeyLookup lookup);
  ~DkimVerifier();
  DkimVerifier(const DkimVerifier&) = delete;
  DkimVerifier& operator=(const DkimVerifier&) = delete;

  /*!
   * \brief Verify every DKIM signature of message (header fields, an empty line, the body).
   * Blocks on key look-ups (each at most the Resolver's timeout, none after limits.deadline).
   * \return result "none" when the mail has no DKIM-Signature.
   */
  DkimVerification verify(std::string_view message, const DkimLimits& limits);

  struct Impl;

private:
  std::unique_ptr<Impl> d_impl;
};

/*!
 * \brief The header fields and body of a mail as on the wire: CRLF line ends (bare LF made CRLF),
 * each field whole with its folds, without its final CRLF; an mbox "From " line is skipped.
 * Pure.
 */
struct RawMessage
{
  std::vector<std::string> fields;
  std::string body;
};
RawMessage splitMessage(std::string_view message);

} // namespace dmarcwatch::collector
