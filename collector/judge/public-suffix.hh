/*
 * public-suffix.hh - the public suffix list (PSL) and organizational domains
 * (RFC 7489 section 3.2), for relaxed DMARC alignment.
 *
 * Users: alignment.cc (relaxed mode), and later the sources catalog.
 * The list is Debian's `publicsuffix` package (s_systemPath), loaded once per
 * process on first use.  Rules follow the PSL algorithm: normal rules,
 * wildcards ("*.ck") and exceptions ("!www.ck"); exceptions prevail, then the
 * rule with the most labels; no match means the implicit "*" (the last label).
 * Names are compared lower-cased in ASCII only: IDN rules are kept as the file
 * spells them (UTF-8) and match only the same bytes; A-labels ("xn--") match
 * as ASCII.  One trailing dot is ignored.
 *
 * Thread-safety: a loaded list is immutable; system() initialises once
 * (a function-local static) and may be called from any thread.
 * Errors: a missing or unreadable list file is a broken environment:
 * std::runtime_error from load()/system().  Lookups never throw (except
 * std::bad_alloc).
 */
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace dmarcwatch::collector
{

class PublicSuffixList
{
public:
  //! Where Debian's publicsuffix package puts the list.
  static constexpr const char* s_systemPath = "/usr/share/publicsuffix/public_suffix_list.dat";

  /*!
   * \brief Parse list text (the .dat format: one rule per line, "//" comments, the rule is the
   * line's first white-space separated word).
   * Pure: does not block.
   */
  static PublicSuffixList fromText(std::string_view text);

  /*!
   * \brief Read and parse a list file.  Blocks on the file read.
   * \throw std::runtime_error when the file cannot be read or holds no rule.
   */
  static PublicSuffixList load(const std::string& path);

  /*!
   * \brief The system list (s_systemPath), loaded on the first call (blocks then), shared after.
   * \throw std::runtime_error as load(), on every call while the file is missing.
   */
  static const PublicSuffixList& system();

  /*!
   * \brief The public suffix of a domain ("co.uk" for "www.example.co.uk"; "zz" for "a.zz").
   * The domain is normalised first (lower-cased ASCII, one trailing dot dropped).
   * \return "" for an empty domain or one with an empty label.
   */
  [[nodiscard]] std::string publicSuffix(std::string_view domain) const;

  /*!
   * \brief The organizational domain: the public suffix plus one label ("example.co.uk").
   * \return the normalised domain itself when it is a public suffix or malformed (so that
   * comparisons stay exact), "" for an empty one.
   */
  [[nodiscard]] std::string organizationalDomain(std::string_view domain) const;

  /*!
   * \brief organizationalDomain() of a name already normalised (normalizeDomain), without a copy.
   * \return a view into name.
   */
  [[nodiscard]] std::string_view organizationalDomainOfNormalized(std::string_view name) const;

  [[nodiscard]] size_t size() const { return d_rules.size() + d_wildcards.size() + d_exceptions.size(); }

private:
  //! Labels of the prevailing rule for a normalised, well-formed domain (>= 1).
  [[nodiscard]] size_t suffixLabels(std::string_view domain) const;

  //! Looked up by string_view (no key copy per label).
  struct Hash
  {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  using Set = std::unordered_set<std::string, Hash, std::equal_to<>>;

  Set d_rules;      //!< "co.uk"
  Set d_wildcards;  //!< "ck" for "*.ck"
  Set d_exceptions; //!< "www.ck" for "!www.ck"
};

//! \brief A domain trimmed, without one trailing dot (case kept: no copy).  Pure.
std::string_view trimDomain(std::string_view domain);

//! \brief trimDomain(), lower-cased (ASCII).  Pure.
std::string normalizeDomain(std::string_view domain);

} // namespace dmarcwatch::collector
