// The Linux boot-protocol loader against synthetic bzImages (exact memory and CPU state), and
// against the host's Debian kernel when it is installed.
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
#include "hw/boot/linux_loader.h"
#include "hw/guest_memory.h"
#include "hw/pc_layout.h"

using namespace janus;

namespace {

constexpr uint64_t MiB = 1ull << 20;

// A file under the system temp directory, removed when the test ends.
struct TempFile {
  std::filesystem::path path;
  explicit TempFile(const std::vector<uint8_t>& bytes, const std::string& tag = "img") {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path() /
           ("janus_boot_linux_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" + tag);
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  ~TempFile() { std::filesystem::remove(path); }
  std::string str() const { return path.string(); }
};

template <typename T> void put(std::vector<uint8_t>& b, size_t off, T v) { std::memcpy(&b[off], &v, sizeof v); }

// A minimal bzImage: 4 setup sectors after the boot sector, then a patterned "kernel".
struct FakeKernel {
  uint8_t setup_sects = 4;
  uint16_t version = 0x020f;
  uint16_t xloadflags = 0x1;
  uint32_t initrd_addr_max = 0x7fffffff;
  uint32_t cmdline_size = 0x7ff;
  uint64_t pref_address = 16 * MiB;
  uint32_t init_size = 8 * MiB;
  size_t payload_size = 0x3000;

  size_t payload_offset() const { return (setup_sects + 1) * 512; }
  std::vector<uint8_t> build() const {
    std::vector<uint8_t> b(payload_offset() + payload_size, 0);
    b[0x1f1] = setup_sects;
    put<uint16_t>(b, 0x1f2, 1);       // root_flags: an arbitrary header field that must be copied
    put<uint16_t>(b, 0x1fa, 0xffff);  // vid_mode
    put<uint16_t>(b, 0x1fe, 0xaa55);
    b[0x200] = 0xeb;
    b[0x201] = 0x66;  // header ends at 0x268
    std::memcpy(&b[0x202], "HdrS", 4);
    put<uint16_t>(b, 0x206, version);
    b[0x211] = 0x01;  // LOADED_HIGH
    put<uint32_t>(b, 0x214, 0x100000);
    put<uint32_t>(b, 0x22c, initrd_addr_max);
    put<uint32_t>(b, 0x230, 2 * MiB);
    b[0x234] = 1;
    put<uint16_t>(b, 0x236, xloadflags);
    put<uint32_t>(b, 0x238, cmdline_size);
    put<uint64_t>(b, 0x258, pref_address);
    put<uint32_t>(b, 0x260, init_size);
    b[0x268] = 0xcc;  // setup code after the header: must not reach boot_params
    b[0x1ef] = 0xff;  // before the header: must not be copied either (the "sentinel")
    for (size_t i = 0; i < payload_size; i++) b[payload_offset() + i] = uint8_t(i * 7 + 3);
    return b;
  }
};

std::vector<uint8_t> read(const GuestMemory& mem, uint64_t gpa, size_t n) {
  std::vector<uint8_t> v(n);
  EXPECT_TRUE(mem.read_phys(gpa, v.data(), n));
  return v;
}

std::string error_of(GuestMemory& mem, const LinuxBootOptions& o) {
  try {
    load_linux(mem, o);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(LinuxLoader, LoadsProtectedModeKernelAt1MiB) {
  FakeKernel k;
  auto image = k.build();
  TempFile f(image);
  GuestMemory mem(64 * MiB);
  load_linux(mem, {f.str(), "", ""});
  std::vector<uint8_t> payload(image.begin() + k.payload_offset(), image.end());
  EXPECT_EQ(read(mem, 0x100000, payload.size()), payload);
}

TEST(LinuxLoader, SetupSectsZeroMeansFour) {
  auto image = FakeKernel{}.build();  // laid out with 4 setup sectors
  image[0x1f1] = 0;                        // old kernels leave the field 0 and mean 4
  TempFile f(image);
  GuestMemory mem(64 * MiB);
  load_linux(mem, {f.str(), "", ""});
  std::vector<uint8_t> payload(image.begin() + 5 * 512, image.end());
  EXPECT_EQ(read(mem, 0x100000, payload.size()), payload);
}

TEST(LinuxLoader, BootParamsFollowTheProtocol) {
  FakeKernel k;
  auto image = k.build();
  TempFile f(image);
  GuestMemory mem(128 * MiB);
  std::vector<uint8_t> junk(0x1000, 0x5a);  // the zero page must be cleared, not just overlaid
  mem.write_phys(layout::kZeroPage, junk.data(), junk.size());
  load_linux(mem, {f.str(), "", "console=ttyS0 quiet"});
  auto bp = read(mem, layout::kZeroPage, 0x1000);

  // The setup header is copied verbatim, apart from the fields the loader owns.
  for (size_t off = 0x1f1; off < 0x268; off++) {
    bool loader_field = off == 0x210 || off == 0x211 || (off >= 0x218 && off < 0x220) ||
                        (off >= 0x224 && off < 0x226) || (off >= 0x228 && off < 0x22c);
    if (!loader_field) {
      EXPECT_EQ(bp[off], image[off]) << "header byte 0x" << std::hex << off;
    }
  }
  EXPECT_EQ(bp[0x268], 0) << "copied past the end of the setup header";
  EXPECT_EQ(bp[0x1ef], 0) << "sentinel must stay zero";
  EXPECT_EQ(bp[0x000], 0);
  EXPECT_EQ(bp[0x210], 0xff);                             // type_of_loader
  EXPECT_EQ(bp[0x211], 0x81);                             // LOADED_HIGH | CAN_USE_HEAP
  uint16_t heap_end;
  std::memcpy(&heap_end, &bp[0x224], 2);
  EXPECT_EQ(heap_end, 0xde00);
  uint32_t cmd_line_ptr, ramdisk_image, ramdisk_size;
  std::memcpy(&cmd_line_ptr, &bp[0x228], 4);
  std::memcpy(&ramdisk_image, &bp[0x218], 4);
  std::memcpy(&ramdisk_size, &bp[0x21c], 4);
  EXPECT_EQ(cmd_line_ptr, layout::kCmdline);
  EXPECT_EQ(ramdisk_image, 0u);
  EXPECT_EQ(ramdisk_size, 0u);
  std::string cmd = "console=ttyS0 quiet";
  auto cmd_bytes = read(mem, layout::kCmdline, cmd.size() + 1);
  EXPECT_EQ(std::string(cmd_bytes.begin(), cmd_bytes.end() - 1), cmd);
  EXPECT_EQ(cmd_bytes.back(), 0);

  // e820: count at 0x1e8, 20-byte entries from 0x2d0.
  auto map = pc_e820_map(mem);
  ASSERT_EQ(bp[0x1e8], map.size());
  ASSERT_EQ(map.size(), 4u);
  for (size_t i = 0; i < map.size(); i++) {
    uint64_t addr, size;
    uint32_t type;
    std::memcpy(&addr, &bp[0x2d0 + i * 20], 8);
    std::memcpy(&size, &bp[0x2d0 + i * 20 + 8], 8);
    std::memcpy(&type, &bp[0x2d0 + i * 20 + 16], 4);
    EXPECT_EQ((E820Entry{addr, size, type}), map[i]) << "entry " << i;
  }
  EXPECT_EQ(bp[0x2d0 + 4 * 20], 0) << "no entry past e820_entries";
}

TEST(LinuxLoader, InitrdGoesPageAlignedAtTopOfRam) {
  FakeKernel k;
  TempFile f(k.build());
  std::vector<uint8_t> initrd(10000);
  for (size_t i = 0; i < initrd.size(); i++) initrd[i] = uint8_t(i ^ 0x5c);
  TempFile rd(initrd, "initrd");
  GuestMemory mem(64 * MiB);
  load_linux(mem, {f.str(), rd.str(), ""});
  uint32_t image_addr = mem.load<uint32_t>(layout::kZeroPage + 0x218);
  uint32_t size = mem.load<uint32_t>(layout::kZeroPage + 0x21c);
  EXPECT_EQ(image_addr, (64 * MiB - 10000) & ~0xfffull);
  EXPECT_EQ(size, 10000u);
  EXPECT_EQ(mem.load<uint32_t>(layout::kZeroPage + 0xc0), 0u);  // ext_ramdisk_image
  EXPECT_EQ(mem.load<uint32_t>(layout::kZeroPage + 0xc4), 0u);  // ext_ramdisk_size
  EXPECT_EQ(read(mem, image_addr, initrd.size()), initrd);
}

TEST(LinuxLoader, InitrdRespectsInitrdAddrMax) {
  FakeKernel k;
  k.initrd_addr_max = 40 * MiB - 1;
  TempFile f(k.build());
  TempFile rd(std::vector<uint8_t>(5000, 0x11), "initrd");
  GuestMemory mem(64 * MiB);
  load_linux(mem, {f.str(), rd.str(), ""});
  EXPECT_EQ(mem.load<uint32_t>(layout::kZeroPage + 0x218), (40 * MiB - 5000) & ~0xfffull);
}

TEST(LinuxLoader, InitrdLargerThanRamIsRefusedBeforeReading) {
  FakeKernel k;
  TempFile f(k.build());
  TempFile rd({}, "initrd");
  std::filesystem::resize_file(rd.path, 300 * MiB);  // sparse: costs no disk
  GuestMemory mem(256 * MiB);
  EXPECT_EQ(error_of(mem, {f.str(), rd.str(), ""}),
            "initrd '" + rd.str() + "' (300 MiB) does not fit in 256 MiB of guest RAM");
}

TEST(LinuxLoader, InitrdMayNotOverlapTheDecompressingKernel) {
  FakeKernel k;  // runs at pref_address 16 MiB with init_size 8 MiB: up to 24 MiB
  TempFile f(k.build());
  TempFile rd(std::vector<uint8_t>(9 * MiB, 1), "initrd");
  GuestMemory small(32 * MiB);
  EXPECT_EQ(error_of(small, {f.str(), rd.str(), ""}),
            "initrd '" + rd.str() + "' (9 MiB) does not fit in 32 MiB of guest RAM");
  GuestMemory enough(34 * MiB);
  load_linux(enough, {f.str(), rd.str(), ""});
  EXPECT_GE(enough.load<uint32_t>(layout::kZeroPage + 0x218), 24 * MiB);
}

TEST(LinuxLoader, IdentityPageTablesAreBitExact) {
  FakeKernel k;
  TempFile f(k.build());
  GuestMemory mem(64 * MiB);
  std::vector<uint8_t> junk(0x6000, 0xff);
  mem.write_phys(layout::kPml4, junk.data(), junk.size());
  load_linux(mem, {f.str(), "", ""});
  EXPECT_EQ(mem.load<uint64_t>(0x9000), 0xa003ull);
  for (int i = 1; i < 512; i++) ASSERT_EQ(mem.load<uint64_t>(0x9000 + i * 8), 0u) << "PML4 " << i;
  EXPECT_EQ(mem.load<uint64_t>(0xa000), 0xb003ull);
  EXPECT_EQ(mem.load<uint64_t>(0xa008), 0xc003ull);
  EXPECT_EQ(mem.load<uint64_t>(0xa010), 0xd003ull);
  EXPECT_EQ(mem.load<uint64_t>(0xa018), 0xe003ull);
  for (int i = 4; i < 512; i++) ASSERT_EQ(mem.load<uint64_t>(0xa000 + i * 8), 0u) << "PDPT " << i;
  for (uint64_t i = 0; i < 2048; i++)
    ASSERT_EQ(mem.load<uint64_t>(0xb000 + i * 8), (i << 21) | 0x83) << "PD entry " << i;
  EXPECT_EQ(mem.load<uint64_t>(0xb000 + 2047 * 8), 0xffe00083ull);
}

TEST(LinuxLoader, GdtMatchesTheEntrySegments) {
  FakeKernel k;
  TempFile f(k.build());
  GuestMemory mem(64 * MiB);
  CpuState s = load_linux(mem, {f.str(), "", ""});
  EXPECT_EQ(mem.load<uint64_t>(0x500), 0u);
  EXPECT_EQ(mem.load<uint64_t>(0x508), 0u);
  EXPECT_EQ(mem.load<uint64_t>(0x510), 0x00af9b000000ffffull);
  EXPECT_EQ(mem.load<uint64_t>(0x518), 0x00cf93000000ffffull);
  // What the guest would reload from the GDT is what the CPU starts with.
  EXPECT_EQ(SegmentDescriptor{mem.load<uint64_t>(0x510)}.to_segment(0x10), s.seg[CS]);
  for (SegIndex i : {DS, ES, SS, FS, GS})
    EXPECT_EQ(SegmentDescriptor{mem.load<uint64_t>(0x518)}.to_segment(0x18), s.seg[i]) << "segment " << i;
  EXPECT_EQ(make_descriptor(0, 0xffffffff, 0xa09b), 0x00af9b000000ffffull);
}

TEST(LinuxLoader, EntersStartup64InLongMode) {
  FakeKernel k;
  TempFile f(k.build());
  GuestMemory mem(64 * MiB);
  CpuState s = load_linux(mem, {f.str(), "", ""});
  EXPECT_EQ(s.cr0, cr0::PE | cr0::ET | cr0::NE | cr0::PG);
  EXPECT_EQ(s.cr4, cr4::PAE);
  EXPECT_EQ(s.efer, efer::LME | efer::LMA);
  EXPECT_EQ(s.cr3, 0x9000u);
  EXPECT_EQ(s.seg[CS], (Segment{0x10, 0, 0xffffffff, 0xa09b, false}));
  for (SegIndex i : {DS, ES, SS, FS, GS}) EXPECT_EQ(s.seg[i], (Segment{0x18, 0, 0xffffffff, 0xc093, false}));
  EXPECT_TRUE(s.in_64bit_code());
  EXPECT_EQ(s.gdtr, (DescriptorTable{0x500, 0x1f}));
  EXPECT_EQ(s.idtr, (DescriptorTable{0x520, 0}));
  EXPECT_FALSE(s.tr.unusable);
  EXPECT_EQ(s.tr.attr, 0x8b);
  EXPECT_TRUE(s.ldtr.unusable);
  EXPECT_EQ(s.gpr[RSI], 0x7000u);
  EXPECT_EQ(s.gpr[RSP], 0x8ff0u);
  EXPECT_EQ(s.gpr[RAX], 0u);
  EXPECT_EQ(s.rip, 0x100200u);
  EXPECT_EQ(s.rflags, 2u);
  EXPECT_EQ(s.cpl(), 0u);
}

TEST(LinuxLoader, RejectsMalformedKernels) {
  GuestMemory mem(64 * MiB);
  auto err = [&](const std::vector<uint8_t>& image) {
    TempFile f(image);
    return std::make_pair(error_of(mem, {f.str(), "", ""}), "kernel '" + f.str() + "'");
  };
  {
    auto [e, name] = err(std::vector<uint8_t>(1000, 0));
    EXPECT_EQ(e, name + ": too small for a bzImage (1000 bytes)");
  }
  {
    auto image = FakeKernel{}.build();
    image[0x1fe] = 0;
    auto [e, name] = err(image);
    EXPECT_EQ(e, name + ": not a bzImage (no 0xAA55 boot flag)");
  }
  {
    auto image = FakeKernel{}.build();
    image[0x203] = 'X';
    auto [e, name] = err(image);
    EXPECT_EQ(e, name + ": not a bzImage (no HdrS signature)");
  }
  {
    FakeKernel k;
    k.version = 0x0203;
    auto [e, name] = err(k.build());
    EXPECT_EQ(e, name + ": boot protocol 2.03 is too old (need 2.06)");
  }
  {
    FakeKernel k;
    k.xloadflags = 0;
    auto [e, name] = err(k.build());
    EXPECT_EQ(e, name + ": has no 64-bit entry point (boot protocol 2.15, XLF_KERNEL_64 not set)");
  }
  {
    FakeKernel k;
    k.version = 0x0208;  // acceptable protocol, but xloadflags only exist from 2.12
    auto [e, name] = err(k.build());
    EXPECT_EQ(e, name + ": has no 64-bit entry point (boot protocol 2.08, XLF_KERNEL_64 not set)");
  }
  {
    FakeKernel k;
    k.setup_sects = 200;  // setup longer than the whole file
    auto image = k.build();
    image.resize(4096);
    auto [e, name] = err(image);
    EXPECT_EQ(e, name + ": truncated (setup code claims 102912 bytes but the file has 4096)");
  }
  EXPECT_EQ(error_of(mem, {"/nonexistent/vmlinuz", "", ""}),
            "cannot read kernel '/nonexistent/vmlinuz': No such file or directory");
}

TEST(LinuxLoader, RejectsMissingInitrdAndOverlongCmdline) {
  FakeKernel k;
  k.cmdline_size = 100;
  TempFile f(k.build());
  GuestMemory mem(64 * MiB);
  EXPECT_EQ(error_of(mem, {f.str(), "/nonexistent/initrd", ""}),
            "cannot read initrd '/nonexistent/initrd': No such file or directory");
  EXPECT_EQ(error_of(mem, {f.str(), "", std::string(101, 'x')}),
            "kernel command line is 101 bytes; kernel '" + f.str() + "' accepts at most 100");
  load_linux(mem, {f.str(), "", std::string(100, 'x')});  // exactly the limit is fine
  k.cmdline_size = 0x100000;  // larger than Janus's command-line area
  TempFile big(k.build());
  EXPECT_EQ(error_of(mem, {big.str(), "", std::string(layout::kCmdlineMax, 'x')}),
            "kernel command line is 65536 bytes; kernel '" + big.str() + "' accepts at most 65535");
}

TEST(LinuxLoader, KernelThatCannotRunInRamIsRefused) {
  FakeKernel k;  // needs RAM up to 16 MiB + 8 MiB
  TempFile f(k.build());
  GuestMemory mem(20 * MiB);
  EXPECT_EQ(error_of(mem, {f.str(), "", ""}),
            "kernel '" + f.str() + "' needs guest RAM up to 24 MiB to decompress and run, but RAM below 4 GiB ends at 20 MiB");
  k.pref_address = ~0ull;  // absurd header values must not wrap around
  TempFile bad(k.build());
  EXPECT_NE(error_of(mem, {bad.str(), "", ""}).find("needs guest RAM up to"), std::string::npos);
}

TEST(LinuxLoader, RecognisesBzImages) {
  auto image = FakeKernel{}.build();
  EXPECT_TRUE(looks_like_bzimage(image));
  EXPECT_FALSE(looks_like_bzimage(std::span(image).first(1023)));
  EXPECT_FALSE(looks_like_bzimage({}));
  image[0x202] = 'h';
  EXPECT_FALSE(looks_like_bzimage(image));
}

TEST(LinuxLoader, AcceptsTheHostDebianKernel) {
  std::string kernel, initrd;
  if (std::filesystem::exists("/boot"))
    for (const auto& e : std::filesystem::directory_iterator("/boot")) {
      std::string name = e.path().filename().string();
      if (name.starts_with("vmlinuz-") && name.ends_with("-cloud-amd64")) {
        kernel = e.path().string();
        std::string rd = "/boot/initrd.img-" + name.substr(8);
        if (std::filesystem::exists(rd)) initrd = rd;
      }
    }
  if (kernel.empty()) GTEST_SKIP() << "no /boot/vmlinuz-*-cloud-amd64 on this machine";
  if (access(kernel.c_str(), R_OK) != 0) GTEST_SKIP() << kernel << " is not readable";
  GuestMemory mem(256 * MiB);
  CpuState s = load_linux(mem, {kernel, initrd, "console=ttyS0"});
  EXPECT_GE(mem.load<uint16_t>(layout::kZeroPage + 0x206), 0x020f);
  EXPECT_EQ(mem.load<uint32_t>(layout::kZeroPage + 0x202), 0x53726448u);
  EXPECT_EQ(s.rip, 0x100200u);
  // The protected-mode kernel starts at the first sector after setup.
  std::ifstream in(kernel, std::ios::binary);
  std::vector<uint8_t> head(0x1000);
  in.read(reinterpret_cast<char*>(head.data()), head.size());
  size_t offset = (head[0x1f1] ? head[0x1f1] : 4) * 512 + 512;
  in.seekg(offset);
  std::vector<uint8_t> start(256);
  in.read(reinterpret_cast<char*>(start.data()), start.size());
  EXPECT_EQ(read(mem, 0x100000, start.size()), start);
  if (!initrd.empty()) {
    uint32_t addr = mem.load<uint32_t>(layout::kZeroPage + 0x218);
    EXPECT_EQ(mem.load<uint32_t>(layout::kZeroPage + 0x21c), std::filesystem::file_size(initrd));
    EXPECT_EQ(addr % 4096, 0u);
    // Above where the kernel decompresses (pref_address + init_size) and inside RAM.
    uint64_t run_end = mem.load<uint64_t>(layout::kZeroPage + 0x258) + mem.load<uint32_t>(layout::kZeroPage + 0x260);
    EXPECT_GE(addr, run_end);
    EXPECT_LE(addr + std::filesystem::file_size(initrd), 256 * MiB);
  }
}

TEST(LinuxLoader, MutatedHeadersFailCleanly) {
  // Random header bytes must end in a load or a one-line std::runtime_error, never a crash.
  auto base = FakeKernel{}.build();
  uint32_t rng = 12345;
  auto next = [&] { return rng = rng * 1103515245 + 12345, rng >> 8; };
  GuestMemory mem(32 * MiB);
  for (int iter = 0; iter < 400; iter++) {
    auto image = base;
    for (int n = 0; n < 6; n++) image[0x1f1 + next() % (0x270 - 0x1f1)] = uint8_t(next());
    if (iter % 7 == 0) image.resize(next() % image.size());
    TempFile f(image);
    try {
      load_linux(mem, {f.str(), "", "x"});
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
}
