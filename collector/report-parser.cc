#include "config.h"

#include "collector/report-parser.hh"
