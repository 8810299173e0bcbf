// ACPI tables through the boot path: load_guest installs them for -kernel guests, the Linux
// loader hands the RSDP over in boot_params.acpi_rsdp_addr (protocol 2.14+) and reserves the
// table window in e820; with -bios over the BIOS area, firmware keeps it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "hw/acpi/acpi_tables.h"
#include "hw/boot/boot_loader.h"
#include "hw/boot/e820.h"
#include "hw/guest_memory.h"
#include "hw/pc_layout.h"

using namespace janus;

namespace {

constexpr uint64_t MiB = 1ull << 20;

struct TempFile {
  std::filesystem::path path;
  explicit TempFile(const std::vector<uint8_t>& bytes) {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path() /
           ("janus_acpi_boot_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  ~TempFile() { std::filesystem::remove(path); }
  std::string str() const { return path.string(); }
};

template <typename T> void put(std::vector<uint8_t>& b, size_t off, T v) { std::memcpy(&b[off], &v, sizeof v); }

// The least a bzImage needs for load_linux: header signature, version, 64-bit entry flag.
std::vector<uint8_t> bzimage(uint16_t version) {
  std::vector<uint8_t> b(5 * 512 + 0x1000, 0);
  b[0x1f1] = 4;
  put<uint16_t>(b, 0x1fe, 0xaa55);
  b[0x200] = 0xeb;
  b[0x201] = 0x66;
  std::memcpy(&b[0x202], "HdrS", 4);
  put<uint16_t>(b, 0x206, version);
  put<uint32_t>(b, 0x22c, 0x7fffffff);
  put<uint32_t>(b, 0x230, 2 * MiB);
  put<uint16_t>(b, 0x236, 1);  // XLF_KERNEL_64
  put<uint32_t>(b, 0x238, 0x7ff);
  put<uint64_t>(b, 0x258, 16 * MiB);
  put<uint32_t>(b, 0x260, 8 * MiB);
  return b;
}

std::vector<E820Entry> boot_params_e820(const GuestMemory& mem) {
  std::vector<E820Entry> map(mem.load<uint8_t>(layout::kZeroPage + 0x1e8));
  for (size_t i = 0; i < map.size(); i++) {
    uint64_t at = layout::kZeroPage + 0x2d0 + i * 20;
    map[i] = {mem.load<uint64_t>(at), mem.load<uint64_t>(at + 8), mem.load<uint32_t>(at + 16)};
  }
  return map;
}

}  // namespace

TEST(AcpiBoot, LinuxGetsTheRsdpAndAReservedWindow) {
  GuestMemory mem(64 * MiB);
  TempFile k(bzimage(0x020f));
  load_guest(mem, {"", k.str(), "", ""});
  EXPECT_EQ(mem.load<uint64_t>(layout::kZeroPage + 0x070), layout::kAcpiTablesBase);
  uint8_t rsdp[36];
  ASSERT_TRUE(mem.read_phys(layout::kAcpiTablesBase, rsdp, sizeof rsdp));
  EXPECT_EQ(std::memcmp(rsdp, "RSD PTR ", 8), 0);
  EXPECT_EQ(acpi_byte_sum(rsdp, 36), 0);

  auto map = boot_params_e820(mem);
  auto pc = pc_e820_map(mem);
  ASSERT_EQ(map.size(), pc.size() + 1);
  const E820Entry window{layout::kAcpiTablesBase, layout::kAcpiTablesSize, e820_type::kReserved};
  size_t found = map.size();
  for (size_t i = 0; i < map.size(); i++)
    if (map[i] == window) found = i;
  ASSERT_LT(found, map.size()) << "no reserved entry for the ACPI window";
  for (size_t i = 1; i < map.size(); i++) {
    EXPECT_LE(map[i - 1].addr + map[i - 1].size, map[i].addr) << "e820 entries sorted, not overlapping";
  }
}

TEST(AcpiBoot, OldProtocolGetsNoRsdpFieldButTheScanStillWorks) {
  GuestMemory mem(64 * MiB);
  TempFile k(bzimage(0x020d));
  load_guest(mem, {"", k.str(), "", ""});
  EXPECT_EQ(mem.load<uint64_t>(layout::kZeroPage + 0x070), 0u);
  uint8_t sig[8];
  ASSERT_TRUE(mem.read_phys(layout::kAcpiTablesBase, sig, 8));
  EXPECT_EQ(std::memcmp(sig, "RSD PTR ", 8), 0);
}

TEST(AcpiBoot, FirmwareOverTheBiosAreaKeepsIt) {
  GuestMemory mem(64 * MiB);
  TempFile k(bzimage(0x020f));
  TempFile rom(std::vector<uint8_t>(256 << 10, 0x5a));  // its top 128 KiB shadow 0xE0000-0xFFFFF
  load_guest(mem, {rom.str(), k.str(), "", ""});
  EXPECT_EQ(mem.load<uint64_t>(layout::kZeroPage + 0x070), 0u);
  EXPECT_EQ(mem.load<uint8_t>(layout::kAcpiTablesBase), 0x5a);
  EXPECT_EQ(boot_params_e820(mem), pc_e820_map(mem));
}
