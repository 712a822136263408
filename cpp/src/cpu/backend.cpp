#include "cpu/backend.hpp"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <thread>

#include "cpu/gemm.hpp"
#include "cpu/thread_pool.hpp"

namespace mpsnn::cpu {

CpuStorage::CpuStorage(std::size_t bytes) : bytes_(bytes), owned_(true) {
  const std::size_t rounded = ((bytes ? bytes : 1) + 63) / 64 * 64;
  data_ = std::aligned_alloc(64, rounded);
  if (!data_) throw std::bad_alloc();
  std::memset(data_, 0, rounded);
}

CpuStorage::CpuStorage(void* data, std::size_t bytes, std::shared_ptr<void> keep_alive)
    : data_(data), bytes_(bytes), owned_(false), keep_alive_(std::move(keep_alive)) {}

CpuStorage::~CpuStorage() {
  if (owned_) std::free(data_);
}

std::string CpuBackend::device_description(int) const {
  std::string model = "CPU";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  return model + ", " + std::to_string(threads()) + " threads, " + blas_description();
}

std::shared_ptr<detail::Storage> CpuBackend::allocate(int, std::size_t bytes) {
  return std::make_shared<CpuStorage>(bytes);
}

std::shared_ptr<detail::Storage> CpuBackend::wrap_host_memory(int, void* data, std::size_t bytes,
                                                              std::shared_ptr<void> keep_alive) {
  return std::make_shared<CpuStorage>(data, bytes, std::move(keep_alive));
}

void CpuBackend::copy_to_host(const detail::Storage& source, std::size_t offset, void* host,
                              std::size_t bytes) {
  std::memcpy(host, static_cast<const char*>(source.host_pointer()) + offset, bytes);
}

void CpuBackend::copy_from_host(detail::Storage& destination, std::size_t offset, const void* host,
                                std::size_t bytes) {
  std::memcpy(static_cast<char*>(destination.host_pointer()) + offset, host, bytes);
}

}  // namespace mpsnn::cpu

namespace mpsnn::detail {
std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<cpu::CpuBackend>(); }
}  // namespace mpsnn::detail
