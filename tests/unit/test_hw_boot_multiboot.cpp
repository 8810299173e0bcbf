// The Multiboot v1 loader against synthetic a.out-kludge and ELF kernels: exact memory, info
// block and CPU state, and every refusal.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu/descriptors.h"
#include "hw/boot/e820.h"
#include "hw/boot/multiboot_loader.h"
#include "hw/guest_memory.h"
#include "hw/pc_layout.h"

using namespace janus;

namespace {

constexpr uint64_t MiB = 1ull << 20;

struct TempFile {
  std::filesystem::path path;
  explicit TempFile(const std::vector<uint8_t>& bytes, const std::string& tag = "img") {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path() /
           ("janus_boot_mb_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" + tag);
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  ~TempFile() { std::filesystem::remove(path); }
  std::string str() const { return path.string(); }
};

template <typename T> void put(std::vector<uint8_t>& b, size_t off, T v) { std::memcpy(&b[off], &v, sizeof v); }

void put_header(std::vector<uint8_t>& b, size_t off, uint32_t flags) {
  put<uint32_t>(b, off, 0x1badb002);
  put<uint32_t>(b, off + 4, flags);
  put<uint32_t>(b, off + 8, uint32_t(0) - 0x1badb002 - flags);
}

// An a.out-kludge kernel: header at file offset header_offset, describing where it loads.
struct AoutKernel {
  size_t header_offset = 0;
  size_t file_size = 0x600;
  uint32_t flags = 0x00010003;
  uint32_t load_addr = 0x100000;
  uint32_t load_end_addr = 0;  // whole file
  uint32_t bss_end_addr = 0x102000;
  uint32_t entry_addr = 0x100020;

  std::vector<uint8_t> build() const {
    std::vector<uint8_t> b(file_size);
    for (size_t i = 0; i < b.size(); i++) b[i] = uint8_t(0x90 + i * 13);
    put_header(b, header_offset, flags);
    put<uint32_t>(b, header_offset + 12, load_addr + uint32_t(header_offset));  // header_addr
    put<uint32_t>(b, header_offset + 16, load_addr);
    put<uint32_t>(b, header_offset + 20, load_end_addr);
    put<uint32_t>(b, header_offset + 24, bss_end_addr);
    put<uint32_t>(b, header_offset + 28, entry_addr);
    return b;
  }
};

struct ElfSegment {
  uint32_t vaddr, paddr, filesz, memsz;
};

// An ELF32 i386 executable: segments' file bytes are patterned, the Multiboot header sits at the
// start of the first segment's data.
std::vector<uint8_t> build_elf32(const std::vector<ElfSegment>& segs, uint32_t entry, uint32_t mb_flags = 0x3) {
  const size_t phoff = 52, data_start = 0x1000;
  size_t size = data_start;
  for (const auto& s : segs) size += (s.filesz + 0xfff) & ~0xfffu;
  std::vector<uint8_t> b(std::max(size, data_start + 12));
  std::memcpy(b.data(), "\x7f" "ELF", 4);
  b[4] = 1;  // ELFCLASS32
  b[5] = 1;  // little-endian
  b[6] = 1;
  put<uint16_t>(b, 16, 2);   // ET_EXEC
  put<uint16_t>(b, 18, 3);   // EM_386
  put<uint32_t>(b, 20, 1);
  put<uint32_t>(b, 24, entry);
  put<uint32_t>(b, 28, phoff);
  put<uint16_t>(b, 40, 52);
  put<uint16_t>(b, 42, 32);
  put<uint16_t>(b, 44, uint16_t(segs.size()));
  size_t offset = data_start;
  for (size_t i = 0; i < segs.size(); i++) {
    size_t ph = phoff + i * 32;
    put<uint32_t>(b, ph, 1);  // PT_LOAD
    put<uint32_t>(b, ph + 4, uint32_t(offset));
    put<uint32_t>(b, ph + 8, segs[i].vaddr);
    put<uint32_t>(b, ph + 12, segs[i].paddr);
    put<uint32_t>(b, ph + 16, segs[i].filesz);
    put<uint32_t>(b, ph + 20, segs[i].memsz);
    for (size_t j = 0; j < segs[i].filesz; j++) b[offset + j] = uint8_t(i * 31 + j * 5 + 1);
    offset += (segs[i].filesz + 0xfff) & ~0xfffu;
  }
  put_header(b, data_start, mb_flags);
  return b;
}

std::vector<uint8_t> read(const GuestMemory& mem, uint64_t gpa, size_t n) {
  std::vector<uint8_t> v(n);
  EXPECT_TRUE(mem.read_phys(gpa, v.data(), n));
  return v;
}

std::string guest_string(const GuestMemory& mem, uint64_t gpa) {
  std::string s;
  for (char c; (c = char(mem.load<uint8_t>(gpa))) != 0 && s.size() < 4096; gpa++) s += c;
  return s;
}

std::string error_of(GuestMemory& mem, const MultibootOptions& o) {
  try {
    load_multiboot(mem, o);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(MultibootLoader, AoutKludgeLoadsFileAndZeroesBss) {
  auto image = AoutKernel{}.build();
  TempFile f(image);
  GuestMemory mem(64 * MiB);
  std::vector<uint8_t> junk(0x3000, 0xaa);
  mem.write_phys(0x100000, junk.data(), junk.size());
  CpuState s = load_multiboot(mem, {f.str(), "", {}});
  EXPECT_EQ(read(mem, 0x100000, image.size()), image);
  EXPECT_EQ(read(mem, 0x100600, 0x1a00), std::vector<uint8_t>(0x1a00, 0));
  EXPECT_EQ(mem.load<uint8_t>(0x102000), 0xaa) << "zeroed past bss_end_addr";
  EXPECT_EQ(s.rip, 0x100020u);
}

TEST(MultibootLoader, AoutKludgeHeaderNotAtFileStart) {
  AoutKernel k;
  k.header_offset = 0x40;  // the header lies 0x40 into the image, so the file starts at load_addr
  k.load_end_addr = 0x100400;  // only the first 0x400 bytes are the image
  k.bss_end_addr = 0;
  auto image = k.build();
  TempFile f(image);
  GuestMemory mem(64 * MiB);
  std::vector<uint8_t> junk(0x400, 0xaa);
  mem.write_phys(0x100400, junk.data(), junk.size());
  load_multiboot(mem, {f.str(), "", {}});
  EXPECT_EQ(read(mem, 0x100000, 0x400), std::vector<uint8_t>(image.begin(), image.begin() + 0x400));
  EXPECT_EQ(mem.load<uint8_t>(0x100400), 0xaa) << "loaded past load_end_addr";
}

TEST(MultibootLoader, EntryStateIsFlatProtectedMode) {
  TempFile f(AoutKernel{}.build());
  GuestMemory mem(64 * MiB);
  CpuState s = load_multiboot(mem, {f.str(), "", {}});
  EXPECT_EQ(s.cr0, cr0::PE | cr0::ET);
  EXPECT_EQ(s.cr4, 0u);
  EXPECT_EQ(s.efer, 0u);
  EXPECT_EQ(s.seg[CS], (Segment{0x08, 0, 0xffffffff, 0xc09b, false}));
  for (SegIndex i : {DS, ES, SS, FS, GS}) EXPECT_EQ(s.seg[i], (Segment{0x10, 0, 0xffffffff, 0xc093, false}));
  EXPECT_EQ(s.gdtr, (DescriptorTable{0x500, 0x17}));
  EXPECT_EQ(mem.load<uint64_t>(0x500), 0u);
  EXPECT_EQ(mem.load<uint64_t>(0x508), 0x00cf9b000000ffffull);
  EXPECT_EQ(mem.load<uint64_t>(0x510), 0x00cf93000000ffffull);
  EXPECT_EQ(SegmentDescriptor{mem.load<uint64_t>(0x508)}.to_segment(0x08), s.seg[CS]);
  EXPECT_EQ(SegmentDescriptor{mem.load<uint64_t>(0x510)}.to_segment(0x10), s.seg[SS]);
  EXPECT_EQ(s.tr, (Segment{0, 0, 0x67, 0x8b, false}));
  EXPECT_TRUE(s.ldtr.unusable);
  EXPECT_EQ(s.gpr[RAX], 0x2badb002u);
  EXPECT_EQ(s.gpr[RBX], 0x30000u);
  EXPECT_EQ(s.gpr[RSP], 0x8ff0u);
  EXPECT_EQ(s.rflags, 2u);
  EXPECT_FALSE(s.long_mode_active());
  EXPECT_EQ(s.cpl(), 0u);
}

TEST(MultibootLoader, Elf32SegmentsGoToPhysicalAddresses) {
  auto image = build_elf32({{0x200000, 0x200000, 0x100, 0x100}, {0x201000, 0x201000, 0x80, 0x1000}}, 0x200010);
  TempFile f(image);
  GuestMemory mem(64 * MiB);
  std::vector<uint8_t> junk(0x2000, 0xaa);
  mem.write_phys(0x200000, junk.data(), junk.size());
  CpuState s = load_multiboot(mem, {f.str(), "", {}});
  EXPECT_EQ(read(mem, 0x200000, 0x100), std::vector<uint8_t>(image.begin() + 0x1000, image.begin() + 0x1100));
  EXPECT_EQ(read(mem, 0x201000, 0x80), std::vector<uint8_t>(image.begin() + 0x2000, image.begin() + 0x2080));
  EXPECT_EQ(read(mem, 0x201080, 0xf80), std::vector<uint8_t>(0xf80, 0)) << "memsz beyond filesz is zero";
  EXPECT_EQ(mem.load<uint8_t>(0x200100), 0xaa) << "nothing between the segments is touched";
  EXPECT_EQ(s.rip, 0x200010u);
}

TEST(MultibootLoader, Elf32HigherHalfEntryIsTranslatedToPhysical) {
  auto image = build_elf32({{0xc0200000, 0x200000, 0x100, 0x100}}, 0xc0200010);
  TempFile f(image);
  GuestMemory mem(64 * MiB);
  CpuState s = load_multiboot(mem, {f.str(), "", {}});
  EXPECT_EQ(s.rip, 0x200010u);
  EXPECT_EQ(read(mem, 0x200000, 0x100), std::vector<uint8_t>(image.begin() + 0x1000, image.begin() + 0x1100));
}

TEST(MultibootLoader, InfoBlockDescribesMemoryCmdlineAndModules) {
  TempFile f(AoutKernel{}.build());  // ends (with bss) at 0x102000
  std::vector<uint8_t> m1(5000), m2(300);
  for (size_t i = 0; i < m1.size(); i++) m1[i] = uint8_t(i * 3);
  for (size_t i = 0; i < m2.size(); i++) m2[i] = uint8_t(255 - i);
  TempFile mod1(m1, "mod1"), mod2(m2, "mod2");
  GuestMemory mem(64 * MiB);
  std::string spec1 = mod1.str() + " arg1 arg2";
  load_multiboot(mem, {f.str(), "console=ttyS0", {spec1, mod2.str()}});

  const uint64_t info = 0x30000;
  EXPECT_EQ(mem.load<uint32_t>(info + 0), 0x24du);  // MEM | CMDLINE | MODS | MMAP | LOADER_NAME
  EXPECT_EQ(mem.load<uint32_t>(info + 4), 640u);
  EXPECT_EQ(mem.load<uint32_t>(info + 8), (64 * MiB - MiB) / 1024);
  EXPECT_EQ(guest_string(mem, mem.load<uint32_t>(info + 16)), f.str() + " console=ttyS0");
  EXPECT_EQ(guest_string(mem, mem.load<uint32_t>(info + 64)), "janus");

  ASSERT_EQ(mem.load<uint32_t>(info + 20), 2u);
  uint32_t mods = mem.load<uint32_t>(info + 24);
  uint32_t start1 = mem.load<uint32_t>(mods), end1 = mem.load<uint32_t>(mods + 4);
  uint32_t start2 = mem.load<uint32_t>(mods + 16), end2 = mem.load<uint32_t>(mods + 20);
  EXPECT_EQ(start1, 0x102000u);
  EXPECT_EQ(end1, start1 + 5000);
  EXPECT_EQ(start2, 0x104000u);  // next page after module 1
  EXPECT_EQ(end2, start2 + 300);
  EXPECT_EQ(read(mem, start1, m1.size()), m1);
  EXPECT_EQ(read(mem, start2, m2.size()), m2);
  EXPECT_EQ(guest_string(mem, mem.load<uint32_t>(mods + 8)), spec1);
  EXPECT_EQ(guest_string(mem, mem.load<uint32_t>(mods + 24)), mod2.str());
  EXPECT_EQ(mem.load<uint32_t>(mods + 12), 0u);

  auto map = pc_e820_map(mem);
  ASSERT_EQ(mem.load<uint32_t>(info + 44), map.size() * 24);
  uint32_t mmap = mem.load<uint32_t>(info + 48);
  for (size_t i = 0; i < map.size(); i++) {
    uint64_t e = mmap + i * 24;
    EXPECT_EQ(mem.load<uint32_t>(e), 20u);
    EXPECT_EQ((E820Entry{mem.load<uint64_t>(e + 4), mem.load<uint64_t>(e + 12), mem.load<uint32_t>(e + 20)}), map[i]);
  }
  // Everything the info block points at lies inside the info area.
  for (uint64_t p : {uint64_t(mods), uint64_t(mmap), uint64_t(mem.load<uint32_t>(info + 16))}) {
    EXPECT_GE(p, 0x30000u);
    EXPECT_LT(p, 0x40000u);
  }
}

TEST(MultibootLoader, NoModulesStillReportsAnEmptyList) {
  TempFile f(AoutKernel{}.build());
  GuestMemory mem(64 * MiB);
  load_multiboot(mem, {f.str(), "", {}});
  EXPECT_EQ(mem.load<uint32_t>(0x30000 + 20), 0u);
  EXPECT_EQ(guest_string(mem, mem.load<uint32_t>(0x30000 + 16)), f.str() + " ");
}

TEST(MultibootLoader, RejectsBadImages) {
  GuestMemory mem(64 * MiB);
  auto err = [&](const std::vector<uint8_t>& image) {
    TempFile f(image);
    return std::make_pair(error_of(mem, {f.str(), "", {}}), "multiboot kernel '" + f.str() + "'");
  };
  {
    auto image = AoutKernel{}.build();
    put<uint32_t>(image, 8, 0x12345678);
    auto [e, name] = err(image);
    EXPECT_EQ(e, name + ": Multiboot header checksum is wrong");
  }
  {
    auto [e, name] = err(std::vector<uint8_t>(100, 0));
    EXPECT_EQ(e, name + ": no Multiboot header in the first 8 KiB");
  }
  {
    AoutKernel k;
    k.flags |= 0x4;  // wants a video mode
    auto [e, name] = err(k.build());
    EXPECT_EQ(e, name + ": requires Multiboot features Janus does not provide (flags 0x4 (bit 2: a video mode))");
  }
  {
    AoutKernel k;
    k.flags |= 0x100;
    auto [e, name] = err(k.build());
    EXPECT_EQ(e, name + ": requires Multiboot features Janus does not provide (flags 0x100)");
  }
  {
    AoutKernel k;
    k.flags |= 0x00020000;  // optional bits above 16 are ignored
    EXPECT_EQ(err(k.build()).first, "(no error)");
  }
  {
    AoutKernel k;
    k.load_end_addr = 0x100800;  // past the 0x600-byte file
    auto [e, name] = err(k.build());
    EXPECT_EQ(e, name + ": truncated (load_end_addr asks for 2048 bytes from offset 0)");
  }
  {
    AoutKernel k;
    k.bss_end_addr = 0x100100;
    auto [e, name] = err(k.build());
    EXPECT_EQ(e, name + ": Multiboot bss_end_addr 0x100100 is below load_end_addr");
  }
  {
    auto image = AoutKernel{}.build();
    put<uint32_t>(image, 16, 0x100010);  // load_addr above header_addr
    put<uint32_t>(image, 8, uint32_t(0) - 0x1badb002 - 0x00010003);
    auto [e, name] = err(image);
    EXPECT_EQ(e, name + ": Multiboot load_addr 0x100010 is above header_addr 0x100000");
  }
  {
    auto image = AoutKernel{}.build();
    image.resize(20);  // header cut inside the address fields
    auto [e, name] = err(image);
    EXPECT_EQ(e, name + ": Multiboot header truncated (flag bit 16 needs the address fields)");
  }
  {
    AoutKernel k;
    k.load_addr = 0x10000000;  // 256 MiB, in a 64 MiB guest
    k.bss_end_addr = 0;
    k.entry_addr = 0x10000000;
    auto [e, name] = err(k.build());
    EXPECT_EQ(e, name + ": segment 0x10000000..0x100005ff lies outside guest RAM (64 MiB)");
  }
  {
    AoutKernel k;
    k.load_addr = 0x2ff00;  // runs into the info block at 0x30000
    k.bss_end_addr = 0;
    auto [e, name] = err(k.build());
    EXPECT_EQ(e, name + ": segment 0x2ff00..0x304ff overlaps the Multiboot info area");
  }
  {
    AoutKernel k;
    k.load_addr = 0x9fc00;  // runs into the VGA hole at 0xa0000
    k.bss_end_addr = 0;
    auto [e, name] = err(k.build());
    EXPECT_EQ(e, name + ": segment 0x9fc00..0xa01ff lies outside guest RAM (64 MiB)");
  }
}

TEST(MultibootLoader, RejectsBadElf) {
  GuestMemory mem(64 * MiB);
  auto err = [&](const std::vector<uint8_t>& image) {
    TempFile f(image);
    return std::make_pair(error_of(mem, {f.str(), "", {}}), f.str());
  };
  auto good = build_elf32({{0x200000, 0x200000, 0x100, 0x100}}, 0x200000);
  {
    auto image = good;
    image[4] = 2;  // ELFCLASS64
    auto [e, path] = err(image);
    EXPECT_EQ(e, "multiboot kernel '" + path + "' is a 64-bit ELF; Multiboot v1 needs a 32-bit ELF (as QEMU)");
  }
  {
    auto image = good;
    put<uint16_t>(image, 18, 62);  // EM_X86_64
    auto [e, path] = err(image);
    EXPECT_EQ(e, "multiboot kernel '" + path + "': ELF machine 62 is not i386");
  }
  {
    auto image = good;
    put<uint16_t>(image, 16, 3);  // ET_DYN
    auto [e, path] = err(image);
    EXPECT_EQ(e, "multiboot kernel '" + path + "': ELF type 3 is not an executable");
  }
  {
    auto image = good;
    put<uint16_t>(image, 44, 200);  // more program headers than the file holds
    put<uint32_t>(image, 28, 0x0fc0);
    auto [e, path] = err(image);
    EXPECT_NE(e.find("truncated ELF program header"), std::string::npos) << e;
  }
  {
    auto image = good;
    put<uint32_t>(image, 52 + 16, 0x2000);  // filesz > memsz
    auto [e, path] = err(image);
    EXPECT_EQ(e, "multiboot kernel '" + path + "': ELF segment 0 has filesz > memsz");
  }
  {
    auto image = good;
    put<uint32_t>(image, 52 + 4, 0xfffff000);  // p_offset far past the end
    auto [e, path] = err(image);
    EXPECT_EQ(e, "multiboot kernel '" + path + "': truncated (ELF segment 0 lies past the end of the file)");
  }
  {
    auto image = good;
    std::memcpy(image.data(), "XELF", 4);  // not ELF, and no address fields
    auto [e, path] = err(image);
    EXPECT_EQ(e, "multiboot kernel '" + path +
                     "': not an ELF file and its Multiboot header gives no load addresses (flag bit 16)");
  }
  EXPECT_EQ(error_of(mem, {"/nonexistent/kernel", "", {}}),
            "cannot read multiboot kernel '/nonexistent/kernel': No such file or directory");
}

TEST(MultibootLoader, RejectsBadModules) {
  TempFile f(AoutKernel{}.build());
  GuestMemory mem(8 * MiB);
  EXPECT_EQ(error_of(mem, {f.str(), "", {"/nonexistent/mod arg"}}),
            "cannot read multiboot module '/nonexistent/mod': No such file or directory");
  EXPECT_EQ(error_of(mem, {f.str(), "", {"   "}}), "multiboot module '   ' names no file");
  TempFile big(std::vector<uint8_t>(7 * MiB, 1), "big");
  EXPECT_EQ(error_of(mem, {f.str(), "", {big.str()}}),
            "multiboot module '" + big.str() + "' (7 MiB) does not fit in 8 MiB of guest RAM after the kernel and earlier modules");
}

TEST(MultibootLoader, DetectsTheHeader) {
  std::vector<uint8_t> image(9000, 0);
  EXPECT_FALSE(is_multiboot(image));
  put<uint32_t>(image, 4, 0x1badb002);
  EXPECT_TRUE(is_multiboot(image));
  put<uint32_t>(image, 4, 0);
  put<uint32_t>(image, 6, 0x1badb002);  // not 4-byte aligned
  EXPECT_FALSE(is_multiboot(image));
  put<uint32_t>(image, 6, 0);
  put<uint32_t>(image, 8192, 0x1badb002);  // beyond the first 8 KiB
  EXPECT_FALSE(is_multiboot(image));
  put<uint32_t>(image, 8180, 0x1badb002);  // last position with room for the 12-byte header
  EXPECT_TRUE(is_multiboot(image));
  EXPECT_FALSE(is_multiboot(std::span(image).first(8)));
  EXPECT_FALSE(is_multiboot({}));
}

TEST(MultibootLoader, MutatedImagesFailCleanly) {
  // Random header and program-header bytes must end in a load or a std::runtime_error.
  uint32_t rng = 777;
  auto next = [&] { return rng = rng * 1103515245 + 12345, rng >> 8; };
  GuestMemory mem(16 * MiB);
  const std::vector<std::vector<uint8_t>> bases = {
      AoutKernel{}.build(), build_elf32({{0x200000, 0x200000, 0x100, 0x100}, {0x201000, 0x201000, 0x80, 0x1000}}, 0x200010)};
  for (int iter = 0; iter < 600; iter++) {
    auto image = bases[iter % 2];
    size_t span = iter % 2 ? 0x1010 : 32;  // ELF: headers and the Multiboot header; a.out: its header
    for (int n = 0; n < 4; n++) image[next() % span] = uint8_t(next());
    if (iter % 2) {  // keep a valid Multiboot header so the ELF parser is what gets exercised
      uint32_t flags = next() % 4;
      std::memcpy(&image[0x1000 + 4], &flags, 4);
      uint32_t sum = uint32_t(0) - 0x1badb002 - flags;
      std::memcpy(&image[0x1000], "\x02\xb0\xad\x1b", 4);
      std::memcpy(&image[0x1000 + 8], &sum, 4);
    } else {
      uint32_t flags;
      std::memcpy(&flags, &image[4], 4);
      uint32_t sum = uint32_t(0) - 0x1badb002 - flags;
      std::memcpy(&image[0], "\x02\xb0\xad\x1b", 4);
      std::memcpy(&image[8], &sum, 4);
    }
    TempFile f(image);
    try {
      load_multiboot(mem, {f.str(), "", {}});
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
}
