// -bios firmware mapping, the -kernel/-bios dispatcher, and image file reading.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "hw/boot/bios_loader.h"
#include "hw/boot/boot_loader.h"
#include "hw/boot/image_file.h"
#include "hw/guest_memory.h"
#include "hw/pc_layout.h"

using namespace janus;

namespace {

constexpr uint64_t KiB = 1024, MiB = 1ull << 20;

struct TempFile {
  std::filesystem::path path;
  explicit TempFile(const std::vector<uint8_t>& bytes, const std::string& tag = "img") {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path() /
           ("janus_boot_bios_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" + tag);
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  ~TempFile() { std::filesystem::remove(path); }
  std::string str() const { return path.string(); }
};

std::vector<uint8_t> patterned(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; i++) v[i] = uint8_t((i >> 8) ^ (i * 11));
  return v;
}

std::vector<uint8_t> read(const GuestMemory& mem, uint64_t gpa, size_t n) {
  std::vector<uint8_t> v(n);
  EXPECT_TRUE(mem.read_phys(gpa, v.data(), n));
  return v;
}

template <typename F> std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

// The smallest valid Multiboot kernel: a.out kludge, loads itself at 1 MiB.
std::vector<uint8_t> multiboot_kernel() {
  std::vector<uint8_t> b(0x100, 0xf4);  // hlt
  uint32_t fields[8] = {0x1badb002, 0x00010000, uint32_t(0) - 0x1badb002 - 0x00010000, 0x100000, 0x100000, 0, 0, 0x100040};
  std::memcpy(b.data(), fields, sizeof fields);
  return b;
}

}  // namespace

TEST(BiosLoader, MapsFirmwareBelow4GiBAndShadowsIt) {
  auto rom = patterned(64 * KiB);
  TempFile f(rom);
  GuestMemory mem(32 * MiB);
  CpuState s = load_bios(mem, f.str());
  EXPECT_EQ(s, reset_cpu_state());
  const MemoryRegion* top = mem.find(0xfffffff0);
  ASSERT_NE(top, nullptr);
  EXPECT_TRUE(top->readonly);
  EXPECT_EQ(top->gpa, 0x100000000ull - 64 * KiB);
  EXPECT_EQ(read(mem, 0x100000000ull - 64 * KiB, rom.size()), rom);
  // A 64 KiB image is entirely visible at 0xF0000.
  const MemoryRegion* shadow = mem.find(0xf0000);
  ASSERT_NE(shadow, nullptr);
  EXPECT_TRUE(shadow->readonly);
  EXPECT_EQ(read(mem, 0xf0000, rom.size()), rom);
  // RAM below the shadow is untouched.
  const MemoryRegion* below = mem.find(0xeffff);
  ASSERT_NE(below, nullptr);
  EXPECT_FALSE(below->readonly);
}

TEST(BiosLoader, ShadowsOnlyTheLast128KiBOfLargeFirmware) {
  auto rom = patterned(256 * KiB);
  TempFile f(rom);
  GuestMemory mem(32 * MiB);
  load_bios(mem, f.str());
  EXPECT_EQ(read(mem, 0xe0000, 128 * KiB), std::vector<uint8_t>(rom.begin() + 128 * KiB, rom.end()));
  EXPECT_EQ(read(mem, 0xfffc0000, rom.size()), rom);
  EXPECT_TRUE(mem.find(0xe0000)->readonly);
  EXPECT_FALSE(mem.find(0xdffff)->readonly);
}

TEST(BiosLoader, SmallRomIsAccepted) {
  auto rom = patterned(4 * KiB);
  TempFile f(rom);
  GuestMemory mem(32 * MiB);
  load_bios(mem, f.str());
  EXPECT_EQ(read(mem, 0xff000, rom.size()), rom);
  EXPECT_EQ(mem.load<uint8_t>(0xfffffff0), rom[4 * KiB - 16]);
}

TEST(BiosLoader, RejectsBadImages) {
  GuestMemory mem(32 * MiB);
  TempFile empty({});
  EXPECT_EQ(error_of([&] { load_bios(mem, empty.str()); }), "bios '" + empty.str() + "' is empty");
  TempFile odd(patterned(5000));
  EXPECT_EQ(error_of([&] { load_bios(mem, odd.str()); }), "bios '" + odd.str() + "' is 5000 bytes, not a multiple of 4 KiB");
  TempFile huge({});
  std::filesystem::resize_file(huge.path, 17 * MiB);
  EXPECT_EQ(error_of([&] { load_bios(mem, huge.str()); }),
            "bios '" + huge.str() + "' is too large (17 MiB; the limit is 16 MiB)");
  EXPECT_EQ(error_of([&] { load_bios(mem, "/nonexistent/bios.bin"); }),
            "cannot read bios '/nonexistent/bios.bin': No such file or directory");
}

TEST(BootLoader, ChoosesTheLoader) {
  GuestMemory mem(32 * MiB);
  EXPECT_EQ(error_of([&] { load_guest(mem, {}); }), "no guest: give -kernel FILE or -bios FILE");
  EXPECT_EQ(error_of([&] { load_guest(mem, {"", "", "x", ""}); }), "-initrd needs -kernel");
  EXPECT_EQ(error_of([&] { load_guest(mem, {"", "", "", "quiet"}); }), "-append needs -kernel");
  TempFile junk(patterned(20000));
  EXPECT_EQ(error_of([&] { load_guest(mem, {"", junk.str(), "", ""}); }),
            "kernel '" + junk.str() + "' is neither a bzImage nor a Multiboot image");
  EXPECT_EQ(error_of([&] { load_guest(mem, {"", "/nonexistent/k", "", ""}); }),
            "cannot read kernel '/nonexistent/k': No such file or directory");

  TempFile rom(patterned(64 * KiB));
  CpuState bios_only = load_guest(mem, {rom.str(), "", "", ""});
  EXPECT_EQ(bios_only, reset_cpu_state());
}

TEST(BootLoader, KernelWinsOverBiosButBiosStaysMapped) {
  TempFile rom(patterned(64 * KiB));
  TempFile kernel(multiboot_kernel());
  TempFile module(patterned(100), "mod");
  GuestMemory mem(32 * MiB);
  CpuState s = load_guest(mem, {rom.str(), kernel.str(), module.str() + " a,," + "b", "hello"});
  EXPECT_EQ(s.rip, 0x100040u);
  EXPECT_EQ(s.gpr[RAX], 0x2badb002u);
  ASSERT_NE(mem.find(0xfffffff0), nullptr);
  EXPECT_TRUE(mem.find(0xfffffff0)->readonly);
  // The -initrd string became one module whose string keeps its (unescaped) comma.
  ASSERT_EQ(mem.load<uint32_t>(0x30000 + 20), 1u);
  uint32_t mods = mem.load<uint32_t>(0x30000 + 24);
  std::string spec;
  for (uint32_t p = mem.load<uint32_t>(mods + 8); mem.load<uint8_t>(p); p++) spec += char(mem.load<uint8_t>(p));
  EXPECT_EQ(spec, module.str() + " a,b");
}

TEST(BootLoader, SplitsModuleListsLikeQemu) {
  using V = std::vector<std::string>;
  EXPECT_EQ(split_module_list(""), V{});
  EXPECT_EQ(split_module_list("a"), V{"a"});
  EXPECT_EQ(split_module_list("a arg,b"), (V{"a arg", "b"}));
  EXPECT_EQ(split_module_list("a x,,y,b"), (V{"a x,y", "b"}));
  EXPECT_EQ(split_module_list("a,"), (V{"a", ""}));
}

TEST(ImageFile, ReadsWholeFilesWithinTheLimit) {
  auto bytes = patterned(70000);  // more than one read chunk
  TempFile f(bytes);
  EXPECT_EQ(read_image_file(f.str(), "kernel", 70000), bytes);
  EXPECT_EQ(error_of([&] { read_image_file(f.str(), "kernel", 65536); }),
            "kernel '" + f.str() + "' is too large (69 KiB; the limit is 64 KiB)");
  EXPECT_EQ(read_image_head(f.str(), "kernel", 8192), std::vector<uint8_t>(bytes.begin(), bytes.begin() + 8192));
  EXPECT_EQ(read_image_head(f.str(), "kernel", 1 << 20), bytes);
  EXPECT_EQ(image_file_size(f.str(), "kernel"), 70000u);
}

TEST(ImageFile, ErrorsNameTheFileAndTheReason) {
  EXPECT_EQ(error_of([&] { read_image_file("/nonexistent/x", "initrd", 1 << 20); }),
            "cannot read initrd '/nonexistent/x': No such file or directory");
  std::string dir = std::filesystem::temp_directory_path().string();
  EXPECT_EQ(error_of([&] { read_image_file(dir, "kernel", 1 << 20); }), "cannot read kernel '" + dir + "': Is a directory");
  EXPECT_EQ(error_of([&] { image_file_size(dir, "kernel"); }), "cannot read kernel '" + dir + "': Is a directory");
}

TEST(ImageFile, SizeText) {
  EXPECT_EQ(size_text(700), "700 bytes");
  EXPECT_EQ(size_text(12 * KiB), "12 KiB");
  EXPECT_EQ(size_text(300 * MiB), "300 MiB");
  EXPECT_EQ(size_text(300 * MiB + 1), "301 MiB");
}
