// DebugExit is small enough to live in its header; this file keeps the one-concept-per-file
// pair complete and gives the class's vtable a home.
#include "hw/debug_exit.h"
