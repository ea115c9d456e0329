/*
 * command-help.cc - the usage texts (command-help.hh).  Each text says what the
 * command's parser accepts, no more: keep them in step with the parsers
 * (t/cli/cli-options-test.py checks every option is mentioned).
 */
#include "collector/cli/command-help.hh"

#include "collector/cli/cli-commands.hh"
#include "collector/common/log.hh"

#include <algorithm>
#include <iostream>

namespace dmarcwatch::cli
{

namespace
{

struct CommandHelp
{
  std::string_view topic;
  std::string_view text;
};

//! The forms --since takes, as every text says it.
#define SINCE_FORMS "Nd (the N days ending today: 7d, 30d), YYYY-MM-DD (that day to today) or all"

constexpr CommandHelp s_commands[] = {
  {"ingest", R"(Usage: dmarcwatch ingest [--json] [--milter-spf] PATH...

Store reports from files (.xml, .xml.gz, .gz, .zip, .eml, raw zlib: recognised
by their first bytes, not their names), mbox files, Maildir folders (cur/ and
new/) or directories (every regular file in them); - reads stdin.  FIFOs,
sockets and devices are refused.  A report already stored is a duplicate.
Each report line says its verdict (authenticated, unauthenticated, forged) and
what UntrustedReports, UnauthenticatedReports and the per-day sender limits did
with it (quarantined, rejected).

  PATH          a file, directory, mbox or Maildir; - for standard input
  --json        one JSON object per input on its own line
  --milter-spf  mail came through dmarcwatch-milter (its rua mailbox): use the
                SPF result the milter recorded in its X-DMARCwatch header
                (spf=...), when its spf-mac= is proven by the store's
                header-key (the milter makes it; readable by the store's
                group).  Without the option SPF is none, as a file has no
                client address.

Exit status: 0 every input stored or a duplicate, 1 an input failed, was in
conflict with a stored report, had a report rejected or over a per-day limit
with OverLimitAction tempfail, 2 usage or configuration error.
)"},
  {"reports", R"(Usage: dmarcwatch reports [--domain D] [--json]
       dmarcwatch reports --release N | --quarantine N

The stored reports, oldest first, with their state (active, loading,
superseded, quarantined, conflict, schema-1) and their authenticity
(authenticated, unauthenticated, forged).

  --domain D      only the reports of policy domain D (one the store holds)
  --json          {"reports":[...]} instead of the table
  --release N     put quarantined report N (a per-day limit, UntrustedReports
                  quarantine) back into the totals
  --quarantine N  take counted report N out of the totals

Exit status: 0 success, 1 the store failed, 2 usage error or a domain the
store has no reports for.
)"},
  {"status", R"(Usage: dmarcwatch status [DOMAIN | --domain D] [--since 30d|Nd|YYYY-MM-DD|all] [--top N]
                         [--policy quarantine|reject [--pct N]] [--spf] [--json|--csv]

Without DOMAIN: one line per domain - messages, DMARC pass %, the policy that
applies, legitimate services, unknown-sender messages and the readiness
verdict (ready for quarantine, ready for reject, blocked by: ..., at
enforcement [(quarantine|t=y|reject at N %)], at enforcement, losing mail from:
...).  With DOMAIN: its page -
services with SPF/DKIM/aligned/DMARC pass %, what fails and the fix, forwarders,
unknown and failing sources with country, AS and PTR, reporters, a sparkline.

  DOMAIN, --domain D   one policy domain (default: every domain)
  --since WHEN         the window (default 30d): )" SINCE_FORMS R"(
  --top N              how many top and failing sources to keep (1 to 1000000)
  --policy P           with DOMAIN: what p=quarantine or p=reject would have
                       stopped in the window, forwarded and overridden mail apart
  --pct N              with --policy: the pct= of that policy (0 to 100)
  --spf                with DOMAIN: the SPF view - includes used and unused,
                       look-ups, a suggested record (never applied)
  --json               one JSON document instead of the tables
  --csv                the services as CSV (RFC 4180, LF line ends)

Tables fit COLUMNS (else the terminal, else 80); colour only on a terminal
(NO_COLOR turns it off).

Exit status: 0 success, 1 the store failed, 2 usage error or a domain the
store has no reports for.
)"},
  {"report", R"(Usage: dmarcwatch report --html FILE [DOMAIN...] [--since 30d|Nd|YYYY-MM-DD|all]

Write the admin's report as one self-contained HTML page.

  --html FILE     the page to write
  DOMAIN...       the policy domains to show (default: every domain)
  --since WHEN    the window: )" SINCE_FORMS R"(

Exit status: 0 success, 1 the store or FILE failed, 2 usage error or a domain
the store has no reports for.
)"},
  {"sources", R"(Usage: dmarcwatch sources [DOMAIN | --domain D] [--since 7d|Nd|YYYY-MM-DD|all]
                          [--unknown | --failing | --service S] [--limit N] [--json|--csv]

Every source address, most messages first: service, class, where it is,
messages, DMARC failures and why it fails.

  DOMAIN, --domain D   one policy domain (default: every domain)
  --since WHEN         the window: )" SINCE_FORMS R"(;
                       default the 7 days ending today
  --unknown            only classes unknown and suspicious
  --failing            only sources with DMARC failures
  --service S          only one service, by catalog id or name
  --limit N            at most N sources (1 to 1000000)
  --json               {"sources":[...]} instead of the table
  --csv                CSV (RFC 4180, LF line ends), the columns of --json; a
                       text cell starting with = + - @ gets a leading '

Exit status: 0 success, 1 the store failed, 2 usage or configuration error or
a domain the store has no reports for.
)"},
  {"services", R"(Usage: dmarcwatch services [DOMAIN | --domain D] [--since 7d|Nd|YYYY-MM-DD|all] [--json|--csv]

The services that send as each domain, every source named from all of its
evidence: name, category, class, confidence, messages, pass, fail, sources.

  DOMAIN, --domain D   one policy domain (default: every domain)
  --since WHEN         the window: )" SINCE_FORMS R"(;
                       default the 7 days ending today
  --json               {"domains":[{"domain", "services":[...]}]} instead
  --csv                CSV (RFC 4180, LF line ends): one row per service, the
                       domain first; a text cell starting with = + - @ gets a
                       leading '

Exit status: 0 success, 1 the store failed, 2 usage or configuration error or
a domain the store has no reports for.
)"},
  {"alerts", R"(Usage: dmarcwatch alerts [DOMAIN | --domain D] [--since 7d|Nd|YYYY-MM-DD|all] [--pending] [--json]

The alerts dmarcwatchd raised (dmarcwatchd(8) has the rules), oldest first:
time (UTC), severity, rule, domain, state and the message.  State: sent (syslog
took it), pending (recorded, not sent yet: dmarcwatchd sends it at its next
pass), summary (one of a burst, sent as one summary line).

  DOMAIN, --domain D   one policy domain (default: every domain)
  --since WHEN         the window: )" SINCE_FORMS R"(;
                       default the 7 days ending today
  --pending            only the alerts not sent yet
  --json               {"alerts":[{"id", "time", "rule", "domain", "severity",
                       "state", "sent_at", "message", "fields":{...}}]}

Exit status: 0 success, 1 the store failed, 2 usage error or a domain the
store has no reports for.
)"},
  {"db", R"(Usage: dmarcwatch db verify [--json]
       dmarcwatch db upgrade
       dmarcwatch db enrichment [--json]

Looking after the store: verify recomputes the totals and decodes every value,
upgrade brings an older store up to date, enrichment shows what dmarcwatchd
learned from DNS.  dmarcwatch db SUBCOMMAND --help says more.

Exit status: 0 success, 1 the store failed (verify: a difference), 2 usage.
)"},
  {"db verify", R"(Usage: dmarcwatch db verify [--json]

Recompute the totals from the rows of the counted reports and check that every
key and value decodes; one line per difference.  Read-only: runs beside the
milter.

  --json   {"database", "ok", "problems":[...]}

Exit status: 0 consistent, 1 a difference or the store failed, 2 usage.
)"},
  {"db upgrade", R"(Usage: dmarcwatch db upgrade

Bring a store of an older schema up to date, in one transaction (any
read-write command does it too).  Takes no options.

Exit status: 0 success, 1 the store failed, 2 usage.
)"},
  {"db enrichment", R"(Usage: dmarcwatch db enrichment [--json]

What dmarcwatchd learned from DNS: PTR (with forward confirmation), ASN and
country per IP; the SPF result per domain and IP; the live DMARC and SPF
records per domain.  Read-only.

  --json   {"database", "ips":[...], "spf":[...], "policies":[...]}

Exit status: 0 success, 1 the store failed, 2 usage.
)"},
  {"reindex", R"(Usage: dmarcwatch reindex [--json]

Parse every archived payload again into a fresh store, verify it and swap it
in; the old store is kept beside it.  Needs the store alone: stop
dmarcwatch-milter first.

  --json   {"database", "reports_before", "reports_after", "payloads_parsed",
           "reports_copied", "old_store", "notes":[...]}

Exit status: 0 success, 1 the store failed, 2 usage.
)"},
  {"deliver", R"(Usage: dmarcwatch deliver [--json] [--milter-spf] < MESSAGE

Store the report mail on standard input: a Postfix pipe(8) transport for the
rua address.

  --json        the JSON line of ingest instead of the text line
  --milter-spf  the mail came through dmarcwatch-milter: use the SPF result
                it recorded (see dmarcwatch ingest --help)

Exit status (sysexits.h, as pipe(8) expects): 0 stored, a duplicate, kept as
a conflict or rejected as forged (UntrustedReports reject: not bounced); 64
usage; 65 no readable report (the MTA bounces it); 75 the store or the
configuration failed, or a per-day sender limit with OverLimitAction tempfail
(the MTA retries).
)"},
  {"help", R"(Usage: dmarcwatch help [COMMAND [SUBCOMMAND]]

The usage of COMMAND (also: dmarcwatch COMMAND --help); without COMMAND, the
list of commands.

Exit status: 0 success, 2 an unknown command.
)"},
};

#undef SINCE_FORMS

//! What every text leaves to the main usage.
constexpr std::string_view s_footer = "Options before COMMAND (-c FILE, --db DIR): see dmarcwatch --help.\n";

} // namespace

bool wantsHelp(const std::vector<std::string>& args)
{
  return std::any_of(args.begin(), args.end(), [](const std::string& arg) { return arg == "-h" || arg == "--help"; });
}

std::string helpTopic(const std::vector<std::string>& words)
{
  if (words.empty()) {
    return "";
  }
  if (words.size() > 1 && commandUsage(words[0] + " " + words[1])) {
    return words[0] + " " + words[1];
  }
  return words[0];
}

std::optional<std::string_view> commandUsage(std::string_view topic)
{
  for (const auto& command : s_commands) {
    if (command.topic == topic) {
      return command.text;
    }
  }
  return std::nullopt;
}

int printCommandHelp(std::string_view topic)
{
  const auto text = commandUsage(topic);
  if (!text) {
    std::cerr << "dmarcwatch: unknown command '" << collector::printable(topic, 100) << "' (see dmarcwatch --help)\n";
    return s_exitUsage;
  }
  std::cout << *text << "\n" << s_footer;
  return 0;
}

} // namespace dmarcwatch::cli
