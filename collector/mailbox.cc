#include "config.h"

#include "collector/mailbox.hh"
