#include "config.h"

#include "collector/cli-commands.hh"
