#include "config.h"

#include "collector/json.hh"
