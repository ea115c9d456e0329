#include "config.h"

#include "collector/mime.hh"
