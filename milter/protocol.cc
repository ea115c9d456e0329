/*
 * protocol.cc - milter packet framing, command decoders, reply encoders.
 * See protocol.hh for the format and why it is ours.
 */
#include "config.h"

#include "milter/protocol.hh"

#include <arpa/inet.h>
#include <cstring>

namespace dmarcwatch::milter::protocol
{
namespace
{

uint32_t readUint32(std::string_view data, size_t offset)
{
  uint32_t value = 0;
  std::memcpy(&value, data.data() + offset, sizeof value);
  return ntohl(value);
}

void appendUint32(std::string& out, uint32_t value)
{
  value = htonl(value);
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

void appendString(std::string& out, std::string_view text)
{
  out.append(text);
  out.push_back('\0');
}

//! The packet's length field, then its letter; the caller appends the data.
void appendHeader(std::string& out, char letter, size_t dataLength)
{
  appendUint32(out, static_cast<uint32_t>(dataLength + 1));
  out.push_back(letter);
}

} // namespace

std::optional<Packet> nextPacket(std::string_view buffer, size_t& consumed)
{
  consumed = 0;
  if (buffer.size() < 4) {
    return std::nullopt;
  }
  uint32_t length = readUint32(buffer, 0);
  if (length == 0 || length > s_maxPacket) {
    throw ProtocolError("packet length " + std::to_string(length) + " out of range 1-" +
                        std::to_string(s_maxPacket));
  }
  if (buffer.size() - 4 < length) {
    return std::nullopt;
  }
  consumed = 4 + static_cast<size_t>(length);
  return Packet{buffer[4], buffer.substr(5, length - 1)};
}

Negotiation parseNegotiation(std::string_view data)
{
  if (data.size() < 12) {
    throw ProtocolError("option negotiation of " + std::to_string(data.size()) + " bytes (need 12)");
  }
  return {readUint32(data, 0), readUint32(data, 4), readUint32(data, 8)};
}

std::vector<std::string_view> splitStrings(std::string_view data)
{
  std::vector<std::string_view> out;
  while (!data.empty()) {
    size_t nul = data.find('\0');
    if (nul == std::string_view::npos) {
      out.push_back(data);
      break;
    }
    out.push_back(data.substr(0, nul));
    data.remove_prefix(nul + 1);
  }
  return out;
}

Macros parseMacros(std::string_view data)
{
  if (data.empty()) {
    throw ProtocolError("macro packet without a command letter");
  }
  Macros out;
  out.forCommand = data[0];
  std::vector<std::string_view> strings = splitStrings(data.substr(1));
  for (size_t i = 0; i + 1 < strings.size(); i += 2) {
    out.values.emplace_back(strings[i], strings[i + 1]);
  }
  return out;
}

ConnectInfo parseConnect(std::string_view data)
{
  ConnectInfo out;
  size_t nul = data.find('\0');
  if (nul == std::string_view::npos || nul + 1 >= data.size()) {
    throw ProtocolError("connect packet without host name and family");
  }
  out.hostname = data.substr(0, nul);
  out.family = data[nul + 1];
  std::string_view rest = data.substr(nul + 2);
  if (out.family == 'U') {
    return out; // unknown: no port, no address
  }
  if (rest.size() < 2) {
    throw ProtocolError("connect packet without port");
  }
  uint16_t port = 0;
  std::memcpy(&port, rest.data(), sizeof port);
  out.port = ntohs(port);
  rest.remove_prefix(2);
  size_t end = rest.find('\0');
  out.address = end == std::string_view::npos ? rest : rest.substr(0, end);
  return out;
}

std::pair<std::string_view, std::string_view> parseHeader(std::string_view data)
{
  std::vector<std::string_view> strings = splitStrings(data);
  if (strings.size() < 2) {
    throw ProtocolError("header packet without name and value");
  }
  return {strings[0], strings[1]};
}

void appendPacket(std::string& out, char letter, std::string_view data)
{
  appendHeader(out, letter, data.size());
  out.append(data);
}

void appendNegotiationReply(std::string& out, uint32_t version, uint32_t actions, uint32_t protocol,
                            const std::vector<std::string>& macroLists)
{
  size_t length = 12;
  for (const std::string& list : macroLists) {
    if (!list.empty()) {
      length += 4 + list.size() + 1;
    }
  }
  appendHeader(out, reply::optionNegotiation, length);
  appendUint32(out, version);
  appendUint32(out, actions);
  appendUint32(out, protocol);
  for (size_t stageIndex = 0; stageIndex < macroLists.size(); ++stageIndex) {
    if (!macroLists[stageIndex].empty()) {
      appendUint32(out, static_cast<uint32_t>(stageIndex));
      appendString(out, macroLists[stageIndex]);
    }
  }
}

void appendAddHeader(std::string& out, std::string_view name, std::string_view value)
{
  appendHeader(out, reply::addHeader, name.size() + value.size() + 2);
  appendString(out, name);
  appendString(out, value);
}

void appendDeleteHeader(std::string& out, uint32_t index, std::string_view name)
{
  appendHeader(out, reply::changeHeader, 4 + name.size() + 2);
  appendUint32(out, index);
  appendString(out, name);
  appendString(out, "");
}

void appendDeleteRecipient(std::string& out, std::string_view recipient)
{
  appendHeader(out, reply::deleteRecipient, recipient.size() + 1);
  appendString(out, recipient);
}

void appendReplyCode(std::string& out, std::string_view code, std::string_view xcode, std::string_view text)
{
  std::string line;
  line.reserve(code.size() + xcode.size() + text.size() + 8);
  line.append(code);
  line.push_back(' ');
  if (!xcode.empty()) {
    line.append(xcode);
    line.push_back(' ');
  }
  for (char c : text) {
    line.push_back(c);
    if (c == '%') {
      line.push_back('%'); // the MTA reads the text as a format string
    }
  }
  appendHeader(out, reply::replyCode, line.size() + 1);
  appendString(out, line);
}

} // namespace dmarcwatch::milter::protocol
