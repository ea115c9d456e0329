#include "config.h"

#include "collector/log.hh"
