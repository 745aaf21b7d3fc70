# SPDX-License-Identifier: MIT
# CMake package config for faultless, installed as
# LIBDIR/cmake/faultless/faultlessConfig.cmake, where LIBDIR is PREFIX/lib or
# (Debian's multiarch layout) PREFIX/lib/<multiarch>. Relocatable: the
# directories are found from this file's own place. Defines
#   faultless::faultless         the shared library (its malloc replaces the process's)
#   faultless::faultless_static  the static archive (link it whole to replace malloc)
# and faultless_INCLUDE_DIR, faultless_LIBRARY, faultless_VERSION.
include(CMakeFindDependencyMacro)
find_dependency(Threads)

get_filename_component(_faultless_libdir "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
get_filename_component(_faultless_prefix "${_faultless_libdir}/.." ABSOLUTE)
if(NOT EXISTS "${_faultless_prefix}/include/faultless.h"
   AND EXISTS "${_faultless_prefix}/../include/faultless.h")
  get_filename_component(_faultless_prefix "${_faultless_prefix}/.." ABSOLUTE)
endif()
set(faultless_INCLUDE_DIR "${_faultless_prefix}/include")
set(faultless_LIBRARY "${_faultless_libdir}/libfaultless.so")
set(_faultless_static "${_faultless_libdir}/libfaultless.a")

if(NOT EXISTS "${faultless_INCLUDE_DIR}/faultless.h" OR NOT EXISTS "${faultless_LIBRARY}")
  set(faultless_FOUND FALSE)
  set(faultless_NOT_FOUND_MESSAGE
      "faultless: ${faultless_INCLUDE_DIR}/faultless.h or ${faultless_LIBRARY} is missing")
  return()
endif()

if(NOT TARGET faultless::faultless)
  add_library(faultless::faultless SHARED IMPORTED)
  set_target_properties(faultless::faultless PROPERTIES
    IMPORTED_LOCATION "${faultless_LIBRARY}"
    IMPORTED_SONAME "libfaultless.so.0"
    INTERFACE_INCLUDE_DIRECTORIES "${faultless_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
endif()
if(NOT TARGET faultless::faultless_static AND EXISTS "${_faultless_static}")
  add_library(faultless::faultless_static STATIC IMPORTED)
  set_target_properties(faultless::faultless_static PROPERTIES
    IMPORTED_LOCATION "${_faultless_static}"
    INTERFACE_INCLUDE_DIRECTORIES "${faultless_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
endif()
unset(_faultless_prefix)
unset(_faultless_libdir)
unset(_faultless_static)
set(faultless_FOUND TRUE)
