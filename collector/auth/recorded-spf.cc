/*
 * recorded-spf.cc - the milter's SPF result in its header, written and read
 * back (recorded-spf.hh).
 */
#include "collector/auth/recorded-spf.hh"

#include "collector/auth/header-key.hh"

#include "collector/common/text.hh"
#include "collector/dns/dkim-verify.hh"
#include "collector/intake/classify.hh"

#include <array>
#include <vector>

namespace dmarcwatch::collector
{
namespace
{

constexpr std::string_view s_headerName = "X-DMARCwatch";
constexpr std::array<std::string_view, 7> s_results{"pass", "fail", "softfail", "neutral", "none", "temperror",
                                                    "permerror"};

bool knownResult(std::string_view word)
{
  for (const auto result : s_results) {
    if (word == result) {
      return true;
    }
  }
  return false;
}

//! The value's parameters split at ';' outside double quotes (auth-reason="..." holds ';').
std::vector<std::string_view> parameters(std::string_view value)
{
  std::vector<std::string_view> out;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '"') {
      quoted = !quoted;
    }
    else if (value[i] == ';' && !quoted) {
      out.push_back(trimAscii(value.substr(start, i - start)));
      start = i + 1;
    }
  }
  out.push_back(trimAscii(value.substr(start)));
  return out;
}

//! "pass smtp.mailfrom=example.net" -> {pass, example.net}; nullopt for anything else.
std::optional<RecordedSpf> parseSpf(std::string_view text)
{
  const std::string_view result = nextWord(text);
  std::string_view property = nextWord(text);
  if (!knownResult(result) || !trimAscii(text).empty()) {
    return std::nullopt;
  }
  for (const std::string_view prefix : {"smtp.mailfrom=", "smtp.helo="}) {
    if (property.starts_with(prefix)) {
      std::string domain = lowerAscii(property.substr(prefix.size()));
      if (isDomainName(domain, 1)) {
        return RecordedSpf{std::string(result), std::move(domain)};
      }
    }
  }
  return std::nullopt;
}

//! Where the header section ends (its empty line included): the body is never looked at or copied.
size_t headerSectionEnd(std::string_view message)
{
  size_t pos = 0;
  while (pos < message.size()) {
    const size_t end = message.find('\n', pos);
    if (end == std::string_view::npos) {
      return message.size();
    }
    const std::string_view line = message.substr(pos, end - pos);
    if (line.empty() || line == "\r") {
      return end + 1;
    }
    pos = end + 1;
  }
  return message.size();
}

//! The Message-ID field's value, unfolded and trimmed ("" without one): the header section only.
std::string messageIdOf(std::string_view message)
{
  for (const auto& field : splitMessage(message.substr(0, headerSectionEnd(message))).fields) {
    const auto nameLength = headerFieldNameLength(field);
    if (nameLength && equalsIgnoreCaseAscii(trimAscii(std::string_view(field).substr(0, *nameLength)), "message-id")) {
      std::string value;
      for (char c : std::string_view(field).substr(field.find(':') + 1)) {
        if (c != '\r' && c != '\n') {
          value.push_back(c);
        }
      }
      return std::string(trimAscii(value));
    }
  }
  return {};
}

//! What the MAC covers: a version word, the spf= text and the mail it was recorded for.
std::string macInput(std::string_view text, std::string_view message)
{
  return "dmarcwatch-spf-1\n" + std::string(text) + "\n" + messageIdOf(message);
}

} // namespace

std::string signedSpfText(const std::string& text, std::string_view key, std::string_view message)
{
  return text + "; spf-mac=" + headerMac(key, macInput(text, message));
}

std::string recordedSpfText(const MessageAuth& auth, const MailEnvelope& envelope)
{
  const std::string domain = lowerAscii(auth.spfDomain);
  // Only what is written here may be read back: a domain outside the plain syntax is left out.
  if (!auth.spfChecked || !knownResult(auth.spf) || !isDomainName(domain, 1)) {
    return {};
  }
  return "spf=" + auth.spf + (envelope.mailFrom.empty() ? " smtp.helo=" : " smtp.mailfrom=") + domain;
}

std::optional<RecordedSpf> recordedSpf(std::string_view message, std::string_view key)
{
  std::optional<RecordedSpf> found;
  std::string spfText; // copies: the fields are gone after the loop
  std::string mac;
  size_t fields = 0;
  size_t spfParameters = 0;
  size_t macParameters = 0;
  for (const auto& field : splitMessage(message.substr(0, headerSectionEnd(message))).fields) {
    const auto nameLength = headerFieldNameLength(field);
    if (!nameLength || !equalsIgnoreCaseAscii(trimAscii(std::string_view(field).substr(0, *nameLength)), s_headerName)) {
      continue;
    }
    ++fields;
    const std::string_view value = std::string_view(field).substr(field.find(':') + 1);
    for (const auto parameter : parameters(value)) {
      if (parameter.starts_with("spf=")) {
        ++spfParameters;
        spfText = parameter;
        found = parseSpf(parameter.substr(4));
      }
      else if (parameter.starts_with("spf-mac=")) {
        ++macParameters;
        mac = parameter.substr(8);
      }
    }
  }
  if (fields != 1 || spfParameters != 1 || macParameters != 1 || !found || key.empty()) {
    return std::nullopt;
  }
  // Compared whole: a MAC is no secret once written, only unforgeable.
  if (mac != headerMac(key, macInput(spfText, message))) {
    return std::nullopt;
  }
  return found;
}

} // namespace dmarcwatch::collector
