# The CPU GEMM provider: Accelerate on Apple, OpenBLAS from the scipy-openblas32
# wheel elsewhere. Defines the target mpsnn_blas and MPSNN_BLAS_RPATH, the run
# path that lets the installed libmpsnn find the BLAS inside site-packages with
# no LD_LIBRARY_PATH.
add_library(mpsnn_blas INTERFACE)
if(APPLE)
  find_library(ACCELERATE Accelerate REQUIRED)
  target_link_libraries(mpsnn_blas INTERFACE ${ACCELERATE})
  target_compile_definitions(mpsnn_blas INTERFACE MPSNN_BLAS_ACCELERATE ACCELERATE_NEW_LAPACK)
  set(MPSNN_BLAS_RPATH "")
  return()
endif()

if(NOT MPSNN_OPENBLAS_DIR)
  find_package(Python 3.10 COMPONENTS Interpreter REQUIRED)
  execute_process(
    COMMAND ${Python_EXECUTABLE} -c "import scipy_openblas32, os; print(os.path.dirname(scipy_openblas32.__file__))"
    OUTPUT_VARIABLE MPSNN_OPENBLAS_DIR OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _openblas_found)
  if(NOT _openblas_found EQUAL 0)
    message(FATAL_ERROR "mpsnn needs OpenBLAS from the scipy-openblas32 wheel: "
      "pip install scipy-openblas32 (for ${Python_EXECUTABLE}), or pass -DMPSNN_OPENBLAS_DIR=<its package folder>")
  endif()
endif()
find_library(MPSNN_OPENBLAS_LIBRARY NAMES scipy_openblas PATHS ${MPSNN_OPENBLAS_DIR}/lib NO_DEFAULT_PATH REQUIRED)
target_include_directories(mpsnn_blas INTERFACE ${MPSNN_OPENBLAS_DIR}/include)
target_link_libraries(mpsnn_blas INTERFACE ${MPSNN_OPENBLAS_LIBRARY})
target_compile_definitions(mpsnn_blas INTERFACE MPSNN_BLAS_SCIPY_OPENBLAS)
# Installed as site-packages/mpsnn/lib/libmpsnn.so beside site-packages/scipy_openblas32/lib.
set(MPSNN_BLAS_RPATH "$ORIGIN/../../scipy_openblas32/lib")
if(NOT SKBUILD)
  # A plain CMake install keeps pointing at the wheel it was built against.
  list(APPEND MPSNN_BLAS_RPATH "${MPSNN_OPENBLAS_DIR}/lib")
endif()
message(STATUS "mpsnn: CPU GEMM from ${MPSNN_OPENBLAS_LIBRARY}")
