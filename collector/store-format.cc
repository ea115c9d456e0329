#include "config.h"

#include "collector/store-format.hh"
