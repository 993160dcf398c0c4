#ifndef LRM_CHDF5_SHIM_H
#define LRM_CHDF5_SHIM_H
#include <hdf5.h>
#endif
