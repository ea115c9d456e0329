/*
 * milter-api.hh - the few smfi_* calls a session makes, as an interface.
 *
 * Sessions (session.hh) talk to the MTA only through MilterApi, so their
 * logic runs in unit tests with a recording fake and no libmilter.
 * callbacks.cc implements it over SMFICTX.
 *
 * Thread-safety: one MilterApi per callback invocation; it is used by the
 * connection thread that received the callback only.
 * Error policy: calls return false when libmilter reports MI_FAILURE; they
 * never throw.
 */
#pragma once

#include <optional>
#include <string>

namespace dmarcwatch::milter
{

//! What a callback tells the MTA (mapped to SMFIS_* in callbacks.cc).
enum class Verdict
{
  Continue, //!< keep sending this message
  Accept,   //!< done with this message: deliver it, send no more of it
  Discard,  //!< accept and drop silently
  Tempfail, //!< 4xx: the MTA keeps the message and retries later
  NoReply   //!< send nothing: the MTA agreed not to wait for an answer at this step (SMFIP_NR_*)
};

class MilterApi
{
public:
  virtual ~MilterApi() = default;
  //! \brief A macro the MTA sent ("i", "{daemon_name}"). \return nullopt when not sent. Does not block.
  virtual std::optional<std::string> symbol(const char* name) = 0;
  //! \brief smfi_addheader (end of message only). \return false on failure.
  virtual bool addHeader(const std::string& name, const std::string& value) = 0;
  /*!
   * \brief smfi_chgheader(name, index, NULL): delete the index-th (1-based) header of that name
   * (end of message only). \return false on failure.
   */
  virtual bool deleteHeader(const std::string& name, int index) = 0;
  //! \brief smfi_delrcpt with the address as the MTA gave it (end of message only).
  virtual bool deleteRecipient(const std::string& recipient) = 0;
  //! \brief smfi_setreply: the SMTP reply for a following Tempfail ("451", "4.3.0", text).
  virtual bool setReply(const std::string& rcode, const std::string& xcode, const std::string& text) = 0;
};

} // namespace dmarcwatch::milter
