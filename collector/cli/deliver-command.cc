/*
 * deliver-command.cc - `dmarcwatch deliver`: one report message on stdin, as a
 * Postfix pipe(8) transport hands it over for the rua address only (beside the
 * milter, or instead of it: non-report mail then costs nothing at all).
 *
 * The exit status is what pipe(8) expects (sysexits.h):
 *   0            every report in the message stored, or already stored (dedup
 *                makes Postfix's retries safe), or kept as a conflict;
 *                A report rejected for its verdict (UntrustedReports reject) is
 *                not stored and exits 0 too: bouncing it would mail the forged
 *                sender (backscatter); the milter refuses it at SMTP time instead;
 *   EX_TEMPFAIL  the store or the configuration failed, or a per-day sender
 *                limit with OverLimitAction tempfail: Postfix keeps the message
 *                and retries later, so no report is lost;
 *   EX_DATAERR   the message holds no readable report (or is over
 *                MaxMessageSize): Postfix returns it to the sender with the
 *                reason, which this command prints on stderr.
 * One line on stdout per message (--json: the JSON line of `ingest`).
 */
#include "config.h"

#include "collector/cli/cli-commands.hh"

#include "collector/common/config-keys.hh"
#include "collector/common/errors.hh"
#include "collector/ingest/ingest.hh"
#include "collector/intake/classify.hh"
#include "collector/intake/byte-source.hh"

#include <iostream>
#include <sysexits.h>
#include <unistd.h>

namespace dmarcwatch::cli
{

int runDeliver(const collector::Config& config, const std::vector<std::string>& args)
{
  bool json = false;
  bool milterSpf = false;
  for (const auto& arg : args) {
    if (arg == "--json") {
      json = true;
    }
    else if (arg == "--milter-spf") {
      milterSpf = true;
    }
    else {
      unknownOption("deliver", arg);
      return EX_USAGE;
    }
  }
  InputResult input{"stdin", {}};
  try {
    collector::FileSource in(collector::FileDescriptor(::dup(STDIN_FILENO)));
    const std::string message = collector::readAll(
      in, config.limits.maxMessageBytes, (std::string("message (") + collector::keys::maxMessageSize + ")").c_str());
    // Classified like any input of `ingest`, but one message: a From_ line (pipe(8) flag F) heads
    // it, never splits it, since its body lines are not quoted.
    collector::Classified classified = collector::classify(message);
    if (classified.kind == collector::InputKind::Mbox) {
      classified.kind = collector::InputKind::Mail;
    }
    collector::Store store(config.database, storeOptions(config, false));
    const collector::IngestTrust trust = ingestTrust(config, milterSpf);
    collector::Ingester ingester(store, config.limits, &trust);
    input.outcome = ingester.ingestClassified(
      classified, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(message.data()), message.size()), "deliver");
  }
  catch (const collector::LimitError& e) {
    input.outcome.errors.emplace_back(e.what());
  }
  catch (const std::exception& e) {
    // The store (full disk, permissions) or the machine: try again later.
    std::cerr << "dmarcwatch deliver: " << e.what() << " (temporary failure: the MTA retries)\n";
    return EX_TEMPFAIL;
  }
  printIngestResult(input, json);
  if (input.outcome.reports.empty() || !input.outcome.errors.empty()) {
    std::cerr << "dmarcwatch deliver: " << errorText(input.outcome) << "\n";
    return EX_DATAERR;
  }
  return EX_OK;
}

} // namespace dmarcwatch::cli
