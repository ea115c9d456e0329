#include "config.h"

#include "collector/lmdb.hh"
