/*
 * header-key.hh - the store's secret that makes the SPF result in the
 * milter's X-DMARCwatch header its own (recorded-spf.hh).
 *
 * A header anyone could write proves nothing: mail can reach the rua mailbox
 * without the milter deleting forged X-DMARCwatch fields (a recipient the
 * milter does not match, the milter down under milter_default_action accept,
 * local submission).  So the milter signs what it recorded with HMAC-SHA256
 * under a key only the store's owner and group read, and `dmarcwatch ingest
 * --milter-spf` checks it.
 *
 * The key: 32 random bytes in Database/header-key (mode 0640), made by the
 * milter the first time it records an SPF result, as its own user.
 *
 * Thread-safety: free functions; makeHeaderKey is safe against a concurrent
 * maker (the file appears whole, by link(2)).  Errors: std::runtime_error
 * naming the file.
 */
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dmarcwatch::collector
{

//! Database/header-key.
std::string headerKeyPath(const std::string& database);

//! \brief The key, nullopt when the file does not exist. \throw std::runtime_error unreadable, wrong size
std::optional<std::string> readHeaderKey(const std::string& database);

//! \brief The key, made now when there is none (the milter). \throw std::runtime_error
std::string makeHeaderKey(const std::string& database);

//! \brief HMAC-SHA256 of text under key, its first 16 bytes in lower-case hex (32 characters).
std::string headerMac(std::string_view key, std::string_view text);

} // namespace dmarcwatch::collector
