#include <cctype>
#include <stdexcept>
#include <string>

#include "core/backend.hpp"
#include "mpsnn/device.hpp"

namespace mpsnn {

std::vector<BackendInfo> backends() {
  std::vector<BackendInfo> infos;
  for (detail::Backend* backend : detail::all_backends()) {
    BackendInfo info;
    info.name = backend->name();
    info.built = backend->built();
    info.reason = backend->unavailable_reason();
    info.available = info.reason.empty();
    info.device_count = info.available ? backend->device_count() : 0;
    infos.push_back(std::move(info));
  }
  return infos;
}

namespace {

std::string known_names() {
  std::string names;
  for (detail::Backend* backend : detail::all_backends())
    names += std::string(names.empty() ? "" : ", ") + backend->name();
  return names;
}

}  // namespace

Device::Device(std::string_view spec) : backend_(nullptr), index_(0) {
  const std::string text(spec);
  const auto colon = text.find(':');
  const std::string name = text.substr(0, colon);
  backend_ = detail::find_backend(name);
  if (!backend_)
    throw std::invalid_argument("[device] unknown backend '" + name + "' in '" + text +
                                "'; expected one of: " + known_names());
  if (colon != std::string::npos) {
    const std::string digits = text.substr(colon + 1);
    bool ok = !digits.empty() && digits.size() < 9;
    for (char c : digits) ok = ok && std::isdigit(static_cast<unsigned char>(c));
    if (!ok)
      throw std::invalid_argument("[device] '" + text +
                                  "' is malformed; expected 'name' or 'name:index' with index >= 0");
    index_ = std::stoi(digits);
  }
  const std::string reason = backend_->unavailable_reason();
  if (!reason.empty())
    throw std::runtime_error("[device] " + name + " is not available: " + reason);
  const int count = backend_->device_count();
  if (index_ >= count)
    throw std::runtime_error("[device] " + text + " is not available: " + name + " has " +
                             std::to_string(count) + " device(s) here");
}

Device Device::default_device() {
  for (detail::Backend* backend : detail::all_backends())
    if (backend->unavailable_reason().empty() && backend->device_count() > 0)
      return Device(backend->name());
  throw std::runtime_error("[device] no backend is available");
}

std::string Device::backend_name() const { return backend_->name(); }

std::string Device::name() const {
  const std::string base = backend_->name();
  return base == "cpu" ? base : base + ":" + std::to_string(index_);
}

std::string Device::description() const { return backend_->device_description(index_); }

}  // namespace mpsnn
