#include "config.h"

#include "collector/unpack.hh"
