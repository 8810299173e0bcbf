#include "hw/boot/bios_loader.h"

#include <algorithm>
#include <span>
#include <stdexcept>

#include "hw/boot/image_file.h"
#include "hw/pc_layout.h"

namespace janus {

CpuState load_bios(GuestMemory& mem, const std::string& path) {
  const std::string name = "bios '" + path + "'";
  const auto image = read_image_file(path, "bios", kBiosMaxBytes);
  if (image.empty()) throw std::runtime_error(name + " is empty");
  if (image.size() % kBiosGranularity)
    throw std::runtime_error(name + " is " + std::to_string(image.size()) +
                             " bytes, not a multiple of 4 KiB");

  mem.add_rom(layout::k4GiB - image.size(), image, "bios");
  // Real-mode firmware code runs in the F segment (and option ROM space below it), so the top of
  // the image must also appear under 1 MiB.
  const uint64_t shadow = std::min<uint64_t>(image.size(), layout::kBiosShadowEnd - layout::kBiosShadowStart);
  mem.add_rom(layout::kBiosShadowEnd - shadow, std::span(image).subspan(image.size() - shadow), "bios-shadow");
  return reset_cpu_state();
}

}  // namespace janus
