/*
 * callbacks.hh - registration of the libmilter callbacks (callbacks.cc).
 *
 * Users: main.cc.  Thread-safety: call once, before smfi_main().
 * Error policy: returns false when libmilter refuses the registration.
 */
#pragma once

#include "milter/session.hh"

namespace dmarcwatch::milter
{

//! \brief smfi_register our callbacks; every connection will use runtime. \return false on MI_FAILURE.
bool registerCallbacks(Runtime& runtime);

} // namespace dmarcwatch::milter
