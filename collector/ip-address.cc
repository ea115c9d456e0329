#include "config.h"

#include "collector/ip-address.hh"
