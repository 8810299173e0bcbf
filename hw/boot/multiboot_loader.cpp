#include "hw/boot/multiboot_loader.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <stdexcept>

#include "hw/boot/boot_memory.h"
#include "hw/boot/e820.h"
#include "hw/boot/flat_segments.h"
#include "hw/boot/image_file.h"
#include "hw/boot/image_reader.h"
#include "hw/pc_layout.h"

namespace janus {

namespace {

constexpr uint32_t kHeaderMagic = 0x1badb002;
constexpr uint32_t kBootloaderMagic = 0x2badb002;  // in EAX at entry
constexpr uint64_t kSearchLimit = 8192;            // the header lies in the image's first 8 KiB
constexpr uint64_t kHeaderCoreSize = 12;           // magic, flags, checksum
constexpr uint64_t kHeaderWithAddressesSize = 32;  // + header/load/load_end/bss_end/entry addresses

// Header flag bits. Bits 0-15 are requirements: a loader must refuse a kernel asking for one it
// does not know. Bits 16-31 are optional.
constexpr uint32_t kFlagPageAlignModules = 1u << 0;  // Janus always page-aligns modules
constexpr uint32_t kFlagNeedMemoryInfo = 1u << 1;    // Janus always passes mem_* and mmap
constexpr uint32_t kFlagVideoMode = 1u << 2;
constexpr uint32_t kFlagAddressesValid = 1u << 16;   // the "a.out kludge"
constexpr uint32_t kRequiredMask = 0xffff;
constexpr uint32_t kSupportedRequired = kFlagPageAlignModules | kFlagNeedMemoryInfo;

// Information block flags and field offsets (spec section 3.3).
namespace info {
constexpr uint32_t kFlagMemory = 1u << 0, kFlagCmdline = 1u << 2, kFlagModules = 1u << 3, kFlagMmap = 1u << 6,
                   kFlagLoaderName = 1u << 9;
constexpr uint64_t kFlags = 0, kMemLower = 4, kMemUpper = 8, kCmdline = 16, kModsCount = 20, kModsAddr = 24,
                   kMmapLength = 44, kMmapAddr = 48, kLoaderName = 64;
constexpr uint64_t kStructSize = 0x80;  // 88 bytes used without framebuffer info; rounded for alignment
constexpr uint64_t kModuleEntrySize = 16;  // mod_start, mod_end, string, reserved
constexpr uint64_t kMmapEntrySize = 24;    // size (=20, not counting itself), base, length, type
}  // namespace info

constexpr uint64_t kConventionalMemoryKiB = 640;
constexpr uint64_t kPageSize = 0x1000;
constexpr uint16_t kCodeSelector = 0x08, kDataSelector = 0x10;

uint64_t page_align_up(uint64_t a) { return (a + kPageSize - 1) & ~(kPageSize - 1); }

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

struct MultibootHeader {
  uint64_t offset = 0;  // in the file
  uint32_t flags = 0;
};

// Aligned offsets in the first 8 KiB holding the magic with room for the 12-byte core header.
std::optional<uint64_t> find_magic(const ImageReader& image, bool require_checksum) {
  uint64_t end = std::min(image.size(), kSearchLimit);
  for (uint64_t off = 0; off + kHeaderCoreSize <= end; off += 4) {
    if (image.le32(off) != kHeaderMagic) continue;
    if (!require_checksum || uint32_t(kHeaderMagic + image.le32(off + 4) + image.le32(off + 8)) == 0) return off;
  }
  return std::nullopt;
}

MultibootHeader parse_header(const ImageReader& image) {
  auto valid = find_magic(image, true);
  if (!valid) {
    if (find_magic(image, false))
      throw std::runtime_error(image.name() + ": Multiboot header checksum is wrong");
    throw std::runtime_error(image.name() + ": no Multiboot header in the first 8 KiB");
  }
  MultibootHeader h{*valid, image.le32(*valid + 4)};
  uint32_t unknown = h.flags & kRequiredMask & ~kSupportedRequired;
  if (unknown) {
    std::string why = (unknown & kFlagVideoMode) ? " (bit 2: a video mode)" : "";
    throw std::runtime_error(image.name() + ": requires Multiboot features Janus does not provide (flags " +
                             hex(unknown) + why + ")");
  }
  return h;
}

// One piece of the kernel to place: file bytes at gpa followed by zeros up to memsz.
struct LoadSegment {
  uint64_t gpa = 0;
  std::span<const uint8_t> data;
  uint64_t memsz = 0;
};

struct KernelLayout {
  std::vector<LoadSegment> segments;
  uint64_t entry = 0;
};

// The a.out kludge: the header says where the file goes, relative to the header's own position.
KernelLayout parse_address_fields(const ImageReader& image, const MultibootHeader& h) {
  const std::string& name = image.name();
  if (!image.contains(h.offset, kHeaderWithAddressesSize))
    throw std::runtime_error(name + ": Multiboot header truncated (flag bit 16 needs the address fields)");
  uint32_t header_addr = image.le32(h.offset + 12), load_addr = image.le32(h.offset + 16),
           load_end_addr = image.le32(h.offset + 20), bss_end_addr = image.le32(h.offset + 24),
           entry_addr = image.le32(h.offset + 28);
  if (load_addr > header_addr)
    throw std::runtime_error(name + ": Multiboot load_addr " + hex(load_addr) + " is above header_addr " + hex(header_addr));
  if (header_addr - load_addr > h.offset)
    throw std::runtime_error(name + ": Multiboot load_addr " + hex(load_addr) + " lies before the start of the file");
  uint64_t file_start = h.offset - (header_addr - load_addr);
  uint64_t load_end = load_end_addr ? load_end_addr : load_addr + (image.size() - file_start);
  if (load_end < load_addr)
    throw std::runtime_error(name + ": Multiboot load_end_addr " + hex(load_end_addr) + " is below load_addr");
  uint64_t file_bytes = load_end - load_addr;
  if (!image.contains(file_start, file_bytes))
    throw std::runtime_error(name + ": truncated (load_end_addr asks for " + std::to_string(file_bytes) +
                             " bytes from offset " + std::to_string(file_start) + ")");
  uint64_t bss_end = bss_end_addr ? bss_end_addr : load_end;
  if (bss_end < load_end)
    throw std::runtime_error(name + ": Multiboot bss_end_addr " + hex(bss_end_addr) + " is below load_end_addr");
  return {{{load_addr, image.slice(file_start, file_bytes), bss_end - load_addr}}, entry_addr};
}

// ELF32 executables: PT_LOAD segments go to their physical addresses, as GRUB and QEMU do.
KernelLayout parse_elf32(const ImageReader& image, const std::string& path) {
  const std::string& name = image.name();
  constexpr uint64_t kEhdrSize = 52, kPhdrSize = 32;
  if (image.size() < 16 || image.le32(0) != 0x464c457f)  // "\x7fELF"
    throw std::runtime_error(name + ": not an ELF file and its Multiboot header gives no load addresses (flag bit 16)");
  uint8_t elf_class = image.u8(4), data = image.u8(5);
  if (elf_class == 2)
    throw std::runtime_error("multiboot kernel '" + path + "' is a 64-bit ELF; Multiboot v1 needs a 32-bit ELF (as QEMU)");
  if (elf_class != 1) throw std::runtime_error(name + ": unknown ELF class " + std::to_string(elf_class));
  if (data != 1) throw std::runtime_error(name + ": ELF is not little-endian");
  if (image.size() < kEhdrSize) throw std::runtime_error(name + ": truncated ELF header");
  if (image.le16(16) != 2) throw std::runtime_error(name + ": ELF type " + std::to_string(image.le16(16)) + " is not an executable");
  if (image.le16(18) != 3) throw std::runtime_error(name + ": ELF machine " + std::to_string(image.le16(18)) + " is not i386");
  uint32_t entry = image.le32(24), phoff = image.le32(28);
  uint16_t phentsize = image.le16(42), phnum = image.le16(44);
  if (phnum && phentsize < kPhdrSize) throw std::runtime_error(name + ": ELF program header size " + std::to_string(phentsize) + " is too small");

  KernelLayout k;
  std::optional<uint64_t> translated_entry;
  for (unsigned i = 0; i < phnum; i++) {
    uint64_t ph = phoff + uint64_t{i} * phentsize;
    if (!image.contains(ph, kPhdrSize)) throw std::runtime_error(name + ": truncated ELF program header " + std::to_string(i));
    if (image.le32(ph) != 1) continue;  // PT_LOAD only
    uint32_t offset = image.le32(ph + 4), vaddr = image.le32(ph + 8), paddr = image.le32(ph + 12),
             filesz = image.le32(ph + 16), memsz = image.le32(ph + 20);
    if (filesz > memsz) throw std::runtime_error(name + ": ELF segment " + std::to_string(i) + " has filesz > memsz");
    if (!image.contains(offset, filesz))
      throw std::runtime_error(name + ": truncated (ELF segment " + std::to_string(i) + " lies past the end of the file)");
    k.segments.push_back({paddr, image.slice(offset, filesz), memsz});
    // A kernel linked high (vaddr != paddr) names its entry virtually; start it where it lies physically.
    if (!translated_entry && entry >= vaddr && entry - vaddr < memsz) translated_entry = uint64_t{entry} - vaddr + paddr;
  }
  if (k.segments.empty()) throw std::runtime_error(name + ": ELF has no loadable segments");
  k.entry = translated_entry.value_or(entry);
  return k;
}

// Memory the loader itself uses while the kernel starts: the kernel may not load over it.
struct ReservedRange {
  uint64_t start, end;
  const char* what;
};
constexpr ReservedRange kReserved[] = {
    {layout::kBootGdt, layout::kBootStackTop + 0x10, "the boot GDT and stack"},
    {layout::kMultibootInfo, layout::kMultibootInfoEnd, "the Multiboot info area"},
};

void check_segments(const GuestMemory& mem, const KernelLayout& k, const std::string& name) {
  for (const auto& s : k.segments) {
    if (s.memsz == 0) continue;
    if (!range_is_ram(mem, s.gpa, s.memsz))
      throw std::runtime_error(name + ": segment " + range_text(s.gpa, s.memsz) + " lies outside guest RAM (" +
                               size_text(mem.ram_size()) + ")");
    for (const auto& r : kReserved)
      if (s.gpa < r.end && r.start < s.gpa + s.memsz)
        throw std::runtime_error(name + ": segment " + range_text(s.gpa, s.memsz) + " overlaps " + r.what);
  }
}

void load_segments(GuestMemory& mem, const KernelLayout& k) {
  for (const auto& s : k.segments) {
    write_guest(mem, s.gpa, s.data, "the multiboot kernel");
    zero_guest(mem, s.gpa + s.data.size(), s.memsz - s.data.size(), "the multiboot kernel's bss");
  }
}

struct LoadedModule {
  uint64_t start = 0, end = 0;
  std::string spec;
};

// Modules go page-aligned after the kernel (and never below the info area, for kernels loaded low).
std::vector<LoadedModule> load_modules(GuestMemory& mem, const std::vector<std::string>& specs, uint64_t kernel_end) {
  std::vector<LoadedModule> loaded;
  uint64_t next = page_align_up(std::max(kernel_end, layout::kMultibootInfoEnd));
  for (const auto& spec : specs) {
    auto first = spec.find_first_not_of(' ');
    std::string path = first == std::string::npos ? "" : spec.substr(first, spec.find(' ', first) - first);
    if (path.empty()) throw std::runtime_error("multiboot module '" + spec + "' names no file");
    auto data = read_image_file(path, "multiboot module", mem.low_ram_end());
    if (!range_is_ram(mem, next, data.size()))
      throw std::runtime_error("multiboot module '" + path + "' (" + size_text(data.size()) + ") does not fit in " +
                               size_text(mem.ram_size()) + " of guest RAM after the kernel and earlier modules");
    write_guest(mem, next, data, "a multiboot module");
    loaded.push_back({next, next + data.size(), spec});
    next = page_align_up(next + data.size());
  }
  return loaded;
}

template <typename T> void put_le(std::vector<uint8_t>& buf, uint64_t offset, T v) {
  for (unsigned i = 0; i < sizeof(T); i++) buf[offset + i] = static_cast<uint8_t>(uint64_t{v} >> (8 * i));
}

// The information block and everything it points to, laid out in one buffer that is copied to
// [kMultibootInfo, kMultibootInfoEnd): the struct, the memory map, the module list, then strings.
class InfoBuilder {
 public:
  InfoBuilder() : bytes_(info::kStructSize, 0) {}
  uint64_t append(std::span<const uint8_t> data) {
    uint64_t at = layout::kMultibootInfo + bytes_.size();
    bytes_.insert(bytes_.end(), data.begin(), data.end());
    while (bytes_.size() % 4) bytes_.push_back(0);  // keep following tables aligned
    return at;
  }
  uint64_t append_string(const std::string& s) {
    std::vector<uint8_t> z(s.begin(), s.end());
    z.push_back(0);
    return append(z);
  }
  void set32(uint64_t field, uint32_t v) { put_le(bytes_, field, v); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

void write_info(GuestMemory& mem, const MultibootOptions& options, const std::vector<LoadedModule>& modules) {
  InfoBuilder b;
  uint32_t flags = info::kFlagMemory | info::kFlagCmdline | info::kFlagModules | info::kFlagMmap | info::kFlagLoaderName;
  b.set32(info::kFlags, flags);
  b.set32(info::kMemLower, kConventionalMemoryKiB);
  uint64_t upper = mem.low_ram_end() > layout::kHighMemStart ? (mem.low_ram_end() - layout::kHighMemStart) / 1024 : 0;
  b.set32(info::kMemUpper, static_cast<uint32_t>(upper));

  auto map = pc_e820_map(mem);
  std::vector<uint8_t> mmap(map.size() * info::kMmapEntrySize);
  for (size_t i = 0; i < map.size(); i++) {
    uint64_t at = i * info::kMmapEntrySize;
    put_le<uint32_t>(mmap, at, info::kMmapEntrySize - 4);
    put_le<uint64_t>(mmap, at + 4, map[i].addr);
    put_le<uint64_t>(mmap, at + 12, map[i].size);
    put_le<uint32_t>(mmap, at + 20, map[i].type);
  }
  b.set32(info::kMmapAddr, static_cast<uint32_t>(b.append(mmap)));
  b.set32(info::kMmapLength, static_cast<uint32_t>(mmap.size()));

  // Strings first so the module list can point at them.
  std::vector<uint64_t> module_strings;
  for (const auto& m : modules) module_strings.push_back(b.append_string(m.spec));
  std::vector<uint8_t> list(modules.size() * info::kModuleEntrySize);
  for (size_t i = 0; i < modules.size(); i++) {
    uint64_t at = i * info::kModuleEntrySize;
    put_le<uint32_t>(list, at, static_cast<uint32_t>(modules[i].start));
    put_le<uint32_t>(list, at + 4, static_cast<uint32_t>(modules[i].end));
    put_le<uint32_t>(list, at + 8, static_cast<uint32_t>(module_strings[i]));
  }
  b.set32(info::kModsAddr, static_cast<uint32_t>(b.append(list)));
  b.set32(info::kModsCount, static_cast<uint32_t>(modules.size()));

  // QEMU passes the kernel's file name as argv[0] followed by -append's text.
  b.set32(info::kCmdline, static_cast<uint32_t>(b.append_string(options.kernel_path + " " + options.cmdline)));
  b.set32(info::kLoaderName, static_cast<uint32_t>(b.append_string("janus")));

  const uint64_t area = layout::kMultibootInfoEnd - layout::kMultibootInfo;
  if (b.bytes().size() > area)
    throw std::runtime_error("multiboot info for kernel '" + options.kernel_path + "' (" + size_text(b.bytes().size()) +
                             ") does not fit in its " + size_text(area) + " area; shorten the command line or module arguments");
  write_guest(mem, layout::kMultibootInfo, b.bytes(), "the Multiboot info");
}

void setup_boot_gdt(GuestMemory& mem) {
  const uint64_t gdt[3] = {0, flat::gdt_entry(flat::kCode32Attr), flat::gdt_entry(flat::kDataAttr)};
  write_guest(mem, layout::kBootGdt, std::span(reinterpret_cast<const uint8_t*>(gdt), sizeof gdt), "the boot GDT");
  zero_guest(mem, layout::kBootIdt, 16, "the boot IDT");
}

CpuState multiboot_entry_state(uint64_t entry) {
  CpuState s{};
  s.cr0 = cr0::PE | cr0::ET;
  s.seg[CS] = flat::segment(kCodeSelector, flat::kCode32Attr);
  for (SegIndex i : {DS, ES, SS, FS, GS}) s.seg[i] = flat::segment(kDataSelector, flat::kDataAttr);
  s.gdtr = {layout::kBootGdt, 3 * 8 - 1};
  s.idtr = {layout::kBootIdt, 0};  // no IDT: the spec leaves it to the kernel
  s.tr = flat::busy_tss();
  s.ldtr = flat::unusable_ldtr();
  s.gpr[RAX] = kBootloaderMagic;
  s.gpr[RBX] = layout::kMultibootInfo;
  s.gpr[RSP] = layout::kBootStackTop;  // the spec allows any ESP; a usable one is kinder
  s.rip = entry;
  s.rflags = rflags::FIXED1;  // IF and VM clear, as the spec requires
  return s;
}

}  // namespace

bool is_multiboot(std::span<const uint8_t> image) {
  return find_magic(ImageReader(image, "image"), false).has_value();
}

CpuState load_multiboot(GuestMemory& mem, const MultibootOptions& options) {
  const std::string name = "multiboot kernel '" + options.kernel_path + "'";
  const auto file = read_image_file(options.kernel_path, "multiboot kernel", mem.low_ram_end());
  const ImageReader image(file, name);
  const MultibootHeader header = parse_header(image);
  const KernelLayout kernel =
      (header.flags & kFlagAddressesValid) ? parse_address_fields(image, header) : parse_elf32(image, options.kernel_path);
  check_segments(mem, kernel, name);
  load_segments(mem, kernel);

  uint64_t kernel_end = 0;
  for (const auto& s : kernel.segments) kernel_end = std::max(kernel_end, s.gpa + s.memsz);
  const auto modules = load_modules(mem, options.modules, kernel_end);
  write_info(mem, options, modules);
  setup_boot_gdt(mem);
  return multiboot_entry_state(kernel.entry);
}

}  // namespace janus
