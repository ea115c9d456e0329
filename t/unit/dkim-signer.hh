/*
 * dkim-signer.hh - DKIM-signing test mail with libopendkim (dkim_sign), for the
 * unit tests (test-dkim-verify, test-message-auth) and t/e2e/dkim-sign.cc.
 * Not in the collector libraries: dmarcwatch never signs.
 *
 * The message is split like the verifier splits it (collector/dns splitMessage)
 * and fed field by field; dkim_getsighdr's value is folded with CRLF TAB
 * already, so the field is put in front of the message as is (making its
 * line ends CRLF again would break it).  Keys and records: makeDkimKey()
 * runs openssl (genrsa, rsa -pubout) in a directory.
 *
 * Header-only.  Errors: std::runtime_error when signing or openssl fails.
 */
#pragma once

#include "collector/dns/dkim-verify.hh"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// See collector/dns/dkim-verify.cc: dkim.h spells C99's _Bool.
#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool

namespace dmarcwatch::test
{

//! A report-like mail (From noreply-dmarc@auth.test, a folded Subject, a body with double spaces and
//! trailing empty lines that the canonicalizations treat differently), CRLF line ends.
inline const std::string c_testMail = "From: DMARC reports <noreply-dmarc@auth.test>\r\n"
                                      "To: dmarc@example.net\r\n"
                                      "Subject: Report domain: example.net Submitter: auth.test\r\n"
                                      " Report-ID: 1234567890\r\n"
                                      "Date: Mon, 07 Dec 2026 00:00:00 +0000\r\n"
                                      "Message-ID: <1234567890@auth.test>\r\n"
                                      "MIME-Version: 1.0\r\n"
                                      "Content-Type: text/plain\r\n"
                                      "\r\n"
                                      "This is a report.\r\n  Two spaces  inside.\r\n\r\n\r\n";

struct DkimKey
{
  std::string pem;    //!< the private key (PEM)
  std::string record; //!< "v=DKIM1; k=rsa; p=..." for TXT <selector>._domainkey.<domain>
};

//! \brief An RSA key of bits made by openssl in dir.  Blocks (key generation).
inline DkimKey makeDkimKey(const std::filesystem::path& dir, unsigned bits = 2048)
{
  const auto pem = dir / ("dkim-" + std::to_string(bits) + ".pem");
  const auto pub = dir / ("dkim-" + std::to_string(bits) + ".b64");
  const std::string command = "openssl genrsa -out '" + pem.string() + "' " + std::to_string(bits) +
                              " 2>/dev/null && openssl rsa -in '" + pem.string() +
                              "' -pubout -outform DER 2>/dev/null | base64 -w0 > '" + pub.string() + "'";
  if (std::system(command.c_str()) != 0) {
    throw std::runtime_error("openssl failed: " + command);
  }
  auto read = [](const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  };
  DkimKey key;
  key.pem = read(pem);
  key.record = "v=DKIM1; k=rsa; p=" + read(pub);
  if (key.pem.empty() || key.record.size() < 40) {
    throw std::runtime_error("openssl made no key in " + dir.string());
  }
  return key;
}

/*!
 * \brief The DKIM-Signature field ("DKIM-Signature: ...", CRLF TAB folds, no final CRLF) of message
 * signed with pem for selector and domain, rsa-sha256, the given canonicalization for header and body.
 * Signs every header field of the message.
 */
inline std::string dkimSignatureField(const std::string& message, const std::string& pem, const std::string& selector,
                                      const std::string& domain, bool relaxed, ssize_t bodyLimit = -1)
{
  struct LibDeleter
  {
    void operator()(DKIM_LIB* lib) const { dkim_close(lib); }
  };
  struct HandleDeleter
  {
    void operator()(DKIM* dkim) const { dkim_free(dkim); }
  };
  std::unique_ptr<DKIM_LIB, LibDeleter> lib(dkim_init(nullptr, nullptr));
  if (!lib) {
    throw std::runtime_error("dkim_init failed");
  }
  u_int minBits = 512; // test keys under the default 1024 bits are signed too
  dkim_options(lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &minBits, sizeof minBits);
  auto statusName = [](DKIM_STAT st) {
    const char* name = dkim_getresultstr(st);
    return std::string(name != nullptr ? name : "status ") + (name != nullptr ? "" : std::to_string(st));
  };
  const dkim_canon_t canon = relaxed ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
  std::string key = pem;
  DKIM_STAT status = DKIM_STAT_OK;
  std::unique_ptr<DKIM, HandleDeleter> dkim(
    dkim_sign(lib.get(), reinterpret_cast<const u_char*>("test"), nullptr, reinterpret_cast<dkim_sigkey_t>(key.data()),
              reinterpret_cast<const u_char*>(selector.c_str()), reinterpret_cast<const u_char*>(domain.c_str()), canon,
              canon, DKIM_SIGN_RSASHA256, bodyLimit, &status)); // bodyLimit >= 0: an l= tag
  if (!dkim) {
    throw std::runtime_error("dkim_sign: " + statusName(status));
  }
  collector::RawMessage raw = collector::splitMessage(message);
  for (auto& field : raw.fields) {
    if (dkim_header(dkim.get(), reinterpret_cast<u_char*>(field.data()), field.size()) != DKIM_STAT_OK) {
      throw std::runtime_error("dkim_header refused: " + field);
    }
  }
  status = dkim_eoh(dkim.get());
  if (status == DKIM_STAT_OK && !raw.body.empty()) {
    status = dkim_body(dkim.get(), reinterpret_cast<u_char*>(raw.body.data()), raw.body.size());
  }
  if (status == DKIM_STAT_OK) {
    status = dkim_eom(dkim.get(), nullptr);
  }
  if (status != DKIM_STAT_OK) {
    const char* detail = dkim_geterror(dkim.get());
    throw std::runtime_error("signing: " + statusName(status) + " " + (detail != nullptr ? detail : ""));
  }
  const std::string name = std::string(DKIM_SIGNHEADER) + ": ";
  std::vector<u_char> buf(16384);
  if (dkim_getsighdr(dkim.get(), buf.data(), buf.size(), name.size()) != DKIM_STAT_OK) {
    throw std::runtime_error("dkim_getsighdr failed");
  }
  return name + reinterpret_cast<const char*>(buf.data());
}

//! \brief message (CRLF line ends) with a DKIM-Signature field in front.
inline std::string dkimSigned(const std::string& message, const std::string& pem, const std::string& selector,
                              const std::string& domain, bool relaxed = true, ssize_t bodyLimit = -1)
{
  return dkimSignatureField(message, pem, selector, domain, relaxed, bodyLimit) + "\r\n" + message;
}

} // namespace dmarcwatch::test
