#include "config.h"

#include "collector/config.hh"
