#include "config.h"

#include "collector/report.hh"
