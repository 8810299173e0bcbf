#include "hw/boot/boot_loader.h"

#include <stdexcept>

#include "hw/acpi/acpi_tables.h"
#include "hw/boot/bios_loader.h"
#include "hw/boot/image_file.h"
#include "hw/boot/linux_loader.h"
#include "hw/boot/multiboot_loader.h"

namespace janus {

namespace {

// Enough of the kernel's start to recognise both formats: the bzImage header sits below 1 KiB
// and the Multiboot header within the first 8 KiB.
constexpr uint64_t kProbeBytes = 8192;

}  // namespace

std::vector<std::string> split_module_list(const std::string& list) {
  std::vector<std::string> modules;
  std::string current;
  for (size_t i = 0; i < list.size(); i++) {
    if (list[i] != ',') { current += list[i]; continue; }
    if (i + 1 < list.size() && list[i + 1] == ',') { current += ','; i++; continue; }
    modules.push_back(current);
    current.clear();
  }
  if (!current.empty() || !modules.empty()) modules.push_back(current);
  return modules;
}

CpuState load_guest(GuestMemory& mem, const BootConfig& config) {
  if (config.kernel.empty()) {
    if (!config.initrd.empty()) throw std::runtime_error("-initrd needs -kernel");
    if (!config.append.empty()) throw std::runtime_error("-append needs -kernel");
    if (config.bios.empty()) throw std::runtime_error("no guest: give -kernel FILE or -bios FILE");
    return load_bios(mem, config.bios);
  }
  if (!config.bios.empty()) load_bios(mem, config.bios);  // mapped for the guest, but not run

  const auto head = read_image_head(config.kernel, "kernel", kProbeBytes);
  // Without firmware to build them, Janus provides the ACPI tables (in the BIOS area, where a
  // Multiboot kernel's RSDP scan finds them too). Installed before the kernel: a kernel that
  // loads itself over the BIOS area wins.
  const uint64_t rsdp = install_acpi_tables(mem).value_or(0);
  if (looks_like_bzimage(head)) return load_linux(mem, {config.kernel, config.initrd, config.append, rsdp});
  if (is_multiboot(head)) return load_multiboot(mem, {config.kernel, config.append, split_module_list(config.initrd)});
  throw std::runtime_error("kernel '" + config.kernel + "' is neither a bzImage nor a Multiboot image");
}

}  // namespace janus
