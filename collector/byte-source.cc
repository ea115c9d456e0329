#include "config.h"

#include "collector/byte-source.hh"
