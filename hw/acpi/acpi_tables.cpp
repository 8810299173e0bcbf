#include "hw/acpi/acpi_tables.h"

#include <iterator>
#include <stdexcept>
#include <string_view>

#include "hw/acpi/aml.h"
#include "hw/acpi/pci_root_aml.h"
#include "hw/acpi_pm.h"
#include "hw/boot/boot_memory.h"
#include "hw/irq_chip.h"
#include "hw/pc_layout.h"

namespace janus {

namespace {

// Who made the tables, in every header.
constexpr std::string_view kOemId = "JANUS ";       // 6 bytes
constexpr std::string_view kOemTableId = "JANUSPC ";  // 8 bytes
constexpr uint32_t kOemRevision = 1;
constexpr std::string_view kCreatorId = "JNUS";      // 4 bytes
constexpr uint32_t kCreatorRevision = 1;
constexpr size_t kHeaderSize = 36;

// Table revisions: ACPI 6.0.
constexpr uint8_t kRsdpRevision = 2, kRsdtRevision = 1, kXsdtRevision = 1, kFadtRevision = 6,
                  kFadtMinorRevision = 0, kMadtRevision = 4, kDsdtRevision = 2, kFacsVersion = 2;
constexpr uint32_t kFadtLength = 276, kFacsLength = 64, kRsdpLength = 36;

// Generic Address Structure (ACPI 5.2.3.2) address spaces and access sizes.
constexpr uint8_t kSystemIo = 1;
constexpr uint8_t kAccessByte = 1, kAccessWord = 2, kAccessDword = 3;

// FADT fixed feature flags (5.2.9 table "Fixed ACPI Description Table Fixed Feature Flags").
constexpr uint32_t kFadtWbinvd = 1u << 0, kFadtProcC1 = 1u << 2, kFadtSleepButtonAbsent = 1u << 5,
                   kFadtFixRtc = 1u << 6, kFadtTimerValExt = 1u << 8, kFadtResetRegSup = 1u << 10;
// IA-PC boot architecture flags.
constexpr uint16_t kBootLegacyDevices = 1u << 0, kBoot8042 = 1u << 1;
// C2/C3 latencies above these say "not supported".
constexpr uint16_t kNoC2Latency = 101, kNoC3Latency = 1001;
constexpr uint8_t kCmosCenturyIndex = 0x32;

// MADT (5.2.12).
constexpr uint32_t kMadtPcatCompat = 1u << 0;       // dual 8259 present
constexpr uint8_t kMadtLocalApic = 0, kMadtIoApic = 1, kMadtSourceOverride = 2, kMadtLocalApicNmi = 4;
constexpr uint32_t kLocalApicEnabled = 1u << 0;
// MPS INTI flags: polarity bits 1:0, trigger mode bits 3:2 (0 = conforms to the bus).
constexpr uint16_t kIntiConforming = 0x0, kIntiActiveHigh = 0x1, kIntiLevel = 0xc;
constexpr uint8_t kIsaBus = 0;
constexpr uint8_t kAllProcessors = 0xff;
constexpr uint8_t kIoApicId = 0;  // hw/ioapic resets its ID register to 0
constexpr uint8_t kCpuUid = 0, kCpuApicId = 0;

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out, size_t at) : out_(out), at_(at) {}
  void u8(uint8_t v) { put(v, 1); }
  void u16(uint16_t v) { put(v, 2); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void text(std::string_view s) { for (char c : s) u8(uint8_t(c)); }
  void bytes(const std::vector<uint8_t>& b) { for (uint8_t c : b) u8(c); }
  void zeros(size_t n) { while (n--) u8(0); }
  void gas(uint8_t space, uint8_t bit_width, uint8_t access, uint64_t address) {
    u8(space); u8(bit_width); u8(0); u8(access); u64(address);
  }
  size_t pos() const { return at_; }

 private:
  void put(uint64_t v, unsigned n) {
    if (out_.size() < at_ + n) out_.resize(at_ + n, 0);
    for (unsigned i = 0; i < n; i++) out_[at_++] = uint8_t(v >> (8 * i));
  }
  std::vector<uint8_t>& out_;
  size_t at_;
};

void set_checksum(std::vector<uint8_t>& img, size_t start, size_t length, size_t checksum_at) {
  img[checksum_at] = 0;
  img[checksum_at] = uint8_t(-acpi_byte_sum(img.data() + start, length));
}

// Lays tables out one after another from the image start, aligned as each needs.
class Layout {
 public:
  Layout(AcpiTableImage& image) : img_(image) {}
  // Reserves room for a table; returns its offset in the image.
  size_t place(std::string signature, uint32_t length, size_t align) {
    size_t at = (img_.bytes.size() + align - 1) & ~(align - 1);
    img_.bytes.resize(at + length, 0);
    img_.tables.push_back({std::move(signature), img_.base + at, length});
    return at;
  }

 private:
  AcpiTableImage& img_;
};

// The common 36-byte header (5.2.6); the checksum is fixed once the body is written.
void write_header(std::vector<uint8_t>& img, size_t at, std::string_view sig, uint32_t length, uint8_t revision) {
  Writer w(img, at);
  w.text(sig);
  w.u32(length);
  w.u8(revision);
  w.u8(0);  // checksum
  w.text(kOemId);
  w.text(kOemTableId);
  w.u32(kOemRevision);
  w.text(kCreatorId);
  w.u32(kCreatorRevision);
}

void finish_table(std::vector<uint8_t>& img, size_t at, uint32_t length) { set_checksum(img, at, length, at + 9); }

std::vector<uint8_t> madt_entries() {
  std::vector<uint8_t> e;
  Writer w(e, 0);
  // The one CPU.
  w.u8(kMadtLocalApic); w.u8(8); w.u8(kCpuUid); w.u8(kCpuApicId); w.u32(kLocalApicEnabled);
  // The IOAPIC, inputs from GSI 0.
  w.u8(kMadtIoApic); w.u8(12); w.u8(kIoApicId); w.u8(0); w.u32(uint32_t(layout::kIoApicBase)); w.u32(0);
  // ISA IRQ0 (the PIT) arrives on IOAPIC pin 2, as on every PC (hw/irq_chip.h).
  w.u8(kMadtSourceOverride); w.u8(10); w.u8(kIsaBus); w.u8(layout::kIrqPit);
  w.u32(IrqChip::ioapic_pin(layout::kIrqPit)); w.u16(kIntiConforming);
  // The SCI is a shared, level-triggered, active-high line.
  w.u8(kMadtSourceOverride); w.u8(10); w.u8(kIsaBus); w.u8(layout::kIrqSci);
  w.u32(IrqChip::ioapic_pin(layout::kIrqSci)); w.u16(kIntiActiveHigh | kIntiLevel);
  // LINT1 of every CPU is the NMI input.
  w.u8(kMadtLocalApicNmi); w.u8(6); w.u8(kAllProcessors); w.u16(kIntiConforming); w.u8(1);
  return e;
}

}  // namespace

uint8_t acpi_byte_sum(const uint8_t* data, size_t length) {
  uint8_t sum = 0;
  for (size_t i = 0; i < length; i++) sum = uint8_t(sum + data[i]);
  return sum;
}

const AcpiTableImage::Placed* AcpiTableImage::find(const std::string& signature) const {
  for (const auto& t : tables)
    if (t.signature == signature) return &t;
  return nullptr;
}

std::vector<uint8_t> dsdt_aml() {
  using namespace aml;
  // SLP_TYPa and SLP_TYPb (there is no PM1b block), then two reserved elements.
  const Bytes slp_typ = integer(AcpiPm::kSleepTypeS5);
  Bytes aml = name("\\_S5_", package({slp_typ, slp_typ, integer(0), integer(0)}));
  append(aml, pci_root_bridge_aml());
  return aml;
}

AcpiTableImage build_acpi_tables(uint64_t base) {
  if (base % 16 || base + 0x10000 > 0x100000000ull)
    throw std::invalid_argument("ACPI tables need a 16-byte aligned base below 4 GiB");
  AcpiTableImage img;
  img.base = base;
  Layout lay(img);
  auto& b = img.bytes;

  const size_t rsdp = lay.place("RSD PTR ", kRsdpLength, 16);
  const size_t facs = lay.place("FACS", kFacsLength, 64);  // the FACS must be 64-byte aligned
  const std::vector<uint8_t> aml = dsdt_aml();
  const uint32_t dsdt_len = uint32_t(kHeaderSize + aml.size());
  const size_t dsdt = lay.place("DSDT", dsdt_len, 16);
  const size_t fadt = lay.place("FACP", kFadtLength, 16);
  const std::vector<uint8_t> entries = madt_entries();
  const uint32_t madt_len = uint32_t(kHeaderSize + 8 + entries.size());
  const size_t madt = lay.place("APIC", madt_len, 16);
  const size_t listed[] = {fadt, madt};  // what the RSDT and XSDT point at
  const uint32_t xsdt_len = uint32_t(kHeaderSize + 8 * std::size(listed));
  const size_t xsdt = lay.place("XSDT", xsdt_len, 16);
  const uint32_t rsdt_len = uint32_t(kHeaderSize + 4 * std::size(listed));
  const size_t rsdt = lay.place("RSDT", rsdt_len, 16);
  auto addr = [&](size_t offset) { return base + offset; };

  {  // FACS (5.2.10): no checksum; hardware signature 0, no waking vector, global lock free.
    Writer w(b, facs);
    w.text("FACS");
    w.u32(kFacsLength);
    w.zeros(24);
    w.u8(kFacsVersion);
  }

  write_header(b, dsdt, "DSDT", dsdt_len, kDsdtRevision);
  Writer(b, dsdt + kHeaderSize).bytes(aml);
  finish_table(b, dsdt, dsdt_len);

  {  // FADT (5.2.9).
    write_header(b, fadt, "FACP", kFadtLength, kFadtRevision);
    Writer w(b, fadt + kHeaderSize);
    w.u32(uint32_t(addr(facs)));               // 36 FIRMWARE_CTRL
    w.u32(uint32_t(addr(dsdt)));               // 40 DSDT
    w.u8(0);                                   // 44 reserved
    w.u8(0);                                   // 45 preferred PM profile: unspecified
    w.u16(layout::kIrqSci);                    // 46 SCI_INT
    w.u32(0);                                  // 48 SMI_CMD: none, always in ACPI mode
    w.u8(0); w.u8(0); w.u8(0); w.u8(0);        // 52 ACPI_ENABLE, ACPI_DISABLE, S4BIOS_REQ, PSTATE_CNT
    w.u32(layout::kPortAcpiPm1aEvt);           // 56 PM1a_EVT_BLK
    w.u32(0);                                  // 60 PM1b_EVT_BLK
    w.u32(layout::kPortAcpiPm1aCnt);           // 64 PM1a_CNT_BLK
    w.u32(0);                                  // 68 PM1b_CNT_BLK
    w.u32(0);                                  // 72 PM2_CNT_BLK
    w.u32(layout::kPortAcpiPmTmr);             // 76 PM_TMR_BLK
    w.u32(0); w.u32(0);                        // 80 GPE0_BLK, 84 GPE1_BLK: none
    w.u8(4); w.u8(2); w.u8(0); w.u8(4);        // 88 PM1_EVT_LEN, PM1_CNT_LEN, PM2_CNT_LEN, PM_TMR_LEN
    w.u8(0); w.u8(0); w.u8(0); w.u8(0);        // 92 GPE0_BLK_LEN, GPE1_BLK_LEN, GPE1_BASE, CST_CNT
    w.u16(kNoC2Latency); w.u16(kNoC3Latency);  // 96 P_LVL2_LAT, P_LVL3_LAT
    w.u16(0); w.u16(0);                        // 100 FLUSH_SIZE, FLUSH_STRIDE
    w.u8(0); w.u8(0);                          // 104 DUTY_OFFSET, DUTY_WIDTH
    w.u8(0); w.u8(0);                          // 106 DAY_ALRM, MON_ALRM: no RTC alarm extensions
    w.u8(kCmosCenturyIndex);                   // 108 CENTURY
    w.u16(kBootLegacyDevices | kBoot8042);     // 109 IAPC_BOOT_ARCH
    w.u8(0);                                   // 111 reserved
    w.u32(kFadtWbinvd | kFadtProcC1 | kFadtSleepButtonAbsent | kFadtFixRtc | kFadtTimerValExt |
          kFadtResetRegSup);                   // 112 Flags (power button: fixed feature)
    w.gas(kSystemIo, 8, kAccessByte, layout::kPortAcpiReset);  // 116 RESET_REG
    w.u8(AcpiPm::kResetValue);                 // 128 RESET_VALUE
    w.u16(0);                                  // 129 ARM_BOOT_ARCH
    w.u8(kFadtMinorRevision);                  // 131 FADT minor version
    w.u64(0);                                  // 132 X_FIRMWARE_CTRL: FIRMWARE_CTRL is used
    w.u64(addr(dsdt));                         // 140 X_DSDT
    w.gas(kSystemIo, 32, kAccessWord, layout::kPortAcpiPm1aEvt);  // 148 X_PM1a_EVT_BLK
    w.gas(0, 0, 0, 0);                                            // 160 X_PM1b_EVT_BLK
    w.gas(kSystemIo, 16, kAccessWord, layout::kPortAcpiPm1aCnt);  // 172 X_PM1a_CNT_BLK
    w.gas(0, 0, 0, 0);                                            // 184 X_PM1b_CNT_BLK
    w.gas(0, 0, 0, 0);                                            // 196 X_PM2_CNT_BLK
    w.gas(kSystemIo, 32, kAccessDword, layout::kPortAcpiPmTmr);   // 208 X_PM_TMR_BLK
    w.gas(0, 0, 0, 0);                                            // 220 X_GPE0_BLK
    w.gas(0, 0, 0, 0);                                            // 232 X_GPE1_BLK
    w.gas(0, 0, 0, 0);                                            // 244 SLEEP_CONTROL_REG (HW-reduced only)
    w.gas(0, 0, 0, 0);                                            // 256 SLEEP_STATUS_REG
    w.u64(0);                                                     // 268 hypervisor vendor identity
    if (w.pos() != fadt + kFadtLength) throw std::logic_error("FADT layout is off");
    finish_table(b, fadt, kFadtLength);
  }

  {  // MADT (5.2.12).
    write_header(b, madt, "APIC", madt_len, kMadtRevision);
    Writer w(b, madt + kHeaderSize);
    w.u32(uint32_t(layout::kLapicBase));
    w.u32(kMadtPcatCompat);
    w.bytes(entries);
    finish_table(b, madt, madt_len);
  }

  {  // XSDT and RSDT: the same list with 64- and 32-bit pointers.
    write_header(b, xsdt, "XSDT", xsdt_len, kXsdtRevision);
    Writer x(b, xsdt + kHeaderSize);
    for (size_t t : listed) x.u64(addr(t));
    finish_table(b, xsdt, xsdt_len);
    write_header(b, rsdt, "RSDT", rsdt_len, kRsdtRevision);
    Writer r(b, rsdt + kHeaderSize);
    for (size_t t : listed) r.u32(uint32_t(addr(t)));
    finish_table(b, rsdt, rsdt_len);
  }

  {  // RSDP (5.2.5.3): checksum over the ACPI 1.0 part (20 bytes), extended checksum over all.
    Writer w(b, rsdp);
    w.text("RSD PTR ");
    w.u8(0);  // checksum
    w.text(kOemId);
    w.u8(kRsdpRevision);
    w.u32(uint32_t(addr(rsdt)));
    w.u32(kRsdpLength);
    w.u64(addr(xsdt));
    w.u8(0);  // extended checksum
    w.zeros(3);
    set_checksum(b, rsdp, 20, rsdp + 8);
    set_checksum(b, rsdp, kRsdpLength, rsdp + 32);
  }
  if (b.size() > layout::kAcpiTablesSize) throw std::logic_error("ACPI tables outgrew their window");
  return img;
}

std::optional<uint64_t> install_acpi_tables(GuestMemory& mem) {
  AcpiTableImage img = build_acpi_tables(layout::kAcpiTablesBase);
  if (!range_is_ram(mem, img.base, layout::kAcpiTablesSize)) return std::nullopt;
  zero_guest(mem, img.base, layout::kAcpiTablesSize, "the ACPI table area");
  write_guest(mem, img.base, img.bytes, "the ACPI tables");
  return img.rsdp_address();
}

}  // namespace janus
