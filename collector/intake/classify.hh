/*
 * classify.hh - what an input is, told by its first bytes.
 *
 * Payloads are recognised by their bytes, never by names or MIME types:
 * gzip (1f 8b), zip (PK 03 04 / PK 05 06), raw zlib (78 01|5e|9c|da), XML
 * (optional BOM or whitespace, then '<'; UTF-16 by BOM).
 *
 * Users: unpack.cc (each layer of a payload), mime.cc (leaf parts), ingest.cc,
 * the CLI.
 * Thread-safety: pure functions.  Blocking: never.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace dmarcwatch::collector
{

enum class PayloadKind
{
  Unknown,
  Gzip,
  Zip,
  Zlib,
  Xml
};

//! Leading bytes every sniffer looks at (payload, mail part, mbox, the CLI's input): room for blank
//! padding lines.  One window everywhere, so that every layer calls a payload the same kind.
constexpr size_t s_sniffBytes = 4096;

//! \brief Classify a payload by its first bytes (at least 4 wanted; fewer allowed).
PayloadKind sniffPayload(std::span<const uint8_t> head);
const char* payloadKindName(PayloadKind kind);

} // namespace dmarcwatch::collector
