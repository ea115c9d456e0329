/*
 * dkim-sign.cc - sign a test mail for the e2e tests (issue 14):
 *   dkim-sign KEY.pem SELECTOR DOMAIN [simple|relaxed] < mail > signed-mail
 * rsa-sha256 over every header field; the output has CRLF line ends and the
 * DKIM-Signature field first (folded with CRLF TAB by libopendkim).
 * Exit 0, or 1 with a message on stderr, 2 for usage.
 */
#include "t/unit/dkim-signer.hh"

#include <iostream>
#include <iterator>

int main(int argc, char** argv)
{
  if (argc < 4 || argc > 5 || (argc == 5 && std::string(argv[4]) != "simple" && std::string(argv[4]) != "relaxed")) {
    std::cerr << "usage: dkim-sign KEY.pem SELECTOR DOMAIN [simple|relaxed] < mail > signed-mail\n";
    return 2;
  }
  try {
    std::ifstream keyFile(argv[1], std::ios::binary);
    if (!keyFile) {
      std::cerr << "dkim-sign: cannot read " << argv[1] << "\n";
      return 1;
    }
    const std::string pem((std::istreambuf_iterator<char>(keyFile)), std::istreambuf_iterator<char>());
    const std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    const bool relaxed = argc < 5 || std::string(argv[4]) == "relaxed";
    // Step: CRLF line ends, as the signature covers them (splitMessage does the same for the fields).
    const dmarcwatch::collector::RawMessage raw = dmarcwatch::collector::splitMessage(input);
    std::string message;
    for (const auto& field : raw.fields) {
      message += field + "\r\n";
    }
    message += "\r\n" + raw.body;
    std::cout << dmarcwatch::test::dkimSigned(message, pem, argv[2], argv[3], relaxed);
    return std::cout.flush() ? 0 : 1;
  }
  catch (const std::exception& e) {
    std::cerr << "dkim-sign: " << e.what() << "\n";
    return 1;
  }
}
