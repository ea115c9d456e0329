#include "config.h"

#include "collector/inflate.hh"
