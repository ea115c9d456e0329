#include "config.h"

#include "collector/status-view.hh"
