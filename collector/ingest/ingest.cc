/*
 * ingest.cc - the intake pipeline (see ingest.hh).
 *
 * Error policy: ParseError (and LimitError) of one payload or document is
 * recorded in IngestOutcome::errors and the next one is tried; StoreError and
 * anything else propagate, because then nothing can be trusted to be stored.
 */
#include "config.h"

#include "collector/ingest/ingest.hh"

#include "collector/common/config-keys.hh"

#include "collector/common/errors.hh"
#include "collector/intake/inflate.hh"
#include "collector/intake/mime.hh"
#include "collector/intake/report-parser.hh"
#include "collector/intake/unpack.hh"

namespace dmarcwatch::collector
{
namespace
{

//! Feeds parsed records into one ReportWriter: the transaction lives as long as the sink.
class StoringSink : public ReportSink
{
public:
  explicit StoringSink(Store& store) :
    d_store(store) {}

  bool onHeader(const ReportHeader& header) override
  {
    d_header = header;
    d_writer = d_store.beginReport(header);
    return !d_writer->duplicateOf().has_value();
  }

  void onRecord(const Record& record) override { d_writer->addRecord(record); }

  [[nodiscard]] const ReportHeader& header() const { return d_header; }
  [[nodiscard]] ReportWriter* writer() const { return d_writer.get(); }

private:
  Store& d_store;
  ReportHeader d_header;
  std::unique_ptr<ReportWriter> d_writer;
};

//! The raw payload to archive with each report of one payload ("" kind: none).
struct RawPayload
{
  std::string kind;
  std::string_view bytes;
  std::string deflated; //!< owns the bytes when the payload was plain XML
};

RawPayload prepareRaw(std::span<const uint8_t> payload, const Limits& limits)
{
  RawPayload raw;
  std::string_view bytes(reinterpret_cast<const char*>(payload.data()), payload.size());
  switch (sniffPayload(payload.first(std::min<size_t>(payload.size(), s_sniffBytes)))) {
  case PayloadKind::Gzip:
    raw.kind = "gzip";
    raw.bytes = bytes;
    break;
  case PayloadKind::Zip:
    raw.kind = "zip";
    raw.bytes = bytes;
    break;
  case PayloadKind::Zlib:
    raw.kind = "zlib";
    raw.bytes = bytes;
    break;
  case PayloadKind::Xml:
    // Plain XML compresses ~25x; an XML far bigger than the cap will not fit anyway, so skip the work.
    if (payload.size() / 8 <= limits.maxRawArchiveBytes) {
      raw.deflated = deflateBytes(bytes, limits.maxRawArchiveBytes);
      if (!raw.deflated.empty()) {
        raw.kind = "xml+zlib";
        raw.bytes = raw.deflated;
      }
    }
    break;
  case PayloadKind::Unknown:
    break;
  }
  return raw;
}

} // namespace

namespace
{

/*!
 * Parse one XML document into the store and record the outcome.  The write
 * transaction opened by the header is committed here or aborted by the
 * sink's destructor when the parse throws.
 */
void storeDocument(Store& store, const Limits& limits, ByteSource& xml, const std::string& label,
                   const RawPayload* raw, const std::string& source, IngestOutcome& outcome)
{
  Warnings warnings(limits.maxWarnings);
  StoringSink sink(store);
  try {
    ParseResult parsed = parseReport(xml, limits, sink, warnings);
    ReportWriter* writer = sink.writer();
    if (writer == nullptr) {
      throw ParseError("no report header found");
    }
    ReportOutcome report;
    report.header = sink.header();
    if (const auto& existing = writer->duplicateOf(); existing.has_value()) {
      report.duplicate = true;
      report.records = existing->records;
      report.messages = existing->messages;
      report.sequence = existing->sequence;
      report.warnings = existing->warnings;
    }
    else {
      if (raw == nullptr) {
        warnings.add("raw payload not archived: input streamed, larger than MaxRawArchive");
      }
      else if (!raw->kind.empty()) {
        writer->setRaw(raw->kind, raw->bytes);
      }
      report.sequence = writer->commit(parsed.records, parsed.messages, warnings, parsed.recovered, source);
      report.records = parsed.records;
      report.messages = parsed.messages;
      report.warnings = warnings.items();
    }
    outcome.reports.push_back(std::move(report));
  }
  catch (const ParseError& e) {
    outcome.errors.push_back(label.empty() ? std::string(e.what()) : label + ": " + e.what());
  }
}

void ingestPayloadInto(Store& store, const Limits& limits, std::span<const uint8_t> payload, const std::string& label,
                       const std::string& source, IngestOutcome& outcome)
{
  Warnings containerWarnings(limits.maxWarnings);
  try {
    RawPayload raw = prepareRaw(payload, limits);
    auto unpacked = unpackPayload(payload, limits, containerWarnings, [&](ByteSource& xml, const std::string& docLabel) {
      std::string where = label.empty() ? docLabel : label + " " + docLabel;
      storeDocument(store, limits, xml, where, &raw, source, outcome);
    });
    for (auto& error : unpacked.errors) {
      outcome.errors.push_back(label.empty() ? error : label + " " + error);
    }
    if (unpacked.documents == 0 && unpacked.errors.empty()) {
      outcome.errors.push_back((label.empty() ? "" : label + ": ") + "no report document in payload");
    }
  }
  catch (const ParseError& e) {
    outcome.errors.push_back(label.empty() ? std::string(e.what()) : label + ": " + e.what());
  }
  for (const auto& w : containerWarnings.items()) {
    outcome.warnings.push_back(w);
  }
}

} // namespace

IngestOutcome Ingester::ingestMessage(std::string_view message, const std::string& source)
{
  IngestOutcome outcome;
  Warnings mimeWarnings(d_limits.maxWarnings);
  std::vector<MailPart> parts;
  try {
    if (message.size() > d_limits.maxMessageBytes) {
      throw LimitError("message of " + std::to_string(message.size()) + " bytes over " + std::string(keys::maxMessageSize) + " (" +
                       std::to_string(d_limits.maxMessageBytes) + ")");
    }
    parts = extractPayloadParts(message, d_limits, mimeWarnings);
  }
  catch (const ParseError& e) {
    outcome.errors.emplace_back(e.what());
  }
  for (const auto& w : mimeWarnings.items()) {
    outcome.warnings.push_back(w);
  }
  if (parts.empty() && outcome.errors.empty()) {
    outcome.errors.emplace_back("no report attachment (gzip, zip or XML) in message");
  }
  for (const auto& part : parts) {
    std::string label = "attachment" + (part.filename.empty() ? std::string() : " " + part.filename);
    ingestPayloadInto(d_store, d_limits,
                      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(part.body.data()), part.body.size()),
                      label, source, outcome);
  }
  return outcome;
}

IngestOutcome Ingester::ingestPayload(std::span<const uint8_t> payload, const std::string& source)
{
  IngestOutcome outcome;
  ingestPayloadInto(d_store, d_limits, payload, "", source, outcome);
  return outcome;
}

IngestOutcome Ingester::ingestBytes(std::span<const uint8_t> bytes, const std::string& source)
{
  auto head = bytes.first(std::min<size_t>(bytes.size(), s_sniffBytes));
  if (sniffPayload(head) != PayloadKind::Unknown) {
    return ingestPayload(bytes, source);
  }
  if (looksLikeMail(head)) {
    return ingestMessage(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), source);
  }
  IngestOutcome outcome;
  outcome.errors.emplace_back(bytes.empty() ? "empty input"
                                            : "not a report: neither a mail message nor a gzip, zip, zlib or XML payload");
  return outcome;
}

IngestOutcome Ingester::ingestStream(ByteSource& payload, const std::string& source)
{
  IngestOutcome outcome;
  Warnings containerWarnings(d_limits.maxWarnings);
  try {
    auto unpacked = unpackStream(payload, d_limits, containerWarnings, [&](ByteSource& xml, const std::string& label) {
      storeDocument(d_store, d_limits, xml, label, nullptr, source, outcome);
    });
    outcome.errors.insert(outcome.errors.end(), unpacked.errors.begin(), unpacked.errors.end());
    if (unpacked.documents == 0 && unpacked.errors.empty()) {
      outcome.errors.emplace_back("no report document in payload");
    }
  }
  catch (const ParseError& e) {
    outcome.errors.emplace_back(e.what());
  }
  outcome.warnings = containerWarnings.items();
  return outcome;
}

} // namespace dmarcwatch::collector
