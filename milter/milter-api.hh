/*
 * milter-api.hh - what a session may ask of the MTA, as an interface (the
 * calls libmilter names smfi_getsymval, smfi_addheader, smfi_chgheader,
 * smfi_delrcpt, smfi_setreply).
 *
 * Sessions (session.hh) talk to the MTA only through MilterApi, so their
 * logic runs in unit tests with a recording fake.  MilterConnection
 * (dispatch.cc) implements it over the milter protocol.
 *
 * Thread-safety: used by the thread running the connection's step only.
 * Error policy: calls return false when the request is not possible now
 * (an edit outside end of message); they never throw but bad_alloc.
 */
#pragma once

#include <optional>
#include <string>

namespace dmarcwatch::milter
{

//! What a step tells the MTA (mapped to a reply packet in dispatch.cc).
enum class Verdict
{
  Continue, //!< keep sending this message
  Accept,   //!< done with this message: deliver it, send no more of it
  Discard,  //!< accept and drop silently
  Tempfail, //!< 4xx: the MTA keeps the message and retries later
  Reject,   //!< 5xx: the MTA refuses the message (a forged report under UntrustedReports reject)
  NoReply   //!< send nothing: the MTA agreed not to wait for an answer at this step (SMFIP_NR_*)
};

class MilterApi
{
public:
  virtual ~MilterApi() = default;
  //! \brief A macro the MTA sent ("i", "{daemon_name}"). \return nullopt when not sent. Does not block.
  virtual std::optional<std::string> symbol(const char* name) = 0;
  //! \brief Add a header (end of message only). \return false on failure.
  virtual bool addHeader(const std::string& name, const std::string& value) = 0;
  /*!
   * \brief Delete the index-th (1-based) header of that name
   * (end of message only). \return false on failure.
   */
  virtual bool deleteHeader(const std::string& name, int index) = 0;
  //! \brief Delete a recipient, the address as the MTA gave it (end of message only).
  virtual bool deleteRecipient(const std::string& recipient) = 0;
  //! \brief The SMTP reply for the next Tempfail or Reject answer ("451", "4.3.0", text; "550", "5.7.1", text).
  virtual bool setReply(const std::string& rcode, const std::string& xcode, const std::string& text) = 0;
};

} // namespace dmarcwatch::milter
