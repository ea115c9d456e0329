#include "config.h"

#include "collector/store.hh"
