#ifndef LRM_CHDF5_SHIM_H
#define LRM_CHDF5_SHIM_H

// Swift cannot import HDF5's predefined-type and constant macros: most of them expand to a call of
// H5open() followed by a global, or use casts Swift's importer does not evaluate. These accessors
// return the same values. Every raw HDF5 call of the package goes through LRMKeras's HDF5Library.swift.

#include <hdf5.h>

static inline hid_t lrm_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t lrm_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t lrm_h5t_native_uint16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t lrm_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t lrm_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t lrm_h5t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t lrm_h5t_ieee_f64le(void) { return H5T_IEEE_F64LE; }

static inline unsigned lrm_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned lrm_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline size_t lrm_h5t_variable(void) { return H5T_VARIABLE; }

static inline hid_t lrm_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t lrm_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t lrm_h5s_all(void) { return H5S_ALL; }
static inline hid_t lrm_h5e_default(void) { return H5E_DEFAULT; }

/// Turns off HDF5's automatic printing of the error stack for the calling thread.
static inline herr_t lrm_h5e_silence(void) { return H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/// The type of the link `name` in `loc` (H5L_TYPE_HARD, H5L_TYPE_SOFT, H5L_TYPE_EXTERNAL, …), or a negative
/// value on failure. Wraps H5Lget_info, whose struct and name differ between HDF5 1.10 and 1.12+.
static inline int lrm_h5l_link_type(hid_t loc, const char *name) {
    H5L_info_t info;
    if (H5Lget_info(loc, name, &info, H5P_DEFAULT) < 0) return -1;
    return (int)info.type;
}

/// Frees the strings HDF5 allocated while reading variable-length data into `buf`.
/// H5Dvlen_reclaim in HDF5 1.10, H5Treclaim from 1.12 on.
static inline herr_t lrm_h5_reclaim_vlen(hid_t type, hid_t space, void *buf) {
#if H5_VERSION_GE(1, 12, 0)
    return H5Treclaim(type, space, H5P_DEFAULT, buf);
#else
    return H5Dvlen_reclaim(type, space, H5P_DEFAULT, buf);
#endif
}

/// The number of links in the group `group`, or a negative value on failure.
static inline long long lrm_h5g_link_count(hid_t group) {
    H5G_info_t info;
    if (H5Gget_info(group, &info) < 0) return -1;
    return (long long)info.nlinks;
}

#endif
