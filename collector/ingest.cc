#include "config.h"

#include "collector/ingest.hh"
