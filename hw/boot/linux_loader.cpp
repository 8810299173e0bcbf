#include "hw/boot/linux_loader.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "hw/boot/boot_memory.h"
#include "hw/boot/e820.h"
#include "hw/boot/flat_segments.h"
#include "hw/boot/image_file.h"
#include "hw/boot/image_reader.h"
#include "hw/pc_layout.h"

namespace janus {

namespace {

// Offsets in the kernel image's setup header and in struct boot_params (the zero page), which
// holds a copy of that header at the same offsets (boot.rst "THE REAL-MODE KERNEL HEADER",
// zero-page.rst).
namespace hdr {
constexpr uint64_t kSetupSects = 0x1f1;
constexpr uint64_t kBootFlag = 0x1fe;
constexpr uint64_t kJump = 0x200;  // its second byte is the length of the header after 0x202
constexpr uint64_t kSignature = 0x202;
constexpr uint64_t kVersion = 0x206;
constexpr uint64_t kTypeOfLoader = 0x210;
constexpr uint64_t kLoadflags = 0x211;
constexpr uint64_t kRamdiskImage = 0x218;
constexpr uint64_t kRamdiskSize = 0x21c;
constexpr uint64_t kHeapEndPtr = 0x224;
constexpr uint64_t kCmdLinePtr = 0x228;
constexpr uint64_t kInitrdAddrMax = 0x22c;
constexpr uint64_t kKernelAlignment = 0x230;
constexpr uint64_t kXloadflags = 0x236;
constexpr uint64_t kCmdlineSize = 0x238;
constexpr uint64_t kPrefAddress = 0x258;
constexpr uint64_t kInitSize = 0x260;
}  // namespace hdr
namespace zp {
constexpr uint64_t kAcpiRsdpAddr = 0x070;  // boot protocol 2.14+
constexpr uint64_t kExtRamdiskImage = 0x0c0;
constexpr uint64_t kExtRamdiskSize = 0x0c4;
constexpr uint64_t kE820Entries = 0x1e8;
constexpr uint64_t kHeaderEndLimit = 0x290;  // boot_params fields after the setup header start here
constexpr uint64_t kE820Table = 0x2d0;
constexpr unsigned kE820Max = 128;
constexpr uint64_t kSize = 0x1000;
}  // namespace zp

constexpr uint16_t kBootFlagValue = 0xaa55;
constexpr uint32_t kHdrS = 0x53726448;  // "HdrS" little-endian
constexpr uint16_t kMinProtocol = 0x0206;  // cmdline_size exists from 2.06
constexpr uint16_t kXloadflagsProtocol = 0x020c;
constexpr uint16_t kInitSizeProtocol = 0x020a;
constexpr uint16_t kAcpiRsdpProtocol = 0x020e;
constexpr uint8_t kLoadedHigh = 0x01, kCanUseHeap = 0x80;
constexpr uint16_t kXlfKernel64 = 0x0001;
constexpr uint8_t kTypeOfLoaderUndefined = 0xff;
// The real-mode heap ends where boot.rst's example puts it; only the 16-bit setup code (which we
// never run) uses it, but the kernel expects the field filled when CAN_USE_HEAP is set.
constexpr uint16_t kHeapEnd = 0xe000 - 0x200;
constexpr uint64_t kStartup64Offset = 0x200;  // startup_64 is 512 bytes into the protected-mode kernel
constexpr uint64_t kPageSize = 0x1000;
constexpr uint64_t k2MiB = 0x200000;
constexpr uint16_t kBootCs = 0x10, kBootDs = 0x18;  // Linux's __BOOT_CS/__BOOT_DS

std::string protocol_text(uint16_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%02u", v >> 8, v & 0xff);
  return buf;
}

// What the loader needs from a validated setup header.
struct BzImage {
  uint16_t version = 0;
  uint64_t payload_offset = 0;  // file offset of the protected-mode kernel
  uint64_t header_end = 0;      // end of the setup header to copy into boot_params
  uint32_t initrd_addr_max = 0;
  uint32_t kernel_alignment = 0;
  uint32_t cmdline_size = 0;
  uint64_t pref_address = 0;
  uint32_t init_size = 0;
};

BzImage parse_setup_header(const ImageReader& image) {
  const std::string& name = image.name();
  if (image.size() < 1024) throw std::runtime_error(name + ": too small for a bzImage (" + size_text(image.size()) + ")");
  if (image.le16(hdr::kBootFlag) != kBootFlagValue) throw std::runtime_error(name + ": not a bzImage (no 0xAA55 boot flag)");
  if (image.le32(hdr::kSignature) != kHdrS) throw std::runtime_error(name + ": not a bzImage (no HdrS signature)");
  BzImage k;
  k.version = image.le16(hdr::kVersion);
  if (k.version < kMinProtocol)
    throw std::runtime_error(name + ": boot protocol " + protocol_text(k.version) + " is too old (need " +
                             protocol_text(kMinProtocol) + ")");
  unsigned setup_sects = image.u8(hdr::kSetupSects);
  if (setup_sects == 0) setup_sects = 4;  // the historical default
  k.payload_offset = (setup_sects + 1) * 512ull;
  if (k.payload_offset >= image.size())
    throw std::runtime_error(name + ": truncated (setup code claims " + std::to_string(k.payload_offset) +
                             " bytes but the file has " + std::to_string(image.size()) + ")");
  if (k.version < kXloadflagsProtocol || !(image.le16(hdr::kXloadflags) & kXlfKernel64))
    throw std::runtime_error(name + ": has no 64-bit entry point (boot protocol " + protocol_text(k.version) +
                             ", XLF_KERNEL_64 not set)");
  k.header_end = std::min<uint64_t>(hdr::kJump + 2 + image.u8(hdr::kJump + 1), zp::kHeaderEndLimit);
  k.header_end = std::min(k.header_end, image.size());
  k.initrd_addr_max = image.le32(hdr::kInitrdAddrMax);
  k.kernel_alignment = image.le32(hdr::kKernelAlignment);
  k.cmdline_size = image.le32(hdr::kCmdlineSize);
  if (k.version >= kInitSizeProtocol) {
    k.pref_address = image.le64(hdr::kPrefAddress);
    k.init_size = image.le32(hdr::kInitSize);
  }
  return k;
}

// The end of guest memory the kernel uses while decompressing and running. The 64-bit entry
// (arch/x86/boot/compressed/head_64.S) runs at the load address rounded up to kernel_alignment,
// but never below pref_address (LOAD_PHYSICAL_ADDR), and needs init_size bytes there.
uint64_t kernel_footprint_end(const BzImage& k, uint64_t payload_size) {
  uint64_t end = layout::kHighMemStart + payload_size;
  uint64_t run_start = layout::kHighMemStart;
  uint32_t a = k.kernel_alignment;
  if (a && (a & (a - 1)) == 0) run_start = (run_start + a - 1) & ~uint64_t{a - 1};
  run_start = std::max(run_start, k.pref_address);
  if (run_start > UINT64_MAX - k.init_size) return UINT64_MAX;  // absurd header: will not fit
  return std::max(end, run_start + k.init_size);
}

// The initrd goes as high as the kernel can address it, page-aligned, above the kernel's
// footprint so decompression cannot overwrite it. Returns the guest address.
uint64_t place_initrd(const GuestMemory& mem, const BzImage& k, uint64_t kernel_end, uint64_t size,
                      const std::string& path) {
  uint64_t top = std::min<uint64_t>(uint64_t{k.initrd_addr_max} + 1, mem.low_ram_end());
  uint64_t floor = (kernel_end + kPageSize - 1) & ~(kPageSize - 1);
  if (size > top || ((top - size) & ~(kPageSize - 1)) < floor)
    throw std::runtime_error("initrd '" + path + "' (" + size_text(size) + ") does not fit in " +
                             size_text(mem.ram_size()) + " of guest RAM");
  return (top - size) & ~(kPageSize - 1);
}

template <typename T> void put_le(std::vector<uint8_t>& page, uint64_t offset, T value) {
  for (unsigned i = 0; i < sizeof(T); i++) page[offset + i] = static_cast<uint8_t>(uint64_t{value} >> (8 * i));
}

// The PC map plus, when Janus installed ACPI tables, their window as reserved (it lies in the
// hole between 640 KiB and 1 MiB, which the PC map leaves out).
std::vector<E820Entry> linux_e820_map(const GuestMemory& mem, uint64_t acpi_rsdp) {
  auto map = pc_e820_map(mem);
  if (!acpi_rsdp) return map;
  E820Entry acpi{layout::kAcpiTablesBase, layout::kAcpiTablesSize, e820_type::kReserved};
  auto at = std::find_if(map.begin(), map.end(), [&](const E820Entry& e) { return e.addr > acpi.addr; });
  map.insert(at, acpi);
  return map;
}

// boot_params: zeroed, then the kernel's setup header, then what the loader tells the kernel.
std::vector<uint8_t> build_boot_params(const ImageReader& image, const BzImage& k, const GuestMemory& mem,
                                       uint64_t initrd_addr, uint64_t initrd_size, uint64_t acpi_rsdp) {
  std::vector<uint8_t> bp(zp::kSize, 0);
  auto header = image.slice(hdr::kSetupSects, k.header_end - hdr::kSetupSects);
  std::copy(header.begin(), header.end(), bp.begin() + hdr::kSetupSects);

  bp[hdr::kTypeOfLoader] = kTypeOfLoaderUndefined;
  bp[hdr::kLoadflags] |= kLoadedHigh | kCanUseHeap;
  put_le<uint16_t>(bp, hdr::kHeapEndPtr, kHeapEnd);
  put_le<uint32_t>(bp, hdr::kCmdLinePtr, static_cast<uint32_t>(layout::kCmdline));
  put_le<uint32_t>(bp, hdr::kRamdiskImage, static_cast<uint32_t>(initrd_addr));
  put_le<uint32_t>(bp, hdr::kRamdiskSize, static_cast<uint32_t>(initrd_size));
  put_le<uint32_t>(bp, zp::kExtRamdiskImage, static_cast<uint32_t>(initrd_addr >> 32));
  put_le<uint32_t>(bp, zp::kExtRamdiskSize, static_cast<uint32_t>(initrd_size >> 32));

  if (acpi_rsdp && k.version >= kAcpiRsdpProtocol) put_le<uint64_t>(bp, zp::kAcpiRsdpAddr, acpi_rsdp);

  auto map = linux_e820_map(mem, acpi_rsdp);
  if (map.size() > zp::kE820Max) map.resize(zp::kE820Max);
  bp[zp::kE820Entries] = static_cast<uint8_t>(map.size());
  for (size_t i = 0; i < map.size(); i++) {
    uint64_t at = zp::kE820Table + i * 20;
    put_le<uint64_t>(bp, at, map[i].addr);
    put_le<uint64_t>(bp, at + 8, map[i].size);
    put_le<uint32_t>(bp, at + 16, map[i].type);
  }
  return bp;
}

void write_cmdline(GuestMemory& mem, const BzImage& k, const std::string& cmdline, const std::string& name) {
  uint64_t limit = std::min<uint64_t>(k.cmdline_size, layout::kCmdlineMax - 1);  // both exclude the NUL
  if (cmdline.size() > limit)
    throw std::runtime_error("kernel command line is " + std::to_string(cmdline.size()) + " bytes; " + name +
                             " accepts at most " + std::to_string(limit));
  std::vector<uint8_t> bytes(cmdline.begin(), cmdline.end());
  bytes.push_back(0);
  write_guest(mem, layout::kCmdline, bytes, "the kernel command line");
}

// Identity map of the first 4 GiB with 2 MiB pages: enough for the kernel, its initrd and
// boot_params wherever they are below 4 GiB. The kernel builds its own tables early on.
void setup_identity_page_tables(GuestMemory& mem) {
  constexpr uint64_t kPresentWritable = 0x3, kPageSize2M = 0x80;
  std::vector<uint64_t> pml4(512, 0), pdpt(512, 0), pds(4 * 512);
  pml4[0] = layout::kPdpt | kPresentWritable;
  for (uint64_t i = 0; i < 4; i++) pdpt[i] = (layout::kPdBase + i * kPageSize) | kPresentWritable;
  for (uint64_t i = 0; i < pds.size(); i++) pds[i] = (i * k2MiB) | kPresentWritable | kPageSize2M;
  auto bytes = [](const std::vector<uint64_t>& v) {
    return std::span(reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(uint64_t));
  };
  write_guest(mem, layout::kPml4, bytes(pml4), "the boot PML4");
  write_guest(mem, layout::kPdpt, bytes(pdpt), "the boot PDPT");
  write_guest(mem, layout::kPdBase, bytes(pds), "the boot page directories");
}

// null, null, then __BOOT_CS (0x10) and __BOOT_DS (0x18) as Linux's 64-bit entry expects.
void setup_boot_gdt_and_idt(GuestMemory& mem) {
  const uint64_t gdt[4] = {0, 0, flat::gdt_entry(flat::kCode64Attr), flat::gdt_entry(flat::kDataAttr)};
  write_guest(mem, layout::kBootGdt, std::span(reinterpret_cast<const uint8_t*>(gdt), sizeof gdt), "the boot GDT");
  zero_guest(mem, layout::kBootIdt, 16, "the boot IDT");
}

CpuState linux_entry_state() {
  CpuState s{};
  s.cr0 = cr0::PE | cr0::ET | cr0::NE | cr0::PG;
  s.cr4 = cr4::PAE;
  s.efer = efer::LME | efer::LMA;
  s.cr3 = layout::kPml4;
  s.seg[CS] = flat::segment(kBootCs, flat::kCode64Attr);
  for (SegIndex i : {DS, ES, SS, FS, GS}) s.seg[i] = flat::segment(kBootDs, flat::kDataAttr);
  s.gdtr = {layout::kBootGdt, 4 * 8 - 1};
  s.idtr = {layout::kBootIdt, 0};
  s.tr = flat::busy_tss();
  s.ldtr = flat::unusable_ldtr();
  s.gpr[RSI] = layout::kZeroPage;  // the protocol: RSI points at boot_params
  s.gpr[RSP] = layout::kBootStackTop;
  s.rip = layout::kHighMemStart + kStartup64Offset;
  s.rflags = rflags::FIXED1;  // interrupts off, as the protocol requires
  return s;
}

}  // namespace

bool looks_like_bzimage(std::span<const uint8_t> image) {
  ImageReader r(image, "image");
  return r.size() >= 1024 && r.le16(hdr::kBootFlag) == kBootFlagValue && r.le32(hdr::kSignature) == kHdrS;
}

CpuState load_linux(GuestMemory& mem, const LinuxBootOptions& options) {
  const std::string name = "kernel '" + options.kernel_path + "'";
  const auto file = read_image_file(options.kernel_path, "kernel", mem.low_ram_end());
  const ImageReader image(file, name);
  const BzImage k = parse_setup_header(image);

  auto payload = image.slice(k.payload_offset, image.size() - k.payload_offset);
  const uint64_t kernel_end = kernel_footprint_end(k, payload.size());
  if (kernel_end > mem.low_ram_end())
    throw std::runtime_error(name + " needs guest RAM up to " + size_text(kernel_end) +
                             " to decompress and run, but RAM below 4 GiB ends at " + size_text(mem.low_ram_end()));
  write_guest(mem, layout::kHighMemStart, payload, "the kernel");

  uint64_t initrd_addr = 0, initrd_size = 0;
  if (!options.initrd_path.empty()) {
    initrd_size = image_file_size(options.initrd_path, "initrd");
    initrd_addr = place_initrd(mem, k, kernel_end, initrd_size, options.initrd_path);
    const auto initrd = read_image_file(options.initrd_path, "initrd", initrd_size);
    initrd_size = initrd.size();  // the file may have shrunk between stat and read
    write_guest(mem, initrd_addr, initrd, "the initrd");
  }

  write_cmdline(mem, k, options.cmdline, name);
  write_guest(mem, layout::kZeroPage, build_boot_params(image, k, mem, initrd_addr, initrd_size, options.acpi_rsdp),
              "boot_params");
  setup_identity_page_tables(mem);
  setup_boot_gdt_and_idt(mem);
  return linux_entry_state();
}

}  // namespace janus
