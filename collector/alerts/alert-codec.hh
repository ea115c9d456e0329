/*
 * alert-codec.hh - an Alert as the store's alert log keeps it (the payload of
 * Store::AlertLogEntry), and the stable id of an alert.
 *
 * Payload: [01][u8 severity][vN n] then n strings (id, rule, domain, message,
 * then field names and values in turn), each [vN length][bytes].
 *
 * Thread-safety: pure.  Errors: decodeAlert throws StoreError for a payload it
 * cannot read.
 */
#pragma once

#include "collector/alerts/alert.hh"

#include <string>
#include <string_view>

namespace dmarcwatch::collector
{

std::string encodeAlert(const Alert& alert);
//! \brief The alert of a payload (time comes from the log entry). \throw StoreError
Alert decodeAlert(std::string_view payload, int64_t time);
//! 16 hex digits naming one sending of an alert state key at a time: the same alert, the same id.
std::string alertId(std::string_view key, int64_t raisedAt);

} // namespace dmarcwatch::collector
