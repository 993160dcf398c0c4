#ifndef LRM_CZLIB_SHIM_H
#define LRM_CZLIB_SHIM_H
#include <zlib.h>
#endif
