// The ACPI tables Janus builds: exact bytes of each structure the guest parses, checksums, the
// legacy RSDP scan, installation in guest RAM, and that the FADT's registers drive the machine's
// real PM device (S5 powers off, the reset register resets).
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "hw/acpi/acpi_tables.h"
#include "hw/acpi_pm.h"
#include "hw/clock.h"
#include "hw/guest_memory.h"
#include "hw/pc_layout.h"
#include "hw/pc_machine.h"

using namespace janus;

namespace {

constexpr uint64_t kBase = layout::kAcpiTablesBase;

struct Image {
  AcpiTableImage img = build_acpi_tables(kBase);
  const uint8_t* at(uint64_t gpa) const {
    EXPECT_GE(gpa, img.base);
    EXPECT_LT(gpa - img.base, img.bytes.size());
    return img.bytes.data() + (gpa - img.base);
  }
  template <typename T> T get(uint64_t gpa) const {
    T v;
    std::memcpy(&v, at(gpa), sizeof v);
    return v;
  }
  std::string sig(uint64_t gpa, size_t n = 4) const { return std::string(reinterpret_cast<const char*>(at(gpa)), n); }
  uint64_t table(const std::string& s) const {
    const auto* t = img.find(s);
    EXPECT_NE(t, nullptr) << s;
    return t ? t->address : 0;
  }
};

struct Gas {
  uint8_t space, width, offset, access;
  uint64_t address;
};
Gas gas(const Image& m, uint64_t gpa) {
  return {m.get<uint8_t>(gpa), m.get<uint8_t>(gpa + 1), m.get<uint8_t>(gpa + 2), m.get<uint8_t>(gpa + 3),
          m.get<uint64_t>(gpa + 4)};
}

}  // namespace

TEST(AcpiTables, RsdpAtTheBaseWithBothChecksums) {
  Image m;
  ASSERT_EQ(m.img.rsdp_address(), kBase);
  EXPECT_EQ(m.sig(kBase, 8), "RSD PTR ");
  EXPECT_EQ(acpi_byte_sum(m.at(kBase), 20), 0);  // ACPI 1.0 checksum
  EXPECT_EQ(acpi_byte_sum(m.at(kBase), 36), 0);  // extended checksum
  EXPECT_NE(m.get<uint8_t>(kBase + 8), 0) << "a zero checksum byte would mean nothing was summed";
  EXPECT_EQ(m.sig(kBase + 9, 6), "JANUS ");
  EXPECT_EQ(m.get<uint8_t>(kBase + 15), 2);  // revision 2: XSDT present
  EXPECT_EQ(m.get<uint32_t>(kBase + 16), m.table("RSDT"));
  EXPECT_EQ(m.get<uint32_t>(kBase + 20), 36u);
  EXPECT_EQ(m.get<uint64_t>(kBase + 24), m.table("XSDT"));
}

TEST(AcpiTables, EveryTableHasItsLengthAndAZeroSum) {
  Image m;
  for (const auto& t : m.img.tables) {
    if (t.signature == "RSD PTR ") continue;
    SCOPED_TRACE(t.signature);
    EXPECT_EQ(m.sig(t.address), t.signature);
    EXPECT_EQ(m.get<uint32_t>(t.address + 4), t.length);
    if (t.signature == "FACS") continue;  // the FACS has no checksum
    EXPECT_EQ(acpi_byte_sum(m.at(t.address), t.length), 0);
    EXPECT_EQ(m.sig(t.address + 10, 6), "JANUS ");
    EXPECT_EQ(t.address % 8, 0u);
  }
  EXPECT_EQ(m.table("FACS") % 64, 0u) << "the FACS must be 64-byte aligned";
  EXPECT_LE(m.img.bytes.size(), layout::kAcpiTablesSize);
}

TEST(AcpiTables, XsdtAndRsdtListFadtAndMadt) {
  Image m;
  uint64_t x = m.table("XSDT"), r = m.table("RSDT");
  ASSERT_EQ(m.get<uint32_t>(x + 4), 36u + 2 * 8);
  ASSERT_EQ(m.get<uint32_t>(r + 4), 36u + 2 * 4);
  EXPECT_EQ(m.sig(m.get<uint64_t>(x + 36)), "FACP");
  EXPECT_EQ(m.sig(m.get<uint64_t>(x + 44)), "APIC");
  EXPECT_EQ(m.get<uint32_t>(r + 36), m.get<uint64_t>(x + 36));
  EXPECT_EQ(m.get<uint32_t>(r + 40), m.get<uint64_t>(x + 44));
}

TEST(AcpiTables, FadtDescribesThePmBlockAndThePc) {
  Image m;
  uint64_t f = m.table("FACP");
  EXPECT_EQ(m.get<uint32_t>(f + 4), 276u);
  EXPECT_EQ(m.get<uint8_t>(f + 8), 6);     // revision 6 (ACPI 6.0)
  EXPECT_EQ(m.get<uint32_t>(f + 36), m.table("FACS"));
  EXPECT_EQ(m.get<uint32_t>(f + 40), m.table("DSDT"));
  EXPECT_EQ(m.get<uint16_t>(f + 46), 9);   // SCI_INT
  EXPECT_EQ(m.get<uint32_t>(f + 48), 0u);  // no SMI_CMD: always in ACPI mode
  EXPECT_EQ(m.get<uint32_t>(f + 56), 0x600u);  // PM1a_EVT_BLK
  EXPECT_EQ(m.get<uint32_t>(f + 60), 0u);
  EXPECT_EQ(m.get<uint32_t>(f + 64), 0x604u);  // PM1a_CNT_BLK
  EXPECT_EQ(m.get<uint32_t>(f + 76), 0x608u);  // PM_TMR_BLK
  EXPECT_EQ(m.get<uint32_t>(f + 80), 0u);      // no GPE0
  EXPECT_EQ(m.get<uint8_t>(f + 88), 4);        // PM1_EVT_LEN
  EXPECT_EQ(m.get<uint8_t>(f + 89), 2);        // PM1_CNT_LEN
  EXPECT_EQ(m.get<uint8_t>(f + 91), 4);        // PM_TMR_LEN
  EXPECT_GT(m.get<uint16_t>(f + 96), 100);     // no C2
  EXPECT_GT(m.get<uint16_t>(f + 98), 1000);    // no C3
  EXPECT_EQ(m.get<uint8_t>(f + 108), 0x32);    // CMOS century index
  EXPECT_EQ(m.get<uint16_t>(f + 109), 0x3);    // legacy devices + 8042
  uint32_t flags = m.get<uint32_t>(f + 112);
  EXPECT_TRUE(flags & (1u << 8)) << "TMR_VAL_EXT: 32-bit PM timer";
  EXPECT_TRUE(flags & (1u << 10)) << "RESET_REG_SUP";
  EXPECT_FALSE(flags & (1u << 20)) << "not HW-reduced";
  EXPECT_FALSE(flags & (1u << 4)) << "fixed-feature power button";
  Gas reset = gas(m, f + 116);
  EXPECT_EQ(reset.space, 1);  // system I/O
  EXPECT_EQ(reset.width, 8);
  EXPECT_EQ(reset.address, 0x60cu);
  EXPECT_EQ(m.get<uint8_t>(f + 128), AcpiPm::kResetValue);
  EXPECT_EQ(m.get<uint64_t>(f + 140), m.table("DSDT"));  // X_DSDT
  Gas evt = gas(m, f + 148), cnt = gas(m, f + 172), tmr = gas(m, f + 208);
  EXPECT_EQ(evt.space, 1);
  EXPECT_EQ(evt.width, 32);
  EXPECT_EQ(evt.address, 0x600u);
  EXPECT_EQ(cnt.width, 16);
  EXPECT_EQ(cnt.address, 0x604u);
  EXPECT_EQ(tmr.width, 32);
  EXPECT_EQ(tmr.address, 0x608u);
  EXPECT_EQ(gas(m, f + 160).address, 0u);  // no PM1b
  EXPECT_EQ(gas(m, f + 244).address, 0u);  // no sleep control register
}

TEST(AcpiTables, DsdtHoldsTheS5Package) {
  Image m;
  uint64_t d = m.table("DSDT");
  uint32_t len = m.get<uint32_t>(d + 4);
  EXPECT_EQ(m.get<uint8_t>(d + 8), 2);  // revision 2: 64-bit integers
  std::vector<uint8_t> body(m.at(d + 36), m.at(d + 36) + (len - 36));
  EXPECT_EQ(body, dsdt_aml());
}

TEST(AcpiTables, MadtHasCpuIoApicOverridesAndNmi) {
  Image m;
  uint64_t a = m.table("APIC");
  uint32_t len = m.get<uint32_t>(a + 4);
  EXPECT_EQ(m.get<uint32_t>(a + 36), 0xfee00000u);
  EXPECT_EQ(m.get<uint32_t>(a + 40), 1u);  // PCAT_COMPAT
  const std::vector<uint8_t> expect = {
      0, 8, 0, 0, 1, 0, 0, 0,                          // LAPIC: UID 0, APIC ID 0, enabled
      1, 12, 0, 0, 0x00, 0x00, 0xc0, 0xfe, 0, 0, 0, 0,  // IOAPIC id 0 at 0xfec00000, GSI base 0
      2, 10, 0, 0, 2, 0, 0, 0, 0x00, 0x00,             // ISA IRQ0 -> GSI 2, conforming
      2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0x00,             // ISA IRQ9 (SCI) -> GSI 9, level, active high
      4, 6, 0xff, 0x00, 0x00, 1,                       // NMI on LINT1 of every CPU
  };
  ASSERT_EQ(len, 44 + expect.size());
  EXPECT_EQ(std::vector<uint8_t>(m.at(a + 44), m.at(a + 44) + expect.size()), expect);
}

TEST(AcpiTables, InstalledInRamWhereTheLegacyScanFindsThem) {
  GuestMemory mem(32ull << 20);
  auto rsdp = install_acpi_tables(mem);
  ASSERT_TRUE(rsdp.has_value());
  EXPECT_EQ(*rsdp, kBase);
  // The scan an OS does without boot_params: 16-byte steps over 0xE0000-0xFFFFF.
  uint64_t found = 0;
  for (uint64_t p = 0xe0000; p < 0x100000 && !found; p += 16) {
    uint8_t b[36];
    ASSERT_TRUE(mem.read_phys(p, b, sizeof b));
    if (std::memcmp(b, "RSD PTR ", 8) == 0 && acpi_byte_sum(b, 20) == 0) found = p;
  }
  EXPECT_EQ(found, *rsdp);
  AcpiTableImage img = build_acpi_tables(kBase);
  std::vector<uint8_t> guest(img.bytes.size());
  ASSERT_TRUE(mem.read_phys(kBase, guest.data(), guest.size()));
  EXPECT_EQ(guest, img.bytes);
}

TEST(AcpiTables, NotInstalledOverFirmwareRom) {
  GuestMemory mem(32ull << 20);
  std::vector<uint8_t> rom(128 << 10, 0x5a);
  mem.add_rom(0xe0000, rom, "bios-shadow");
  EXPECT_FALSE(install_acpi_tables(mem).has_value());
  EXPECT_EQ(mem.load<uint8_t>(kBase), 0x5a);
}

TEST(AcpiTables, FadtRegistersDriveThePcMachine) {
  Image m;
  uint64_t f = m.table("FACP");
  // The sleep type the DSDT's \_S5_ names (its first element, a ByteConst).
  std::vector<uint8_t> aml = dsdt_aml();
  ASSERT_EQ(aml[9], 0x0a);
  uint8_t slp_typ = aml[10];
  uint16_t pm1a_cnt = uint16_t(m.get<uint32_t>(f + 64));
  {
    ManualClock clock;
    PcMachine pc(PcMachineConfig{}, clock);
    // What ACPICA does for S5: SLP_TYP first, then SLP_TYP | SLP_EN, as 16-bit writes.
    uint16_t cnt = uint16_t(pc.pio_read(pm1a_cnt, 2));
    EXPECT_TRUE(cnt & 1) << "SCI_EN: already in ACPI mode";
    pc.pio_write(pm1a_cnt, 2, cnt | (slp_typ << 10));
    EXPECT_EQ(pc.stop_request().kind, StopRequest::Kind::kNone);
    pc.pio_write(pm1a_cnt, 2, cnt | (slp_typ << 10) | (1u << 13));
    EXPECT_EQ(pc.stop_request().kind, StopRequest::Kind::kPowerOff);
    EXPECT_EQ(pc.stop_request().exit_status, 0);
  }
  {
    ManualClock clock;
    PcMachine pc(PcMachineConfig{}, clock);
    Gas reset = gas(m, f + 116);
    pc.pio_write(uint16_t(reset.address), 1, m.get<uint8_t>(f + 128));
    EXPECT_EQ(pc.stop_request().kind, StopRequest::Kind::kReset);
  }
  {
    ManualClock clock;
    PcMachine pc(PcMachineConfig{}, clock);
    uint16_t tmr = uint16_t(m.get<uint32_t>(f + 76));
    uint32_t t0 = uint32_t(pc.pio_read(tmr, 4));
    clock.advance(1'000'000'000);
    EXPECT_EQ(uint32_t(pc.pio_read(tmr, 4)) - t0, 3'579'545u);
  }
}
