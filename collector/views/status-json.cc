/*
 * status-json.cc - status's JSON document (status-json.hh).
 */
#include "config.h"

#include "collector/views/status-json.hh"

namespace dmarcwatch::collector
{

namespace
{

void writeSource(JsonWriter& out, const SourceSummary& src)
{
  out.beginObject().key("ip");
  if (src.ip) {
    out.value(src.ip->toString());
  }
  else {
    out.null();
  }
  out.key("header_from").value(src.headerFrom)
    .key("service").value(src.service)
    .key("category").value(src.category)
    .key("class").value(src.cls)
    .key("messages").value(src.messages)
    .key("dmarc_pass").value(src.dmarcPass)
    .key("dmarc_fail").value(src.dmarcFail)
    .key("country").value(src.country)
    .key("asn").value(uint64_t{src.asn})
    .key("as_org").value(src.asOrg)
    .key("ptr").value(src.ptr)
    .endObject();
}

void writeService(JsonWriter& out, const ServiceSummary& svc, bool withSources, bool withAuth)
{
  out.beginObject()
    .key("name").value(svc.name)
    .key("id").value(svc.id)
    .key("category").value(svc.category)
    .key("class").value(svc.cls)
    .key("legitimate").value(legitimateSender(svc))
    .key("confidence").value(svc.confidence)
    .key("evidence").stringArray(svc.evidence)
    .key("messages").value(svc.messages)
    .key("dmarc_pass").value(svc.dmarcPass)
    .key("dmarc_fail").value(svc.dmarcFail);
  if (withSources) {
    out.key("sources").value(svc.sources);
  }
  if (withAuth) {
    const AuthCounts& a = svc.auth;
    out.key("spf_pass").value(a.spfPass)
      .key("spf_aligned").value(a.spfAligned)
      .key("dkim_pass").value(a.dkimPass)
      .key("dkim_aligned").value(a.dkimAligned)
      .key("overridden").value(a.overridden)
      .key("forwarded").value(a.forwarded)
      .key("quarantined").value(a.quarantined)
      .key("rejected").value(a.rejected)
      .key("failure").value(svc.failure)
      .key("fix").value(svc.fix);
  }
  out.endObject();
}

void writeDays(JsonWriter& out, const std::vector<DayTotals>& days)
{
  out.beginArray();
  for (const auto& day : days) {
    out.beginObject()
      .key("day").value(formatDay(day.day))
      .key("messages").value(day.messages)
      .key("dmarc_pass").value(day.dmarcPass)
      .endObject();
  }
  out.endArray();
}

void writeWhatIf(JsonWriter& out, const WhatIf& w)
{
  out.beginObject()
    .key("policy").value(w.policy)
    .key("pct").value(w.pct)
    .key("messages").value(w.messages)
    .key("stopped").value(w.stopped)
    .key("stopped_legitimate").value(w.stoppedLegitimate)
    .key("forwarded").value(w.forwarded)
    .key("overridden").value(w.overridden)
    .key("services").beginArray();
  for (const auto& s : w.services) {
    out.beginObject()
      .key("name").value(s.name)
      .key("class").value(s.cls)
      .key("legitimate").value(s.legitimate)
      .key("messages").value(s.messages)
      .key("failing").value(s.failing)
      .key("forwarded").value(s.forwarded)
      .key("overridden").value(s.overridden)
      .key("stopped").value(s.stopped)
      .endObject();
  }
  out.endArray().endObject();
}

void writeSpf(JsonWriter& out, const SpfAdvice& spf)
{
  out.beginObject()
    .key("state").value(spf.state)
    .key("record").value(spf.record)
    .key("lookups");
  if (spf.lookups) {
    out.value(*spf.lookups);
  }
  else {
    out.null();
  }
  out.key("error").value(spf.error).key("mechanisms").beginArray();
  for (const auto& m : spf.mechanisms) {
    out.beginObject()
      .key("mechanism").value(m.mechanism)
      .key("verdict").value(m.verdict)
      .key("lookup").value(m.lookup)
      .key("used_by").stringArray(m.usedBy)
      .endObject();
  }
  out.endArray().key("unused").stringArray(spf.unused);
  for (const auto* list : {&spf.add, &spf.remove}) {
    out.key(list == &spf.add ? "add" : "remove").beginArray();
    for (const auto& change : *list) {
      out.beginObject()
        .key("mechanism").value(change.mechanism)
        .key("why").value(change.why)
        .key("review").value(change.review)
        .endObject();
    }
    out.endArray();
  }
  out.key("suggested").value(spf.suggested)
    .key("starting_point").value(spf.startingPoint)
    .key("suggested_lookups");
  if (spf.suggestedLookups) {
    out.value(*spf.suggestedLookups);
  }
  else {
    out.null();
  }
  out.key("notes").stringArray(spf.notes).endObject();
}

} // namespace

void writeDomainJson(JsonWriter& out, const DomainView& view, const StatusExtras& extras)
{
  const DomainStatus& s = view.status;
  const bool detail = view.detail;
  out.beginObject()
    .key("domain").value(s.domain)
    .key("from").value(formatDay(s.fromDay))
    .key("to").value(formatDay(s.toDay))
    .key("newest");
  if (s.newestDay) {
    out.value(formatDay(*s.newestDay));
  }
  else {
    out.null();
  }
  out.key("covered_days").value(uint64_t{view.coveredDays})
    .key("messages").value(s.messages)
    .key("dmarc_pass").value(s.dmarcPass)
    .key("dmarc_fail").value(s.dmarcFail)
    .key("would_block").value(s.wouldBlock)
    .key("unknown_messages").value(view.unknownMessages);
  // How much of it authenticated reports carry (their verdicts in this order).
  constexpr Authenticity verdicts[] = {Authenticity::Authenticated, Authenticity::Unauthenticated, Authenticity::Forged};
  for (const Authenticity verdict : verdicts) {
    out.key(std::string(authenticityName(verdict)) + "_messages").value(s.authenticity.messagesOf(verdict));
  }
  out.key("reports_by_authenticity").beginObject();
  for (const Authenticity verdict : verdicts) {
    out.key(authenticityName(verdict)).value(s.authenticity.reportsOf(verdict));
  }
  out.endObject()
    .key("policy").beginObject()
    .key("p").value(view.policy.p)
    .key("pct").value(view.policy.pct)
    .key("testing").value(view.policy.testing)
    .key("from").value(view.policy.from)
    .key("reported").value(view.reportedPolicy)
    .key("live").value(view.live && view.live->state == "found" ? view.live->p : std::string())
    .endObject()
    .key("readiness").beginObject()
    .key("state").value(view.readiness.name())
    .key("text").value(view.readiness.text())
    .key("detail").value(view.readiness.detail)
    .key("services").stringArray(view.readiness.services)
    .endObject()
    .key("services").beginArray();
  for (const auto& svc : s.services) {
    writeService(out, svc, s.sourcesCounted, detail);
  }
  out.endArray().key("top_sources").beginArray();
  for (const auto& src : s.topSources) {
    writeSource(out, src);
  }
  out.endArray().key("failing_sources").beginArray();
  for (const auto& src : s.failingSources) {
    writeSource(out, src);
  }
  out.endArray().key("trend");
  writeDays(out, s.trend);
  if (detail) {
    out.key("reporters").beginArray();
    for (const auto& r : view.reporters) {
      out.beginObject()
        .key("org").value(r.org)
        .key("reports").value(r.reports)
        .key("messages").value(r.messages)
        .key("first_begin").value(r.firstBegin)
        .key("last_end").value(r.lastEnd)
        .endObject();
    }
    out.endArray().key("service_trends").beginArray();
    for (const auto& t : view.serviceTrends) {
      out.beginObject().key("service").value(t.service).key("days");
      writeDays(out, t.days);
      out.endObject();
    }
    out.endArray();
  }
  if (extras.whatIf) {
    out.key("what_if");
    writeWhatIf(out, *extras.whatIf);
  }
  if (extras.spf) {
    out.key("spf");
    writeSpf(out, *extras.spf);
  }
  out.endObject();
}

std::string statusJson(const std::vector<DomainView>& views, const std::vector<StatusExtras>& extras)
{
  JsonWriter out;
  out.beginObject().key("domains").beginArray();
  for (size_t i = 0; i < views.size(); ++i) {
    writeDomainJson(out, views[i], i < extras.size() ? extras[i] : StatusExtras{});
  }
  out.endArray().endObject();
  return out.str();
}

} // namespace dmarcwatch::collector
