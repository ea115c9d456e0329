#include "config.h"

#include "collector/zip.hh"
