// The AML encoder: exact bytes for each term, against hand-encoded ACPI spec chapter 20 examples.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include "hw/acpi/acpi_tables.h"
#include "hw/acpi/aml.h"
#include "hw/acpi/aml_resources.h"
#include "hw/acpi/pci_root_aml.h"

using namespace janus;
using aml::Bytes;

TEST(AcpiAml, PkgLengthOneByteUpTo63) {
  EXPECT_EQ(aml::pkg_length(0), (Bytes{0x01}));
  EXPECT_EQ(aml::pkg_length(9), (Bytes{0x0a}));
  EXPECT_EQ(aml::pkg_length(62), (Bytes{0x3f}));
}

TEST(AcpiAml, PkgLengthMultiByteCountsItsOwnBytes) {
  // 63 body bytes + 2 length bytes = 65 = 0x41: lead 0x40 | low nibble 1, then 0x41 >> 4.
  EXPECT_EQ(aml::pkg_length(63), (Bytes{0x41, 0x04}));
  // Two bytes reach 4095; 4094 + 3 = 4097 = 0x1001 needs three.
  EXPECT_EQ(aml::pkg_length(4093), (Bytes{0x4f, 0xff}));
  EXPECT_EQ(aml::pkg_length(4094), (Bytes{0x81, 0x00, 0x01}));
  EXPECT_EQ(aml::pkg_length((1u << 28) - 5), (Bytes{0xcf, 0xff, 0xff, 0xff}));
  EXPECT_THROW(aml::pkg_length(1u << 28), std::length_error);
}

TEST(AcpiAml, NameStrings) {
  EXPECT_EQ(aml::name_string("\\_S5_"), (Bytes{0x5c, '_', 'S', '5', '_'}));
  EXPECT_EQ(aml::name_string("_SB"), (Bytes{'_', 'S', 'B', '_'}));
  EXPECT_EQ(aml::name_string("_SB.PCI0"), (Bytes{0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0'}));
  EXPECT_EQ(aml::name_string("\\A.B.C"),
            (Bytes{0x5c, 0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_'}));
  EXPECT_EQ(aml::name_string("^^FOO"), (Bytes{0x5e, 0x5e, 'F', 'O', 'O', '_'}));
  EXPECT_EQ(aml::name_string("\\"), (Bytes{0x5c, 0x00}));
  EXPECT_THROW(aml::name_string("TOOLONG"), std::invalid_argument);
  EXPECT_THROW(aml::name_string("A..B"), std::invalid_argument);
  EXPECT_THROW(aml::name_string("A."), std::invalid_argument);
}

TEST(AcpiAml, IntegersUseTheShortestEncoding) {
  EXPECT_EQ(aml::integer(0), (Bytes{0x00}));
  EXPECT_EQ(aml::integer(1), (Bytes{0x01}));
  EXPECT_EQ(aml::integer(5), (Bytes{0x0a, 0x05}));
  EXPECT_EQ(aml::integer(0xff), (Bytes{0x0a, 0xff}));
  EXPECT_EQ(aml::integer(0x1234), (Bytes{0x0b, 0x34, 0x12}));
  EXPECT_EQ(aml::integer(0xfec00000), (Bytes{0x0c, 0x00, 0x00, 0xc0, 0xfe}));
  EXPECT_EQ(aml::integer(0x100000000ull), (Bytes{0x0e, 0, 0, 0, 0, 1, 0, 0, 0}));
}

TEST(AcpiAml, StringsAreNulTerminated) {
  EXPECT_EQ(aml::string("PC"), (Bytes{0x0d, 'P', 'C', 0}));
  EXPECT_THROW(aml::string(std::string_view("a\0b", 3)), std::invalid_argument);
}

TEST(AcpiAml, NamedPackage) {
  Bytes p = aml::name("\\_S5_", aml::package({aml::integer(5), aml::integer(5), aml::integer(0), aml::integer(0)}));
  // NameOp \_S5_ PackageOp PkgLength(8: itself, the count, 6 bytes of elements) NumElements(4) 0x0A05 0x0A05 Zero Zero
  EXPECT_EQ(p, (Bytes{0x08, 0x5c, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00}));
}

TEST(AcpiAml, ScopeAndDeviceWrapTheirTerms) {
  Bytes hid = aml::name("_HID", aml::string("X"));
  Bytes d = aml::device("COM1", hid);
  Bytes expect{0x5b, 0x82, uint8_t(1 + 4 + hid.size()), 'C', 'O', 'M', '1'};
  aml::append(expect, hid);
  EXPECT_EQ(d, expect);
  Bytes s = aml::scope("\\_SB", d);
  Bytes expect_s{0x10, uint8_t(1 + 5 + d.size()), 0x5c, '_', 'S', 'B', '_'};
  aml::append(expect_s, d);
  EXPECT_EQ(s, expect_s);
}

TEST(AcpiAml, DsdtBodyIsTheS5PackageThenThePciRootBridge) {
  // Sleep type 5 for both SLP_TYPa and SLP_TYPb: what hw/acpi_pm powers off on.
  Bytes expect{0x08, 0x5c, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00};
  aml::append(expect, pci_root_bridge_aml());
  EXPECT_EQ(dsdt_aml(), expect);
}

TEST(AcpiAml, EisaIdIsCompressedBigEndian) {
  EXPECT_EQ(aml::eisa_id("PNP0A03"), (Bytes{0x0c, 0x41, 0xd0, 0x0a, 0x03}));  // iasl: 0x030AD041
  EXPECT_EQ(aml::eisa_id("PNP0C0F"), (Bytes{0x0c, 0x41, 0xd0, 0x0c, 0x0f}));
  EXPECT_EQ(aml::eisa_id("QEM0001"), (Bytes{0x0c, 0x44, 0xad, 0x00, 0x01}));
  EXPECT_THROW(aml::eisa_id("PNP0A0"), std::invalid_argument);
  EXPECT_THROW(aml::eisa_id("pnp0A03"), std::invalid_argument);
  EXPECT_THROW(aml::eisa_id("PNP0A0G"), std::invalid_argument);
}

TEST(AcpiAml, BufferCarriesItsSize) {
  EXPECT_EQ(aml::buffer({0x79, 0x00}), (Bytes{0x11, 0x05, 0x0a, 0x02, 0x79, 0x00}));
}

TEST(AcpiAml, ResourceDescriptorsAsIaslEncodesThem) {
  // WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xFF, 0, 0x100)
  EXPECT_EQ(aml::word_bus_number_window(0, 0xff),
            (Bytes{0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0x00, 0x00, 0xff, 0x00, 0, 0, 0x00, 0x01}));
  // WordIO(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, 0xD00, 0xFFFF, 0, 0xF300)
  EXPECT_EQ(aml::word_io_window(0x0d00, 0xffff),
            (Bytes{0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x0d, 0xff, 0xff, 0, 0, 0x00, 0xf3}));
  // DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0,
  // 0xC0100000, 0xFEBFFFFF, 0, 0x3EB00000)
  EXPECT_EQ(aml::dword_memory_window(0xc0100000, 0xfebfffff),
            (Bytes{0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0, 0, 0, 0, 0x00, 0x00, 0x10, 0xc0, 0xff, 0xff, 0xbf, 0xfe,
                   0, 0, 0, 0, 0x00, 0x00, 0xb0, 0x3e}));
  // IO(Decode16, 0xCF8, 0xCF8, 1, 8)
  EXPECT_EQ(aml::io_ports(0xcf8, 8), (Bytes{0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08}));
  EXPECT_THROW(aml::word_io_window(0x10, 0x0f), std::invalid_argument);
  // ResourceTemplate() { IO(...) }: the descriptor and an end tag, in a Buffer.
  EXPECT_EQ(aml::resource_template({aml::io_ports(0x60, 1)}),
            (Bytes{0x11, 0x0d, 0x0a, 0x0a, 0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01, 0x79, 0x00}));
}

TEST(AcpiAml, PciRootBridgeDescribesBusZeroAndItsWindows) {
  Bytes aml = pci_root_bridge_aml();
  auto contains = [&](const Bytes& part) {
    return std::search(aml.begin(), aml.end(), part.begin(), part.end()) != aml.end();
  };
  ASSERT_GE(aml.size(), 16u);
  EXPECT_EQ(aml[0], 0x10);  // Scope(\_SB) { Device(PCI0) { ... } }
  EXPECT_TRUE(contains({0x5c, '_', 'S', 'B', '_', 0x5b, 0x82}));
  EXPECT_TRUE(contains({'P', 'C', 'I', '0', 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03}));
  EXPECT_TRUE(contains(aml::name("_UID", aml::integer(0))));
  EXPECT_TRUE(contains(aml::word_bus_number_window(0, 0xff)));
  EXPECT_TRUE(contains(aml::io_ports(0xcf8, 8)));
  EXPECT_TRUE(contains(aml::word_io_window(0x0000, 0x0cf7)));
  EXPECT_TRUE(contains(aml::word_io_window(0x0d00, 0xffff)));
  // The memory window stays clear of RAM, the boot timer page and the APICs.
  EXPECT_TRUE(contains(aml::dword_memory_window(0xc0100000, 0xfebfffff)));
}
