// Symbol visibility: the library is built with hidden symbols; MPSNN_API marks
// what C++ users may link against.
#pragma once

#if defined(_WIN32)
#  if defined(MPSNN_BUILDING_LIBRARY)
#    define MPSNN_API __declspec(dllexport)
#  else
#    define MPSNN_API __declspec(dllimport)
#  endif
#else
#  define MPSNN_API __attribute__((visibility("default")))
#endif
